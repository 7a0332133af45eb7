"""The process plumbing podman and systemd users rely on: NOTIFY_SOCKET, LISTEN_FDS,
--console-socket with SCM_RIGHTS, and the pid file written only when the process is there."""

from __future__ import annotations

import array
import fcntl
import json
import os
import shutil
import socket
import subprocess
import tempfile

import pytest

from tests.conftest import RUNK

SDNOTIFY_C = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
int main(int argc, char **argv) {
    const char *path = getenv("NOTIFY_SOCKET");
    if (!path) { fprintf(stderr, "no NOTIFY_SOCKET\n"); return 2; }
    int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    strncpy(a.sun_path, path, sizeof(a.sun_path) - 1);
    const char *msg = argc > 1 ? argv[1] : "READY=1";
    if (sendto(fd, msg, strlen(msg), 0, (struct sockaddr *)&a, sizeof(a)) < 0) { perror("sendto"); return 1; }
    return 0;
}
"""


def test_sd_notify_from_inside_reaches_the_host_socket(runk, bundle, cid, tmp_path, leak_audit):
    if not shutil.which("gcc"):
        pytest.skip("needs gcc to build a static sd_notify client")
    rootfs = bundle.own_rootfs()
    src = tmp_path / "sdnotify.c"
    src.write_text(SDNOTIFY_C)
    subprocess.run(["gcc", "-static", "-Os", "-o", os.path.join(rootfs, "sdnotify"), str(src)], check=True)
    sock_path = str(tmp_path / "notify.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(sock_path)
    s.settimeout(20)
    bundle.sh('echo "NOTIFY_SOCKET=$NOTIFY_SOCKET"; /sdnotify "READY=1"').write()
    env = dict(os.environ, NOTIFY_SOCKET=sock_path)
    r = runk("run", "--bundle", bundle.path, cid, env=env)
    assert r.rc == 0, r
    assert r.out.strip() == "NOTIFY_SOCKET=/run/notify/notify.sock"
    assert s.recv(100) == b"READY=1"
    s.close()


def test_listen_fds_are_passed_with_listen_pid_1(bundle, cid, tmp_path):
    """systemd socket activation: LISTEN_FDS=N with LISTEN_PID=<runk's pid> makes runk pass
    fds 3..3+N-1 and set LISTEN_FDS=N LISTEN_PID=1 in the container (runc)."""
    from tests.conftest import Runtime, requires

    requires("root", "runk")
    root = tempfile.mkdtemp(prefix="runk-listen-", dir="/run")
    bundle.sh('echo "$LISTEN_FDS $LISTEN_PID"; ls /proc/self/fd | sort -n | tr "\\n" " "').write()
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen()
    out = tmp_path / "out"
    # the shell sets LISTEN_PID to the pid of the runk it execs, as systemd does
    script = f"export LISTEN_FDS=1; export LISTEN_PID=$$; exec {RUNK} --root {root} run --bundle {bundle.path} {cid}"
    fd = lsock.fileno()
    try:
        with open(out, "w") as f:
            r = subprocess.run(
                ["sh", "-c", script],
                stdout=f,
                stderr=subprocess.PIPE,
                text=True,
                preexec_fn=lambda: os.dup2(fd, 3),
                pass_fds=(3,) if fd == 3 else (),
                close_fds=False,
                timeout=60,
            )
        assert r.returncode == 0, r.stderr
        lines = out.read_text().split("\n")
        assert lines[0] == "1 1"
        assert lines[1].split()[:4] == ["0", "1", "2", "3"]
    finally:
        lsock.close()
        Runtime(RUNK, root).cleanup()


def _recv_master(listener: socket.socket) -> tuple[bytes, list[int]]:
    conn, _ = listener.accept()
    fds = array.array("i")
    msg, anc, _flags, _addr = conn.recvmsg(1024, socket.CMSG_SPACE(4 * 4))
    for level, typ, data in anc:
        if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
            fds.frombytes(data[: len(data) - (len(data) % 4)])
    conn.close()
    return msg, list(fds)


def test_console_socket_gets_a_pty_master_from_the_containers_devpts(runk, bundle, cid, tmp_path, leak_audit):
    bundle.config["process"]["terminal"] = True
    bundle.sh("tty; stty size; echo done").write()
    sock_path = str(tmp_path / "console.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(sock_path)
    listener.listen(1)
    r = runk("create", "--bundle", bundle.path, "--console-socket", sock_path, cid)
    assert r.rc == 0, r
    msg, fds = _recv_master(listener)
    assert msg == b"/dev/ptmx" and len(fds) == 1
    master = fds[0]
    # a pty master: TIOCGPTN answers, and it is pts number 0 of the container's own devpts
    ptn = fcntl.ioctl(master, 0x80045430, b"\0\0\0\0")
    assert int.from_bytes(ptn, "little") == 0
    assert runk("start", cid).rc == 0
    data = b""
    while b"done" not in data:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        data += chunk
    text = data.decode()
    assert "/dev/pts/0" in text and "done" in text
    os.close(master)
    listener.close()
    runk("delete", "--force", cid, check=True)


def test_console_socket_without_terminal_is_refused(runk, bundle, cid, tmp_path, leak_audit):
    r = runk("create", "--bundle", bundle.path, "--console-socket", str(tmp_path / "x.sock"), cid)
    assert r.rc == 1 and "cannot use console socket" in r.err
    assert runk("state", cid).rc == 1


def test_terminal_without_console_socket_is_refused_on_create(runk, bundle, cid, leak_audit):
    bundle.config["process"]["terminal"] = True
    bundle.write()
    r = runk("create", "--bundle", bundle.path, cid)
    assert r.rc == 1 and "cannot allocate tty if runk will detach without setting console socket" in r.err


def test_run_with_terminal_relays_through_an_internal_pty(runk, bundle, cid, leak_audit):
    bundle.config["process"]["terminal"] = True
    bundle.sh("tty; echo hello-tty").write()
    r = runk("run", "--bundle", bundle.path, cid)
    assert r.rc == 0, r
    assert "/dev/pts/0" in r.out and "hello-tty" in r.out


def test_pid_file_is_written_only_after_the_process_exists(runk, bundle, cid, tmp_path, leak_audit):
    pidfile = tmp_path / "pid"
    bundle.config["process"]["args"] = ["sleep", "100"]
    bundle.config["mounts"].append({"destination": "/x", "type": "bind", "source": "/no/such/dir", "options": ["bind"]})
    bundle.write()
    r = runk("create", "--bundle", bundle.path, "--pid-file", str(pidfile), cid)
    assert r.rc == 1
    assert not pidfile.exists()
    bundle.config["mounts"].pop()
    bundle.write()
    r = runk("create", "--bundle", bundle.path, "--pid-file", str(pidfile), cid)
    assert r.rc == 0
    pid = int(pidfile.read_text())
    assert json.loads(runk("state", cid).out)["pid"] == pid
    assert os.path.exists(f"/proc/{pid}")
    runk("delete", "--force", cid, check=True)


def test_channel_reads_what_the_peer_said_before_it_exited_with_a_message_unread():
    """The init can fail (a bad mount) before it reads the parent's cgroup_done; it sends its
    error and exits. The kernel then reports ECONNRESET to the parent once, ahead of the queued
    error message: the channel must still deliver that message, then EOF."""
    from runk.linux import channel

    parent, child = channel.Channel.pair()
    try:
        parent.send(channel.CGROUP_DONE)  # never read by the child
        child.send_error("mount /no/such/src: no such file or directory", 2, "init")
        child.close()
        msg, _ = parent.recv()
        assert msg is not None and msg["t"] == channel.ERROR and "no such file" in msg["msg"]
        assert parent.recv() == (None, [])
    finally:
        parent.close()
