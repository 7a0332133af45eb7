"""`os` without importing os: posix's functions and the os.path helpers runk uses.

Runs in the parent, the bootstrap, the init and the tenant: `create`, `run`, `exec`, `state`,
`list`, `start`, `kill` and `delete` import only modules that take their os from here
(tests/unit/test_import_budget.py checks that os stays out). Importing os costs 0.8 ms of a
9 ms command here, 0.5 ms of it for _collections_abc (os.environ's mapping class); posix is the
C module os re-exports, so the functions are the same objects. The path helpers follow
posixpath for str paths, and tests/unit/test_os_shim.py holds them to posixpath on a corpus;
realpath of a missing path falls back to posixpath's. Modules off those paths (the VM
machinery, spec, update, ps, events) import os as usual.

    from runk import _os as os
"""

from __future__ import annotations

import posix as _posix
from posix import O_CLOEXEC, O_PATH, close, getcwd, lstat, mkdir, readlink
from posix import open as _open
from posix import stat as _stat

_S_IFMT, _S_IFDIR, _S_IFREG, _S_IFLNK = 0o170000, 0o040000, 0o100000, 0o120000


def __getattr__(name: str) -> object:
    """Everything else is posix's, looked up on first use and then kept as a module attribute
    (a star import of posix's 350 names costs more than the lookups); `environ` is a str
    snapshot of the environment, decoded on first use (runk only reads it)."""
    if name == "environ":
        value: object = {
            k.decode("utf-8", "surrogateescape"): v.decode("utf-8", "surrogateescape")
            for k, v in _posix.environ.items()
        }
    else:
        try:
            value = getattr(_posix, name)
        except AttributeError:
            raise AttributeError(f"module 'runk._os' has no attribute {name!r}") from None
    globals()[name] = value
    return value


def _kind(p: str, stat_fn: object) -> int | None:
    """The file type bits of `p` (S_IFDIR, ...), None if it cannot be stat'ed."""
    try:
        return stat_fn(p).st_mode & _S_IFMT
    except (OSError, ValueError):
        return None


def fsencode(filename: str | bytes) -> bytes:
    """os.fsencode for str and bytes (the file system encoding is UTF-8 here, as os says)."""
    if isinstance(filename, bytes):
        return filename
    return filename.encode("utf-8", "surrogateescape")


def makedirs(name: str, mode: int = 0o777, exist_ok: bool = False) -> None:
    """os.makedirs: missing parents with the default mode, `mode` for the leaf."""
    head, tail = path.split(name)
    if not tail:
        head, tail = path.split(head)
    if head and tail and not path.exists(head):
        try:
            makedirs(head, exist_ok=exist_ok)
        except FileExistsError:
            pass  # made meanwhile by someone else
        if tail == ".":
            return
    try:
        mkdir(name, mode)
    except OSError:
        if not exist_ok or not path.isdir(name):
            raise


class path:
    """The posixpath functions runk uses (str paths only)."""

    @staticmethod
    def join(a: str, *p: str) -> str:
        out = a
        for b in p:
            if b.startswith("/"):
                out = b
            elif not out or out.endswith("/"):
                out += b
            else:
                out += "/" + b
        return out

    @staticmethod
    def split(p: str) -> tuple[str, str]:
        i = p.rfind("/") + 1
        head, tail = p[:i], p[i:]
        if head and head != "/" * len(head):
            head = head.rstrip("/")
        return head, tail

    @staticmethod
    def dirname(p: str) -> str:
        return path.split(p)[0]

    @staticmethod
    def basename(p: str) -> str:
        return p[p.rfind("/") + 1 :]

    @staticmethod
    def normpath(p: str) -> str:
        if not p:
            return "."
        slashes = 1 if p.startswith("/") else 0
        if slashes and p.startswith("//") and not p.startswith("///"):
            slashes = 2
        parts: list[str] = []
        for comp in p.split("/"):
            if comp in ("", "."):
                continue
            if comp != ".." or (not slashes and not parts) or (parts and parts[-1] == ".."):
                parts.append(comp)
            elif parts:
                parts.pop()
        out = "/" * slashes + "/".join(parts)
        return out or "."

    @staticmethod
    def abspath(p: str) -> str:
        if not p.startswith("/"):
            p = path.join(getcwd(), p)
        return path.normpath(p)

    @staticmethod
    def exists(p: str) -> bool:
        return _kind(p, _stat) is not None

    @staticmethod
    def isdir(p: str) -> bool:
        return _kind(p, _stat) == _S_IFDIR

    @staticmethod
    def isfile(p: str) -> bool:
        return _kind(p, _stat) == _S_IFREG

    @staticmethod
    def islink(p: str) -> bool:
        return _kind(p, lstat) == _S_IFLNK

    @staticmethod
    def isabs(p: str) -> bool:
        return p.startswith("/")

    @staticmethod
    def realpath(p: str) -> str:
        """The kernel's name for an existing path (what /proc/self/fd/N says of it opened
        O_PATH); posixpath.realpath for anything else."""
        try:
            fd = _open(p, O_PATH | O_CLOEXEC)
        except (OSError, ValueError):
            import posixpath

            return posixpath.realpath(p)
        try:
            return readlink(f"/proc/self/fd/{fd}")
        except OSError:
            import posixpath

            return posixpath.realpath(p)
        finally:
            close(fd)

    @staticmethod
    def relpath(p: str, start: str | None = None) -> str:
        if not p:
            raise ValueError("no path specified")
        have = [x for x in path.abspath(start or ".").split("/") if x]
        want = [x for x in path.abspath(p).split("/") if x]
        i = 0
        while i < min(len(have), len(want)) and have[i] == want[i]:
            i += 1
        rel = [".."] * (len(have) - i) + want[i:]
        return path.join(*rel) if rel else "."
