"""`--preserve-fds` on runk-vm: the bytes of fds 3.. relayed into the guest, against runc and
runk's linux backend with the same bundle (runk.vm.host.fdrelay, runk.vm.guest.fdio).

Three boots: run with a pipe in, a pipe out and a socketpair (each way, half-close) and the
container's fd table; exec into a running container with a file read-only and a file in append
mode, a listening socket refused at exec and at create with nothing left behind, and a pod
member in that VM relaying through its member supervisor; and podman's `run --preserve-fds`.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import subprocess
import tempfile

import pytest

from .conftest import vm_processes
from .test_vm_pod import _member

pytestmark = pytest.mark.vm
BOOT = 120

# fd 3 -> fd 4 (pipes), fd 5 echoed back to itself (a socket), then the fds the container has
SCRIPT = "cat <&3 >&4; cat <&5 >&5; ls /proc/self/fd | sort -n | tr '\\n' ' '"


def with_fds(argv: list[str], fds: list[int], **kw: object) -> subprocess.CompletedProcess:
    """argv run with fds[i] as its fd 3+i (and nothing else of ours); stdout and stderr through
    files (a created container keeps its stdio open: a pipe would not end)."""
    high = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 100) for fd in fds]  # clear of 3..
    redirs = " ".join(f"{3 + i}>&{fd} {fd}>&-" for i, fd in enumerate(high))
    try:
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            r = subprocess.run(
                ["bash", "-c", f'exec "$@" {redirs}', "bash", *argv],
                pass_fds=high,
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
                **kw,  # type: ignore[arg-type]
            )
            out.seek(0)
            err.seek(0)
            r.stdout, r.stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
            return r
    finally:
        for fd in high:
            os.close(fd)


def relay_round(binary: str, root: str, bundle_path: str, cid: str) -> tuple[int, str, bytes, bytes, str]:
    """`run --preserve-fds 3` with fd 3 a pipe holding "hello" (closed), fd 4 a pipe we read,
    fd 5 a socketpair end we sent "ping" to and shut down: (rc, stdout, fd 4's bytes, the
    socket's bytes back, stderr)."""
    in_r, in_w = os.pipe()
    os.write(in_w, b"hello\n")
    os.close(in_w)
    out_r, out_w = os.pipe()
    ours, theirs = socket.socketpair()
    ours.sendall(b"ping\n")
    ours.shutdown(socket.SHUT_WR)
    try:
        r = with_fds(
            [binary, "--root", root, "run", "--preserve-fds", "3", "--bundle", bundle_path, cid],
            [in_r, out_w, theirs.fileno()],
            timeout=BOOT,
        )
    finally:
        os.close(in_r)
        os.close(out_w)
        theirs.close()
    with os.fdopen(out_r, "rb") as f:
        piped = f.read()
    ours.settimeout(30)
    back = b""
    while chunk := ours.recv(4096):
        back += chunk
    ours.close()
    return r.returncode, r.stdout, piped, back, r.stderr


def test_run_relays_pipes_and_a_socket_as_runc_passes_them(vmrt, runk, runc, bundle, cid):
    bundle.sh(SCRIPT)
    path = bundle.write()
    results = {}
    for name, rt in (("runc", runc), ("runk", runk), ("runk-vm", vmrt)):
        results[name] = relay_round(rt.binary, rt.root, path, f"{cid}-{name[-2:]}")
    rc, out, piped, back, err = results["runk-vm"]
    assert (rc, piped, back) == (0, b"hello\n", b"ping\n"), err
    assert out.split() == ["0", "1", "2", "3", "4", "5", "6"], out  # 6: ls's own /proc/self/fd
    for name in ("runc", "runk"):
        assert results[name][:4] == results["runk-vm"][:4], (name, results[name])


def test_exec_relays_files_and_a_listening_socket_is_refused(vmrt, bundle, cid, subreaper, tmp_path):
    src = tmp_path / "src"
    src.write_text("from a file\n")
    log = tmp_path / "log"
    log.write_text("first\n")
    bundle.args("sleep", "1000")
    path = bundle.write()
    r = subprocess.run(
        [vmrt.binary, "--root", vmrt.root, "create", "--bundle", path, cid],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=tempfile.TemporaryFile(),
        timeout=BOOT,
    )
    assert r.returncode == 0
    assert vmrt("start", cid).rc == 0
    rd = os.open(src, os.O_RDONLY)
    ap = os.open(log, os.O_WRONLY | os.O_APPEND)
    try:
        r2 = with_fds(
            [
                vmrt.binary,
                "--root",
                vmrt.root,
                "exec",
                "--preserve-fds",
                "2",
                cid,
                "sh",
                "-c",
                "cat <&3; echo appended >&4",
            ],
            [rd, ap],
            timeout=60,
        )
    finally:
        os.close(rd)
        os.close(ap)
    assert (r2.returncode, r2.stdout) == (0, "from a file\n"), r2.stderr
    assert log.read_text() == "first\nappended\n"

    # a listening socket cannot be relayed: refused, before anything is made
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(1)
    try:
        r3 = with_fds(
            [vmrt.binary, "--root", vmrt.root, "exec", "--preserve-fds", "1", cid, "true"], [lsock.fileno()], timeout=60
        )
        assert r3.returncode == 255, r3  # runc exec's code for an exec that failed
        assert "--preserve-fds: fd 3 is a listening socket" in r3.stderr and "Traceback" not in r3.stderr, r3.stderr
        other = f"{cid}-l"
        r4 = with_fds(
            [vmrt.binary, "--root", vmrt.root, "create", "--preserve-fds", "1", "--bundle", path, other],
            [lsock.fileno()],
            timeout=60,
        )
    finally:
        lsock.close()
    assert r4.returncode == 1, r4
    assert len(r4.stderr.strip().splitlines()) == 1, r4.stderr
    assert "--preserve-fds: fd 3 is a listening socket" in r4.stderr, r4.stderr
    assert not os.path.exists(os.path.join(vmrt.root, other))
    assert len(vm_processes(vmrt.root)) == 2  # only the running container's qemu and virtiofsd

    # a pod member (in this container's VM): its member supervisor relays them the same way
    member = _member(tmp_path, bundle, "m", vmrt.state(cid)["pid"], "cat <&3 >&4; echo member-$?")
    in_r, in_w = os.pipe()
    os.write(in_w, b"to the member\n")
    os.close(in_w)
    out_r, out_w = os.pipe()
    mid = f"{cid}-m"
    try:
        r5 = with_fds(
            [vmrt.binary, "--root", vmrt.root, "create", "--preserve-fds", "2", "--bundle", member.write(), mid],
            [in_r, out_w],
            timeout=60,
        )
    finally:
        os.close(in_r)
        os.close(out_w)
    assert r5.returncode == 0, r5.stderr
    assert json.load(open(os.path.join(vmrt.root, mid, "state.json")))["sandbox"]["pod"]  # no VM of its own
    assert vmrt("start", mid).rc == 0
    with os.fdopen(out_r, "rb") as f:
        assert f.read() == b"to the member\n"
    assert vmrt("delete", "--force", mid).rc == 0
    assert vmrt("delete", "--force", cid).rc == 0


def test_podman_run_preserve_fds(vmrt, podman):
    run, image = podman
    in_r, in_w = os.pipe()
    os.write(in_w, b"through podman\n")
    os.close(in_w)
    try:
        argv = [*run.argv, "run", "--rm", "--preserve-fds", "1", image, "sh", "-c", "cat <&3; ls /proc/self/fd"]
        r = with_fds(argv, [in_r], env=run.env, timeout=300)
    finally:
        os.close(in_r)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["through", "podman", "0", "1", "2", "3", "4"], r.stdout
