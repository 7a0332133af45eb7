"""On-disk container state: id validation, per-container dirs, atomic writes, flock locking.

Runs in the parent (every command). Hot path: imports runk._os (posix, not os) and fcntl only.
Layout (DESIGN 3.8): <root>/<id>/ (0711) holding state.json, config.json and, while created,
exec.fifo. runk's own files live under <root>/@cache/ (the seccomp cache): '@' is not an id
character, so no container id can name it, and ids() lists only names an id can take. Writes
are temp + rename in the same directory; mutating commands hold flock(LOCK_EX) on the
container directory, readers take no lock.
"""

from __future__ import annotations

import fcntl

from runk import _os as os
from runk.errors import ExistsError, InvalidIdError, NotFoundError, RunkError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

DEFAULT_ROOT = "/run/runk"
MAX_ID_LEN = 255  # one path component (NAME_MAX)
STATE_FILE = "state.json"
CONFIG_FILE = "config.json"
FIFO_FILE = "exec.fifo"
CACHE_DIR = "@cache"  # runk's own files: a name validate_id refuses

# runc's idRegex ^[\w+-\.]+$ (Go RE2, ASCII \w): letters, digits, '_' and the range '+'..'.',
# which is "+,-.". '.' and '..' are refused because they do not clean to themselves.
_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_+,-.")


def is_valid_id(cid: str) -> bool:
    return bool(cid) and len(cid) <= MAX_ID_LEN and cid not in (".", "..") and _ID_CHARS.issuperset(cid)


def validate_id(cid: str) -> None:
    """Refuse an id before anything touches the disk (no '/', no '..', no empty, a length cap)."""
    if not is_valid_id(cid):
        raise InvalidIdError()


def write_atomic(dirfd: int | None, name: str, data: bytes | str, mode: int = 0o600) -> None:
    """Write name (relative to dirfd, or an absolute path when dirfd is None) via temp + rename.

    The rename makes the write atomic for every other process, and a crash of runk leaves the
    old content or the new. Nothing is fsynced (runc fsyncs none of these either): the state
    describes processes that do not outlive the machine, the root is a tmpfs (/run) on most
    hosts, and a file torn by a crash of the machine is a leftover that `delete --force`
    removes (StateStore.discard_leftover). An fsync on a disk-backed root cost 1.5-2 ms of every
    create here."""
    if isinstance(data, str):
        data = data.encode()
    if dirfd is None:
        dirname, base = os.path.split(os.path.abspath(name))
        dfd = os.open(dirname, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    else:
        dfd, base = dirfd, name
    tmp = f".{base}.tmp.{os.getpid()}"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, mode, dir_fd=dfd)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
        os.rename(tmp, base, src_dir_fd=dfd, dst_dir_fd=dfd)
    except BaseException as e:
        try:
            os.unlink(tmp, dir_fd=dfd)
        except OSError:
            pass
        if isinstance(e, OSError) and e.errno:
            # name the file, as runc's "write <path>: no space left on device"
            where = name if dirfd is None else os.path.join(_dir_path(dirfd), name)
            raise OSError(e.errno, os.strerror(e.errno), f"write {where}") from None
        raise
    finally:
        if dirfd is None:
            os.close(dfd)


def _dir_path(dirfd: int) -> str:
    """The path of an open directory (for an error message)."""
    try:
        return os.readlink(f"/proc/self/fd/{dirfd}")
    except OSError:
        return "."


class ContainerDir:
    """An open container state directory (fd) and, when held, its lock. `keep`: set by a failed
    create that could not undo everything it made; its record stays for `delete --force`."""

    __slots__ = ("fd", "id", "keep", "path", "root")

    def __init__(self, root: str, cid: str, fd: int) -> None:
        self.root = root
        self.id = cid
        self.path = os.path.join(root, cid)
        self.fd = fd
        self.keep = False

    def cache_dir(self, name: str) -> str:
        """<root>/@cache/<name>: runk's own files, outside the id namespace."""
        return os.path.join(self.root, CACHE_DIR, name)

    def lock(self, blocking: bool = True) -> bool:
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX if blocking else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def is_locked_elsewhere(self) -> bool:
        """True if another process holds the lock (a create in progress)."""
        probe = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=self.fd)
        try:
            fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(probe)
        return False

    def read(self, name: str) -> bytes | None:
        try:
            fd = os.open(name, os.O_RDONLY | os.O_CLOEXEC, dir_fd=self.fd)
        except FileNotFoundError:
            return None
        try:
            chunks: list[bytes] = []
            while True:
                b = os.read(fd, 65536)
                if not b:
                    return b"".join(chunks)
                chunks.append(b)
        finally:
            os.close(fd)

    def write(self, name: str, data: bytes | str) -> None:
        write_atomic(self.fd, name, data)

    def exists(self, name: str) -> bool:
        try:
            os.stat(name, dir_fd=self.fd, follow_symlinks=False)
        except FileNotFoundError:
            return False
        return True

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)  # releases the flock with the open file description
            self.fd = -1

    def remove(self) -> None:
        """Remove the directory and everything in it (flat: runk writes no subdirectories)."""
        for name in os.listdir(self.fd):
            try:
                os.unlink(name, dir_fd=self.fd)
            except IsADirectoryError:
                os.rmdir(name, dir_fd=self.fd)
            except FileNotFoundError:
                pass
        try:
            os.rmdir(self.path)
        except FileNotFoundError:
            pass


_S_ISVTX = 0o1000


class OwnerError(RunkError):
    """A rootless runk was pointed at state another user controls."""


def _rootless() -> bool:
    from runk.linux.rootless import rootless_euid

    return rootless_euid()


def check_root_owner(root: str, st_uid: int, st_mode: int, euid: int) -> None:
    """A rootless runk keeps its state only where no other user can change it: a --root it
    owns that no one else may write to, or a root-owned sticky directory (/tmp-like: others
    cannot rename or remove its entries)."""
    if st_uid == euid and not st_mode & 0o022:
        return
    if st_uid in (euid, 0) and st_mode & _S_ISVTX:
        return
    raise OwnerError(
        f"--root {root}: owned by uid {st_uid} (mode {st_mode & 0o7777:04o}), so others could change the "
        f"state of uid {euid}: use a directory of your own (0700)"
    )


def check_dir_owner(path: str, st_uid: int, euid: int) -> None:
    """A container's state directory must be the caller's: another user's container (or a
    state directory planted to name someone else's processes) is never acted on."""
    if st_uid != euid:
        raise OwnerError(f"{path}: owned by uid {st_uid}, not by uid {euid}: not your container")


class StateStore:
    """The --root directory: claims new container dirs, opens existing ones, lists them.

    A rootless runk (euid != 0, or in a user namespace) checks who owns the root and each
    container directory before it trusts them (check_root_owner, check_dir_owner) and makes
    container directories 0700; root's behaviour is runc's (0711, no owner checks)."""

    __slots__ = ("_checked", "_rootless", "root")

    def __init__(self, root: str = DEFAULT_ROOT) -> None:
        self.root = os.path.abspath(root)
        self._rootless: bool | None = None
        self._checked = False

    def rootless(self) -> bool:
        if self._rootless is None:
            self._rootless = _rootless()
        return self._rootless

    def _check_root(self) -> None:
        """The owner check of --root (rootless only; once per command)."""
        if self._checked or not self.rootless():
            return
        try:
            st = os.stat(self.root)
        except FileNotFoundError:
            return
        check_root_owner(self.root, st.st_uid, st.st_mode, os.geteuid())
        self._checked = True

    def _check_dir(self, fd: int, path: str) -> None:
        if self.rootless():
            check_dir_owner(path, os.fstat(fd).st_uid, os.geteuid())

    def claim(self, cid: str) -> ContainerDir:
        """mkdir <root>/<id> (uniqueness comes from mkdir), open it and lock it."""
        validate_id(cid)
        os.makedirs(self.root, mode=0o700, exist_ok=True)
        self._check_root()
        path = os.path.join(self.root, cid)
        mode = 0o700 if self.rootless() else 0o711
        try:
            os.mkdir(path, mode)
        except FileExistsError:
            raise ExistsError() from None
        os.chmod(path, mode)  # not subject to the umask, as runc's state dir
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        d = ContainerDir(self.root, cid, fd)
        d.lock()
        return d

    def open(self, cid: str, lock: bool = False) -> ContainerDir:
        validate_id(cid)
        self._check_root()
        path = os.path.join(self.root, cid)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except (FileNotFoundError, NotADirectoryError):
            raise NotFoundError() from None
        except PermissionError:
            if not self.rootless():
                raise
            st = os.stat(path)
            check_dir_owner(path, st.st_uid, os.geteuid())
            raise
        try:
            self._check_dir(fd, path)
        except BaseException:
            os.close(fd)
            raise
        d = ContainerDir(self.root, cid, fd)
        if lock:
            d.lock()
            # a concurrent delete may have removed it while we waited (DESIGN 3.8)
            if not os.path.isdir(d.path) or (not d.exists(STATE_FILE) and not d.exists(CONFIG_FILE)):
                d.close()
                raise NotFoundError()
        return d

    def discard_leftover(self, cid: str) -> None:
        """Remove <root>/<id> if it holds no config and no readable state: a create killed
        between its claim and its first write, or a state torn by a crash of the machine (after
        which none of its processes or cgroups exist). Under the lock, so never a create that
        is still running."""
        validate_id(cid)
        self._check_root()
        try:
            fd = os.open(os.path.join(self.root, cid), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except (FileNotFoundError, NotADirectoryError):
            return
        d = ContainerDir(self.root, cid, fd)
        try:
            self._check_dir(fd, d.path)
            if not d.lock(blocking=False) or d.exists(CONFIG_FILE) or read_state(d) is not None:
                return
            d.remove()
        finally:
            d.close()

    def ids(self) -> list[str]:
        """Every directory whose name is a valid id (runc lists ".foo" too); runk's own
        (CACHE_DIR) and stray names no id can take are not containers."""
        self._check_root()
        try:
            with os.scandir(self.root) as it:
                names = [e for e in it if is_valid_id(e.name) and e.is_dir(follow_symlinks=False)]
        except FileNotFoundError:
            return []
        if self.rootless():
            # a shared root lists only the caller's containers
            euid = os.geteuid()
            names = [e for e in names if e.stat(follow_symlinks=False).st_uid == euid]
        return sorted(e.name for e in names)


def read_state(d: ContainerDir) -> dict[str, Any] | None:
    """The parsed state file, or None if it is missing, empty or torn."""
    raw = d.read(STATE_FILE)
    if not raw:
        return None
    from runk import _json

    try:
        doc = _json.loads(raw)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None
