"""runk._os, the short commands' os without importing os: its path helpers give posixpath's
answers on a corpus, and it is posix's functions otherwise."""

from __future__ import annotations

import os
import posix
import posixpath

import pytest

from runk import _os

PATHS = [
    "",
    ".",
    "..",
    "/",
    "//",
    "///",
    "a",
    "a/",
    "/a",
    "a/b",
    "/a/b/",
    "a//b",
    "/a/./b/../c",
    "../a",
    "a/../..",
    "/../a",
    "//a/b",
    "///a//b/",
    "a/b/.",
    "./a",
    "/a/b/c/..",
    "a/.b",
    "/run/runk/ctr/state.json",
    "rel/dir/",
    "/sys/fs/cgroup/cpu/x",
]


@pytest.mark.parametrize("p", PATHS)
def test_path_helpers_match_posixpath(p):
    for name in ("split", "dirname", "basename", "normpath"):
        assert getattr(_os.path, name)(p) == getattr(posixpath, name)(p), (name, p)
    assert _os.path.abspath(p) == posixpath.abspath(p), p


@pytest.mark.parametrize(
    "parts",
    [
        ("a",),
        ("a", "b"),
        ("/a", "b"),
        ("a", "/b"),
        ("a/", "b"),
        ("", "b"),
        ("a", ""),
        ("a", "b", "/c", "d"),
        ("/", "x"),
        ("a//", "b/"),
    ],
)
def test_join_matches_posixpath(parts):
    assert _os.path.join(*parts) == posixpath.join(*parts)


def test_exists_isdir_isfile_islink_realpath(tmp_path):
    f = tmp_path / "f"
    f.write_text("x")
    (tmp_path / "d").mkdir()
    dangling = tmp_path / "l"
    dangling.symlink_to(tmp_path / "missing")
    (tmp_path / "ld").symlink_to("d")
    (tmp_path / "d" / "up").symlink_to("../ld/../f")
    for p in (
        str(tmp_path),
        str(f),
        str(dangling),
        str(tmp_path / "missing"),
        "",
        "a\0b",
        str(tmp_path / "ld"),
        str(tmp_path / "d" / "up"),
        str(tmp_path / "ld" / ".." / "f"),
    ):
        want = (os.path.exists(p), os.path.isdir(p), os.path.isfile(p), os.path.islink(p), os.path.isabs(p))
        got = (_os.path.exists(p), _os.path.isdir(p), _os.path.isfile(p), _os.path.islink(p), _os.path.isabs(p))
        assert got == want, p
        if p and "\0" not in p:
            assert _os.path.realpath(p) == os.path.realpath(p), p


def test_fsencode():
    for s in ("abc", "/ü/x", "a\udcff", b"raw\xff"):
        assert _os.fsencode(s) == os.fsencode(s)


def test_it_is_posix_underneath():
    assert _os.open is posix.open and _os.write is posix.write and _os._exit is posix._exit
    assert _os.O_CLOEXEC == os.O_CLOEXEC and _os.strerror is posix.strerror
    assert _os.environ.get("PATH") == os.environ.get("PATH")
    with pytest.raises(AttributeError):
        _os.no_such_thing  # noqa: B018


def test_makedirs_like_os(tmp_path):
    for base, mod in ((tmp_path / "a", _os), (tmp_path / "b", os)):
        leaf = str(base / "x" / "y" / "z")
        mod.makedirs(leaf, 0o700)
        assert os.stat(leaf).st_mode & 0o777 == 0o700 & ~_umask()
        mod.makedirs(leaf, 0o700, exist_ok=True)
        with pytest.raises(FileExistsError):
            mod.makedirs(leaf)
        (base / "f").write_text("")
        with pytest.raises(FileExistsError):
            mod.makedirs(str(base / "f"), exist_ok=True)
        mod.makedirs(str(base / "p") + "/", exist_ok=True)
    mode = [os.stat(tmp_path / n / "x").st_mode for n in ("a", "b")]
    assert mode[0] == mode[1]


def _umask() -> int:
    m = os.umask(0)
    os.umask(m)
    return m


@pytest.mark.parametrize(
    "p,start",
    [
        ("/a/b/c", "/a"),
        ("/a", "/a/b/c"),
        ("/a/b", "/a/b"),
        ("/x/y", "/a/b"),
        ("a/b", None),
        ("/", "/a"),
        ("/a/", "/"),
        ("/sys/fs/cgroup/cpu/x", "/sys/fs/cgroup/cpu"),
        ("../p", "q/r"),
    ],
)
def test_relpath_matches_posixpath(p, start):
    assert _os.path.relpath(p, start) == posixpath.relpath(p, start)


def test_every_name_of_the_type_stub_exists():
    """runk/_os.pyi is what mypy sees of runk._os: each name it declares must be there at run time
    (posix's own object where os has one)."""
    import ast
    import os as real_os

    from runk import _os

    stub = ast.parse(open(os.path.join(os.path.dirname(_os.__file__), "_os.pyi")).read())
    names = [a.asname or a.name for node in stub.body if isinstance(node, ast.ImportFrom) for a in node.names]
    names += [node.name for node in stub.body if isinstance(node, (ast.FunctionDef, ast.ClassDef))]
    names += [node.target.id for node in stub.body if isinstance(node, ast.AnnAssign)]
    assert len(names) > 60
    for name in names:
        value = getattr(_os, name)
        if name not in ("environ", "path", "fsencode", "makedirs"):
            assert value is getattr(real_os, name) or value == getattr(real_os, name), name
    helpers = [
        n.name
        for node in stub.body
        if isinstance(node, ast.ClassDef)
        for n in node.body
        if isinstance(n, ast.FunctionDef)
    ]
    assert helpers and all(callable(getattr(_os.path, h)) for h in helpers)
