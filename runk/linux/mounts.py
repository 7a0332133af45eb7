"""OCI mount options -> mount(2) flags, propagation, data and recursive attributes (pure).

Runs in the parent while building the plan; the init only reads the result. The option table is
the one runc documents (and `runk features` lists): flags set or cleared, propagation types,
recursive mount_setattr(2) attributes (rro, rnosuid, ...), and runc's `tmpcopyup` extension.
Anything else goes into the data string for the filesystem.
"""

from __future__ import annotations

from runk._native import lib as _l
from runk.linux.frozen import Frozen

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


def all_options() -> list[str]:
    return sorted(set(FLAGS) | set(PROPAGATION) | set(RECURSIVE) | set(EXTENSIONS))


class MountSpec(Frozen):
    """One entry of config.mounts, translated (immutable). Source is absolute (host) for binds;
    with a user namespace the parent also opens a detached clone of it (LaunchFds.bind_sources).
    The arguments may be positional: this record parses its options."""

    __slots__ = (
        "clear",
        "data",
        "destination",
        "flags",
        "fstype",
        "index",
        "is_bind",
        "propagation",
        "rec_clr",
        "rec_set",
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

    def __init__(
        self, index: int, source: str | None, destination: str, fstype: str | None, options: list[str]
    ) -> None:
        flags = clear = rec_set = rec_clr = 0
        data = []
        prop = []
        tmpcopyup = False
        for opt in options:
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
                if a & _ATIME == a and not is_clear:
                    # the atime modes are one field: setting one clears it first; relatime
                    # is the value 0 of that field, so rrelatime is that clear alone
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
            }
        )

    def __repr__(self) -> str:
        return f"MountSpec({self.source!r} -> {self.destination!r} {self.fstype} {self.flags:#x} {self.data!r})"


def propagation_flag(name: str) -> int:
    return PROPAGATION[name]


def open_bind_sources(specs: tuple[MountSpec, ...]) -> dict[int, tuple[int, bool]]:
    """Clone every bind source with open_tree(OPEN_TREE_CLONE) in the runtime's context, for an
    init in a user namespace: its root (an unprivileged host uid) may be unable to reach the
    source path, as in runc 1.2's mount-source fds. Returns mount index -> (fd, source is a
    directory). Runs in the parent before the fork; on failure the fds already opened are
    closed."""
    import os
    import stat as _stat

    from runk.errors import SyscallError
    from runk.linux.syscalls import open_tree_clone

    out: dict[int, tuple[int, bool]] = {}
    try:
        for m in specs:
            if not m.is_bind or not m.source:
                continue
            try:
                st = os.stat(m.source)
            except OSError as e:
                raise SyscallError("stat", m.source, e.errno or 0) from None
            out[m.index] = (open_tree_clone(m.source, bool(m.flags & _l.MS_REC)), _stat.S_ISDIR(st.st_mode))
    except BaseException:
        for fd, _d in out.values():
            os.close(fd)
        raise
    return out
