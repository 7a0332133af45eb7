"""Properties of runk's pure helpers on generated inputs (no containers; fast):

- runk._json reads and writes what the json module does, on generated values and on arbitrary
  text (same value or both refuse with ValueError);
- runk._os.path's helpers give posixpath's answers on generated paths;
- the cgroup conversions (runk/linux/cgroups/convert.py) follow runc's documented formulas on
  their documented ranges and fail only with a CgroupError naming the field;
- mount option parsing (runk.linux.mounts.MountSpec) never raises on any option list, and what
  it makes of the options is what the tables say.
"""

from __future__ import annotations

import json
import posixpath

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from runk import _json, _os  # noqa: E402
from runk.errors import CgroupError  # noqa: E402
from runk.linux import mounts  # noqa: E402
from runk.linux.cgroups import convert  # noqa: E402
from tests.property import strategies as S  # noqa: E402

pytestmark = pytest.mark.property

JSON_ALPHABET = st.sampled_from(list('{}[]:,"\\ \t\n\r0123456789.eE+-truefalsnTINaybu\x00\x1f\u00e9\ufeff'))


# -- runk._json ----------------------------------------------------------------------------


@given(S.json_values(20))
def test_json_roundtrip_matches_json(value: object) -> None:
    text = json.dumps(value)
    assert _json.loads(text) == json.loads(text)
    assert _json.dumps(value) == json.dumps(value, separators=(",", ":"))
    assert _json.dumps(value, compact=False) == json.dumps(value)
    assert _json.loads(_json.dumps(value)) == value


def _std(text: str) -> tuple[str, object]:
    try:
        return "ok", json.dumps(json.loads(text))  # dumps: NaN compares equal as text
    except ValueError:
        return "error", None


def _ours(text: str) -> tuple[str, object]:
    try:
        return "ok", json.dumps(_json.loads(text))
    except ValueError:
        return "error", None


@given(
    st.one_of(
        st.text(JSON_ALPHABET, max_size=30),
        st.text(max_size=10),
        S.json_values(6).map(json.dumps).map(lambda t: t[: len(t) // 2 + 1]),
    )
)
def test_json_loads_agrees_with_json_on_any_text(text: str) -> None:
    assert _ours(text) == _std(text)


# -- runk._os.path -------------------------------------------------------------------------

PATHS = st.lists(st.sampled_from(["/", ".", "..", "a", "b", "é", " ", "\x00"]), max_size=10).map("".join)


@given(PATHS)
def test_path_helpers_match_posixpath(p: str) -> None:
    for name in ("split", "dirname", "basename", "normpath", "isabs"):
        assert getattr(_os.path, name)(p) == getattr(posixpath, name)(p), name
    if "\x00" not in p:
        assert _os.path.abspath(p) == posixpath.abspath(p)


@given(st.lists(PATHS, min_size=1, max_size=4))
def test_join_matches_posixpath(parts: list[str]) -> None:
    assert _os.path.join(*parts) == posixpath.join(*parts)


@given(PATHS.filter(lambda p: "\x00" not in p), st.one_of(st.none(), PATHS.filter(lambda p: "\x00" not in p)))
def test_relpath_matches_posixpath(p: str, start: str | None) -> None:
    def run(fn):
        try:
            return fn(p, start)
        except ValueError as e:
            return ("ValueError", str(e))

    assert run(_os.path.relpath) == run(posixpath.relpath)


# -- cgroup conversions (runc 1.1.5's formulas, Go's unsigned arithmetic on their ranges) -----


@given(st.integers(2, 262144))
def test_shares_to_weight_is_runcs_linear_formula(shares: int) -> None:
    w = convert.shares_to_weight(shares)
    assert w == 1 + ((shares - 2) * 9999) // 262142
    assert 1 <= w <= 10000
    assert convert.shares_to_weight(shares + 1) >= w


@given(st.integers(1, 10**7))
def test_shares_quadratic_is_monotonic_in_range(shares: int) -> None:
    w = convert.shares_to_weight_quadratic(shares)
    assert 1 <= w <= 10000
    assert convert.shares_to_weight_quadratic(shares + 1) >= w


@given(st.integers(10, 1000))
def test_blkio_weight_is_runcs_formula(weight: int) -> None:
    io = convert.blkio_weight_to_io_weight(weight)
    assert io == 1 + (weight - 10) * 9999 // 990
    assert 1 <= io <= 10000


@given(
    st.one_of(st.sampled_from(S.EDGE_INTS), st.integers(-5, 5000)),
    st.one_of(st.sampled_from(S.EDGE_INTS), st.integers(-5, 5000)),
)
def test_swap_to_v2_rules(swap: int, memory: int) -> None:
    try:
        got = convert.swap_to_v2(swap, memory)
    except CgroupError as e:
        assert "linux.resources.memory." in str(e)
        assert swap not in (0, -1) and memory != -1
        return
    if memory == -1 and swap == 0:
        assert got == -1
    elif swap in (0, -1):
        assert got == swap
    elif memory > 0:
        assert got == swap - memory >= 0


@given(st.integers())
def test_num_to_v2(value: int) -> None:
    assert convert.num_to_v2(value) == {0: "", -1: "max"}.get(value, str(value))


# -- mount options --------------------------------------------------------------------------

OPTION = st.one_of(st.sampled_from(mounts.all_options()), S.texts(["mode=755", "size=1k", ""]))


@given(st.lists(OPTION, max_size=8), st.sampled_from(["bind", "tmpfs", "", None, "proc"]))
def test_mount_options_never_raise(options: list[str], fstype: str | None) -> None:
    m = mounts.MountSpec(0, "src", "/dst", fstype, options)
    known = set(mounts.FLAGS) | set(mounts.PROPAGATION) | set(mounts.RECURSIVE) | {"tmpcopyup"}
    assert m.data == ",".join(o for o in options if o not in known)
    assert m.tmpcopyup == ("tmpcopyup" in options)
    assert len(m.propagation) == sum(o in mounts.PROPAGATION for o in options)
    assert m.is_bind == (fstype == "bind" or any(o in ("bind", "rbind") for o in options))
    assert m.rec_set & m.rec_clr & ~mounts._ATIME == 0 or any(
        o in mounts.RECURSIVE and mounts.RECURSIVE[o][0] for o in options
    )
    # the last of a set/clear pair wins, as mount(8) reads options left to right
    for name, (_is_clear, flag) in mounts.FLAGS.items():
        if flag and name in options and name not in ("defaults",):
            last = max(i for i, o in enumerate(options) if o in mounts.FLAGS and mounts.FLAGS[o][1] & flag)
            winner = mounts.FLAGS[options[last]]
            if winner[1] == flag:
                assert bool(m.flags & flag) == (not winner[0]), (name, options)
