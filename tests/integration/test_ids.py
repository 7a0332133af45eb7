"""Ids out of range never reach a syscall: setresuid/setresgid/chown take (uid_t)-1 =
4294967295 as "leave unchanged", so such an id would keep runk's own, root. Every way an id
enters (config.json's process.user, linux.devices, user namespace maps; exec's --user,
--additional-gids, --process) is refused with runc's text and exit code, and leaves nothing.
runc 1.1.5 is the reference where it refuses the same thing."""

from __future__ import annotations

import json
import os

import pytest

from tests.helpers import running, status_fields

RANGE = "uids and gids must be in range 0-2147483647"  # runc's text
STATUS = "grep -E '^(Uid|Gid|Groups):' /proc/self/status"
MARK = "should-not-run"


def _cgroup_roots() -> list[str]:
    with open("/proc/self/mountinfo") as f:
        return [l.split()[4] for l in f if l.split(" - ")[1].split()[0] in ("cgroup", "cgroup2")]


# (process.user, the field named)
BAD_USERS = [
    ({"uid": 4294967295, "gid": 4294967295}, "process.user.uid"),
    ({"uid": 1000, "gid": 4294967295}, "process.user.gid"),
    ({"uid": 4294967295, "gid": 1000}, "process.user.uid"),
    ({"uid": 1000, "gid": 1000, "additionalGids": [5, 4294967295]}, "process.user.additionalGids[1]"),
    ({"uid": 2147483648, "gid": 0}, "process.user.uid"),
    ({"uid": 0, "gid": 2147483648}, "process.user.gid"),
]
BAD_IDS = [f"{u['uid']}:{u['gid']}:{u.get('additionalGids', [])}" for u, _ in BAD_USERS]


@pytest.mark.parametrize("verb", ["create", "run"])
@pytest.mark.parametrize("user,field", BAD_USERS, ids=BAD_IDS)
def test_create_refuses_an_id_out_of_range(runk, bundle, cid, user, field, verb, leak_audit):
    """Before runk.ids these ran: uid 4294967295 as root (Uid: 0 0 0 0), gid 4294967295 as gid 0."""
    cg = f"/{cid}-ids"
    bundle.config["linux"]["cgroupsPath"] = cg
    bundle.config["process"]["user"] = user
    bundle.sh(f"echo {MARK}; {STATUS}").write()
    r = runk(verb, "--bundle", bundle.path, cid)
    assert r.rc == 1, r
    assert MARK not in r.out and "Uid:" not in r.out, r
    lines = r.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].endswith(f'msg="runk {verb} failed: {field}: {RANGE}"'), r
    assert runk("state", cid).rc == 1
    assert not os.path.exists(os.path.join(runk.root, cid))
    assert [d for d in _cgroup_roots() if os.path.exists(d + cg)] == []


@pytest.mark.parametrize("user,field", BAD_USERS, ids=BAD_IDS)
def test_create_refusal_matches_runc(runk, runc, bundle, cid, user, field):
    """runc refuses the same configs (in its init, at create: nothing runs) with the same text
    and exit code."""
    bundle.config["process"]["user"] = user
    bundle.sh(f"echo {MARK}; {STATUS}").write()
    theirs = runc("run", "--bundle", bundle.path, cid)
    ours = runk("run", "--bundle", bundle.path, cid)
    assert theirs.rc == ours.rc == 1, (theirs, ours)
    assert RANGE in theirs.err and f"{field}: {RANGE}" in ours.err, (theirs, ours)
    assert MARK not in theirs.out + ours.out


def test_the_highest_id_runs(runk, runc, bundle, cid, leak_audit):
    """2147483647 is in range: uid, gid and a group, as asked (runc alike)."""
    bundle.config["process"]["user"] = {"uid": 2147483647, "gid": 2147483647, "additionalGids": [2147483647, 5]}
    bundle.sh(STATUS).write()
    outs = []
    for rt in (runk, runc):
        r = rt("run", "--bundle", bundle.path, cid)
        assert r.rc == 0, r
        outs.append(status_fields(r.out))
    assert outs[0]["Uid"] == outs[0]["Gid"] == " ".join(["2147483647"] * 4)
    assert outs[0]["Groups"] == "5 2147483647"
    assert outs[0] == outs[1]


def test_device_owner_out_of_range_is_refused(runk, runc, bundle, cid, leak_audit):
    """runc chowns the node to 4294967295, which leaves it root's: runk refuses the field."""
    dev = {
        "path": "/dev/ids-null",
        "type": "c",
        "major": 1,
        "minor": 3,
        "fileMode": 0o666,
        "uid": 4294967295,
        "gid": 1000,
    }
    bundle.config["linux"]["devices"] = [dev]
    bundle.sh("ls -ln /dev/ids-null").write()
    theirs = runc("run", "--bundle", bundle.path, cid)
    assert theirs.rc == 0 and theirs.out.split()[2:4] == ["0", "1000"], theirs
    r = runk("run", "--bundle", bundle.path, cid)
    assert r.rc == 1 and f"linux.devices[0].uid: {RANGE}" in r.err, r
    dev.update(uid=2147483647, gid=7)
    bundle.write()
    r = runk("run", "--bundle", bundle.path, cid)
    assert r.rc == 0 and r.out.split()[2:4] == ["2147483647", "7"], r


def _userns(bundle, uid_map: list[dict]) -> None:
    bundle.config["linux"]["namespaces"].append({"type": "user"})
    bundle.config["linux"]["uidMappings"] = uid_map
    bundle.config["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]


@pytest.mark.parametrize(
    "entry,field,text",
    [
        ({"containerID": 0, "hostID": 4294967295, "size": 1}, "hostID", "id 4294967295 must be in range 0-4294967294"),
        (
            {"containerID": 4294967295, "hostID": 100000, "size": 1},
            "containerID",
            "id 4294967295 must be in range 0-4294967294",
        ),
        (
            {"containerID": 0, "hostID": 100000, "size": 4294967295},
            "hostID",
            "ids 100000-4295067294 must be in range 0-4294967294",
        ),
        ({"containerID": 0, "hostID": 100000, "size": 0}, "size", "must be at least 1"),
    ],
    ids=["host-4294967295", "container-4294967295", "size-overflows", "size-0"],
)
def test_user_namespace_map_out_of_range_is_refused(runk, runc, bundle, cid, entry, field, text, leak_audit):
    """The kernel would refuse these maps (runc fails on the write, exit 1): runk says which
    entry before anything is made."""
    _userns(bundle, [{"containerID": 0, "hostID": 100000, "size": 1}, entry])
    bundle.sh(f"echo {MARK}").write()
    theirs = runc("run", "--bundle", bundle.path, cid)
    r = runk("run", "--bundle", bundle.path, cid)
    assert theirs.rc == r.rc == 1, (theirs, r)
    assert f"linux.uidMappings[1].{field}: {text}" in r.err, r
    assert MARK not in r.out + theirs.out


def test_the_identity_map_is_valid(runk, bundle, cid, leak_audit):
    """0 0 4294967295, the whole id space but (uid_t)-1, is what the kernel and runc take."""
    _userns(bundle, [{"containerID": 0, "hostID": 0, "size": 4294967295}])
    bundle.sh("cat /proc/self/uid_map").write()
    r = runk("run", "--bundle", bundle.path, cid)
    assert r.rc == 0 and r.out.split() == ["0", "0", "4294967295"], r


# exec into a container running as 1000:1000 with groups 5 and 6


def _as_1000(bundle) -> None:
    bundle.config["process"]["user"] = {"uid": 1000, "gid": 1000, "additionalGids": [5, 6]}


@pytest.mark.parametrize(
    "flags,field",
    [
        (["--user", "4294967295:4294967295"], "--user"),
        (["--user", "4294967295"], "--user"),
        (["--user", "1000:4294967295"], "--user"),
        (["--user", "2147483648:1000"], "--user"),
        (["--user", "4294967296"], "--user"),  # runc truncates this one to uid 0 (and runs it)
        (["--user", "-1:0"], "--user"),
        (["--additional-gids", "4294967295"], "--additional-gids"),
        (["--user", "1000:1000", "--additional-gids", "2147483648"], "--additional-gids"),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else v,
)
def test_exec_refuses_an_id_out_of_range(runk, bundle, cid, flags, field, leak_audit):
    """Before the fix --user 4294967295:4294967295 gave Uid: 0 0 0 0 and Gid: 0 0 0 0 here."""
    _as_1000(bundle)
    with running(runk, bundle, cid):
        r = runk("exec", *flags, cid, "sh", "-c", f"echo {MARK}; {STATUS}")
        assert r.rc == 255, r
        assert "Uid:" not in r.out and MARK not in r.out, r
        assert f'msg="exec failed: {field}: {RANGE}"' in r.err and len(r.err.strip().splitlines()) == 1, r


@pytest.mark.parametrize(
    "flags",
    [
        ["--user", "4294967295:4294967295"],
        ["--user", "1000:4294967295"],
        ["--additional-gids", "4294967295"],
        ["--user", "-1:0"],
    ],
    ids=" ".join,
)
def test_exec_refusal_matches_runc(runk, runc, bundle, cid, flags):
    _as_1000(bundle)
    results = []
    for rt in (runk, runc):
        with running(rt, bundle, cid):
            results.append(rt("exec", *flags, cid, "sh", "-c", STATUS))
    ours, theirs = results
    assert ours.rc == theirs.rc == 255, results
    assert RANGE in ours.err and RANGE in theirs.err, results
    assert "Uid:" not in ours.out + theirs.out


@pytest.mark.parametrize(
    "user,field",
    [
        ({"uid": 4294967295, "gid": 4294967295}, "process.user.uid"),
        ({"uid": 1000, "gid": 4294967295}, "process.user.gid"),
        ({"uid": 1000, "gid": 1000, "additionalGids": [4294967295]}, "process.user.additionalGids[0]"),
        ({"uid": "0", "gid": 1000}, "process.user.uid"),
    ],
    ids=["uid-gid", "gid", "group", "uid-string"],
)
def test_exec_process_file_with_an_id_out_of_range_is_refused(runk, bundle, cid, tmp_path, user, field, leak_audit):
    _as_1000(bundle)
    pfile = tmp_path / "process.json"
    pfile.write_text(
        json.dumps({"args": ["sh", "-c", STATUS], "cwd": "/", "user": user, "env": ["PATH=/bin:/usr/bin"]})
    )
    with running(runk, bundle, cid):
        r = runk("exec", "--process", str(pfile), cid)
        assert r.rc == 255 and "Uid:" not in r.out, r
        assert f"exec failed: {field}: " in r.err, r


@pytest.mark.parametrize(
    "flags",
    [
        ["--user", "1001"],
        ["--user", "1001:1002"],
        ["--additional-gids", "7"],
        ["--user", "1001", "--additional-gids", "7", "--additional-gids", "8"],
        ["--user", "2147483647:2147483647"],
    ],
    ids=" ".join,
)
def test_exec_user_flags_keep_what_they_do_not_set(runk, runc, bundle, cid, flags):
    """--user UID keeps the container's gid and groups (not gid 0); --additional-gids adds to
    the container's groups: as runc."""
    _as_1000(bundle)
    results = []
    for rt in (runk, runc):
        with running(rt, bundle, cid):
            r = rt("exec", *flags, cid, "sh", "-c", STATUS)
            assert r.rc == 0, r
            results.append(status_fields(r.out))
    assert results[0] == results[1]
    if flags == ["--user", "1001"]:
        assert results[0]["Gid"] == "1000 1000 1000 1000" and results[0]["Groups"] == "5 6"
