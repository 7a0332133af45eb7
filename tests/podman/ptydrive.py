"""Drive a command through a pseudo-terminal, as a user at a terminal would.

The command gets a new session with the pty slave as its controlling terminal and stdio; the
window size is set before it starts. `interact` is a list of (text to wait for, text to type);
the text RAW waits until the command has put the terminal in raw mode (podman and ctr do before
they relay input: typing earlier would be echoed by the line discipline, or flushed).
"""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import termios
import time

RAW = "\0raw"


def _is_raw(master: int) -> bool:
    return not termios.tcgetattr(master)[3] & termios.ICANON


class PtyRun:
    def __init__(self, rc: int, out: str) -> None:
        self.rc, self.out = rc, out

    def __repr__(self) -> str:
        return f"PtyRun(rc={self.rc}, out={self.out[-600:]!r})"


def _read(master: int, timeout: float) -> bytes:
    r, _, _ = select.select([master], [], [], timeout)
    if not r:
        return b""
    try:
        return os.read(master, 65536) or b"\0EOF"
    except OSError:  # EIO: every slave fd is closed
        return b"\0EOF"


def run_in_pty(
    argv: list, env: dict, rows: int = 31, cols: int = 101, timeout: float = 60, interact: list | tuple = ()
) -> PtyRun:
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def ctty() -> None:
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen(
        argv, env=env, stdin=slave, stdout=slave, stderr=slave, start_new_session=True, preexec_fn=ctty
    )
    os.close(slave)
    out = b""
    steps = list(interact)
    deadline = time.monotonic() + timeout
    eof = False
    try:
        while time.monotonic() < deadline:
            chunk = _read(master, 0.1)
            if chunk == b"\0EOF":
                eof = True
                break
            out += chunk
            if steps and (_is_raw(master) if steps[0][0] == RAW else steps[0][0].encode() in out):
                os.write(master, steps.pop(0)[1].encode())
            if not chunk and proc.poll() is not None:
                # the command is gone; take what is still buffered, then stop
                while (c := _read(master, 0.2)) and c != b"\0EOF":
                    out += c
                eof = True
                break
        if not eof:
            proc.kill()
            proc.wait()
            raise AssertionError(f"{argv} did not finish in {timeout} s; output so far: {out!r}")
        rc = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    return PtyRun(rc, out.decode(errors="replace").replace("\r\n", "\n"))
