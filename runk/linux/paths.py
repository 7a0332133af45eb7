"""Resolve a path inside a root directory safely: no symlink, '..' or magic link leads outside.

Runs in the init (mount targets, device nodes, masked paths before pivot) and in tests.
openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS) answers for existing paths; a component walker
that opens each component O_NOFOLLOW, follows symlinks itself and clamps '..' at the root (crun's
chroot_realpath, runc/youki's securejoin) creates what is missing, so that a dangling symlink in
the rootfs cannot make runk create a file or directory outside it.
"""

from __future__ import annotations

import errno
import stat

from runk import _os as os
from runk._native import lib
from runk.errors import SyscallError

_RESOLVE = 0
_MAX_LINKS = 40
O_PATH = os.O_PATH | os.O_CLOEXEC


def _resolve_flags() -> int:
    global _RESOLVE
    if not _RESOLVE:
        _RESOLVE = lib.RESOLVE_IN_ROOT | lib.RESOLVE_NO_MAGICLINKS
    return _RESOLVE


def _components(path: str, trailing: bool = True) -> list[str]:
    """The names of `path`; with `trailing`, a final "/" or "/." becomes a "." entry: the
    kernel then requires a directory there (and follows a symlink before it)."""
    comps = [c for c in path.split("/") if c and c != "."]
    if trailing and comps and path.endswith(("/", "/.")):
        comps.append(".")
    return comps


def open_in_root(
    root_fd: int, path: str, create: str | None = None, mode: int = 0o755, follow_last: bool = True
) -> int:
    """O_PATH fd of `path` resolved inside root_fd.

    create: None (must exist), "dir" or "file" (create the final component, and directories
    for missing parents). follow_last=False returns a symlink itself as the final component.
    """
    if follow_last:
        try:
            from runk.linux.syscalls import openat2

            return openat2(root_fd, path.lstrip("/") or ".", O_PATH, _resolve_flags())
        except OSError as e:
            if e.errno not in (errno.ENOENT, errno.ENOSYS) or create is None:
                if e.errno == errno.ENOSYS:
                    return _walk(root_fd, path, create, mode, follow_last)
                raise SyscallError("open", path, e.errno or 0) from None
    return _walk(root_fd, path, create, mode, follow_last)


def _walk(root_fd: int, path: str, create: str | None, mode: int, follow_last: bool) -> int:
    stack = [os.dup(root_fd)]  # fds of the directories walked; stack[0] is the root
    # a trailing "/" of a path to create is dropped, as runc's filepath.Clean does
    todo = _components(path, trailing=create is None)
    links = 0
    try:
        while todo:
            comp = todo.pop(0)
            last = not todo
            if comp == ".":
                continue  # what it follows was checked to be a directory
            if comp == "..":
                if len(stack) > 1:
                    os.close(stack.pop())
                continue
            cur = stack[-1]
            try:
                fd = os.open(comp, O_PATH | os.O_NOFOLLOW, dir_fd=cur)
            except FileNotFoundError:
                if create is None:
                    raise SyscallError("open", path, errno.ENOENT) from None
                if last and create == "file":
                    # O_EXCL|O_NOFOLLOW: never follow a symlink that appeared meanwhile
                    nfd = os.open(
                        comp, os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_WRONLY | os.O_CLOEXEC, 0o644, dir_fd=cur
                    )
                    os.close(nfd)
                else:
                    try:
                        os.mkdir(comp, mode, dir_fd=cur)
                    except FileExistsError:
                        pass
                fd = os.open(comp, O_PATH | os.O_NOFOLLOW, dir_fd=cur)
            st = os.fstat(fd)
            if stat.S_ISLNK(st.st_mode) and (not last or follow_last):
                links += 1
                if links > _MAX_LINKS:
                    os.close(fd)
                    raise SyscallError("open", path, errno.ELOOP)
                target = os.readlink(comp, dir_fd=cur)
                os.close(fd)
                if target.startswith("/"):
                    while len(stack) > 1:
                        os.close(stack.pop())
                todo[:0] = _components(target)
                continue
            if not last and not stat.S_ISDIR(st.st_mode):
                os.close(fd)
                raise SyscallError("open", path, errno.ENOTDIR)
            stack.append(fd)
        return stack.pop()
    finally:
        for fd in stack:
            os.close(fd)


def fd_path(fd: int) -> str:
    """The kernel's view of where an fd points (for checks and error messages)."""
    return os.readlink(f"/proc/self/fd/{fd}")


def proc_fd(fd: int) -> str:
    return f"/proc/self/fd/{fd}"


def is_within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")
