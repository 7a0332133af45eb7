"""The host's waits on a VM container's other side end by their bounds when that side is alive
but silent (runk.vm.host.bounds, ARCHITECTURE.md "Waits"): a stopped supervisor makes
kill/pause fail within the control bound, and create within the ready bound; a guest that never
says hello (its qemu stopped) makes create fail within the boot bound. Nothing is left behind.
The silent peers are made by construction (RUNK_TEST_STOP_AFTER=NAME:sigstop, runk/state/faults.py).
Three tests, one boot.
"""

from __future__ import annotations

import json
import os
import signal
import time

import pytest

from .test_vm_backend import BOOT, create
from .test_vm_faults import assert_nothing_left

pytestmark = pytest.mark.vm


def timed(vmrt, *args: str, env: dict[str, str], timeout: float = 90):
    t0 = time.monotonic()
    r = vmrt(*args, env={**os.environ, **env}, timeout=timeout)
    return r, time.monotonic() - t0


def test_a_stopped_supervisor_fails_kill_and_pause_within_the_control_bound(vmrt, bundle, cid, subreaper):
    bundle.args("sleep", "1000")
    sup = create(vmrt, bundle, cid)
    assert vmrt("start", cid).rc == 0
    os.kill(sup, signal.SIGSTOP)
    try:
        env = {"RUNK_VM_CONTROL_TIMEOUT": "1"}
        # more than the listen backlog: the last connects find it full and wait too
        for _ in range(11):
            r, took = timed(vmrt, "kill", cid, "TERM", env=env)
            assert r.rc == 1 and "VM supervisor did not answer within 1 s" in r.err, r
            assert took < 10, took
        r, took = timed(vmrt, "pause", cid, env={"RUNK_VM_CONTROL_TIMEOUT": "3"})
        assert r.rc == 1 and "did not answer within 3 s" in r.err, r
        assert 3 <= took < 15, took
        r = vmrt("state", cid, timeout=10)  # state does not ask the supervisor
        assert r.rc == 0 and json.loads(r.out)["status"] == "running", r
    finally:
        os.kill(sup, signal.SIGCONT)
    # the queued connections did no harm: the container still runs and obeys
    assert json.loads(vmrt("state", cid).out)["status"] == "running"
    assert vmrt("kill", cid, "KILL").rc == 0
    assert vmrt("delete", "--force", cid, timeout=BOOT).rc == 0
    assert_nothing_left(vmrt, cid)


def test_a_guest_that_never_says_hello_fails_create_within_the_boot_bound(vmrt, bundle, cid, subreaper):
    bundle.args("true")
    # 30 s: a guest that runs boots well within it here (5-10 s), this one never answers
    env = {"RUNK_TEST_STOP_AFTER": "qemu:sigstop", "RUNK_VM_BOOT_TIMEOUT": "30"}
    r, took = timed(vmrt, "create", "--bundle", bundle.write(), cid, env=env)
    assert r.rc == 1 and "the guest agent did not say hello within 30 s" in r.err, r
    assert 30 <= took < 90, took
    assert_nothing_left(vmrt, cid)


def test_a_stopped_supervisor_fails_create_within_the_ready_bound(vmrt, bundle, cid, subreaper):
    bundle.args("true")
    env = {"RUNK_TEST_STOP_AFTER": "supervisor:sigstop", "RUNK_VM_BOOT_TIMEOUT": "1", "RUNK_VM_CONTROL_TIMEOUT": "1"}
    r, took = timed(vmrt, "create", "--bundle", bundle.write(), cid, env=env)
    # ready = boot + control + 30 s for the supervisor's own start
    assert r.rc == 1 and "the VM supervisor did not report within 32 s" in r.err, r
    assert 32 <= took < 60, took
    assert_nothing_left(vmrt, cid)
