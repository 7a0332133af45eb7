"""Terminals beyond the first `-it`: attach, control characters, a detached tty's logs, and the
runtime as podman reports it."""

from __future__ import annotations

import concurrent.futures

import pytest

from tests.podman.ptydrive import RAW

pytestmark = pytest.mark.slow


def test_ctrl_c_reaches_the_container(pm):
    r = pm.pty(
        "run",
        "--rm",
        "--name",
        pm.name(),
        "-it",
        pm.image,
        "sh",
        "-c",
        "trap 'echo got-INT; exit 9' INT; echo ready; while :; do sleep 0.1; done",
        interact=[("ready", "\x03")],
        timeout=30,
    )
    assert r.rc == 9, r
    assert "got-INT" in r.out, r


def test_ctrl_d_ends_input(pm):
    r = pm.pty(
        "run",
        "--rm",
        "--name",
        pm.name(),
        "-it",
        pm.image,
        "cat",
        interact=[(RAW, "abc\n"), ("abc\r\nabc", "\x04")],
        timeout=30,
    )
    assert r.rc == 0, r
    assert r.out == "abc\nabc\n", r


def test_run_dit_then_attach(pm):
    name = pm.run_d("-it", pm.image, "sh")
    pm.expect_state(name, "running")
    r = pm.pty(
        "attach",
        name,
        interact=[(RAW, "\n"), ("# ", "tty; echo att-$((1+1))\n"), ("att-2\r\n", "exit 4\n")],
        timeout=30,
    )
    assert "/dev/pts/0" in r.out and "att-2" in r.out, r
    st = pm.wait_exited(name)
    assert st["ExitCode"] == 4, st


def test_detached_tty_logs(pm):
    name = pm.run_d("-t", pm.image, "sh", "-c", "echo tty-out; tty; sleep 1000")
    out = pm.wait_log(name, "/dev/pts/0")
    assert out.replace("\r\n", "\n").startswith("tty-out\n/dev/pts/0"), out
    r = pm("exec", name, "sh", "-c", "ls -l /proc/1/fd/0 /proc/1/fd/1 /proc/1/fd/2", check=True)
    assert r.out.count("-> /dev/pts/0") == 3, r


def test_info_shows_the_runtime_version(pm):
    r = pm("info", "--format", "{{.Host.OCIRuntime.Path}}|{{.Host.OCIRuntime.Version}}", check=True)
    path, version = r.out.strip().split("|", 1)
    assert path == pm.binary, r
    assert version.startswith(f"{pm.runtime} version "), r


def test_parallel_runs(pm):
    def one(i: int):
        return pm("run", "--rm", pm.image, "sh", "-c", f"echo p{i}; exit {i}")

    with concurrent.futures.ThreadPoolExecutor(6) as ex:
        results = list(ex.map(one, range(1, 7)))
    for i, r in enumerate(results, 1):
        assert (r.rc, r.out) == (i, f"p{i}\n"), r
