"""The fast path parses every argv shape it accepts exactly as the click tree does, and defers
on anything else (DESIGN open decision 5)."""

from __future__ import annotations

import pytest

from runk.cli import app, fastpath

CORPUS = [
    ["state", "abc"],
    ["--root", "/tmp/r", "state", "abc"],
    ["--root=/tmp/r", "start", "x1"],
    ["--log", "/tmp/l", "--log-format", "json", "create", "--bundle", "/b", "--pid-file", "/p", "id1"],
    [
        "--log-format=json",
        "--log=/tmp/l",
        "create",
        "--bundle",
        "/b",
        "--pid-file",
        "/p",
        "--console-socket",
        "/tmp/s",
        "id1",
    ],
    ["--systemd-cgroup", "create", "-b", "/b", "--no-pivot", "--no-new-keyring", "--preserve-fds", "2", "x"],
    ["create", "--preserve-fds=3", "--bundle=/b", "x"],
    ["kill", "c", "9"],
    ["kill", "--all", "c", "KILL"],
    ["kill", "-a", "c"],
    ["delete", "--force", "c"],
    ["delete", "-f", "c"],
    ["delete", "c"],
    ["list"],
    ["list", "-q"],
    ["list", "--format", "json"],
    ["list", "-f", "json", "--quiet"],
    ["--debug", "run", "-d", "--bundle", "/b", "c"],
    ["run", "--keep", "c"],
    ["pause", "c"],
    ["resume", "c"],
    ["--log-format=json", "--log", "/l", "exec", "--pid-file", "/p", "--process", "/f", "--detach", "c"],
    ["exec", "--pid-file", "/p", "--process", "/f", "--detach", "--tty", "--console-socket", "/s", "c"],
    ["exec", "--preserve-fds", "2", "--process", "/f", "-d", "c"],
    ["exec", "c", "ls", "-l", "/"],
    ["exec", "-t", "c", "sh"],
    ["exec", "--cwd", "/tmp", "c", "pwd"],
    ["update", "--resources=/tmp/podman123", "c"],
    ["update", "-r", "-", "c"],
    ["update", "--memory", "1m", "c"],
    ["update", "c"],
    ["update", "--pids-limit=20", "--cpu-shares", "512", "--cpuset-cpus", "0-1", "c"],
    ["update", "--cpu-share", "2", "--cpu-quota", "-1", "--memory-swap", "-1", "c"],
    ["update", "--blkio-weight", "500", "--cpu-burst", "10", "--cpu-idle", "1", "--kernel-memory-tcp", "1", "c"],
    ["ps", "c"],
    ["ps", "-f", "json", "c"],
    ["--root", "/r", "ps", "--format=table", "c"],
    ["events", "--stats", "c"],
    ["events", "c"],
    ["--systemd-cgroup", "events", "--interval", "1s", "c"],
    ["events", "--interval=30ms", "--stats", "c"],
    ["--backend", "vm", "state", "c"],
    ["--backend=linux", "--root", "/r", "create", "--bundle", "/b", "c"],
]

DEFER = [
    ["state"],
    ["state", "a", "b"],
    ["--help"],
    ["state", "--help"],
    ["bogus", "x"],
    ["state", "--bogus", "x"],
    ["kill", "c", "9", "--all"],
    ["--root"],
    ["create", "--bundle"],
    ["create", "--preserve-fds", "x", "c"],
    ["list", "extra"],
    ["--version"],
    ["spec"],
    ["exec", "c"],
    ["exec", "-e", "A=1", "c", "env"],
    ["exec", "--bogus", "c", "x"],
    ["--backend", "kvm", "state", "c"],
    ["ps", "c", "-ef"],
    ["ps", "c", "aux"],
    ["events"],
    ["events", "a", "b"],
    ["update", "--bogus", "1", "c"],
    ["update", "--memory"],
    ["--backend"],
]


def click_parse(argv: list[str]) -> tuple:
    app.SEEN.clear()
    rc = app.run(argv, parse_only=True)
    assert rc == 0, argv
    verb, g, opts = app.SEEN[0]
    return verb, g, opts


@pytest.mark.parametrize("argv", CORPUS, ids=" ".join)
def test_fastpath_matches_click(argv):
    fast = fastpath.parse(argv)
    assert fast is not None, "the fast path should take this shape"
    verb, g, opts = fast
    assert (verb, g.as_dict(), opts) == click_parse(argv)


@pytest.mark.parametrize("argv", DEFER, ids=" ".join)
def test_fastpath_defers(argv):
    assert fastpath.parse(argv) is None
