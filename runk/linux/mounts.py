"""OCI mount options -> mount(2) flags, propagation, data and recursive attributes (pure).

Runs in the parent while building the plan; the init only reads the result. The option table is
the one runc documents (and `runk features` lists): flags set or cleared, propagation types,
recursive mount_setattr(2) attributes (rro, rnosuid, ...), and runc's `tmpcopyup` extension.
Anything else goes into the data string for the filesystem.
"""

from __future__ import annotations

from runk._native import lib as _l
from runk.linux.frozen import Frozen

TYPE_CHECKING = False
if TYPE_CHECKING:
    from runk.linux.idmap import Maps

# option -> (clear?, flag)
FLAGS = {
    "async": (True, _l.MS_SYNCHRONOUS),
    "atime": (True, _l.MS_NOATIME),
    "bind": (False, _l.MS_BIND),
    "defaults": (False, 0),
    "dev": (True, _l.MS_NODEV),
    "diratime": (True, _l.MS_NODIRATIME),
    "dirsync": (False, _l.MS_DIRSYNC),
    "exec": (True, _l.MS_NOEXEC),
    "iversion": (False, _l.MS_I_VERSION),
    "lazytime": (False, _l.MS_LAZYTIME),
    "loud": (True, _l.MS_SILENT),
    "mand": (False, _l.MS_MANDLOCK),
    "noatime": (False, _l.MS_NOATIME),
    "nodev": (False, _l.MS_NODEV),
    "nodiratime": (False, _l.MS_NODIRATIME),
    "noexec": (False, _l.MS_NOEXEC),
    "noiversion": (True, _l.MS_I_VERSION),
    "nolazytime": (True, _l.MS_LAZYTIME),
    "nomand": (True, _l.MS_MANDLOCK),
    "norelatime": (True, _l.MS_RELATIME),
    "nostrictatime": (True, _l.MS_STRICTATIME),
    "nosuid": (False, _l.MS_NOSUID),
    "nosymfollow": (False, _l.MS_NOSYMFOLLOW),
    "rbind": (False, _l.MS_BIND | _l.MS_REC),
    "relatime": (False, _l.MS_RELATIME),
    "remount": (False, _l.MS_REMOUNT),
    "ro": (False, _l.MS_RDONLY),
    "rw": (True, _l.MS_RDONLY),
    "silent": (False, _l.MS_SILENT),
    "strictatime": (False, _l.MS_STRICTATIME),
    "suid": (True, _l.MS_NOSUID),
    "symfollow": (True, _l.MS_NOSYMFOLLOW),
    "sync": (False, _l.MS_SYNCHRONOUS),
}

PROPAGATION: dict[str, int] = {
    "private": _l.MS_PRIVATE,
    "rprivate": _l.MS_PRIVATE | _l.MS_REC,
    "shared": _l.MS_SHARED,
    "rshared": _l.MS_SHARED | _l.MS_REC,
    "slave": _l.MS_SLAVE,
    "rslave": _l.MS_SLAVE | _l.MS_REC,
    "unbindable": _l.MS_UNBINDABLE,
    "runbindable": _l.MS_UNBINDABLE | _l.MS_REC,
}

# recursive attributes applied with mount_setattr(AT_RECURSIVE): option -> (clear?, attr)
_ATIME = _l.MOUNT_ATTR__ATIME
RECURSIVE = {
    "rro": (False, _l.MOUNT_ATTR_RDONLY),
    "rrw": (True, _l.MOUNT_ATTR_RDONLY),
    "rnosuid": (False, _l.MOUNT_ATTR_NOSUID),
    "rsuid": (True, _l.MOUNT_ATTR_NOSUID),
    "rnodev": (False, _l.MOUNT_ATTR_NODEV),
    "rdev": (True, _l.MOUNT_ATTR_NODEV),
    "rnoexec": (False, _l.MOUNT_ATTR_NOEXEC),
    "rexec": (True, _l.MOUNT_ATTR_NOEXEC),
    "rnodiratime": (False, _l.MOUNT_ATTR_NODIRATIME),
    "rdiratime": (True, _l.MOUNT_ATTR_NODIRATIME),
    "rrelatime": (False, _l.MOUNT_ATTR_RELATIME),
    "rnorelatime": (True, _l.MOUNT_ATTR_RELATIME),
    "rnoatime": (False, _l.MOUNT_ATTR_NOATIME),
    "ratime": (True, _l.MOUNT_ATTR_NOATIME),
    "rstrictatime": (False, _l.MOUNT_ATTR_STRICTATIME),
    "rnostrictatime": (True, _l.MOUNT_ATTR_STRICTATIME),
    "rnosymfollow": (False, _l.MOUNT_ATTR_NOSYMFOLLOW),
    "rsymfollow": (True, _l.MOUNT_ATTR_NOSYMFOLLOW),
}

EXTENSIONS = ("tmpcopyup",)

# runtime-spec 1.2 id-mapped mounts: "idmap" maps the mount itself, "ridmap" every mount of an
# rbind's tree (MountSpec.idmap); mappings on a mount without either option mean "idmap"
IDMAP_OPTIONS = {"idmap": 1, "ridmap": 2}
IDMAP_TOP = 1
IDMAP_RECURSIVE = 2


def all_options() -> list[str]:
    return sorted(set(FLAGS) | set(PROPAGATION) | set(RECURSIVE) | set(EXTENSIONS) | set(IDMAP_OPTIONS))


class MountSpec(Frozen):
    """One entry of config.mounts, translated (immutable). Source is absolute (host) for binds;
    with a user namespace, or for an id-mapped mount, the parent also opens a detached clone of
    it (LaunchFds.bind_sources). A bind source inside the rootfs (root_source, its path in the
    container) is taken by the init from the container's tree as the earlier mounts left it.
    The arguments may be positional: this record parses its options."""

    __slots__ = (
        "clear",
        "data",
        "destination",
        "flags",
        "fstype",
        "id_maps",
        "idmap",
        "index",
        "is_bind",
        "propagation",
        "rec_clr",
        "rec_set",
        "root_source",
        "source",
        "tmpcopyup",
    )
    source: str | None
    destination: str
    fstype: str
    flags: int  # MS_* to set
    clear: int  # MS_* the options clear
    data: str
    propagation: tuple[int, ...]
    rec_set: int  # MOUNT_ATTR_* for mount_setattr(AT_RECURSIVE)
    rec_clr: int
    tmpcopyup: bool
    is_bind: bool
    index: int  # position in config.mounts
    idmap: int  # 0, IDMAP_TOP or IDMAP_RECURSIVE
    id_maps: Maps | None  # (uid maps, gid maps) of an id-mapped mount; None: the container's joined userns
    root_source: str | None  # a bind source inside the rootfs: its path in the container

    def __init__(
        self,
        index: int,
        source: str | None,
        destination: str,
        fstype: str | None,
        options: list[str],
        *,
        id_maps: Maps | None = None,
        root_source: str | None = None,
    ) -> None:
        flags = clear = rec_set = rec_clr = idmap = 0
        data = []
        prop = []
        tmpcopyup = False
        for opt in options:
            if opt in IDMAP_OPTIONS:
                idmap = max(idmap, IDMAP_OPTIONS[opt])
                continue
            if opt in FLAGS:
                is_clear, f = FLAGS[opt]
                if is_clear:
                    flags &= ~f
                    clear |= f
                else:
                    flags |= f
            elif opt in PROPAGATION:
                prop.append(PROPAGATION[opt])
            elif opt in RECURSIVE:
                is_clear, a = RECURSIVE[opt]
                if is_clear:
                    rec_clr |= a
                else:
                    rec_set |= a
                if a & _ATIME == a:
                    # the atime modes are one field: setting one clears it first; relatime
                    # is the value 0 of that field, so rrelatime is that clear alone, and
                    # clearing a mode (ratime, rnostrictatime, rnorelatime) leaves relatime,
                    # the kernel's default (runc; a bare clear of one mode is EINVAL)
                    rec_clr |= _ATIME
            elif opt == "tmpcopyup":
                tmpcopyup = True
            else:
                data.append(opt)
        fstype = fstype or ""
        if fstype == "bind":
            flags |= _l.MS_BIND
        self._fill(
            {
                "index": index,
                "source": source,
                "destination": destination,
                "fstype": fstype,
                "flags": flags,
                "clear": clear,
                "data": ",".join(data),
                "propagation": tuple(prop),
                "rec_set": rec_set,
                "rec_clr": rec_clr,
                "tmpcopyup": tmpcopyup,
                "is_bind": bool(flags & _l.MS_BIND),
                "idmap": idmap or (IDMAP_TOP if id_maps else 0),
                "id_maps": id_maps,
                "root_source": root_source,
            }
        )

    def __repr__(self) -> str:
        return f"MountSpec({self.source!r} -> {self.destination!r} {self.fstype} {self.flags:#x} {self.data!r})"


def propagation_flag(name: str) -> int:
    return PROPAGATION[name]


def open_bind_sources(
    specs: tuple[MountSpec, ...], clone_all: bool, join_userns: int = -1
) -> tuple[dict[int, tuple[int, bool]], dict[int, int]]:
    """The parent's part of the bind mounts, before the fork: (mount index -> (fd, source is a
    directory), mount index -> user namespace fd).

    clone_all (an init in a user namespace): clone every bind source with
    open_tree(OPEN_TREE_CLONE) in the runtime's context, since the init's root (an unprivileged
    host uid) may be unable to reach the source path, as in runc 1.2's mount-source fds. An
    id-mapped mount's source is always cloned here and mapped (mount_setattr MOUNT_ATTR_IDMAP
    needs privilege over the source's filesystem, which an init in a user namespace lacks),
    through a user namespace of its mappings or the container's joined one (join_userns). A
    source inside the rootfs is left to the init (it may come from an earlier mount); an
    id-mapped one gets its user namespace fd. On failure everything opened is closed."""
    import os
    import stat as _stat

    from runk.errors import SyscallError
    from runk.linux.idmap import UsernsCache
    from runk.linux.syscalls import idmap_tree, open_tree_clone

    out: dict[int, tuple[int, bool]] = {}
    users: dict[int, int] = {}
    cache = UsernsCache()
    try:
        for m in specs:
            if not m.is_bind or not m.source or not (clone_all or m.idmap):
                continue
            ns = -1
            if m.idmap:
                ns = join_userns if m.id_maps is None else cache.get(m.id_maps, f"mounts[{m.index}]")
            if m.root_source is not None:
                if ns >= 0:
                    users[m.index] = os.dup(ns)
                continue
            try:
                st = os.stat(m.source)
            except OSError as e:
                raise SyscallError("stat", m.source, e.errno or 0) from None
            fd = open_tree_clone(m.source, bool(m.flags & _l.MS_REC))
            out[m.index] = (fd, _stat.S_ISDIR(st.st_mode))
            if ns >= 0:
                idmap_tree(fd, ns, m.idmap == IDMAP_RECURSIVE, shown=m.destination)
    except BaseException:
        for fd in [fd for fd, _d in out.values()] + list(users.values()):
            os.close(fd)
        raise
    finally:
        cache.close()
    return out, users
