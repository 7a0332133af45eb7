"""docker end to end on runk and on runc (`docker run --runtime runk|runc`), one private dockerd
for the session (conftest.py) configured with the README's daemon.json.

Each scenario runs on both runtimes, so that a failure on runk alone is runk's. Also
`default-runtime: runk` (the README's second snippet, loaded with SIGHUP).
"""

from __future__ import annotations

import json
import os
import time

import pytest

from tests.podman.ptydrive import RAW
from tests.snippets import snippet

pytestmark = [pytest.mark.docker, pytest.mark.slow]

TRAP = 'trap "echo got-USR1" USR1; trap "echo got-TERM; exit 9" TERM; echo ready; while :; do sleep 0.1; done'


def _timing(rt, what: str, seconds: float) -> None:
    print(f"\n[docker timing] {rt.name} {what}: {seconds * 1000:.0f} ms")


def test_run_exit_codes_and_output(rt):
    r = rt.run(rt.image, "sh", "-c", "echo out; echo err >&2; id -u; exit 3")
    assert (r.rc, r.out, r.err) == (3, "out\n0\n", "err\n"), r
    _timing(rt, "run --rm (exit 3)", r.elapsed)
    r = rt.run(rt.image, "/nonexistent")
    assert r.rc == 127, r
    assert 'exec: "/nonexistent": stat /nonexistent: no such file or directory' in r.err, r
    r = rt.run(rt.image, "/etc")
    assert r.rc == 126, r
    assert 'exec: "/etc": permission denied' in r.err, r
    r = rt.run(rt.image, "nosuchcommand")
    assert r.rc == 127 and "executable file not found in $PATH" in r.err, r


def test_stdin(rt):
    r = rt.run("-i", rt.image, "sh", "-c", "tr a-z A-Z; exit 5", input="over stdin\n")
    assert (r.rc, r.out) == (5, "OVER STDIN\n"), r


def test_tty_and_interactive_tty(rt):
    # docker sizes the terminal after the start: poll for it (busybox stty fails on 0x0)
    script = (
        "tty; for i in $(seq 200); do s=$(stty size 2>/dev/null); "
        '[ -n "$s" ] && [ "$s" != \'0 0\' ] && break; sleep 0.05; done; echo size=$s; exit 4'
    )
    r = rt.d.pty("run", "--rm", "--runtime", rt.name, "-t", rt.image, "sh", "-c", script, rows=33, cols=97)
    out = r.out.replace("\r", "")  # docker's raw terminal plus the container's ONLCR
    assert r.rc == 4, r
    assert "/dev/pts/0\n" in out and "size=33 97\n" in out, r
    r = rt.d.pty(
        "run",
        "--rm",
        "--runtime",
        rt.name,
        "-it",
        rt.image,
        "sh",
        interact=[(RAW, "\n"), ("# ", "echo typed-$((40+2)); tty\n"), ("typed-42", "exit 6\n")],
        timeout=60,
    )
    assert r.rc == 6, r
    out = r.out.replace("\r", "")
    assert "\ntyped-42\n" in out and "\n/dev/pts/0\n" in out, r


def test_detached_exec_logs_stop(rt):
    name = rt.run_d(cmd=("sh", "-c", TRAP))
    info = rt.inspect(name)
    assert info["HostConfig"]["Runtime"] == rt.name
    assert rt.knows(info["Id"]), f"{rt.name} has no state of {info['Id']}"
    rt.wait_for("ready in the logs", lambda: "ready" in rt.d("logs", name).out)
    r = rt.d("exec", name, "sh", "-c", "echo in-exec; exit 7")
    assert (r.rc, r.out) == (7, "in-exec\n"), r
    r = rt.d(
        "exec", "-u", "1000:1001", "-w", "/tmp", "-e", "FOO=bar", name, "sh", "-c", 'id -u; id -g; pwd; echo "$FOO"'
    )
    assert (r.rc, r.out) == (0, "1000\n1001\n/tmp\nbar\n"), r
    r = rt.d("exec", "-i", name, "tr", "a-z", "A-Z", input="exec stdin\n")
    assert (r.rc, r.out) == (0, "EXEC STDIN\n"), r
    r = rt.d.pty("exec", "-it", name, "sh", "-c", "tty; exit 8")
    assert r.rc == 8 and "/dev/pts/" in r.out, r
    r = rt.d("exec", name, "/nonexistent")
    assert r.rc != 0 and "no such file or directory" in (r.out + r.err), r
    # kill with a signal: the trap runs, the container keeps running
    rt.d("kill", "-s", "USR1", name, check=True)
    rt.wait_for("got-USR1", lambda: "got-USR1" in rt.d("logs", name).out)
    assert rt.inspect(name)["State"]["Running"]
    # stop: SIGTERM, the trap exits 9
    r = rt.d("stop", name, check=True)
    _timing(rt, "stop (TERM trapped)", r.elapsed)
    st = rt.inspect(name)["State"]
    assert (st["Status"], st["ExitCode"]) == ("exited", 9), st
    assert rt.d("logs", name).out == "ready\ngot-USR1\ngot-TERM\n"
    assert not rt.knows(rt.inspect(name)["Id"])


def test_stop_timeout_kills(rt):
    name = rt.run_d(cmd=("sh", "-c", 'trap "" TERM; echo ready; while :; do sleep 0.1; done'))
    rt.wait_for("ready", lambda: "ready" in rt.d("logs", name).out)
    t0 = time.monotonic()
    rt.d("stop", "-t", "1", name, check=True)
    assert time.monotonic() - t0 >= 1
    st = rt.inspect(name)["State"]
    assert (st["Status"], st["ExitCode"]) == ("exited", 137), st


def test_restart_policy(rt):
    name = rt.run_d("--restart", "on-failure:2", cmd=("sh", "-c", "echo run; exit 3"))
    rt.wait_for(
        "two restarts and the exit",
        lambda: (i := rt.inspect(name))["RestartCount"] == 2 and i["State"]["Status"] == "exited",
    )
    assert rt.inspect(name)["State"]["ExitCode"] == 3
    assert rt.d("logs", name).out == "run\nrun\nrun\n"


def test_pause_unpause(rt):
    name = rt.run_d(cmd=("sh", "-c", "while :; do date +%s%N > /tmp/t; sleep 0.05; done"))
    rt.d("pause", name, check=True)
    assert rt.inspect(name)["State"]["Status"] == "paused"
    assert rt.cgroup(name, "freezer", "freezer.state") == "FROZEN"
    rt.d("unpause", name, check=True)
    assert rt.inspect(name)["State"]["Status"] == "running"
    assert rt.cgroup(name, "freezer", "freezer.state") == "THAWED"
    assert rt.d("exec", name, "true").rc == 0


def test_resources_update_stats(rt):
    name = rt.run_d("--memory", "64m", "--cpus", "0.5", "--pids-limit", "42")
    assert rt.cgroup(name, "memory", "memory.limit_in_bytes") == str(64 << 20)
    assert rt.cgroup(name, "cpu", "cpu.cfs_quota_us") == "50000"
    assert rt.cgroup(name, "cpu", "cpu.cfs_period_us") == "100000"
    assert rt.cgroup(name, "pids", "pids.max") == "42"
    # what the container itself reads (its cgroup namespace-less view is the host's path)
    r = rt.d("exec", name, "sh", "-c", "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max")
    assert r.out.split() == [str(64 << 20), "42"], r
    rt.d(
        "update", "--memory", "100m", "--memory-swap", "200m", "--cpus", "0.25", "--pids-limit", "77", name, check=True
    )
    assert rt.cgroup(name, "memory", "memory.limit_in_bytes") == str(100 << 20)
    if os.path.exists("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes"):  # swap accounting on
        assert rt.cgroup(name, "memory", "memory.memsw.limit_in_bytes") == str(200 << 20)
    assert rt.cgroup(name, "cpu", "cpu.cfs_quota_us") == "25000"
    assert rt.cgroup(name, "pids", "pids.max") == "77"
    r = rt.d("stats", "--no-stream", "--format", "{{json .}}", name, check=True)
    stats = json.loads(r.out)
    assert stats["Name"] == name and stats["PIDs"] == "1", stats
    assert stats["MemUsage"].endswith("/ 100MiB"), stats
    r = rt.d("top", name, check=True)
    assert "sleep 1000" in r.out, r


def test_healthcheck(rt):
    name = rt.run_d(
        "--health-cmd",
        "test -e /tmp/healthy",
        "--health-interval",
        "1s",
        "--health-retries",
        "1",
        cmd=("sh", "-c", "touch /tmp/healthy; sleep 1000"),
    )
    rt.wait_for("healthy", lambda: rt.inspect(name)["State"].get("Health", {}).get("Status") == "healthy")
    rt.d("exec", name, "rm", "/tmp/healthy", check=True)
    rt.wait_for("unhealthy", lambda: rt.inspect(name)["State"]["Health"]["Status"] == "unhealthy")
    log = rt.inspect(name)["State"]["Health"]["Log"]
    assert log[-1]["ExitCode"] == 1, log


def test_init_readonly_caps_nnp(rt):
    r = rt.run("--init", rt.image, "sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '; echo; echo $$")
    assert r.rc == 0, r
    first, pid = r.out.splitlines()
    assert first.startswith("/sbin/docker-init -- sh") and pid != "1", r
    r = rt.run("--read-only", rt.image, "sh", "-c", "touch /x; echo rc=$?; touch /tmp/y 2>&1; echo rc=$?")
    assert "Read-only file system" in r.err and r.out.startswith("rc=1\n"), r
    r = rt.run("--cap-drop", "ALL", rt.image, "grep", "^Cap", "/proc/self/status")
    assert {l.split()[1] for l in r.out.splitlines()} == {"0000000000000000"}, r
    r = rt.run("--cap-drop", "CHOWN", rt.image, "sh", "-c", "chown 1 /tmp; echo rc=$?")
    assert "rc=1" in r.out and "Operation not permitted" in r.err, r
    r = rt.run("--security-opt", "no-new-privileges", rt.image, "grep", "NoNewPrivs", "/proc/self/status")
    assert r.out.split() == ["NoNewPrivs:", "1"], r
    r = rt.run(rt.image, "grep", "NoNewPrivs", "/proc/self/status")
    assert r.out.split() == ["NoNewPrivs:", "0"], r


def _addrs(out: str) -> dict[str, str]:
    """`ip -o -4 addr` lines: interface -> address/prefix."""
    return {l.split()[1]: l.split()[3] for l in out.splitlines() if l.strip()}


def test_networks(rt):
    r = rt.run("--network", "none", rt.image, "ip", "-o", "-4", "addr")
    assert _addrs(r.out) == {"lo": "127.0.0.1/8"}, r
    r = rt.run("--network", "host", rt.image, "ip", "-o", "-4", "addr")
    assert _addrs(r.out).get(rt.d.bridge) == f"{rt.d.net}.1/24", r
    if not os.path.exists("/sys/module/veth") and rt.d("network", "ls").rc != 0:
        pytest.skip("no veth on this kernel: the bridge network cannot be tested")
    r = rt.run(
        "--network",
        "bridge",
        rt.image,
        "sh",
        "-c",
        f"ip -o -4 addr; ping -c 1 -W 5 {rt.d.net}.1 >/dev/null; echo ping=$?",
    )
    addrs = _addrs(r.out.split("ping=")[0])
    assert addrs["eth0"].startswith(f"{rt.d.net}.") and addrs["eth0"].endswith("/24"), r
    assert "ping=0" in r.out, r


def test_rm_force_running(rt):
    name = rt.run_d()
    cid = rt.inspect(name)["Id"]
    assert rt.knows(cid)
    r = rt.d("rm", "-f", name, check=True)
    _timing(rt, "rm -f (running)", r.elapsed)
    assert rt.d("inspect", name).rc != 0
    assert not rt.knows(cid)
    assert not os.path.exists(f"/sys/fs/cgroup/memory/{rt.d.cgroup_parent}/{cid}")


def test_default_runtime_runk(dockerd):
    """The README's default-runtime snippet: a container that names no runtime runs on runk."""
    from tests.docker.conftest import Rt

    dockerd.reload(snippet("docker-default-runtime"))
    try:
        deadline = time.monotonic() + 30
        while dockerd("info", "--format", "{{.DefaultRuntime}}").out.strip() != "runk":
            assert time.monotonic() < deadline, dockerd.tail()
            time.sleep(0.1)
        rt = Rt(dockerd, "runk")
        try:
            name = rt.new_name()
            dockerd("run", "-d", "--name", name, dockerd.image, "sleep", "1000", check=True)
            info = rt.inspect(name)
            assert info["HostConfig"]["Runtime"] == "runk"
            assert rt.knows(info["Id"])
            r = dockerd("exec", name, "sh", "-c", "echo via-default; exit 2")
            assert (r.rc, r.out) == (2, "via-default\n"), r
        finally:
            rt.cleanup()
    finally:
        # a key left out of the file keeps its value on reload: name runc again
        dockerd.reload(json.dumps({**json.loads(snippet("docker-daemon.json")), "default-runtime": "runc"}))
        deadline = time.monotonic() + 30
        while dockerd("info", "--format", "{{.DefaultRuntime}}").out.strip() != "runc":
            assert time.monotonic() < deadline, dockerd.tail()
            time.sleep(0.1)
