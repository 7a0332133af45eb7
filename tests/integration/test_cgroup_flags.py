"""runc main's cgroup and process-handle flags on real containers: update --cpu-burst and
--cpu-idle, pids.limit 0, a shared (non-empty) cgroup, exec --cgroup errors, and --pidfd-socket
on create, run and exec (a pidfd of the container's process received over a unix socket)."""

from __future__ import annotations

import os
import signal
import socket
import threading
import uuid

import pytest

from tests.helpers import running, wait_status


def _cgroup_dir(pid: int, controller: str) -> str:
    """The host directory of pid's group in a v1 hierarchy (or the v2 one for "")."""
    with open(f"/proc/{pid}/cgroup") as f:
        for line in f:
            _, ctrls, path = line.rstrip("\n").split(":", 2)
            if controller in ctrls.split(",") or (controller == "" and ctrls == ""):
                base = f"/sys/fs/cgroup/{controller}" if controller else "/sys/fs/cgroup/unified"
                return base + path
    pytest.skip(f"no {controller or 'unified'} hierarchy")
    return ""


def _read(path: str) -> str:
    with open(path) as f:
        return f.read().strip()


def test_update_cpu_burst_and_idle(runk, bundle, cid, leak_audit):
    with running(runk, bundle, cid) as pid:
        cpu = _cgroup_dir(pid, "cpu")
        if not os.path.exists(f"{cpu}/cpu.cfs_burst_us") or not os.path.exists(f"{cpu}/cpu.idle"):
            pytest.skip("the kernel has no cpu.cfs_burst_us or cpu.idle")
        r = runk("update", "--cpu-period", "900000", "--cpu-burst", "500000", cid)
        assert r.rc == 0, r
        assert _read(f"{cpu}/cpu.cfs_burst_us") == "500000"
        assert runk("update", "--cpu-idle", "1", cid).rc == 0
        assert _read(f"{cpu}/cpu.idle") == "1"
        assert runk("update", "--cpu-idle", "0", cid).rc == 0
        assert _read(f"{cpu}/cpu.idle") == "0"
        r = runk("update", "--cpu-idle", "x", cid)
        assert r.rc != 0 and "invalid value for cpu-idle: x" in r.err, r


def test_pids_limit_zero_is_one(runk, bundle, cid, leak_audit):
    bundle.config["linux"]["resources"] = {"pids": {"limit": 0}}
    with running(runk, bundle, cid) as pid:  # the init's own fork was not counted against it
        pids = _cgroup_dir(pid, "pids")
        assert _read(f"{pids}/pids.max") == "1"
        assert runk("update", "--pids-limit", "7", cid).rc == 0
        assert _read(f"{pids}/pids.max") == "7"
        assert runk("update", "--pids-limit", "0", cid).rc == 0
        assert _read(f"{pids}/pids.max") == "1"
        # the limit holds: the container's shell cannot fork
        r = runk("exec", cid, "true")
        assert r.rc != 0, r


def test_shared_cgroup_is_warned_about(runk, bundle, cid, leak_audit):
    bundle.config["linux"]["cgroupsPath"] = f"/procattrs-shared-{uuid.uuid4().hex[:8]}"
    other = cid + "-b"
    with running(runk, bundle, cid):
        r = runk("run", "-d", "--bundle", bundle.path, other)
        try:
            assert r.rc == 0, r
            assert "container's cgroup is not empty: 1 process(es) found" in r.err, r
        finally:
            runk("delete", "--force", other)


def test_exec_into_a_missing_sub_cgroup_says_so(runk, bundle, cid, leak_audit):
    with running(runk, bundle, cid):
        r = runk("exec", "--cgroup", "nonexistent", cid, "true")
        assert r.rc == 255 and "error adding pid " in r.err and "no such file or directory" in r.err, r


class _PidfdAgent:
    """A listener that takes one connection and keeps the message and fd it receives."""

    def __init__(self, path: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(1)
        self.kind = ""
        self.fd = -1
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.sock.accept()
        with conn:
            msg, anc, _flags, _addr = conn.recvmsg(64, socket.CMSG_SPACE(4))
        self.kind = msg.decode()
        for level, kind, data in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                self.fd = int.from_bytes(data[:4], "little")

    def result(self) -> tuple[str, int]:
        self.thread.join(10)
        self.sock.close()
        return self.kind, self.fd


def _pidfd_pid(fd: int) -> int:
    with open(f"/proc/self/fdinfo/{fd}") as f:
        for line in f:
            if line.startswith("Pid:"):
                return int(line.split()[1])
    raise AssertionError("not a pidfd")


def test_pidfd_socket_create_and_exec(runk, bundle, cid, tmp_path, leak_audit):
    bundle.args("sleep", "100").write()
    agent = _PidfdAgent(str(tmp_path / "init.sock"))
    r = runk("create", "--pidfd-socket", str(tmp_path / "init.sock"), "--bundle", bundle.path, cid)
    assert r.rc == 0, r
    try:
        kind, fd = agent.result()
        assert kind == "standard" and _pidfd_pid(fd) == runk.state(cid)["pid"]
        # a created container's process ends on SIGTERM, as runc's does while it waits for start
        signal.pidfd_send_signal(fd, signal.SIGTERM)
        os.close(fd)
        wait_status(runk, cid, "stopped")
    finally:
        runk("delete", "--force", cid)
    with running(runk, bundle, cid):
        agent = _PidfdAgent(str(tmp_path / "exec.sock"))
        pidfile = tmp_path / "exec.pid"
        r = runk(
            "exec", "-d", "--pid-file", str(pidfile), "--pidfd-socket", str(tmp_path / "exec.sock"), cid, "sleep", "100"
        )
        assert r.rc == 0, r
        kind, fd = agent.result()
        assert kind == "setns" and _pidfd_pid(fd) == int(pidfile.read_text())
        os.close(fd)


def test_pidfd_socket_nobody_listens_fails_before_anything_runs(runk, bundle, cid, tmp_path, leak_audit):
    bundle.args("sleep", "100").write()
    r = runk("run", "-d", "--pidfd-socket", str(tmp_path / "none.sock"), "--bundle", bundle.path, cid)
    assert r.rc == 1 and f"failed to dial {tmp_path}/none.sock" in r.err, r
    assert not os.path.exists(os.path.join(runk.root, cid))
