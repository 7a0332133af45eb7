"""The security model holds for a rootless runk: the waiting init is the sealed trampoline, only
stdio (and the exec fifo while created) reach the container, the setup processes are gone, and
an exec'd process is never the host's interpreter."""

from __future__ import annotations

import json
import os

from tests.conftest import RUNK
from tests.rootless.conftest import rootless_bundle


def test_created_init_is_the_sealed_trampoline_with_stdio_only(alice):
    b = rootless_bundle(alice).sh("ls /proc/self/fd; readlink /proc/1/exe")
    root = alice.mkdir("root-sec")
    r = alice.run(RUNK, "--root", root, "create", "-b", b.path, "rkrl-sec")
    assert r.rc == 0, r
    try:
        pid = json.loads(alice.run(RUNK, "--root", root, "state", "rkrl-sec").out)["pid"]
        assert os.readlink(f"/proc/{pid}/exe").startswith("/memfd:runk-exec")
        with open(f"/proc/{pid}/status") as f:
            status = dict(line.split(":\t", 1) for line in f if ":\t" in line)
        assert status["Uid"].split()[0] == str(alice.uid)  # the caller, never more
        assert int(status["CapEff"], 16) & ~0x20000420 == 0  # only the config's capabilities
        fds = sorted(int(fd) for fd in os.listdir(f"/proc/{pid}/fd"))
        targets = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in fds if fd > 2]
        assert fds[:3] == [0, 1, 2] and len(targets) == 1 and targets[0].endswith("/rkrl-sec/exec.fifo"), targets
        # no runk setup process of this container is left
        for p in os.listdir("/proc"):
            if p.isdigit():
                try:
                    with open(f"/proc/{p}/comm") as f:
                        comm = f.read().strip()
                    if comm.startswith("runk:[") and os.stat(f"/proc/{p}").st_uid == alice.uid:
                        raise AssertionError(f"setup process {p} {comm} left")
                except OSError:
                    pass
    finally:
        alice.run(RUNK, "--root", root, "delete", "-f", "rkrl-sec")


def test_exec_sees_only_stdio(alice):
    b = rootless_bundle(alice).args("sleep", "60")
    root = alice.mkdir("root-sec-exec")
    assert alice.run(RUNK, "--root", root, "run", "-d", "-b", b.path, "rkrl-sec2").rc == 0
    try:
        r = alice.run(RUNK, "--root", root, "exec", "rkrl-sec2", "sh", "-c", "ls /proc/$$/fd; readlink /proc/$$/exe")
        assert r.rc == 0, r
        lines = r.out.split()
        assert lines[:3] == ["0", "1", "2"] and lines[-1] == "/bin/busybox", r
        assert len(lines) <= 5, r  # at most the fd ls itself opens for reading the directory
    finally:
        alice.run(RUNK, "--root", root, "delete", "-f", "rkrl-sec2")
