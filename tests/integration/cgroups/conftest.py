"""Fixtures for the real-cgroup tests: unique group names, managers that always clean up, children.

Every group is named runk-test-<pid>-<n>; each test ends with all of them killed and removed, and
the finalizer fails the test if any directory with this run's prefix is left in any hierarchy.
"""

from __future__ import annotations

import glob
import itertools
import os

import pytest

from runk.linux.cgroups import layout, make_manager
from runk.linux.cgroups.v2 import V2Manager

from .childproc import Child

PREFIX = f"runk-test-{os.getpid()}"
_counter = itertools.count()


def unique() -> str:
    return f"{PREFIX}-{next(_counter)}"


@pytest.fixture(scope="session")
def host():
    return layout.detect()


def _need_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root: creates cgroups and moves tasks")


def _leftovers(lay) -> list[str]:
    roots = [m.mountpoint for m in lay.v1_mounts()]
    if lay.unified is not None:
        roots.append(lay.unified.mountpoint)
    own_mem = lay.v1.get("memory")
    if own_mem is not None:
        roots.append(layout._below(own_mem, lay.own.get("memory", "/")))
    return [p for r in roots for p in glob.glob(os.path.join(r, PREFIX + "-*"))]


class Spawner:
    """children(fn, *args) → Child; every child is killed and reaped at teardown."""

    def __init__(self) -> None:
        self.made: list[Child] = []

    def __call__(self, fn, *args) -> Child:
        c = Child(fn, *args)
        self.made.append(c)
        return c

    def reap(self) -> None:
        for c in self.made:
            c.kill()


@pytest.fixture
def children():
    sp = Spawner()
    yield sp
    sp.reap()


@pytest.fixture
def subreaper():
    """Make this process the subreaper of orphaned grandchildren and reap them at teardown.

    PID 1 of this machine does not reap orphans; without this, killed grandchildren would stay
    zombies for the life of the VM.
    """
    from runk._native import lib
    from runk.linux import syscalls

    syscalls.prctl(lib.PR_SET_CHILD_SUBREAPER, 1)
    yield
    syscalls.prctl(lib.PR_SET_CHILD_SUBREAPER, 0)


def reap_orphans(pids) -> None:
    """waitpid() each pid that was reparented to us (they are our children now)."""
    import time

    for p in pids:
        for _ in range(500):
            try:
                got, _ = os.waitpid(p, os.WNOHANG)
            except ChildProcessError:
                break
            if got:
                break
            time.sleep(0.01)


@pytest.fixture
def cgv1(host, children):
    """make(resources=None, path=None) → a created manager on the v1 (or hybrid) layout."""
    _need_root()
    if host.kind not in (layout.V1, layout.HYBRID):
        pytest.skip(f"no cgroup v1 hierarchies on this host (layout: {host.kind})")
    made = []

    def make(resources=None, path=None, create=True):
        name = unique()
        m = make_manager(path if path is not None else "/" + name, name)
        made.append(m)
        if create:
            m.create(resources)
        return m

    yield make
    for m in made:
        if m.exists():
            m.kill_all(9)
    children.reap()
    _finish(made, host)


def _finish(made, host) -> None:
    import time

    for m in made:
        for _ in range(200):
            if not m.exists() or not m.pids():
                break
            time.sleep(0.01)
        m.destroy()
    left = _leftovers(host)
    assert not left, f"cgroups left behind: {left}"


@pytest.fixture
def unified(host):
    """The cgroup2 mount point (pure v2 or the unified mount of a hybrid host)."""
    _need_root()
    if host.unified is None:
        pytest.skip("no cgroup2 mount on this host")
    return host.unified.mountpoint


@pytest.fixture
def cgv2(host, unified, children):
    """make(resources=None, name=None) → a created V2Manager directly on the cgroup2 mount."""
    made = []

    def make(resources=None, rel=None, create=True):
        m = V2Manager(os.path.join(unified, rel or unique()), unified)
        made.append(m)
        if create:
            m.create(resources)
        return m

    yield make
    for m in reversed(made):
        if m.exists():
            m.kill_all(9)
    children.reap()
    _finish(list(reversed(made)), host)


def v2_controller(mnt: str, ctrl: str) -> None:
    """Skip unless the cgroup2 mount offers `ctrl` (on this hybrid host only hugetlb)."""
    with open(os.path.join(mnt, "cgroup.controllers")) as f:
        have = f.read().split()
    if ctrl not in have:
        pytest.skip(
            f"cgroup2 mount {mnt} has no {ctrl} controller (controllers: {' '.join(have) or 'none'}); "
            "on a hybrid host the v1 hierarchies own it: run in the cgroup-v2-only guest"
        )
