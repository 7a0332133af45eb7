"""Guest-side stdio relay: run one command, stream its stdout/stderr and status as frames.

Runs in the guest as `python3 -S -B -m runk.vm.guest.relay PORT CMDFILE STDIN` (guest_init.py's
`runk.relay=python`), on the host's /usr shared over virtio-fs, from the copy of runk the
initramfs carries. Imports: os, select and runk.vm.wire only (each import costs ~0.1-0.3 s
under TCG). The seed of the guest agent, which will speak REQ/EVT on the same port.
"""

from __future__ import annotations

import os
import select
import sys

from runk.vm.wire import wire

# virtio_console takes at most 32 KiB per write(): one frame, header included, per write
CHUNK = 32768 - wire.HEADER_SIZE


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def run(port: str, cmd: str, stdin: str) -> int:
    chan = os.open(port, os.O_WRONLY | os.O_CLOEXEC)
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    with open("/proc/uptime") as f:
        uptime = float(f.read().split()[0])
    init = float(os.environ.get("RUNK_INIT_UPTIME") or 0)
    write_all(
        chan, wire.encode_json(wire.EVT, 0, {"event": "started", "uptime": uptime, "init": init, "relay": "python"})
    )
    pid = os.fork()
    if pid == 0:
        try:
            fd = os.open(stdin, os.O_RDONLY)
            os.dup2(fd, 0)
            os.dup2(out_w, 1)
            os.dup2(err_w, 2)
            os.closerange(3, 1024)
            os.chdir("/")
            os.execv("/bin/sh", ["sh", cmd])
        except BaseException as e:
            os.write(2, f"runk relay: exec sh {cmd}: {e}\n".encode())
        os._exit(127)
    os.close(out_w)
    os.close(err_w)
    streams = {out_r: wire.STDOUT, err_r: wire.STDERR}
    poll = select.poll()
    for fd in streams:
        poll.register(fd, select.POLLIN)
    while streams:
        for fd, _ev in poll.poll():
            data = os.read(fd, CHUNK)
            write_all(chan, wire.encode(streams[fd], 0, data))  # b"" is the EOF frame
            if not data:
                poll.unregister(fd)
                os.close(fd)
                del streams[fd]
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        result = {"signal": os.WTERMSIG(status)}
    else:
        result = {"exit_code": os.WEXITSTATUS(status)}
    write_all(chan, wire.encode_json(wire.EXIT, 0, result))
    os.close(chan)
    return 0


if __name__ == "__main__":
    sys.exit(run(*sys.argv[1:4]))
