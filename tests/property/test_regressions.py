"""Focused regression tests for the bugs the property tests (tests/property/test_runk.py) found,
each on a real container, against runc where runc has a behaviour."""

from __future__ import annotations

import json
import os
import uuid

import pytest

from tests.conftest import requires


@pytest.mark.parametrize("prefix", ["..", "..."])
def test_id_starting_with_dots_gets_its_cgroup(runk, runc, bundle, prefix):
    """An id like '...' or '..x' is a name, not a climb out of the cgroup mount: runc creates
    the container with the cgroup <hierarchy>/<id>; runk refused it ('invalid cgroup path ...:
    not below the cgroup2 mount')."""
    requires("cgroup2")
    cid = f"{prefix}hypo-{uuid.uuid4().hex[:8]}"
    bundle.write()
    for rt in (runc, runk):
        r = rt("create", "--bundle", bundle.path, cid)
        assert r.rc == 0, (rt.binary, r)
        pid = json.loads(rt("state", cid, check=True).out)["pid"]
        with open(f"/proc/{pid}/cgroup") as f:
            groups = f.read()
        assert f"pids:/{cid}\n" in groups, groups
        assert f"0::/{cid}\n" in groups, groups
        assert os.path.isdir(f"/sys/fs/cgroup/unified/{cid}")
        rt("delete", "--force", cid, check=True)
        assert not os.path.exists(f"/sys/fs/cgroup/unified/{cid}")
        assert not os.path.exists(f"/sys/fs/cgroup/pids/{cid}")


@pytest.mark.parametrize(
    "argv,rc",
    [
        (["help"], 0),
        (["help", "create"], 0),
        (["h", "state"], 0),
        (["help", "bogus"], 3),
        (["help", "bogus", "--bundle"], 3),
        (["help", "--bundle"], 1),
        (["help", ""], 0),
    ],
)
def test_help_command_as_runc(runk, runc, argv, rc):
    """runc has a `help` command (alias `h`): the list of commands, or one command's help, or
    'No help topic' (3) for an unknown one; runk answered 'No help topic for 'help'' (3)."""
    r, c = runk(*argv), runc(*argv)
    assert (r.rc, c.rc) == (rc, rc), (r, c)
    if rc == 0:
        assert "Traceback" not in r.err and r.err == ""
        if len(argv) > 1 and argv[1]:
            assert f"runk {argv[1]}" in r.out and "<container-id>" in r.out, r
        else:
            assert "create" in r.out and "delete" in r.out, r
    elif rc == 3:
        assert r.err.count("level=error") == 1 and "No help topic for 'bogus'" in r.err, r
    else:
        assert r.err.count("level=error") == 1 and "flag provided but not defined: -bundle" in r.err, r


def test_exec_without_a_command_as_runc(runk, runc, bundle, cid, tmp_path):
    """runc's exec needs only the id: a missing container is 'container does not exist', a
    running one without a command 'process args cannot be empty', both exit 255; runk refused
    the argv with a usage error (exit 1) before looking."""
    bundle.args("sleep", "60").write()
    proc = tmp_path / "process.json"
    proc.write_text(json.dumps({"args": [], "cwd": "/", "user": {"uid": 0, "gid": 0}}))
    for rt in (runc, runk):
        r = rt("exec", cid + "-missing")
        assert r.rc == 255 and r.err.count("level=error") == 1, (rt.binary, r)
        assert 'msg="exec failed: container does not exist"' in r.err, r
        rt("run", "-d", "--bundle", bundle.path, cid, check=True)
        for argv, text in (
            (["exec", cid], "process args cannot be empty"),
            (["exec", "--process", str(proc), cid], "args must not be empty"),
        ):
            r = rt(*argv)
            assert r.rc == 255 and r.err.count("level=error") == 1, (rt.binary, argv, r)
            assert f'msg="exec failed: {text}"' in r.err, (rt.binary, argv, r)
        rt("delete", "--force", cid, check=True)


@pytest.mark.parametrize("argv", [[""], ["", "state"]])
def test_empty_command_is_no_command(runk, runc, argv):
    """runc reads an empty command word as none: the help, exit 0; runk said 'No help topic'."""
    r, c = runk(*argv), runc(*argv)
    assert (r.rc, c.rc) == (0, 0), (r, c)
    assert r.err == "" and "COMMANDS:" in c.out and "COMMANDS:" in r.out, r


@pytest.mark.parametrize("argv", [["-v"], ["-v", "-"], ["--version", "bogus"], ["-v", "state", "x"]])
def test_version_flag_wins_over_the_words_after_it(runk, runc, argv):
    """runc prints its version for -v whatever follows; runk read the next word as a command."""
    r, c = runk(*argv), runc(*argv)
    assert (r.rc, c.rc) == (0, 0), (r, c)
    assert r.out.startswith("runk version ") and r.err == "", r
