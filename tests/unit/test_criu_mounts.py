"""runk.linux.criu.mounts on this host: the names CRIU is given for a container's external mounts
(where the init mounted them: symlinks in the rootfs followed, never out of it) and the mount
points a restore makes (through the container's bind mounts, none left mounted). CRIU itself runs
in the lab (tests/lab/guest/test_checkpoint.py)."""

from __future__ import annotations

import os

import pytest

from runk.linux.criu import mounts


@pytest.fixture
def rootfs(tmp_path):
    r = tmp_path / "rootfs"
    (r / "real" / "conf").mkdir(parents=True)
    (r / "etc").mkdir()
    os.symlink("/real/conf", r / "conf")  # absolute: from the root, not the host's /
    os.symlink("real", r / "rel")
    os.symlink("../../../..", r / "etc" / "up")  # climbs no higher than the root
    os.symlink("loop", r / "loop")
    return str(r)


@pytest.mark.parametrize(
    ("dest", "want"),
    [
        ("/conf", "/real/conf"),
        ("conf/", "/real/conf"),
        ("/conf/sub/x", "/real/conf/sub/x"),
        ("/rel/conf", "/real/conf"),
        ("/etc/up/conf", "/real/conf"),
        ("/../../conf", "/real/conf"),
        ("/missing/a/../b", "/missing/b"),
        ("/", "/"),
    ],
)
def test_destinations_resolve_inside_the_root(rootfs, dest, want):
    assert mounts.in_root(rootfs, dest) == want


def test_a_symlink_loop_ends(rootfs):
    assert mounts.in_root(rootfs, "/loop/x").startswith("/")


def test_dump_and_restore_name_a_bind_where_it_is_mounted(rootfs, tmp_path):
    cfg = {"mounts": [{"type": "bind", "source": str(tmp_path), "destination": "/conf", "options": ["bind"]}]}
    dump = mounts.dump_map(cfg, None, [], rootfs)
    restore = mounts.restore_map(cfg, None, rootfs, "/bundle")
    assert {"key": "/real/conf", "val": "/real/conf"} in dump
    assert {"key": "/real/conf", "val": str(tmp_path)} in restore
    assert not [e for e in dump + restore if e["key"] == "/conf"]


def test_a_relative_bind_source_is_the_bundles(rootfs):
    cfg = {"mounts": [{"type": "bind", "source": "./data", "destination": "/data", "options": ["bind"]}]}
    assert {"key": "/data", "val": "/bundle/data"} in mounts.restore_map(cfg, None, rootfs, "/bundle")


def _mounted_under(path: str) -> list[str]:
    with open("/proc/self/mountinfo") as f:
        return [ln for ln in f if f" {path}" in ln]


@pytest.mark.skipif(os.geteuid() != 0, reason="binds the container's mounts: needs root")
def test_restore_makes_a_nested_mount_point_in_the_outer_binds_source(rootfs, tmp_path):
    outer, inner = tmp_path / "outer", tmp_path / "inner"
    outer.mkdir()
    inner.mkdir()
    cfg = {
        "mounts": [
            {"type": "bind", "source": "outer", "destination": "/test", "options": ["rbind"]},
            {"type": "bind", "source": str(inner), "destination": "/test/for/nested", "options": ["rbind"]},
            {"type": "bind", "source": str(inner), "destination": "/conf/x", "options": ["rbind"]},
        ]
    }
    try:
        mounts.make_mountpoints(rootfs, cfg, str(tmp_path))
    finally:
        left = _mounted_under(rootfs)
        for ln in left:
            os.system(f"umount -l {ln.split()[4]}")
    assert not left
    assert (outer / "for" / "nested").is_dir()  # where CRIU will find it after binding /test
    assert not os.path.exists(os.path.join(rootfs, "test", "for"))
    assert os.path.isdir(os.path.join(rootfs, "real", "conf", "x"))  # through the symlink, inside the root
