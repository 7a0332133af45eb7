"""--debug: a debug line for each step of create, start, exec, kill and delete, with the key
messages runc's suite greps (debug.bats, exec.bats: its setup children's "nsexec container
setup", "child process in init()", "init: closing the pipe to signal completion", "setns_init:
about to exec"), on stderr without --log and only in the --log file with it, in both formats;
nothing without --debug. runc alongside: the key messages are runc's own.
"""

from __future__ import annotations

import json

import pytest

from tests.helpers import on_pty

RUN_KEYS = ("nsexec container setup", "child process in init()", "init: closing the pipe to signal completion")
EXEC_KEYS = ("nsexec container setup", "child process in init()", "setns_init: about to exec")


@pytest.fixture
def hello(bundle):
    bundle.args("echo", "Hello World").write()
    return bundle


def _debug_msgs(text: str, fmt: str = "text") -> list[str]:
    if fmt == "json":
        docs = [json.loads(line) for line in text.splitlines()]
        return [d["msg"] for d in docs if d["level"] == "debug"]
    return [line for line in text.splitlines() if " level=debug " in line]


def test_debug_goes_to_stderr(runk, runc, hello, cid):
    for name, rt in (("runc", runc), ("runk", runk)):
        r = rt("--debug", "run", "--bundle", hello.path, f"{cid}-{name}")
        assert r.rc == 0 and r.out == "Hello World\n", (name, r)
        msgs = "\n".join(_debug_msgs(r.err))
        for key in RUN_KEYS:
            assert key in msgs, (name, key, r.err)
    r = runk("--debug", "run", "--bundle", hello.path, cid)
    for step in ("create: ", "start: ", "process exited", "delete: "):
        assert step in r.err, (step, r.err)


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_debug_goes_into_the_log_file_only(runk, hello, cid, tmp_path, fmt):
    log = tmp_path / "log.out"
    r = runk("--log", str(log), "--log-format", fmt, "--debug", "run", "--bundle", hello.path, cid)
    assert (r.rc, r.out, r.err) == (0, "Hello World\n", ""), r
    msgs = "\n".join(_debug_msgs(log.read_text(), fmt))
    for key in RUN_KEYS:
        assert key in msgs, (key, log.read_text())


def test_debug_of_exec_kill_and_delete(runk, runc, bundle, cid, tmp_path):
    bundle.args("sleep", "1000").write()
    for name, rt in (("runc", runc), ("runk", runk)):
        rt("run", "-d", "--bundle", bundle.path, f"{cid}-{name}", check=True)
        r = rt("--debug", "exec", f"{cid}-{name}", "true")
        assert r.rc == 0, (name, r)
        for key in EXEC_KEYS:
            assert key in r.err, (name, key, r.err)
    log = tmp_path / "log.out"
    r = runk("--debug", "--log", str(log), "kill", f"{cid}-runk", "KILL")
    assert (r.rc, r.err) == (0, ""), r
    r = runk("--debug", "--log", str(log), "delete", "--force", f"{cid}-runk")
    assert (r.rc, r.err) == (0, ""), r
    text = log.read_text()
    assert 'level=debug msg="kill: signal 9' in text and 'level=debug msg="delete: ' in text, text


def test_no_debug_without_the_flag(runk, hello, cid):
    r = runk("run", "--bundle", hello.path, cid)
    assert (r.rc, r.out, r.err) == (0, "Hello World\n", ""), r


def test_debug_never_reaches_the_containers_terminal(runk, bundle, cid):
    """The init logs after its terminal became its stderr: to runk's stderr, not the pty."""
    bundle.config["process"]["terminal"] = True
    bundle.args("echo", "Hello World").write()
    rc, out, err = on_pty(runk, "--debug", "run", "--bundle", bundle.path, cid)
    assert (rc, out) == (0, b"Hello World\n"), (rc, out, err)
    assert b"init: closing the pipe to signal completion" in err
