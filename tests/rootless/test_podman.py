"""Rootless podman with runk as its runtime (runc alongside): a non-root user, vfs storage in
its home, its own XDG_RUNTIME_DIR. podman runs the runtime as "root" of the user namespace it
made (the caller's uid and its /etc/subuid range), so runk runs there in a user namespace that
is not its own."""

from __future__ import annotations

import time

import pytest

from tests.podman.ptydrive import RAW, run_in_pty

pytestmark = pytest.mark.slow


def _wait(cond, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def test_run_exit_code_and_identity(rpm):
    r = rpm("run", "--rm", rpm.image, "sh", "-c", "id; cat /proc/self/uid_map; echo err >&2; exit 7")
    assert r.rc == 7, r
    lines = r.out.splitlines()
    assert lines[0] == "uid=0(root) gid=0(root)", r
    rows = [line.split() for line in lines[1:]]
    assert rows[0] == ["0", str(rpm.user.uid), "1"], r  # the caller is root inside
    assert len(rows) >= 2 and all(int(row[2]) > 0 for row in rows), r  # and its subordinate ids
    assert "err" in r.err, r


def test_run_command_not_found(rpm):
    r = rpm("run", "--rm", rpm.image, "/no/such/binary")
    assert r.rc == 127, r


def test_devices_and_sys(rpm):
    """/dev/null is the host's node (bound: mknod is refused in a user namespace), /sys is
    read-only."""
    r = rpm("run", "--rm", rpm.image, "sh", "-c", "echo x >/dev/null && stat -c '%t,%T' /dev/null; touch /sys/x")
    assert r.out.splitlines()[0] == "1,3", r
    assert "Read-only file system" in r.err, r


def test_exec_logs_stop_rm(rpm):
    name = rpm.name()
    r = rpm(
        "run",
        "-d",
        "--name",
        name,
        rpm.image,
        "sh",
        "-c",
        "echo started; trap 'echo bye; exit 3' TERM; while :; do sleep 0.1; done",
    )
    assert r.rc == 0, r
    _wait(lambda: "started" in rpm("logs", name).out, 30, "the log line")
    r = rpm("exec", name, "sh", "-c", "cat /proc/self/uid_map | head -1; exit 5")
    assert r.rc == 5 and r.out.split() == ["0", str(rpm.user.uid), "1"], r
    r = rpm("exec", "-u", "1000", name, "id", "-u")
    assert (r.rc, r.out) == (0, "1000\n"), r
    r = rpm("stop", "-t", "10", name)
    assert r.rc == 0, r
    r = rpm("inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", name)
    assert r.out.split() == ["exited", "3"], r
    assert "bye" in rpm("logs", name).out
    r = rpm("rm", name)
    assert r.rc == 0, r
    assert rpm("ps", "-a", "-q", "--filter", f"name=^{name}$").out.strip() == ""


def test_rm_force_running(rpm):
    name = rpm.name()
    assert rpm("run", "-d", "--name", name, rpm.image, "sleep", "300").rc == 0
    r = rpm("rm", "-f", "-t", "0", name)
    assert r.rc == 0, r
    assert rpm("ps", "-a", "-q", "--filter", f"name=^{name}$").out.strip() == ""


def test_network_none(rpm):
    r = rpm("run", "--rm", "--network", "none", rpm.image, "sh", "-c", "ls /sys/class/net")
    assert (r.rc, r.out.split()) == (0, ["lo"]), r


def test_default_rootless_network(rpm):
    """slirp4netns: a tap device with podman's 10.0.2.100, a default route through it."""
    r = rpm("run", "--rm", rpm.image, "sh", "-c", "ip -4 addr show tap0; ip route")
    assert r.rc == 0, r
    assert "10.0.2.100" in r.out and "default via 10.0.2.2" in r.out, r


def test_interactive_terminal(rpm):
    r = run_in_pty(
        rpm.full_argv("run", "--rm", "-it", rpm.image, "sh", "-c", "tty; read x; echo got-$x; exit 6"),
        {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
        interact=[(RAW, "abc\n")],
        timeout=60,
    )
    assert r.rc == 6, r
    assert "/dev/pts/0" in r.out and "got-abc" in r.out, r
