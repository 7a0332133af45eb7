"""runk.linux.mounts: OCI mount options -> mount(2) flags, data, propagation and recursive
mount_setattr(2) attributes, checked against the kernel's constants and, for the recursive
attributes, against what a real mount_setattr makes of them."""

from __future__ import annotations

import os

import pytest

from runk._native import lib
from runk.linux import mounts, syscalls
from runk.linux.mounts import MountSpec

# option -> (set flag or None, cleared flag or None), spelled from the kernel's constants
FLAG_OPTS = {
    "ro": (lib.MS_RDONLY, None),
    "rw": (None, lib.MS_RDONLY),
    "nosuid": (lib.MS_NOSUID, None),
    "suid": (None, lib.MS_NOSUID),
    "nodev": (lib.MS_NODEV, None),
    "dev": (None, lib.MS_NODEV),
    "noexec": (lib.MS_NOEXEC, None),
    "exec": (None, lib.MS_NOEXEC),
    "sync": (lib.MS_SYNCHRONOUS, None),
    "async": (None, lib.MS_SYNCHRONOUS),
    "dirsync": (lib.MS_DIRSYNC, None),
    "remount": (lib.MS_REMOUNT, None),
    "mand": (lib.MS_MANDLOCK, None),
    "nomand": (None, lib.MS_MANDLOCK),
    "noatime": (lib.MS_NOATIME, None),
    "atime": (None, lib.MS_NOATIME),
    "nodiratime": (lib.MS_NODIRATIME, None),
    "diratime": (None, lib.MS_NODIRATIME),
    "relatime": (lib.MS_RELATIME, None),
    "norelatime": (None, lib.MS_RELATIME),
    "strictatime": (lib.MS_STRICTATIME, None),
    "nostrictatime": (None, lib.MS_STRICTATIME),
    "iversion": (lib.MS_I_VERSION, None),
    "noiversion": (None, lib.MS_I_VERSION),
    "lazytime": (lib.MS_LAZYTIME, None),
    "nolazytime": (None, lib.MS_LAZYTIME),
    "silent": (lib.MS_SILENT, None),
    "loud": (None, lib.MS_SILENT),
    "nosymfollow": (lib.MS_NOSYMFOLLOW, None),
    "symfollow": (None, lib.MS_NOSYMFOLLOW),
    "bind": (lib.MS_BIND, None),
    "rbind": (lib.MS_BIND | lib.MS_REC, None),
}


def spec(*options: str, fstype: str | None = None) -> MountSpec:
    return MountSpec(index=0, source="/src", destination="/dst", fstype=fstype, options=list(options))


@pytest.mark.parametrize("opt", sorted(FLAG_OPTS))
def test_flag_options(opt):
    want_set, want_clear = FLAG_OPTS[opt]
    m = spec(opt)
    assert m.flags == (want_set or 0)
    assert m.clear == (want_clear or 0)
    assert m.data == "" and m.propagation == () and not m.rec_set and not m.rec_clr
    assert m.is_bind == bool(want_set and want_set & lib.MS_BIND)
    assert bin(want_set or want_clear).count("1") == (2 if opt == "rbind" else 1)


def test_defaults_is_no_flag():
    assert spec("defaults").flags == 0 and spec("defaults").data == ""


def test_later_option_wins():
    assert spec("ro", "rw").flags & lib.MS_RDONLY == 0
    assert spec("rw", "ro").flags & lib.MS_RDONLY
    assert spec("nosuid", "nodev", "suid").flags == lib.MS_NODEV


def test_table_matches_what_features_lists():
    opts = mounts.all_options()
    assert set(FLAG_OPTS) | {"defaults"} <= set(opts)
    assert {"rro", "rnosuid", "tmpcopyup", "rprivate"} <= set(opts)
    assert opts == sorted(set(opts))


@pytest.mark.parametrize(
    "name,flag",
    [
        ("private", lib.MS_PRIVATE),
        ("rprivate", lib.MS_PRIVATE | lib.MS_REC),
        ("shared", lib.MS_SHARED),
        ("rshared", lib.MS_SHARED | lib.MS_REC),
        ("slave", lib.MS_SLAVE),
        ("rslave", lib.MS_SLAVE | lib.MS_REC),
        ("unbindable", lib.MS_UNBINDABLE),
        ("runbindable", lib.MS_UNBINDABLE | lib.MS_REC),
    ],
)
def test_propagation(name, flag):
    assert mounts.propagation_flag(name) == flag
    m = spec("bind", name)
    assert m.propagation == (flag,) and m.flags == lib.MS_BIND and m.data == ""


def test_propagation_keeps_order_and_repeats():
    m = spec("rslave", "private", "rslave")
    assert m.propagation == (lib.MS_SLAVE | lib.MS_REC, lib.MS_PRIVATE, lib.MS_SLAVE | lib.MS_REC)


def test_bind_detection():
    assert spec("bind").is_bind and not spec("bind").flags & lib.MS_REC
    assert spec("rbind").is_bind and spec("rbind").flags & lib.MS_REC
    assert spec(fstype="bind").is_bind and spec(fstype="bind").flags == lib.MS_BIND
    assert spec("rbind", fstype="bind").flags == lib.MS_BIND | lib.MS_REC
    assert not spec("nosuid", fstype="tmpfs").is_bind
    assert spec(fstype=None).fstype == ""


def test_unknown_options_are_data_in_order():
    m = spec("nosuid", "size=65536k", "mode=755", "strictatime", "uid=1000", "x-foo", fstype="tmpfs")
    assert m.data == "size=65536k,mode=755,uid=1000,x-foo"
    assert m.flags == lib.MS_NOSUID | lib.MS_STRICTATIME
    assert spec("mode=1777").data == "mode=1777" and spec().data == ""


def test_idmap_options_are_no_data():
    """idmap and ridmap ask for an id-mapped mount (runtime-spec 1.2), they are no data; mappings
    alone mean idmap."""
    assert spec("bind", "idmap").idmap == 1 and spec("rbind", "ridmap").idmap == 2
    assert spec("bind", "idmap").data == "" and spec("rbind", "ridmap", "idmap").idmap == 2
    assert spec("bind").idmap == 0
    maps = (({"containerID": 0, "hostID": 1, "size": 1},), ({"containerID": 0, "hostID": 1, "size": 1},))
    assert MountSpec(0, "/src", "/dst", "bind", ["bind"], id_maps=maps).idmap == 1


def test_tmpcopyup_is_no_data():
    m = spec("tmpcopyup", "nosuid", fstype="tmpfs")
    assert m.tmpcopyup and m.data == "" and m.flags == lib.MS_NOSUID
    assert not spec("nosuid").tmpcopyup


@pytest.mark.parametrize(
    "opt,attr,clear",
    [
        ("rro", lib.MOUNT_ATTR_RDONLY, False),
        ("rrw", lib.MOUNT_ATTR_RDONLY, True),
        ("rnosuid", lib.MOUNT_ATTR_NOSUID, False),
        ("rsuid", lib.MOUNT_ATTR_NOSUID, True),
        ("rnodev", lib.MOUNT_ATTR_NODEV, False),
        ("rdev", lib.MOUNT_ATTR_NODEV, True),
        ("rnoexec", lib.MOUNT_ATTR_NOEXEC, False),
        ("rexec", lib.MOUNT_ATTR_NOEXEC, True),
        ("rnodiratime", lib.MOUNT_ATTR_NODIRATIME, False),
        ("rdiratime", lib.MOUNT_ATTR_NODIRATIME, True),
        ("rnosymfollow", lib.MOUNT_ATTR_NOSYMFOLLOW, False),
        ("rsymfollow", lib.MOUNT_ATTR_NOSYMFOLLOW, True),
    ],
)
def test_recursive_attributes(opt, attr, clear):
    m = spec("rbind", opt)
    assert (m.rec_set, m.rec_clr) == ((0, attr) if clear else (attr, 0))
    assert m.flags == lib.MS_BIND | lib.MS_REC and m.data == ""


def test_recursive_atime_clears_the_whole_field():
    """mount_setattr(2): an access-time mode goes in attr_set with MOUNT_ATTR__ATIME in
    attr_clr (the modes are one field)."""
    for opt, mode in (
        ("rnoatime", lib.MOUNT_ATTR_NOATIME),
        ("rstrictatime", lib.MOUNT_ATTR_STRICTATIME),
        ("rrelatime", lib.MOUNT_ATTR_RELATIME),
    ):
        m = spec("rbind", opt)
        assert m.rec_set == mode and m.rec_clr == lib.MOUNT_ATTR__ATIME, opt
    m = spec("rbind", "rro", "rnoatime")
    assert m.rec_set == lib.MOUNT_ATTR_RDONLY | lib.MOUNT_ATTR_NOATIME
    # clearing a mode clears the field: relatime, the kernel's default (runc)
    for opt in ("ratime", "rnostrictatime", "rnorelatime"):
        m = spec("rbind", opt)
        assert m.rec_set == 0 and m.rec_clr & lib.MOUNT_ATTR__ATIME == lib.MOUNT_ATTR__ATIME, opt


def _mountinfo_opts(path: str) -> set[str]:
    with open("/proc/self/mountinfo") as f:
        for line in reversed(f.read().splitlines()):
            fields = line.split()
            if fields[4] == path:
                return set(fields[5].split(","))
    raise AssertionError(f"{path} not mounted")


def test_recursive_attributes_on_a_real_mount(tmp_path):
    """What mount_setattr(AT_RECURSIVE) does with each spec's attributes, on a tmpfs and a
    submount, in a private mount namespace of a forked child (as rootfs.py applies them)."""
    target = str(tmp_path / "m")
    os.mkdir(target)
    cases = [  # (initial mount flags, options, expected per-mount options present/absent)
        (lib.MS_NOATIME, ["rrelatime"], {"relatime"}, {"noatime"}),
        (lib.MS_NOATIME, ["rstrictatime"], set(), {"noatime", "relatime"}),
        (0, ["rnoatime"], {"noatime"}, {"relatime"}),
        (lib.MS_NOATIME, ["ratime"], {"relatime"}, {"noatime"}),
        (lib.MS_NOATIME, ["rnorelatime"], {"relatime"}, {"noatime"}),
        (lib.MS_STRICTATIME, ["rnostrictatime"], {"relatime"}, set()),
        (0, ["rro", "rnosuid", "rnodev", "rnoexec"], {"ro", "nosuid", "nodev", "noexec"}, {"rw"}),
        (lib.MS_RDONLY | lib.MS_NOSUID, ["rrw", "rsuid"], {"rw"}, {"ro", "nosuid"}),
    ]
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        msg = b""
        try:
            syscalls.unshare(lib.CLONE_NEWNS)
            syscalls.mount(None, "/", None, lib.MS_REC | lib.MS_PRIVATE)
            for flags, opts, present, absent in cases:
                syscalls.mount("tmpfs", target, "tmpfs", 0)
                os.mkdir(target + "/sub")
                syscalls.mount("tmpfs", target + "/sub", "tmpfs", flags)
                syscalls.mount(None, target, None, lib.MS_REMOUNT | lib.MS_BIND | flags)
                m = spec("rbind", *opts)
                fd = os.open(target, os.O_PATH | os.O_CLOEXEC)
                syscalls.mount_setattr(fd, "", lib.AT_EMPTY_PATH | lib.AT_RECURSIVE, m.rec_set, m.rec_clr)
                os.close(fd)
                for where in (target, target + "/sub"):
                    got = _mountinfo_opts(where)
                    if not present <= got or absent & got:
                        msg += f"{opts} on {where}: {sorted(got)}\n".encode()
                syscalls.umount2(target, lib.MNT_DETACH)
        except BaseException as e:
            msg += repr(e).encode()
        finally:
            os.write(w, msg)
            os._exit(0)
    os.close(w)
    out = os.read(r, 65536)
    os.close(r)
    os.waitpid(pid, 0)
    assert out == b"", out.decode()


@pytest.mark.parametrize(
    "dest,fstype,opts,later",
    [
        ("/dev", "tmpfs", ["ro", "nosuid"], True),
        ("//dev/", "tmpfs", ["ro"], True),  # the path as runc cleans it
        ("/dev", "bind", ["rbind", "ro"], True),  # a bound /dev too
        ("/run", "tmpfs", ["ro"], True),
        ("/run", "tmpfs", ["rw"], False),
        ("/run", "tmpfs", ["ro", "rw"], False),
        ("/home", "bind", ["rbind", "ro"], False),  # never written by runk: read-only at once
        ("/sys", "sysfs", ["ro"], False),
    ],
)
def test_read_only_later_is_runcs_rule(dest, fstype, opts, later):
    from runk.linux.rootfs import read_only_later

    assert read_only_later(MountSpec(0, "src", dest, fstype, opts)) is later


def test_mountinfo_paths_are_unescaped():
    from runk.linux.rootfs import _unescape

    assert _unescape(r"/a\040b\011c\012d\134e") == "/a b\tc\nd\\e"
    assert _unescape("/plain") == "/plain"


def test_host_pseudo_mounts_are_the_whole_procfs_and_sysfs_outside_the_rootfs():
    from runk.linux.rootfs import _host_pseudo_mounts

    with open("/proc/self/mountinfo") as f:
        mps = {line.split()[4] for line in f if line.split()[line.split().index("-") + 1] == "proc"}
    found = _host_pseudo_mounts("/nonexistent/rootfs")
    assert "/proc" in found and "/proc" in mps
    assert "/proc" not in _host_pseudo_mounts("/")  # all of it is inside that rootfs


@pytest.mark.parametrize(
    "order,refused",
    [
        (["/", "/proc"], None),
        (["/dev", "/", "/proc"], None),
        (["/proc", "/"], 1),
        (["/proc", "/tmp", "//."], 2),
    ],
)
def test_a_mount_on_root_behind_proc_is_refused(order, refused):
    from runk.errors import ConfigError
    from runk.oci.validate import semantic

    kinds = {
        "/proc": {"type": "proc", "source": "proc"},
        "/dev": {"type": "tmpfs", "source": "tmpfs"},
        "/tmp": {"type": "tmpfs", "source": "tmpfs"},
    }
    cfg = {
        "root": {"path": "rootfs"},
        "process": {"args": ["true"]},
        "mounts": [
            {"destination": d, **kinds.get(d, {"type": "bind", "source": "/srv", "options": ["rbind"]})} for d in order
        ],
    }
    if refused is None:
        semantic(cfg)
        return
    with pytest.raises(ConfigError) as e:
        semantic(cfg)
    assert str(e.value).startswith(f'mounts[{refused}].destination: "/" would cover the /proc mount'), str(e.value)
