"""A seccomp agent for the tests: receives a container process's notify fd and answers its calls.

    python3 tests/seccomp_agent.py SOCKET RECORD [--errno PATH=ERRNO ...] [--suffix]

Listens on the unix socket SOCKET. Each connection brings what runtime-spec says a runtime sends
to listenerPath: the container process state (JSON) with the seccomp listener fd as SCM_RIGHTS.
Each message is appended to RECORD as one JSON line {"state": ..., "nfds": N, "fd_is_listener": b}
(N: how many fds came with it), and each notification as {"nr": ..., "path": ..., "pid": ...}.

Answers: mkdir/mkdirat/chmod/fchmodat of a PATH given with --errno fail with that errno; with
--suffix a mkdir of any other path creates "<path>-<metadata>" inside the container instead
(through /proc/<pid>/root) and reports success, as runc's example agent does; everything else
is let through (SECCOMP_USER_NOTIF_FLAG_CONTINUE). Stdlib only; x86_64 syscall numbers.
"""

from __future__ import annotations

import array
import fcntl
import json
import os
import select
import socket
import struct
import sys

# linux/seccomp.h: _IOWR('!', 0, struct seccomp_notif), _IOWR('!', 1, struct seccomp_notif_resp),
# _IOW('!', 2, __u64)
NOTIF_RECV = 0xC0502100
NOTIF_SEND = 0xC0182101
NOTIF_ID_VALID = 0x40082102
FLAG_CONTINUE = 1
NOTIF = struct.Struct("=QII iIQ6Q")  # id, pid, flags, data {nr, arch, ip, args[6]}: 80 bytes
RESP = struct.Struct("=QqiI")  # id, val, error, flags: 24 bytes
# x86_64: syscall -> index of its path argument
PATH_ARG = {83: 0, 258: 1, 90: 0, 268: 1, 452: 1}  # mkdir, mkdirat, chmod, fchmodat, fchmodat2
MKDIRS = (83, 258)


def read_path(pid: int, addr: int) -> str:
    try:
        with open(f"/proc/{pid}/mem", "rb", buffering=0) as mem:
            mem.seek(addr)
            return mem.read(4096).split(b"\0", 1)[0].decode(errors="replace")
    except OSError:
        return ""


def record(path: str, doc: dict) -> None:
    with open(path, "a") as f:
        f.write(json.dumps(doc) + "\n")


def answer(fd: int, rules: dict[str, int], suffix: bool, metadata: str, out: str) -> None:
    buf = bytearray(NOTIF.size)
    try:
        fcntl.ioctl(fd, NOTIF_RECV, buf)
    except OSError:  # ENOENT: the caller was killed meanwhile
        return
    nid, pid, _flags, nr, _arch, _ip, *args = NOTIF.unpack(buf)
    path = read_path(pid, args[PATH_ARG[nr]]) if nr in PATH_ARG else ""
    record(out, {"nr": nr, "path": path, "pid": pid})
    val, error, flags = 0, 0, FLAG_CONTINUE
    if path in rules:
        error, flags = -rules[path], 0
    elif suffix and nr in MKDIRS and path.startswith("/"):
        try:
            os.mkdir(f"/proc/{pid}/root{path}-{metadata}")
        except OSError as e:
            error = -(e.errno or 1)
        flags = 0
    try:
        fcntl.ioctl(fd, NOTIF_ID_VALID, struct.pack("=Q", nid))
        fcntl.ioctl(fd, NOTIF_SEND, bytearray(RESP.pack(nid, val, error, flags)))
    except OSError:
        pass


def accept(listener: socket.socket, out: str) -> tuple[int, str] | None:
    conn, _ = listener.accept()
    with conn:
        fds = array.array("i")
        msg, anc, _flags, _addr = conn.recvmsg(1 << 16, socket.CMSG_SPACE(16 * fds.itemsize))
        for level, typ, data in anc:
            if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
                fds.frombytes(data[: len(data) - len(data) % fds.itemsize])
    state = json.loads(msg)
    is_listener = bool(fds) and os.readlink(f"/proc/self/fd/{fds[0]}") == "anon_inode:seccomp notify"
    record(out, {"state": state, "nfds": len(fds), "fd_is_listener": is_listener})
    for extra in fds[1:]:
        os.close(extra)
    return (fds[0], state.get("metadata", "")) if fds else None


def main() -> None:
    sock_path, out, *opts = sys.argv[1:]
    rules: dict[str, int] = {}
    suffix = False
    while opts:
        opt = opts.pop(0)
        if opt == "--errno":
            path, _, num = opts.pop(0).rpartition("=")
            rules[path] = int(num)
        elif opt == "--suffix":
            suffix = True
        else:
            raise SystemExit(f"unknown option {opt}")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(sock_path)
    listener.listen(8)
    notify: dict[int, str] = {}  # listener fd -> the metadata that came with it
    poller = select.poll()
    poller.register(listener, select.POLLIN)
    print("ready", flush=True)
    while True:
        for fd, events in poller.poll():
            if fd == listener.fileno():
                got = accept(listener, out)
                if got is not None:
                    notify[got[0]] = got[1]
                    poller.register(got[0], select.POLLIN)
            elif events & select.POLLIN:
                answer(fd, rules, suffix, notify[fd], out)
            else:  # POLLHUP: every process using that filter is gone
                poller.unregister(fd)
                os.close(fd)
                del notify[fd]


if __name__ == "__main__":
    main()
