"""Test-only fault points: a create that dies right after a named step, by construction.

Runs in the parent (runk create/run). Imports runk._os only. A backend's create calls
point(name, root) after each step that leaves something outside its state directory. When
RUNK_TEST_STOP_AFTER names that step *and* RUNK_TEST_ROOT (the tag the test suite's runner puts
in runk's environment) equals the --root of this create, runk SIGKILLs itself, or its whole
process group with the suffix ":group" (the bootstrap and init it forked die with it). Without
both variables, and for any other --root, a point is one environment lookup and nothing else.
The tests then check that `delete --force` leaves no state directory, cgroup, mount or process
(tests/integration/test_create_faults.py, tests/vm/test_vm_faults.py).
freeze(name, root, pid) is the silent peer instead of the dead one: with RUNK_TEST_STOP_AFTER
set to "NAME:sigstop", it SIGSTOPs that process (a VM's supervisor, its qemu), so a test sees a
wait on it end by its bound (tests/vm/test_vm_waits.py).
"""

from __future__ import annotations

from runk import _os as os

STOP_AFTER = "RUNK_TEST_STOP_AFTER"
GUARD = "RUNK_TEST_ROOT"


def point(name: str, root: str) -> None:
    want = os.environ.get(STOP_AFTER)
    if not want:
        return
    step, _, how = want.partition(":")
    if step != name or os.environ.get(GUARD) != root:
        return
    if how == "group":
        os.killpg(0, 9)
    os.kill(os.getpid(), 9)


def freeze(name: str, root: str, pid: int) -> None:
    want = os.environ.get(STOP_AFTER)
    if want != name + ":sigstop" or os.environ.get(GUARD) != root:
        return
    os.kill(pid, 19)  # SIGSTOP (runk._os has no signal names)
