"""/dev as the container sees it: the default nodes with their numbers and modes, the /dev/fd
and stdio links, ptmx, linux.devices with fileMode/uid/gid, /dev/pts, /dev/shm, /dev/mqueue."""

from __future__ import annotations

import os
import stat

import pytest

from tests.helpers import mount_at, run_out

DEFAULT_NODES = {  # name: (major, minor) of runc's default devices, all 0666 root:root
    "null": (1, 3),
    "zero": (1, 5),
    "full": (1, 7),
    "random": (1, 8),
    "urandom": (1, 9),
    "tty": (5, 0),
}


def _stat(out: str) -> dict[str, list[str]]:
    """`stat -c '%n %F %t %T %a %u %g'` lines -> {name: [type, major, minor, mode, uid, gid]}"""
    res = {}
    for line in out.splitlines():
        name, rest = line.split(" ", 1)
        kind, *nums = rest.rsplit(" ", 5)
        res[name] = [kind, str(int(nums[0], 16)), str(int(nums[1], 16)), *nums[2:]]
    return res


def test_default_devices(runk, bundle, cid, leak_audit):
    names = " ".join("/dev/" + n for n in DEFAULT_NODES)
    out = run_out(runk, bundle, cid, f"stat -c '%n %F %t %T %a %u %g' {names}")
    got = _stat(out)
    for name, (major, minor) in DEFAULT_NODES.items():
        assert got["/dev/" + name] == ["character special file", str(major), str(minor), "666", "0", "0"]


def test_default_devices_work(runk, bundle, cid, leak_audit):
    out = run_out(
        runk,
        bundle,
        cid,
        "echo gone >/dev/null; head -c 4 /dev/zero | od -An -tx1; "
        "head -c 16 /dev/urandom | wc -c; echo x >/dev/full || echo full-refused",
    )
    assert out.split() == ["00", "00", "00", "00", "16", "full-refused"]


def test_dev_listing_has_only_what_runc_creates(runk, bundle, cid, leak_audit):
    out = run_out(runk, bundle, cid, "ls -A /dev")
    assert sorted(out.split()) == sorted(
        [
            "fd",
            "full",
            "mqueue",
            "null",
            "ptmx",
            "pts",
            "random",
            "shm",
            "stderr",
            "stdin",
            "stdout",
            "tty",
            "urandom",
            "zero",
        ]
        + (["core"] if "core" in out.split() else [])
    )


def test_fd_and_stdio_links(runk, bundle, cid, leak_audit):
    out = run_out(
        runk,
        bundle,
        cid,
        "for l in fd stdin stdout stderr ptmx; do readlink /dev/$l; done; echo via-link >>/dev/stdout",
    )
    assert out.splitlines() == [
        "/proc/self/fd",
        "/proc/self/fd/0",
        "/proc/self/fd/1",
        "/proc/self/fd/2",
        "pts/ptmx",
        "via-link",
    ]


def test_devpts_ptmx_is_the_containers_own(runk, bundle, cid, leak_audit):
    out = run_out(
        runk, bundle, cid, "cat /proc/self/mountinfo; stat -c '%n %F %t %T %a %u %g' /dev/pts/ptmx; ls /dev/pts"
    )
    pts = mount_at(out, "/dev/pts")
    assert pts["fstype"] == "devpts"
    assert {"nosuid", "noexec"} <= pts["opts"]
    assert {"ptmxmode=666", "mode=620", "gid=5"} <= pts["super"]
    lines = out.splitlines()
    ptmx = [l for l in lines if l.startswith("/dev/pts/ptmx ")]
    assert _stat(ptmx[0])["/dev/pts/ptmx"] == ["character special file", "5", "2", "666", "0", "0"]
    assert lines[-1] == "ptmx"  # a new devpts instance: none of the host's ptys


def test_linux_devices_with_mode_and_owner(runk, bundle, cid, leak_audit):
    bundle.config["linux"]["devices"] = [
        {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 0o640, "uid": 1000, "gid": 5},
        {"path": "/dev/loop-test", "type": "b", "major": 7, "minor": 0, "fileMode": 0o600, "uid": 0, "gid": 0},
        {"path": "/dev/sub/dir/fifo", "type": "p", "fileMode": 0o620, "uid": 2, "gid": 3},
        {"path": "/dev/null", "type": "c", "major": 1, "minor": 3, "fileMode": 0o600, "uid": 0, "gid": 0},
    ]
    out = run_out(
        runk, bundle, cid, "stat -c '%n %F %t %T %a %u %g' /dev/fuse /dev/loop-test /dev/sub/dir/fifo /dev/null"
    )
    got = _stat(out)
    assert got["/dev/fuse"] == ["character special file", "10", "229", "640", "1000", "5"]
    assert got["/dev/loop-test"] == ["block special file", "7", "0", "600", "0", "0"]
    assert got["/dev/sub/dir/fifo"] == ["fifo", "0", "0", "620", "2", "3"]
    assert got["/dev/null"] == ["character special file", "1", "3", "600", "0", "0"]  # overridden


@pytest.mark.parametrize(
    "mp,fstype,opts,super_",
    [
        ("/dev/shm", "tmpfs", {"nosuid", "nodev", "noexec"}, {"size=65536k"}),
        ("/dev/mqueue", "mqueue", {"nosuid", "nodev", "noexec"}, set()),
        ("/dev", "tmpfs", {"nosuid"}, {"mode=755", "size=65536k"}),
    ],
)
def test_dev_mounts(runk, bundle, cid, mp, fstype, opts, super_, leak_audit):
    out = run_out(runk, bundle, cid, f"cat /proc/self/mountinfo; stat -c %a {mp}")
    m = mount_at(out, mp)
    assert m["fstype"] == fstype and opts <= m["opts"] and super_ <= m["super"]
    assert out.splitlines()[-1] == ("755" if mp == "/dev" else "1777")


def test_dev_shm_and_mqueue_are_usable(runk, bundle, cid, leak_audit):
    out = run_out(runk, bundle, cid, "echo a >/dev/shm/x && cat /dev/shm/x; ls -A /dev/mqueue | wc -l")
    assert out.split() == ["a", "0"]


def test_dev_bind_mounted_from_host_gets_no_nodes(runk, bundle, cid, tmp_path, leak_audit):
    """A bind-mounted /dev is the user's: runk creates no default nodes or links in it (runc)."""
    d = tmp_path / "devdir"
    d.mkdir()
    os.mknod(d / "null", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    bundle.config["mounts"] = [m for m in bundle.config["mounts"] if not m["destination"].startswith("/dev")]
    bundle.config["mounts"].append({"destination": "/dev", "type": "bind", "source": str(d), "options": ["rbind"]})
    out = run_out(runk, bundle, cid, "ls -A /dev")
    assert out.split() == ["null"]
    assert [p.name for p in d.iterdir()] == ["null"]
