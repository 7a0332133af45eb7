"""runc's rule for the host uid that owns a systemd unit's group (delegate.owner_uid): a cgroup
namespace of the container's own and a read-write cgroup mount at /sys/fs/cgroup; the process
user's uid through uidMappings in a user namespace."""

from __future__ import annotations

import copy

import pytest

from runk.linux.cgroups import delegate

BASE = {
    "process": {"user": {"uid": 0, "gid": 0}},
    "mounts": [
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid", "rw"]},
    ],
    "linux": {
        "namespaces": [{"type": "mount"}, {"type": "cgroup"}, {"type": "user"}],
        "uidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
    },
}


def cfg(change=None) -> dict:
    c = copy.deepcopy(BASE)
    if change:
        change(c)
    return c


def _ro(c):
    c["mounts"][1]["options"] = ["nosuid", "ro"]


def _ro_then_rw(c):
    c["mounts"][1]["options"] = ["ro", "rw"]


def _no_cgroupns(c):
    c["linux"]["namespaces"] = [{"type": "mount"}, {"type": "user"}]


def _joined_cgroupns(c):
    c["linux"]["namespaces"][1]["path"] = "/proc/1/ns/cgroup"


def _user_1000(c):
    c["process"]["user"]["uid"] = 1000


def _unmapped_user(c):
    c["process"]["user"]["uid"] = 70000


def _no_userns(c):
    c["linux"]["namespaces"] = [{"type": "mount"}, {"type": "cgroup"}]
    c["process"]["user"]["uid"] = 1000


def _cgroup_elsewhere(c):
    c["mounts"][1]["destination"] = "/sys/fs/cgroup/unified"


def _other_source(c):
    c["mounts"][1]["source"] = "none"


def _trailing_slash(c):
    c["mounts"][1]["destination"] = "/sys/fs/cgroup/"


@pytest.mark.parametrize(
    ("change", "owner"),
    [
        (None, 100000),
        (_ro, None),
        (_ro_then_rw, 100000),
        (_no_cgroupns, None),
        (_joined_cgroupns, None),
        (_user_1000, 101000),
        (_unmapped_user, None),
        (_no_userns, 1000),
        (_cgroup_elsewhere, None),
        (_other_source, None),
        (_trailing_slash, 100000),
    ],
    ids=lambda v: getattr(v, "__name__", str(v)),
)
def test_owner_uid(change, owner):
    assert delegate.owner_uid(cfg(change)) == owner


def test_delegated_files_are_the_kernels_list():
    files = delegate.delegated_files()
    assert "cgroup.procs" in files and "cgroup.subtree_control" in files


def test_chown_group_gives_the_directory_and_its_files(tmp_path):
    import os

    if os.geteuid() != 0:
        pytest.skip("chown to another uid needs root")
    for name in ("cgroup.procs", "cgroup.threads", "memory.max"):
        (tmp_path / name).write_text("")
    delegate.chown_group(str(tmp_path), 4242)  # cgroup.subtree_control is missing: skipped
    assert os.stat(tmp_path).st_uid == 4242
    assert os.stat(tmp_path / "cgroup.procs").st_uid == 4242
    assert os.stat(tmp_path / "memory.max").st_uid == 0  # not a delegated file
