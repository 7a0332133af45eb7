"""runk.ids (the one id range check) and identity.switch's own gate and read-back: a switch
that did not land exactly (a kernel or filter that ignores setresuid, an id the kernel reads as
"unchanged") raises instead of letting the container exec."""

from __future__ import annotations

import os

import pytest

from runk import _os as ros
from runk import ids
from runk.errors import ConfigError, RunkError
from runk.linux import identity

OUT = [-1, 2**31, 4294967295, 4294967296, True, 1.0, "0", None]


@pytest.mark.parametrize("v", OUT, ids=repr)
def test_ids_out_of_range_or_not_ints_are_refused(v):
    assert not ids.valid(v)
    with pytest.raises(ConfigError) as e:
        ids.check("process.user.uid", v)
    assert str(e.value).startswith("process.user.uid: ")


@pytest.mark.parametrize("v", [0, 1, 1000, 2**31 - 1])
def test_ids_in_range_pass(v):
    assert ids.valid(v) and ids.check("x", v) == v


def test_check_user_names_the_field():
    ids.check_user("process.user", {})
    ids.check_user("process.user", {"uid": 2**31 - 1, "gid": 0, "additionalGids": [0, 2**31 - 1]})
    for user, field in (
        ({"uid": 4294967295}, "process.user.uid"),
        ({"gid": -1}, "process.user.gid"),
        ({"additionalGids": [1, 4294967295]}, "process.user.additionalGids[1]"),
    ):
        with pytest.raises(ConfigError) as e:
            ids.check_user("process.user", user)
        assert str(e.value) == f"{field}: uids and gids must be in range 0-2147483647"


@pytest.mark.parametrize(
    "entry,field",
    [
        ({"containerID": 0, "hostID": 4294967295, "size": 1}, "hostID"),
        ({"containerID": 1, "hostID": 0, "size": 4294967295}, "containerID"),
        ({"containerID": 0, "hostID": 1, "size": 4294967295}, "hostID"),
        ({"containerID": 0, "hostID": 0, "size": 0}, "size"),
        ({"containerID": 0, "hostID": 0, "size": -1}, "size"),
    ],
)
def test_maps_reaching_4294967295_are_refused(entry, field):
    with pytest.raises(ConfigError) as e:
        ids.check_mappings("linux.uidMappings", [{"containerID": 0, "hostID": 0, "size": 1}, entry])
    assert e.value.path == f"linux.uidMappings[1].{field}"


def test_maps_up_to_4294967294_pass():
    ids.check_mappings("linux.gidMappings", [{"containerID": 0, "hostID": 0, "size": 4294967295}])
    ids.check_mappings("linux.gidMappings", [{"containerID": 4294967294, "hostID": 2**31, "size": 1}])


def test_verify_accepts_exactly_what_was_asked():
    identity.verify(1000, 1001, [5, 7], (1000, 1000, 1000), (1001, 1001, 1001), [7, 5])
    identity.verify(1000, 1001, None, (1000, 1000, 1000), (1001, 1001, 1001), [0])  # groups not set


@pytest.mark.parametrize(
    "resuid,resgid,groups,what",
    [
        ((0, 0, 0), (1001, 1001, 1001), [5], "uids are 0,0,0"),
        ((1000, 1000, 0), (1001, 1001, 1001), [5], "uids are 1000,1000,0"),  # saved uid kept root
        ((1000, 0, 1000), (1001, 1001, 1001), [5], "uids are 1000,0,1000"),
        ((1000, 1000, 1000), (0, 0, 0), [5], "gids are 0,0,0"),
        ((1000, 1000, 1000), (1001, 1001, 0), [5], "gids are 1001,1001,0"),
        ((1000, 1000, 1000), (1001, 1001, 1001), [0, 5], "supplementary groups are [0,5]"),
        ((1000, 1000, 1000), (1001, 1001, 1001), [], "supplementary groups are []"),
    ],
)
def test_verify_refuses_any_mismatch(resuid, resgid, groups, what):
    with pytest.raises(RunkError) as e:
        identity.verify(1000, 1001, [5], resuid, resgid, groups)
    assert str(e.value).startswith("unable to setup user: " + what), str(e.value)


def _ignored_syscalls(monkeypatch) -> list:
    """setgroups/setresgid/setresuid that do nothing (as under a filter returning 0)."""
    calls: list = []
    for name in ("setgroups", "setresgid", "setresuid"):
        monkeypatch.setattr(ros, name, lambda *a, _n=name: calls.append((_n, a)), raising=False)
    return calls


def test_switch_raises_when_the_ids_did_not_change(monkeypatch):
    calls = _ignored_syscalls(monkeypatch)
    me = os.getresuid()
    target = 1000 if me[0] != 1000 else 1001
    with pytest.raises(RunkError, match="unable to setup user: uids are"):
        identity.switch(target, os.getresgid()[0], list(os.getgroups()))
    assert [c[0] for c in calls][-2:] == ["setresgid", "setresuid"]


@pytest.mark.parametrize(
    "uid,gid,groups", [(4294967295, 0, []), (0, 4294967295, []), (0, 0, [4294967295]), (2**31, 0, []), (-1, 0, [])]
)
def test_switch_refuses_out_of_range_before_any_syscall(monkeypatch, uid, gid, groups):
    calls = _ignored_syscalls(monkeypatch)
    with pytest.raises(RunkError, match="uids and gids must be in range 0-2147483647"):
        identity.switch(uid, gid, groups)
    assert calls == []
    if not (ids.valid(uid) and ids.valid(gid)):
        with pytest.raises(RunkError):  # before any fchown of the stdio
            identity.fix_stdio(uid, gid)


def _in_child(fn) -> int:
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            code = fn()
        finally:
            os._exit(code)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
def test_switch_for_real_lands_exactly():
    def child() -> int:
        identity.switch(2147483647, 1001, [7, 5])
        ok = os.getresuid() == (2147483647,) * 3 and os.getresgid() == (1001,) * 3 and sorted(os.getgroups()) == [5, 7]
        return 0 if ok else 3

    assert _in_child(child) == 0
