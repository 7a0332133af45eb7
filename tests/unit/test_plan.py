"""The container plan: immutable records built by one function that opens nothing; the fds the
parent opens for the child belong to LaunchFds, which closes them all, once."""

from __future__ import annotations

import errno
import os

import pytest

from runk.linux.cgroups.base import Entry
from runk.linux.fds import LaunchFds
from runk.oci import plan as oci_plan


def _open_fds() -> set[int]:
    return {int(n) for n in os.listdir("/proc/self/fd")}


def _is_open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError as e:
        assert e.errno == errno.EBADF
        return False
    return True


def _userns_config(bundle, tmp_path) -> dict:
    """A user namespace, a joined network namespace and two bind mounts (one bundle-relative)."""
    src = tmp_path / "bundle" / "data"
    src.mkdir()
    (src / "f").write_text("x")
    cfg = bundle.copy()
    linux = cfg["linux"]
    linux["namespaces"] = [n for n in linux["namespaces"] if n["type"] not in ("user", "network")]
    linux["namespaces"] += [{"type": "user"}, {"type": "network", "path": "/proc/self/ns/net"}]
    linux["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    linux["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    cfg["mounts"] = list(cfg.get("mounts") or []) + [
        {"destination": "/data", "type": "bind", "source": "data", "options": ["rbind", "ro"]},
        {"destination": "/etc/f", "type": "bind", "source": str(src / "f"), "options": ["bind"]},
    ]
    return cfg


def test_a_built_plan_is_immutable(bundle, tmp_path):
    plan, _w = oci_plan.build(_userns_config(bundle, tmp_path), bundle.path, "plans-immutable")
    records = [plan, plan.namespaces, plan.mounts, plan.process, plan.security, plan.hooks, plan.mounts.mounts[-1]]
    for rec in records:
        name = type(rec).__slots__[0]
        before = getattr(rec, name)
        with pytest.raises(AttributeError):
            setattr(rec, name, None)
        with pytest.raises(AttributeError):
            delattr(rec, name)
        assert getattr(rec, name) is before
    with pytest.raises(AttributeError):
        plan.proc_fd = 3  # no new attribute either (the init used to set this one)
    for seq in (
        plan.namespaces.joins,
        plan.mounts.mounts,
        plan.process.args,
        plan.process.env,
        plan.mounts.masked_paths,
        plan.mounts.mounts[0].propagation,
    ):
        assert isinstance(seq, tuple)
    # what the records say, taken from the config
    assert plan.kind == "init" and plan.id == "plans-immutable"
    assert plan.namespaces.joins == (("network", "/proc/self/ns/net"),)
    assert plan.namespaces.new_user and plan.mounts.clone_bind_sources and plan.mounts.bind_devices
    data = plan.mounts.mounts[-2]
    assert data.source == os.path.join(bundle.path, "data") and data.is_bind
    assert plan.mounts.rootfs == os.path.realpath(bundle.rootfs)


def test_build_opens_no_fd(bundle, tmp_path):
    cfg = _userns_config(bundle, tmp_path)
    before = _open_fds()
    plan, _w = oci_plan.build(cfg, bundle.path, "plans-nofd")
    assert _open_fds() == before
    # the owner opens them: one namespace file, one clone per bind source
    fds = LaunchFds()
    try:
        fds.open_namespaces(plan.namespaces)
        fds.open_bind_sources(plan.mounts)
        assert set(fds.joins) == {"network"}
        binds = [m.index for m in plan.mounts.mounts if m.is_bind]
        assert sorted(fds.bind_sources) == binds and len(binds) >= 2
        assert fds.bind_sources[binds[-1]][1] is False  # /etc/f is a file
        assert len(_open_fds() - before) == 1 + len(binds)
    finally:
        fds.close()
    assert _open_fds() == before


def test_build_exec_opens_no_fd(bundle):
    from runk.state.record import StateRecord

    rec = StateRecord(id="plans-exec", pid=os.getpid(), bundle=bundle.path, rootfs=bundle.rootfs)
    before = _open_fds()
    plan, _w = oci_plan.build_exec(bundle.copy(), rec, {"args": ["true"], "cwd": "/"}, 0)
    assert _open_fds() == before
    assert plan.kind == "exec" and plan.mounts is None and plan.rootfs_chroot is None
    assert all(path == f"/proc/{os.getpid()}/ns/" + path.rsplit("/", 1)[1] for _t, path in plan.namespaces.joins)
    assert {t for t, _p in plan.namespaces.joins} == {n["type"] for n in bundle.config["linux"]["namespaces"]}


def test_launch_fds_close_closes_everything_once():
    fds = LaunchFds()
    opened = [os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC) for _ in range(9)]
    fds.joins = {"network": opened[0], "ipc": opened[1]}
    fds.bind_sources = {3: (opened[2], True), 5: (opened[3], False)}
    fds.console, fds.fifo, fds.trampoline, fds.proc = opened[4:8]
    entry = Entry()
    entry.clone_fd = opened[8]
    r, w = os.pipe()
    entry.tasks = [(r, "a/tasks"), (w, "b/tasks")]
    fds.cgroup = entry
    opened += [r, w]
    fds.close()
    assert [fd for fd in opened if _is_open(fd)] == []
    # the numbers are free again: new fds reuse them, and a second close() must leave them alone
    reused = [os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC) for _ in opened]
    try:
        assert set(reused) & set(opened)
        fds.close()
        assert all(_is_open(fd) for fd in reused)
    finally:
        for fd in reused:
            os.close(fd)
    assert fds.joins == {} and fds.bind_sources == {} and fds.cgroup is None
    assert (fds.console, fds.fifo, fds.trampoline, fds.proc) == (-1, -1, -1, -1)
