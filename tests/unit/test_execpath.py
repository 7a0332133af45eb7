"""runk.linux.execpath on real files: Go's exec.LookPath as runc 1.1.5 uses it, with its
messages (checked by running the same config under runc)."""

from __future__ import annotations

import os

import pytest

from runk.errors import RunkError
from runk.linux import execpath


@pytest.fixture
def tree(tmp_path, monkeypatch):
    """a/prog (a directory), b/prog (no x bit), c/prog and d/prog (executable), e/ empty."""
    (tmp_path / "a" / "prog").mkdir(parents=True)
    for d, mode in (("b", 0o644), ("c", 0o755), ("d", 0o100)):
        (tmp_path / d).mkdir()
        (tmp_path / d / "prog").write_text("#!/bin/sh\n")
        os.chmod(tmp_path / d / "prog", mode)
    (tmp_path / "e").mkdir()
    monkeypatch.chdir(tmp_path / "e")
    return str(tmp_path)


def env(*dirs: str, t: str = "") -> list[str]:
    return ["HOME=/", "PATH=" + ":".join(os.path.join(t, d) if d and t else d for d in dirs)]


def err(arg0: str, environ: list[str]) -> str:
    with pytest.raises(RunkError) as e:
        execpath.lookpath(arg0, environ)
    return str(e.value)


def test_first_executable_in_path_order(tree):
    assert execpath.lookpath("prog", env("a", "b", "c", "d", t=tree)) == f"{tree}/c/prog"
    assert execpath.lookpath("prog", env("d", "c", t=tree)) == f"{tree}/d/prog"  # x for owner only
    assert execpath.lookpath("prog", env("e", "a", "b", "c", t=tree)) == f"{tree}/c/prog"


def test_not_found_wording(tree):
    msg = 'exec: "prog": executable file not found in $PATH'
    assert err("prog", env("a", "b", "e", "/nonexistent", t=tree)) == msg  # dir, no x, none
    assert err("nope", env("c", t=tree)) == 'exec: "nope": executable file not found in $PATH'


def test_last_path_variable_wins(tree):
    e = ["PATH=" + f"{tree}/d", "PATH=" + f"{tree}/c"]
    assert execpath.lookpath("prog", e) == f"{tree}/c/prog"


def test_name_with_a_slash_is_not_searched(tree):
    assert execpath.lookpath(f"{tree}/c/prog", env("d", t=tree)) == f"{tree}/c/prog"
    assert execpath.lookpath("../c/prog", []) == "../c/prog"  # relative to cwd
    assert err("../b/prog", env("c", t=tree)) == 'exec: "../b/prog": permission denied'
    assert err("../a/prog", env("c", t=tree)) == 'exec: "../a/prog": permission denied'
    assert err("./prog", env("c", t=tree)) == 'exec: "./prog": stat ./prog: no such file or directory'
    assert err("../b/prog/x", []) == 'exec: "../b/prog/x": stat ../b/prog/x: not a directory'


def test_check_access(tree):
    execpath.check_access(f"{tree}/c/prog")
    execpath.check_access(f"{tree}/d/prog")
    with pytest.raises(RunkError) as e:
        execpath.check_access(f"{tree}/b/prog")
    assert str(e.value) == f"exec {tree}/b/prog: permission denied"


def test_no_path_searches_nothing(tree):
    """runc (Go's filepath.SplitList("") is empty): without PATH, or with an empty one, a
    program in the cwd is not found."""
    os.link(f"{tree}/c/prog", "prog")
    msg = 'exec: "prog": executable file not found in $PATH'
    assert err("prog", ["HOME=/"]) == msg
    assert err("prog", ["PATH="]) == msg


@pytest.mark.parametrize("entry", ["", ".", "./", "../c"])
def test_relative_path_entry_is_refused(tree, entry):
    """runc 1.1.5 (Go 1.19's exec.ErrDot): a program found through an empty, "." or relative
    PATH entry is refused, with this message, even if an absolute entry follows."""
    os.link(f"{tree}/c/prog", "prog")  # in the cwd (e/) too
    assert (
        err("prog", [f"PATH={entry}:{tree}/d"])
        == 'exec: "prog": cannot run executable found relative to current directory'
    )


def test_relative_entry_without_the_program_is_skipped(tree):
    assert execpath.lookpath("prog", ["PATH=:.:" + f"{tree}/d"]) == f"{tree}/d/prog"
