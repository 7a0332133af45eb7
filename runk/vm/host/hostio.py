"""Host stand-in plumbing (supervisor, exec proxy): host pty, signal forwarding, exit status.

The host pty is handed to conmon; forwarded signals go to the guest process; the process leaves
with the guest process's status.

Runs on the host, in the supervisor (the container's init) and in the exec proxy (one exec'd
process). Both stand for a process that lives in the guest: what happens to them (signals,
window size, exit) is what happens to it.
"""

from __future__ import annotations

import fcntl
import os
import signal
import struct
import termios

from runk.linux.bootstrap import reset_signals

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, NoReturn

TIOCGWINSZ = 0x5413
TIOCSCTTY = 0x540E
# not forwarded: KILL/STOP cannot be caught; CHLD is ours; PIPE is ours (a reader went away);
# TTIN/TTOU would stop us, WINCH becomes a resize
NOT_FORWARDED = frozenset(
    (signal.SIGKILL, signal.SIGSTOP, signal.SIGCHLD, signal.SIGPIPE, signal.SIGTTIN, signal.SIGTTOU, signal.SIGWINCH)
)
# raising these on ourselves would not end us the way the guest process ended
NOT_RERAISED = frozenset(
    (
        signal.SIGSTOP,
        signal.SIGTSTP,
        signal.SIGTTIN,
        signal.SIGTTOU,
        signal.SIGCHLD,
        signal.SIGCONT,
        signal.SIGURG,
        signal.SIGWINCH,
    )
)


def forward_signals(wakeup_w: int) -> list[int]:
    """Every catchable signal is noted in `wakeup_w` (one byte: its number) by the wakeup fd;
    the caller reads them and forwards. SIGPIPE is ignored; TTIN/TTOU too (reads fail instead)."""
    signal.set_wakeup_fd(wakeup_w, warn_on_full_buffer=False)
    handled = []
    for s in range(1, 32):
        if s in (signal.SIGKILL, signal.SIGSTOP):
            continue
        try:
            if s in (signal.SIGPIPE, signal.SIGTTIN, signal.SIGTTOU):
                signal.signal(s, signal.SIG_IGN)
            else:
                signal.signal(s, _noop)
                handled.append(s)
        except (OSError, ValueError):
            pass
    return handled


def _noop(_sig: int, _frame: object) -> None:
    pass


def read_signals(wakeup_r: int) -> list[int]:
    try:
        data = os.read(wakeup_r, 256)
    except BlockingIOError:
        return []
    return list(data)


def open_pty() -> tuple[int, int]:
    """(master, slave) of a new host pty; the slave raw: the guest pty does the line discipline."""
    master, slave = os.openpty()
    os.set_inheritable(master, False)
    os.set_inheritable(slave, False)
    make_raw(slave)
    return master, slave


def make_raw(fd: int) -> None:
    import tty

    tty.setraw(fd, termios.TCSANOW)


def keep_raw(fd: int) -> None:
    """conmon sets ONLCR on the master it got; undo any output processing before writing
    what the guest pty already processed (or every newline would get a second CR)."""
    try:
        attrs = termios.tcgetattr(fd)
    except termios.error:
        return
    if attrs[1] & termios.OPOST or attrs[3] & (termios.ECHO | termios.ICANON | termios.ISIG):
        make_raw(fd)


def take_controlling(slave: int) -> None:
    """Become the session leader of the slave: SIGWINCH tells us of resizes, SIGHUP of the
    master's close (both go to the guest process, as they would to a runc container)."""
    try:
        os.setsid()
    except PermissionError:
        pass
    try:
        fcntl.ioctl(slave, TIOCSCTTY, 0)
    except OSError:
        pass


def winsize(fd: int) -> tuple[int, int]:
    rows, cols, _x, _y = struct.unpack("HHHH", fcntl.ioctl(fd, TIOCGWINSZ, b"\0" * 8))
    return rows, cols


def send_console(master: int, socket_path: str | None, sock_fd: int | None) -> None:
    """The master over --console-socket (or runk run's own socketpair), as runc sends it."""
    from runk.linux.console import connect_console_socket, send_master

    if sock_fd is None:
        if socket_path is None:
            raise RuntimeError("a terminal needs --console-socket")
        sock_fd = connect_console_socket(socket_path)
    else:
        sock_fd = os.dup(sock_fd)
    send_master(sock_fd, master)


def exit_as(status: dict[str, Any]) -> NoReturn:
    """End this process the way the guest process ended: the same exit code, or death by the
    same signal (so a waiter sees WIFSIGNALED; no core dump), else 128+N."""
    if "signal" in status:
        sig = int(status["signal"])
        if 0 < sig < 65 and sig not in NOT_RERAISED:
            import resource

            try:
                resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
            except (OSError, ValueError):
                pass
            signal.set_wakeup_fd(-1)
            reset_signals()
            os.kill(os.getpid(), sig)
        os._exit(128 + sig)
    os._exit(int(status.get("exit_code", 255)) & 0xFF)
