"""Relay between runk's own stdio and a container's pty master (`run` without a console socket).

Runs in the parent. The user's terminal goes raw while relaying (runc tty.go) and the window
size follows SIGWINCH.
"""

from __future__ import annotations

import select

from runk import _os as os


def relay(master: int, pid: int) -> None:
    import signal
    import termios
    import tty

    from runk.linux.console import set_size

    stdin_tty = os.isatty(0)
    saved = None
    if stdin_tty:
        saved = termios.tcgetattr(0)
        tty.setraw(0)

    def winch(_sig: int = 0, _frame: object = None) -> None:
        try:
            rows, cols = os.get_terminal_size(0)
            set_size(master, rows, cols)
        except OSError:
            pass

    if stdin_tty:
        winch()
        signal.signal(signal.SIGWINCH, winch)
    pidfd = os.pidfd_open(pid)
    p = select.poll()
    p.register(master, select.POLLIN)
    p.register(pidfd, select.POLLIN)
    stdin_open = True
    p.register(0, select.POLLIN)
    try:
        while True:
            try:
                events = p.poll()
            except InterruptedError:
                continue
            done = False
            for fd, ev in events:
                if fd == master:
                    try:
                        data = os.read(master, 65536)
                    except OSError:
                        data = b""
                    if not data:
                        done = True
                    else:
                        _write_all(1, data)
                elif fd == 0 and stdin_open:
                    data = os.read(0, 65536) if ev & (select.POLLIN | select.POLLHUP) else b""
                    if not data:
                        stdin_open = False
                        p.unregister(0)
                        _write_all(master, b"\x04")  # EOF on the terminal: ^D
                    else:
                        _write_all(master, data)
                elif fd == pidfd:
                    _drain(master)
                    done = True
            if done:
                break
    finally:
        os.close(pidfd)
        if saved is not None:
            termios.tcsetattr(0, termios.TCSADRAIN, saved)
        os.close(master)


def _drain(master: int) -> None:
    os.set_blocking(master, False)
    while True:
        try:
            data = os.read(master, 65536)
        except (BlockingIOError, OSError):
            return
        if not data:
            return
        _write_all(1, data)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
