"""Terminals: a pty made from the container's own devpts, /dev/console bound to its slave, the
master sent over the console socket with SCM_RIGHTS (runc console_linux.go), and the slave made
the controlling terminal and stdio of the process.

Runs in the init (after pivot_root) and the tenant (after joining the mount namespace). The
console socket was connected by the parent, before the fork (its path is a host path), with
connect_console_socket (also used by the VM backend's host side).
"""

from __future__ import annotations

import _socket
import errno
import fcntl

from runk import _os as os

TIOCGPTN = 0x80045430
TIOCSPTLCK = 0x40045431
TIOCSCTTY = 0x540E
TIOCSWINSZ = 0x5414
TCGETS = 0x5401
TCSETS = 0x5402
_OFLAG_AT = 4  # struct termios: c_iflag, c_oflag, c_cflag, c_lflag (u32 each), c_line, c_cc[19]
_TERMIOS_SIZE = 36
ONLCR = 0o4  # c_oflag: map NL to CR-NL on output


def open_pty() -> tuple[int, int, str]:
    """(master, slave, slave path) from /dev/pts/ptmx of the devpts mounted in the container."""
    master = os.open("/dev/pts/ptmx", os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    fcntl.ioctl(master, TIOCSPTLCK, b"\0\0\0\0")
    n = int.from_bytes(fcntl.ioctl(master, TIOCGPTN, b"\0\0\0\0"), "little")
    path = f"/dev/pts/{n}"
    slave = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    return master, slave, path


def set_size(fd: int, rows: int, cols: int) -> None:
    ws = rows.to_bytes(2, "little") + cols.to_bytes(2, "little") + b"\0" * 4
    fcntl.ioctl(fd, TIOCSWINSZ, ws)


def clear_onlcr(fd: int) -> None:
    """Output "\n" stays "\n" on the terminal of `fd` (the kernel maps it to "\r\n" by default)."""
    raw = bytearray(fcntl.ioctl(fd, TCGETS, bytes(_TERMIOS_SIZE)))
    oflag = int.from_bytes(raw[_OFLAG_AT : _OFLAG_AT + 4], "little") & ~ONLCR
    raw[_OFLAG_AT : _OFLAG_AT + 4] = oflag.to_bytes(4, "little")
    fcntl.ioctl(fd, TCSETS, bytes(raw))


def bind_console(slave: int) -> None:
    """/dev/console is the container's terminal (runc mountConsole), bound from the open pty
    slave itself (open_tree of the fd), never from its path looked up again; /dev/console is
    created if missing and opened O_PATH without following a symlink (a symlink is refused)."""
    import stat

    from runk.errors import RunkError
    from runk.linux import paths
    from runk.linux.syscalls import clone_fd_tree, move_mount_to_fd

    root = os.open("/", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        target = paths.open_in_root(root, "/dev/console", "file", 0o755, follow_last=False)
    except OSError as e:
        if e.errno == errno.EROFS:  # read-only /dev: no console bind, as with a bind-mounted /dev
            return
        raise
    finally:
        os.close(root)
    try:
        if stat.S_ISLNK(os.fstat(target).st_mode):
            raise RunkError("/dev/console is a symlink: refusing to bind the console over it")
        tree = clone_fd_tree(slave, "/dev/console")
        try:
            move_mount_to_fd(tree, target, shown="/dev/console")
        finally:
            os.close(tree)
    finally:
        os.close(target)


CONSOLE_CONNECT_TIMEOUT = 10.0  # a listener whose backlog is full and never accepts


def connect_console_socket(path: str, bound: float = CONSOLE_CONNECT_TIMEOUT) -> int:
    """A connected fd of the --console-socket unix socket at `path` (close-on-exec); runc's
    "dial unix PATH: REASON" error when it cannot be reached, or when its listener does not
    take the connection within `bound` seconds."""
    s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC, 0)
    try:
        _connect_within(s, path, bound)
    except OSError as e:
        s.close()
        from runk.errors import RunkError

        reason = os.strerror(e.errno).lower() if e.errno else e
        raise RunkError(f"dial unix {path}: {reason}") from None
    return s.detach()


def _connect_within(s: _socket.socket, path: str, bound: float) -> None:
    """connect(2) to a unix socket, retried while the listener's backlog is full (EAGAIN: a
    non-blocking unix connect does not wait, a blocking one waits for ever) for `bound` s."""
    import errno
    import time

    s.setblocking(False)
    deadline = time.monotonic() + bound
    pause = 0.005
    while True:
        try:
            s.connect(path)
            break
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise OSError(errno.ETIMEDOUT, os.strerror(errno.ETIMEDOUT)) from None
            time.sleep(pause)
            pause = min(pause * 2, 0.1)
    s.setblocking(True)  # the init sends the pty master on it


def send_master(sock_fd: int, master: int) -> None:
    """One message with a payload (conmon needs data for the ancillary part to travel) and the
    master fd (runc sends the name "/dev/ptmx")."""
    s = _socket.socket(fileno=sock_fd)
    try:
        s.sendmsg([b"/dev/ptmx"], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, master.to_bytes(4, "little"))])
    finally:
        s.close()


def recv_master(sock: _socket.socket) -> int | None:
    """The pty master send_master sent over `sock` (a socket object), or None if the message
    carried no fd."""
    _data, anc, _f, _a = sock.recvmsg(4096, _socket.CMSG_SPACE(4))
    for level, typ, raw in anc:
        if level == _socket.SOL_SOCKET and typ == _socket.SCM_RIGHTS:
            return int.from_bytes(raw[:4], "little")
    return None


def make_controlling(slave: int) -> None:
    """The slave becomes fds 0, 1, 2 and the controlling terminal (the caller is a session leader)."""
    fcntl.ioctl(slave, TIOCSCTTY, 0)
    for fd in (0, 1, 2):
        os.dup2(slave, fd)
    if slave > 2:
        os.close(slave)
