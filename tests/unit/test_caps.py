"""runk.linux.caps.resolve: names -> numbers per set, against the kernel's header and this
host's permitted set (which lacks CAP_SYS_RESOURCE here: what cannot be granted is skipped)."""

from __future__ import annotations

import re

import pytest

from runk.linux import caps


def _header() -> dict[str, int]:
    try:
        with open("/usr/include/linux/capability.h") as f:
            text = f.read()
    except OSError:
        pytest.skip("needs linux-libc-dev's capability.h")
    return {
        m[1]: int(m[2])
        for m in re.finditer(r"#define (CAP_[A-Z_]+)\s+(\d+)\s*$", text, re.M)
        if m[1] not in ("CAP_LAST_CAP",)
    }


def test_names_match_the_kernel_header():
    hdr = {k: v for k, v in _header().items() if v <= 63}
    assert {k: v for k, v in hdr.items() if k in caps.NAMES} == caps.NAMES
    assert set(caps.NAMES) == set(hdr)


def _have(n: int) -> bool:
    return bool(caps.current_permitted() >> n & 1)


def test_current_permitted_and_last_cap():
    with open("/proc/self/status") as f:
        line = next(x for x in f if x.startswith("CapPrm:"))
    assert caps.current_permitted() == int(line.split()[1], 16)
    with open("/proc/sys/kernel/cap_last_cap") as f:
        assert caps.last_cap() == int(f.read())


def test_resolve_sets_in_order_without_repeats():
    names = ["CAP_KILL", "CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
    got, skipped = caps.resolve(dict.fromkeys(caps.SETS, names))
    for s in caps.SETS:
        assert got[s] == [5, 0, 10], s
    assert skipped == []


def test_none_and_missing_sets():
    assert caps.resolve(None) == ({s: [] for s in caps.SETS}, [])
    got, _ = caps.resolve({"bounding": ["CAP_CHOWN"], "ambient": None})
    assert got == {"bounding": [0], "effective": [], "permitted": [], "inheritable": [], "ambient": []}


@pytest.mark.parametrize("s", caps.SETS)
def test_unknown_names_are_skipped_with_a_warning_as_runc(s):
    got, skipped = caps.resolve({s: ["CAP_CHOWN", "CAP_NOPE", "chown", "CAP_NOPE"]})
    assert got[s] == [0]  # the prefix and the case are required: "chown" is no name either
    assert skipped == ["CAP_NOPE", "chown"]


def test_what_the_host_cannot_grant_is_skipped_once():
    missing = [n for n, v in caps.NAMES.items() if not _have(v)]
    if not missing:
        pytest.skip("this host's permitted set has every capability")
    name = missing[0]
    got, skipped = caps.resolve({"bounding": [name, "CAP_CHOWN"], "effective": [name], "ambient": [name]})
    assert skipped == [name]
    assert got["bounding"] == [0] and got["effective"] == [] and got["ambient"] == []


def test_above_last_cap_is_skipped(monkeypatch):
    monkeypatch.setattr(caps, "last_cap", lambda: 38)
    got, skipped = caps.resolve({"permitted": ["CAP_BPF", "CAP_PERFMON", "CAP_CHECKPOINT_RESTORE"]})
    assert skipped == ["CAP_BPF", "CAP_CHECKPOINT_RESTORE"]
    assert got["permitted"] == ([38] if _have(38) else [])
