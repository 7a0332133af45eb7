"""Seccomp notify (linux.seccomp.listenerPath, SCMP_ACT_NOTIFY) and startContainer hooks under the
filter, in real containers, with a seccomp agent of the tests' own (tests/seccomp_agent.py).

The agent records what it received: the container process state (runtime-spec's "seccomp state":
ociVersion, fds, pid, metadata, state) with the listener fd, and every notification; it answers
mkdir with "<path>-<metadata>" created in the container, or a chosen errno.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import tempfile

import pytest

from tests.conftest import TOP
from tests.helpers import running, wait_for

AGENT = os.path.join(TOP, "tests", "seccomp_agent.py")
MKDIR = 83  # x86_64


class Agent:
    def __init__(self, tmp_path, *opts: str) -> None:
        # a short path: sun_path holds 108 bytes
        self.dir = tempfile.mkdtemp(prefix="seccomp-agent-")
        self.sock = os.path.join(self.dir, "s")
        self.record = str(tmp_path / "agent.jsonl")
        open(self.record, "w").close()
        self.proc = subprocess.Popen(
            [sys.executable, AGENT, self.sock, self.record, *opts], stdout=subprocess.PIPE, text=True
        )
        assert self.proc.stdout is not None and self.proc.stdout.readline().strip() == "ready"

    def lines(self) -> list[dict]:
        with open(self.record) as f:
            return [json.loads(line) for line in f if line.strip()]

    def states(self) -> list[dict]:
        return [r for r in self.lines() if "state" in r]

    def calls(self) -> list[dict]:
        return [r for r in self.lines() if "nr" in r]

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()

    def close(self) -> None:
        self.kill()
        for name in os.listdir(self.dir):
            os.unlink(os.path.join(self.dir, name))
        os.rmdir(self.dir)


@pytest.fixture
def agent(tmp_path):
    a = Agent(tmp_path, "--suffix", "--errno", f"/dev/shm/denied={errno.ENOMEDIUM}")
    yield a
    a.close()


def notify_profile(agent: Agent, *names: str, metadata: str = "bar") -> dict:
    return {
        "defaultAction": "SCMP_ACT_ALLOW",
        "listenerPath": agent.sock,
        "listenerMetadata": metadata,
        "architectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32", "SCMP_ARCH_X86_64"],
        "syscalls": [{"names": list(names or ("mkdir",)), "action": "SCMP_ACT_NOTIFY"}],
    }


@pytest.mark.parametrize("nnp", [True, False])
def test_agent_answers_the_containers_mkdir(runk, bundle, cid, agent, nnp, leak_audit):
    bundle.config["process"]["noNewPrivileges"] = nnp
    bundle.config["linux"]["seccomp"] = notify_profile(agent)
    bundle.sh("mkdir /dev/shm/foo && ls -d /dev/shm/foo*; ls /proc/self/fd; true").write()
    r = runk("run", "--bundle", bundle.path, cid)
    assert r.rc == 0, r
    dirs, fds = r.out.split("\n", 1)
    # the agent made foo-bar in the container (the metadata's suffix), not foo: it answered
    assert dirs == "/dev/shm/foo-bar", r.out
    assert fds.split() == ["0", "1", "2", "3"], r.out  # 3 is ls's own: no listener fd inherited
    (got,) = agent.states()
    state = got["state"]
    assert got["nfds"] == 1 and got["fd_is_listener"]
    assert state["fds"] == ["seccompFd"] and state["metadata"] == "bar" and state["ociVersion"]
    inner = state["state"]
    assert inner["id"] == cid and inner["status"] == "creating" and inner["bundle"] == bundle.path
    assert state["pid"] == inner["pid"] > 0
    assert [c["path"] for c in agent.calls() if c["nr"] == MKDIR] == ["/dev/shm/foo"]


def test_agent_errno_reaches_the_program(runk, bundle, cid, agent, leak_audit):
    bundle.config["linux"]["seccomp"] = notify_profile(agent)
    bundle.sh("mkdir /dev/shm/denied").write()
    r = runk("run", "--bundle", bundle.path, cid)
    assert r.rc != 0 and "No medium found" in r.out + r.err, r


def test_exec_hands_its_own_listener_to_the_agent(runk, bundle, cid, agent, leak_audit):
    bundle.config["linux"]["seccomp"] = notify_profile(agent)
    with running(runk, bundle, cid) as init_pid:
        r = runk("exec", cid, "sh", "-c", "mkdir /dev/shm/x && ls -d /dev/shm/x*")
        assert r.rc == 0 and r.out.split() == ["/dev/shm/x-bar"], r
    first, second = agent.states()
    assert first["state"]["pid"] == init_pid and first["state"]["state"]["status"] == "creating"
    # exec: the process that loaded the filter, in the state of the running container
    assert second["state"]["pid"] != init_pid and second["fd_is_listener"]
    assert second["state"]["state"]["status"] == "running" and second["state"]["state"]["pid"] == init_pid
    mkdirs = [c for c in agent.calls() if c["nr"] == MKDIR]
    assert [c["path"] for c in mkdirs] == ["/dev/shm/x"]


def test_agent_death_gives_enosys_and_runk_keeps_no_listener(runk, bundle, cid, agent, tmp_path, leak_audit):
    bundle.config["linux"]["seccomp"] = notify_profile(agent)
    flag = tmp_path / "go"
    bundle.config["mounts"].append(
        {"destination": "/flag", "type": "bind", "source": str(tmp_path), "options": ["bind"]}
    )
    bundle.sh("while [ ! -e /flag/go ]; do sleep 0.05; done; mkdir /dev/shm/late").write()
    env = {**os.environ, "RUNK_TEST_ROOT": runk.root}
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(
            [runk.binary, "--root", runk.root, "run", "--bundle", bundle.path, cid],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
        )
        try:
            assert wait_for(lambda: agent.states(), timeout=20)
            # runk run stays in the foreground: it must hold no copy of the listener
            for fd in os.listdir(f"/proc/{proc.pid}/fd"):
                try:
                    assert "seccomp" not in os.readlink(f"/proc/{proc.pid}/fd/{fd}")
                except FileNotFoundError:
                    pass
            agent.kill()
            flag.write_text("")
            rc = proc.wait(timeout=20)  # a listener kept alive anywhere would block mkdir for ever
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        out.seek(0)
        text = out.read().decode()
    assert rc != 0 and "mkdir: can't create directory '/dev/shm/late': Function not implemented" in text, text


def test_no_agent_listening_fails_create_and_leaves_nothing(runk, bundle, cid, agent, leak_audit):
    bundle.config["linux"]["seccomp"] = notify_profile(agent)
    bundle.config["linux"]["seccomp"]["listenerPath"] = agent.sock + "-nobody"
    bundle.write()
    r = runk("run", "--bundle", bundle.path, cid)
    assert r.rc != 0 and "failed to connect with seccomp agent" in r.err, r
    assert agent.sock + "-nobody" in r.err
    assert runk("list", "-q").out.split() == []


def test_listener_path_without_notify_rule_is_ignored(runk, bundle, cid, agent, leak_audit):
    profile = notify_profile(agent)
    profile["syscalls"] = [{"names": ["getcwd"], "action": "SCMP_ACT_ERRNO"}]
    bundle.config["linux"]["seccomp"] = profile
    bundle.sh("mkdir /dev/shm/plain && ls -d /dev/shm/plain*").write()
    r = runk("run", "--bundle", bundle.path, cid)
    assert r.rc == 0 and r.out.split() == ["/dev/shm/plain"], r
    assert agent.lines() == []


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda p: p["syscalls"][0]["names"].append("write"), "SCMP_ACT_NOTIFY cannot be used for the write syscall"),
        (lambda p: p.update(listenerPath=""), "linux.seccomp.listenerPath: listenerPath is not set"),
        (lambda p: p.update(defaultAction="SCMP_ACT_NOTIFY"), "SCMP_ACT_NOTIFY cannot be used as default action"),
    ],
)
def test_bad_notify_profiles_are_refused(runk, bundle, cid, agent, change, message, leak_audit):
    profile = notify_profile(agent)
    change(profile)
    bundle.config["linux"]["seccomp"] = profile
    bundle.write()
    r = runk("run", "--bundle", bundle.path, cid)
    assert r.rc != 0 and message in r.err, r
    assert agent.lines() == [] and runk("list", "-q").out.split() == []


# --- startContainer hooks run in the container with the filter in force (runc's order) -----------


@pytest.mark.parametrize("nnp", [True, False])
def test_start_container_hook_runs_under_the_filter(runk, bundle, cid, nnp, leak_audit):
    bundle.config["process"]["noNewPrivileges"] = nnp
    bundle.config["linux"]["seccomp"] = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_KILL"}],
    }
    bundle.config["hooks"] = {"startContainer": [{"path": "/bin/sh", "args": ["sh", "-c", "mkdir /dev/shm/hook"]}]}
    bundle.args("echo", "workload ran").write()
    r = runk("run", "--bundle", bundle.path, cid)
    assert r.rc != 0 and "workload ran" not in r.out, r
    # the hook was killed by the filter's SIGSYS ("signal 31", or Go's "bad system call")
    assert "startContainer" in r.err and (f"signal {signal.SIGSYS}" in r.err or "bad system call" in r.err), r
    runk("delete", "--force", cid)  # the failed start leaves a stopped container


def test_start_container_hook_with_notify_gets_no_extra_fd(runk, bundle, cid, agent, tmp_path, leak_audit):
    bundle.config["linux"]["seccomp"] = notify_profile(agent)
    bundle.config["mounts"].append(
        {"destination": "/out", "type": "bind", "source": str(tmp_path), "options": ["bind"]}
    )
    # the hook's mkdir reaches the agent: the listener was handed over before the hooks ran
    script = "ls /proc/self/fd > /out/hook-fds; mkdir /dev/shm/h && ls -d /dev/shm/h* > /out/hook-dirs"
    bundle.config["hooks"] = {"startContainer": [{"path": "/bin/sh", "args": ["sh", "-c", script]}]}
    bundle.args("true").write()
    r = runk("run", "--bundle", bundle.path, cid)
    assert r.rc == 0, r
    assert (tmp_path / "hook-fds").read_text().split() == ["0", "1", "2", "3"]
    assert (tmp_path / "hook-dirs").read_text().split() == ["/dev/shm/h-bar"]
