"""Detached containers through their life: ps/inspect state, top, logs, stats, pause, update,
kill, stop, restart, start --attach, wait, rm -f, init."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from tests.podman.conftest import wait_for

pytestmark = pytest.mark.slow

# PID 1 of a pid namespace ignores signals it has no handler for; these install handlers
TRAP_TERM = 'trap "echo got-term; exit 0" TERM; echo ready; while :; do sleep 0.1; done'
IGNORE_TERM = 'trap "" TERM; echo ready; while :; do sleep 0.1; done'
TRAP_USR1 = 'trap "echo got-usr1" USR1; echo ready; while :; do sleep 0.1; done'


def _runtime_knows(pm, cid: str) -> bool:
    r = subprocess.run([pm.binary, "state", cid], capture_output=True, timeout=30)
    return r.returncode == 0


def test_run_detached_ps_inspect(pm):
    name = pm.name()
    r = pm("run", "-d", "--name", name, pm.image, "sleep", "1000", check=True)
    cid = r.out.strip()
    assert len(cid) == 64, r
    st = pm.expect_state(name, "running")
    # the pid podman reports is the container's init, a child of conmon
    with open(f"/proc/{st['Pid']}/cmdline", "rb") as f:
        assert f.read().split(b"\0")[:2] == [b"sleep", b"1000"]
    assert st["ConmonPid"] == int(open(f"/proc/{st['Pid']}/stat").read().rsplit(")", 1)[1].split()[1])
    r = pm("ps", "--filter", f"name=^{name}$", "--format", "{{.ID}} {{.Status}}", check=True)
    assert r.out.startswith(cid[:12] + " Up "), r
    assert _runtime_knows(pm, cid)
    pm("rm", "-f", "-t", "0", name, check=True)
    assert not _runtime_knows(pm, cid), "runtime state left behind after rm -f"


def test_created_then_start(pm):
    name = pm.name()
    pm("create", "--name", name, pm.image, "sh", "-c", "echo started; exit 2", check=True)
    pm.expect_state(name, "created")
    pm("start", name, check=True)
    st = pm.wait_exited(name)
    assert st["ExitCode"] == 2, st
    pm.expect_state(name, "exited", 2)
    assert pm("logs", name).out == "started\n"


def test_init_then_start(pm):
    name = pm.name()
    pm("create", "--name", name, pm.image, "sh", "-c", "echo started; exit 0", check=True)
    pm("init", name, check=True)
    pm.expect_state(name, "initialized")
    cid = pm.inspect(name)["Id"]
    assert _runtime_knows(pm, cid)
    pm("start", name, check=True)
    st = pm.wait_exited(name)
    assert st["ExitCode"] == 0, st
    assert pm("logs", name).out == "started\n"


def test_top(pm):
    name = pm.run_d(pm.image, "sleep", "1000")
    r = pm("top", name, check=True)
    head, *rows = r.out.splitlines()
    assert head.split()[:3] == ["USER", "PID", "PPID"], r
    assert any(row.split()[1] == "1" and row.split()[-2:] == ["sleep", "1000"] for row in rows), r
    r = pm("top", name, "pid", "args", check=True)
    assert "sleep 1000" in r.out, r


def test_logs(pm):
    name = pm.run_d(pm.image, "sh", "-c", "echo line-1; echo line-2 >&2; echo line-3; sleep 1000")
    pm.wait_log(name, "line-3")
    r = pm("logs", name, check=True)
    # podman logs gives the container's stdout on stdout and its stderr on stderr
    assert (r.out, r.err) == ("line-1\nline-3\n", "line-2\n"), r


def test_stats_no_stream(pm):
    name = pm.run_d(pm.image, "sleep", "1000")
    r = pm("stats", "--no-stream", "--format", "json", name, check=True)
    [s] = json.loads(r.out)
    assert s["name"] == name and s["pids"] == "1", s
    assert not s["mem_usage"].startswith("0B"), s
    r = pm("stats", "--no-stream", "--no-reset", name, check=True)
    assert name in r.out, r


def test_pause_unpause(pm):
    name = pm.run_d(pm.image, "sh", "-c", "while :; do echo tick >/tmp/tick; sleep 0.05; done")
    pm("pause", name, check=True)
    pm.expect_state(name, "paused")
    assert pm.cgroup_file(name, "freezer", "freezer.state") == "FROZEN"
    pm("unpause", name, check=True)
    pm.expect_state(name, "running")
    assert pm.cgroup_file(name, "freezer", "freezer.state") == "THAWED"
    assert pm("exec", name, "true").rc == 0
    pm("stop", "-t", "0", name, check=True)
    pm.expect_state(name, "exited", 137)


def test_update_memory(pm):
    name = pm.run_d("--memory", "64m", pm.image, "sleep", "1000")
    assert pm.cgroup_file(name, "memory", "memory.limit_in_bytes") == str(64 << 20)
    pm("update", "--memory", "128m", name, check=True)
    assert pm.cgroup_file(name, "memory", "memory.limit_in_bytes") == str(128 << 20)
    r = pm("exec", name, "cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes", check=True)
    assert r.out.strip() == str(128 << 20)
    pm.expect_state(name, "running")


def test_kill_with_signal_then_kill(pm):
    name = pm.run_d(pm.image, "sh", "-c", TRAP_USR1)
    pm.wait_log(name, "ready")
    pm("kill", "-s", "USR1", name, check=True)
    pm.wait_log(name, "got-usr1")
    pm.expect_state(name, "running")
    pm("kill", name, check=True)
    st = pm.wait_exited(name)
    assert st["ExitCode"] == 137, st
    pm.expect_state(name, "exited", 137)


def test_stop_with_term_trap(pm):
    name = pm.run_d(pm.image, "sh", "-c", TRAP_TERM)
    pm.wait_log(name, "ready")
    r = pm("stop", name, check=True)
    assert r.elapsed < 8, r
    pm.expect_state(name, "exited", 0)
    assert "got-term" in pm("logs", name).out


def test_stop_timeout_when_term_is_ignored(pm):
    name = pm.run_d(pm.image, "sh", "-c", IGNORE_TERM)
    pm.wait_log(name, "ready")
    r = pm("stop", "-t", "1", name, check=True)
    assert 0.9 <= r.elapsed < 8, r
    assert "resorting to SIGKILL" in r.err, r
    pm.expect_state(name, "exited", 137)


def test_restart(pm):
    name = pm.run_d(pm.image, "sh", "-c", TRAP_TERM)
    pm.wait_log(name, "ready")
    pid1 = pm.state(name)["Pid"]
    pm("restart", name, check=True)
    st = pm.expect_state(name, "running")
    assert st["Pid"] != pid1, st
    wait_for(lambda: pm("logs", name).out.count("ready") == 2, 30, "the second start's output")
    assert pm("exec", name, "echo", "after-restart").out == "after-restart\n"


def test_start_attach(pm):
    name = pm.name()
    pm("create", "--name", name, pm.image, "sh", "-c", "echo attached-out; echo attached-err >&2; exit 3", check=True)
    r = pm("start", "--attach", name)
    assert r.rc == 3, r
    assert "attached-out" in r.out and "attached-err" in r.err, r
    pm.expect_state(name, "exited", 3)
    # a second start of the stopped container: a fresh create on the same bundle
    r = pm("start", "-a", name)
    assert r.rc == 3 and "attached-out" in r.out, r


def test_start_attach_interactive(pm):
    name = pm.name()
    pm("create", "-i", "--name", name, pm.image, "sh", "-c", "read x; echo got-$x; exit 6", check=True)
    r = pm("start", "-a", "-i", name, input="hello\n")
    assert (r.rc, r.out) == (6, "got-hello\n"), r


def test_wait(pm):
    name = pm.run_d(pm.image, "sh", "-c", "sleep 0.5; exit 6")
    r = pm("wait", name, check=True)
    assert r.out.strip() == "6", r
    pm.expect_state(name, "exited", 6)


def test_rm_force_running(pm):
    name = pm.run_d(pm.image, "sleep", "1000")
    st = pm.state(name)
    cid = pm.inspect(name)["Id"]
    r = pm("rm", "-f", "-t", "0", name, check=True)  # -t 0: `kill 9`, no stop signal first
    assert r.elapsed < 8 and "SIGKILL" not in r.err, r
    assert pm("container", "exists", name).rc == 1
    wait_for(
        lambda: (
            not os.path.exists(f"/proc/{st['Pid']}/cmdline")
            or open(f"/proc/{st['Pid']}/stat").read().rsplit(")", 1)[1].split()[0] == "Z"
        ),
        10,
        "the container's process to go",
    )
    assert not _runtime_knows(pm, cid)
    assert not os.path.exists(f"/sys/fs/cgroup/memory/libpod_parent/libpod-{cid}")


def test_pid_host_stop(pm):
    """--pid=host: no pid namespace, podman stops it with `kill --all`."""
    name = pm.run_d("--pid=host", pm.image, "sleep", "1000")
    pid = pm.state(name)["Pid"]
    r = pm("exec", name, "cat", "/proc/1/comm", check=True)
    assert r.out.strip() != "sleep", r  # the host's pid 1
    pm("stop", "-t", "5", name, check=True)
    pm.expect_state(name, "exited", 143)
    assert (
        not os.path.exists(f"/proc/{pid}/cmdline")
        or "Z" == open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
    )


def test_exit_code_reaches_run_start_and_wait(pm):
    name = pm.name()
    r = pm("run", "--name", name, pm.image, "sh", "-c", "exit 3")
    assert r.rc == 3, r
    pm.expect_state(name, "exited", 3)
    assert pm("wait", name).out.strip() == "3"
    assert pm("start", "-a", name).rc == 3


def test_healthcheck_run(pm):
    """The health-check timer needs systemd (podman only warns); `healthcheck run` is an exec."""
    name = pm.name()
    r = pm(
        "run",
        "-d",
        "--name",
        name,
        "--health-cmd",
        "test -e /tmp/healthy",
        pm.image,
        "sh",
        "-c",
        "touch /tmp/healthy; sleep 1000",
    )
    assert r.rc == 0, r
    wait_for(lambda: pm("exec", name, "test", "-e", "/tmp/healthy").rc == 0, 20, "the marker file")
    r = pm("healthcheck", "run", name)
    assert r.rc == 0, r
    assert pm.state(name)["Health"]["Status"] == "healthy"
    pm("exec", name, "rm", "/tmp/healthy", check=True)
    assert pm("healthcheck", "run", name).rc == 1


def test_commit_then_run_the_new_image(pm):
    name = pm.run_d(pm.image, "sh", "-c", "echo committed >/marker; sleep 1000")
    wait_for(lambda: pm("exec", name, "cat", "/marker").out == "committed\n", 20, "the marker file")
    image = f"localhost/{pm.session.prefix}-{pm.runtime}-commit:latest"
    try:
        pm("commit", "-q", name, image, check=True)
        r = pm("run", "--rm", image, "cat", "/marker")
        assert (r.rc, r.out) == (0, "committed\n"), r
    finally:
        pm("rmi", "-f", image)


def test_kill_paused(pm):
    """SIGKILL reaches a paused container (runc thaws it for SIGKILL); other signals wait."""
    name = pm.run_d(pm.image, "sh", "-c", TRAP_USR1)
    pm.wait_log(name, "ready")
    pm("pause", name, check=True)
    pm("kill", "-s", "USR1", name, check=True)
    pm.expect_state(name, "paused")
    pm("kill", name, check=True)
    st = pm.wait_exited(name)
    assert st["ExitCode"] == 137, st
    pm.expect_state(name, "exited", 137)
