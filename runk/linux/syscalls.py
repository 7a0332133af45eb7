"""Python wrappers over runk._native.lib: check the return, raise SyscallError(op, path, errno).

Runs in parent, bootstrap, init and tenant. Imports only the compiled module; safe after fork.
"""

from __future__ import annotations

from runk import _os as os
from runk._native import ffi, lib
from runk.errors import SyscallError

_enc = os.fsencode


def _check(ret: int, op: str, path: str | None = None) -> int:
    if ret < 0:
        raise SyscallError(op, path, ffi.errno)
    return ret


def unshare(flags: int) -> None:
    _check(lib.unshare(flags), "unshare")


def setns(fd: int, nstype: int, what: str | None = None) -> None:
    _check(lib.setns(fd, nstype), "setns", what)


def mount(
    source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None, shown: str | None = None
) -> None:
    """mount(2); `shown` is the path used in the error (the in-container destination)."""
    src = _enc(source) if source is not None else ffi.NULL
    typ = _enc(fstype) if fstype is not None else ffi.NULL
    dat = _enc(data) if data else ffi.NULL
    _check(lib.mount(src, _enc(target), typ, flags, dat), "mount", shown or target)


def umount2(target: str, flags: int = 0) -> None:
    _check(lib.umount2(_enc(target), flags), "umount", target)


def pivot_root(new_root: str, put_old: str) -> None:
    _check(lib.runk_pivot_root(_enc(new_root), _enc(put_old)), "pivot_root", new_root)


def openat2(dirfd: int, path: str, flags: int, resolve: int, mode: int = 0) -> int:
    return _check(lib.runk_openat2(dirfd, _enc(path), flags, mode, resolve), "openat2", path)


def close_range_cloexec(first: int, last: int = 0xFFFFFFFF) -> None:
    _check(lib.runk_close_range(first, last, lib.CLOSE_RANGE_CLOEXEC), "close_range")


def sethostname(name: str) -> None:
    b = _enc(name)
    _check(lib.sethostname(b, len(b)), "sethostname", name)


def setdomainname(name: str) -> None:
    b = _enc(name)
    _check(lib.setdomainname(b, len(b)), "setdomainname", name)


def prctl(option: int, a2: int = 0, a3: int = 0, a4: int = 0, a5: int = 0) -> int:
    return _check(lib.runk_prctl(option, a2, a3, a4, a5), "prctl")


def set_name(name: str) -> None:
    """PR_SET_NAME: the process title seen in ps (runk:[1:BOOT], runk:[2:INIT])."""
    buf = ffi.new("char[]", _enc(name)[:15])
    _check(lib.runk_prctl(lib.PR_SET_NAME, int(ffi.cast("unsigned long", buf)), 0, 0, 0), "prctl")


def personality(persona: int) -> None:
    _check(lib.personality(persona), "personality")


def join_session_keyring(name: str | None) -> None:
    arg = ffi.new("char[]", _enc(name)) if name else ffi.NULL
    _check(
        lib.runk_keyctl(lib.KEYCTL_JOIN_SESSION_KEYRING, int(ffi.cast("unsigned long", arg)), 0, 0, 0),
        "join session keyring",
    )


def mount_setattr(
    dirfd: int, path: str, flags: int, attr_set: int, attr_clr: int, propagation: int = 0, shown: str | None = None
) -> None:
    _check(
        lib.runk_mount_setattr(dirfd, _enc(path), flags, attr_set, attr_clr, propagation),
        "mount_setattr",
        shown or path,
    )


def loopback_up() -> None:
    _check(lib.runk_loopback_up(), "set up loopback", "lo")


def open_tree_clone(path: str, recursive: bool) -> int:
    """A detached copy of the mount tree at `path` (open_tree OPEN_TREE_CLONE), as an fd that a
    process in another user and mount namespace can attach with move_mount."""
    flags = lib.OPEN_TREE_CLONE | lib.OPEN_TREE_CLOEXEC | (lib.AT_RECURSIVE if recursive else 0)
    return _check(lib.runk_open_tree(-100, _enc(path), flags), "open_tree", path)


def move_mount_to_fd(tree_fd: int, target_fd: int, shown: str | None = None) -> None:
    """Attach a detached tree onto the directory or file open as target_fd (O_PATH)."""
    _check(
        lib.runk_move_mount(tree_fd, b"", target_fd, b"", lib.MOVE_MOUNT_F_EMPTY_PATH | lib.MOVE_MOUNT_T_EMPTY_PATH),
        "move_mount",
        shown,
    )


def clone_fd_tree(fd: int, shown: str | None = None, recursive: bool = False) -> int:
    """A detached bind of exactly the file or directory open as fd (open_tree OPEN_TREE_CLONE
    with AT_EMPTY_PATH): mounting it needs no path, so nothing can be swapped in between.
    recursive: with the mounts below it (an rbind)."""
    flags = lib.OPEN_TREE_CLONE | lib.OPEN_TREE_CLOEXEC | lib.AT_EMPTY_PATH | (lib.AT_RECURSIVE if recursive else 0)
    return _check(lib.runk_open_tree(fd, b"", flags), "open_tree", shown)


def idmap_tree(tree_fd: int, userns_fd: int, recursive: bool, shown: str | None = None) -> None:
    """Make the detached tree tree_fd an id-mapped mount through the user namespace userns_fd
    (mount_setattr MOUNT_ATTR_IDMAP); recursive: every mount of the tree, else its top only."""
    flags = lib.AT_RECURSIVE if recursive else 0
    _check(lib.runk_mount_setattr_idmap(tree_fd, flags, userns_fd), "mount_setattr", shown)


def userns_holder() -> int:
    """Pid of a child waiting in a new, empty user namespace (runk_userns_holder)."""
    return _check(lib.runk_userns_holder(), "clone", "user namespace")
