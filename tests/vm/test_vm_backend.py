"""runk-vm on real micro-VMs (TCG here: ~5 s a create): the CLI and podman behave as with the
native backend while the container runs in a guest with its own kernel.

Eleven tests, fourteen boots: run (output, exit code, guest kernel), stdin through a block-image
rootfs, the create/start/state/kill/delete lifecycle with nothing left behind and the
supervisor dying of the container's signal, a TERM sent straight to the supervisor, exec (pipes
and --tty over a console socket), a terminal init, createContainer/startContainer hooks in the
guest with ps's table and freed guest memory returning to the host, memory and CPU limits, a
CRI-annotated sandbox's size, a failed create and a killed supervisor, and podman --runtime
runk-vm.
"""

from __future__ import annotations

import array
import json
import os
import select
import signal
import socket
import subprocess
import tempfile
import time

import pytest

from runk.vm.image import assets

from .conftest import vm_processes

pytestmark = pytest.mark.vm
BOOT = 120  # seconds allowed for one create under TCG on a loaded host


def release(guest) -> str:
    return assets.load_kernel(guest.dir).release


def wait_exit(pid: int, timeout: float = 60) -> int:
    """The wait status of `pid`, a child of this (subreaper) process."""
    fd = os.pidfd_open(pid)
    try:
        assert select.select([fd], [], [], timeout)[0], f"{pid} still runs after {timeout} s"
    finally:
        os.close(fd)
    return os.waitpid(pid, 0)[1]


def create(vmrt, bundle, cid, *extra, out=None) -> int:
    """runk-vm create with the container's stdout in `out` (a file); returns the pid."""
    pidfile = os.path.join(bundle.path, "pid")
    # a file, not a pipe, for stderr: the supervisor keeps the container's stdio open
    with tempfile.TemporaryFile() as err:
        r = subprocess.run(
            [
                vmrt.binary,
                "--root",
                vmrt.root,
                "create",
                "--bundle",
                bundle.write(),
                "--pid-file",
                pidfile,
                *extra,
                cid,
            ],
            stdin=subprocess.DEVNULL,
            stdout=out or subprocess.DEVNULL,
            stderr=err,
            timeout=BOOT,
        )
        err.seek(0)
        assert r.returncode == 0, err.read()
    with open(pidfile) as f:
        return int(f.read())


def guest_ram_kb(root: str, cid: str) -> int:
    """The resident guest RAM of the container's qemu (its memfd memory backend), in KiB."""
    with open(os.path.join(root, cid, "vm.json")) as f:
        pid = json.load(f)["qemu"][0]
    total, ram = 0, False
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            head = line.split()
            if "-" in head[0] and not head[0].endswith(":"):
                ram = len(head) > 5 and head[5].startswith("/memfd:")
            elif ram and head[0] == "Rss:":
                total += int(head[1])
    return total


def read_until(path: str, text: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(path) as f:
            data = f.read()
        if text in data:
            return data
        time.sleep(0.1)
    raise AssertionError(f"{text!r} not in {data!r}")


def recv_master(listener: socket.socket) -> int:
    conn, _ = listener.accept()
    fds = array.array("i")
    _msg, anc, _f, _a = conn.recvmsg(64, socket.CMSG_SPACE(4))
    for level, typ, data in anc:
        if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
            fds.frombytes(data[:4])
    conn.close()
    assert len(fds) == 1, "no pty master came over the console socket"
    return fds[0]


def pty_read(master: int, text: bytes, timeout: float = 30) -> bytes:
    got, deadline = b"", time.monotonic() + timeout
    while text not in got:
        assert select.select([master], [], [], max(0, deadline - time.monotonic()))[0], got
        got += os.read(master, 4096)
    return got


def test_run_output_exit_code_and_the_guest_kernel(vmrt, bundle, cid, guest):
    bundle.sh("echo out; echo err >&2; uname -r; exit 3")
    r = vmrt("run", "--bundle", bundle.write(), cid, timeout=BOOT)
    assert r.rc == 3, r
    assert r.out == f"out\n{release(guest)}\n"
    assert "err\n" in r.err
    assert release(guest) != os.uname().release


def test_stdin_through_a_block_image_rootfs(vmrt, bundle, cid):
    bundle.config["annotations"] = {"runk.vm.rootfs": "block"}
    bundle.sh("cat; grep ' / ' /proc/self/mountinfo")
    r = vmrt("run", "--bundle", bundle.write(), cid, input="from the host\n", timeout=BOOT)
    assert r.rc == 0, r
    lines = r.out.splitlines()
    assert lines[0] == "from the host"
    assert " - ext4 /dev/vda " in lines[1]  # the mkfs.ext4 -d image


def test_lifecycle_leaves_nothing_behind(vmrt, bundle, cid, subreaper):
    rootfs = bundle.own_rootfs()
    bundle.config["root"]["readonly"] = False
    bundle.sh("echo ran > /ran; exec sleep 1000")
    pid = create(vmrt, bundle, cid)
    state = vmrt.state(cid)
    assert (state["status"], state["pid"]) == ("created", pid)
    cdir = os.path.join(vmrt.root, cid)
    with open(os.path.join(cdir, "vm.json")) as f:
        info = json.load(f)
    assert info["accel"] in ("tcg", "kvm") and info["accel_reason"].startswith(info["accel"])
    vm_pids = [info["qemu"][0], info["virtiofsd"][0]]
    assert all(os.path.exists(f"/proc/{p}") for p in vm_pids)
    assert not os.path.exists(os.path.join(rootfs, "ran"))  # nothing runs before start
    assert vmrt("start", cid).rc == 0
    assert vmrt.state(cid)["status"] == "running"
    deadline = time.monotonic() + 20
    while not os.path.exists(os.path.join(rootfs, "ran")):  # written through virtio-fs
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert vmrt("kill", cid, "KILL").rc == 0
    st = wait_exit(pid)
    assert os.WIFSIGNALED(st) and os.WTERMSIG(st) == 9  # conmon would report 137
    assert vmrt.state(cid)["status"] == "stopped"
    assert vmrt("delete", cid).rc == 0
    assert not os.path.exists(cdir)
    assert vm_processes(vmrt.root) == []


def test_a_signal_to_the_supervisor_reaches_the_container(vmrt, bundle, cid, subreaper, tmp_path):
    bundle.sh("trap 'echo term; exit 42' TERM; echo ready; while :; do sleep 0.1; done")
    out = str(tmp_path / "out")
    with open(out, "w") as f:
        pid = create(vmrt, bundle, cid, out=f)
    assert vmrt("start", cid).rc == 0
    read_until(out, "ready")
    os.kill(pid, signal.SIGTERM)  # as podman may, by pid
    st = wait_exit(pid)
    assert os.WIFEXITED(st) and os.WEXITSTATUS(st) == 42
    assert read_until(out, "term") == "ready\nterm\n"
    assert vmrt("delete", cid).rc == 0


def test_exec_pipes_and_tty(vmrt, bundle, cid, subreaper, tmp_path):
    bundle.args("sleep", "1000")
    create(vmrt, bundle, cid)
    assert vmrt("start", cid).rc == 0
    r = vmrt("exec", cid, "sh", "-c", "cat; hostname; ps -o pid,args; exit 7", input="in\n")
    assert r.rc == 7, r
    lines = r.out.splitlines()
    assert lines[:2] == ["in", bundle.config["hostname"]]
    assert "    1 sleep 1000" in lines  # the container's pid namespace
    sock_path = str(tmp_path / "console.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(sock_path)
    listener.listen(1)
    pidfile = str(tmp_path / "exec.pid")
    proc = json.dumps(dict(bundle.config["process"], args=["sh", "-c", "tty; read x; exit 4"], terminal=True))
    (tmp_path / "process.json").write_text(proc)
    r = vmrt(
        "exec",
        "--detach",
        "--tty",
        "--console-socket",
        sock_path,
        "--pid-file",
        pidfile,
        "--process",
        str(tmp_path / "process.json"),
        cid,
    )
    assert r.rc == 0, r
    master = recv_master(listener)
    assert pty_read(master, b"\n").startswith(b"/dev/pts/")
    os.write(master, b"go\r")
    with open(pidfile) as f:
        st = wait_exit(int(f.read()))
    assert os.WIFEXITED(st) and os.WEXITSTATUS(st) == 4
    os.close(master)
    assert vmrt("delete", "--force", cid).rc == 0


def test_terminal_init_over_the_console_socket(vmrt, bundle, cid, subreaper, tmp_path):
    bundle.config["process"]["terminal"] = True
    bundle.sh("tty; read x; echo got-$x; exit 5")
    sock_path = str(tmp_path / "console.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(sock_path)
    listener.listen(1)
    pid = create(vmrt, bundle, cid, "--console-socket", sock_path)
    master = recv_master(listener)
    assert vmrt("start", cid).rc == 0
    assert b"/dev/pts/0" in pty_read(master, b"\n")
    os.write(master, b"hi\r")
    assert b"got-hi\r\n" in pty_read(master, b"got-hi\r\n")  # the guest pty's line discipline
    st = wait_exit(pid)
    assert os.WIFEXITED(st) and os.WEXITSTATUS(st) == 5
    os.close(master)


def test_limits_size_the_vm_and_apply_in_the_guest(vmrt, bundle, cid):
    bundle.config["linux"]["resources"] = {"memory": {"limit": 64 << 20}, "cpu": {"quota": 200000, "period": 100000}}
    bundle.sh(
        "p=$(cut -d: -f3 /proc/self/cgroup); cat /sys/fs/cgroup$p/memory.max "
        "2>/dev/null || cat /sys/fs/cgroup/memory.max; grep MemTotal /proc/meminfo; nproc"
    )
    r = vmrt("run", "--bundle", bundle.write(), cid, timeout=BOOT)
    assert r.rc == 0, r
    limit, memtotal, nproc = r.out.splitlines()
    assert limit == str(64 << 20)
    kb = int(memtotal.split()[1])
    assert 160 << 10 < kb <= 256 << 10  # 64 MiB + 192 MiB overhead
    assert int(nproc) == min(2, os.cpu_count())


def test_hooks_run_in_the_guest_and_ps_shows_its_table(vmrt, bundle, cid, subreaper, tmp_path):
    rootfs = bundle.own_rootfs()
    bundle.config["root"]["readonly"] = False
    # createContainer: the guest's files (the host /usr), cwd the rootfs; startContainer: the
    # container's files, after pivot_root
    bundle.config["hooks"] = {
        "createContainer": [{"path": "/usr/bin/sh", "args": ["sh", "-c", "uname -r > tmp/hook-c"]}],
        "startContainer": [{"path": "/bin/sh", "args": ["sh", "-c", "cat > /tmp/hook-s"]}],
    }
    bundle.sh("cat /tmp/hook-c; grep -o 'pid.:[0-9]*' /tmp/hook-s; echo up; exec sleep 1000")
    out = str(tmp_path / "out")
    with open(out, "w") as f:
        pid = create(vmrt, bundle, cid, out=f)
    assert os.path.exists(os.path.join(rootfs, "tmp", "hook-c"))  # before start, as runc
    assert not os.path.exists(os.path.join(rootfs, "tmp", "hook-s"))
    assert vmrt("start", cid).rc == 0
    lines = read_until(out, "up\n").splitlines()
    assert lines[0] != os.uname().release, lines  # the hook ran on the guest's kernel
    assert lines[1] == 'pid":1', lines  # as runc: the init's pid in its namespace
    (guest_pid,) = json.loads(vmrt("ps", "--format", "json", cid).out)
    assert guest_pid != pid  # the guest's numbering, not the supervisor's
    r = vmrt("ps", cid)
    assert r.rc == 0, r
    header, *rows = r.out.splitlines()
    assert header.split() == ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]
    assert len(rows) == 1, r.out
    row = rows[0].split()
    assert (row[0], row[1], row[5], row[7:]) == ("root", str(guest_pid), "?", ["sleep", "1000"]), row
    assert len(row[6]) == 8 and row[6][2] == row[6][5] == ":" and 0 <= int(row[3]) <= 99, row  # TIME, C
    r = vmrt("ps", cid, "-o", "pid")
    assert r.rc == 1 and "ps options -o pid: the container runs in a VM" in r.err, r
    # guest memory touched and freed again goes back to the host (free page reporting)
    before = guest_ram_kb(vmrt.root, cid)
    r = vmrt(
        "exec", cid, "sh", "-c", "dd if=/dev/zero of=/dev/shm/x bs=1M count=56 2>&1 && rm /dev/shm/x", timeout=BOOT
    )
    assert r.rc == 0 and "56+0 records out" in r.out, r
    deadline = time.monotonic() + 60
    while (now := guest_ram_kb(vmrt.root, cid)) > before + (24 << 10):
        assert time.monotonic() < deadline, f"qemu's guest RAM {before} KiB -> {now} KiB"
        time.sleep(0.5)
    assert vmrt("kill", cid, "KILL").rc == 0
    wait_exit(pid)
    assert vmrt("delete", cid).rc == 0


def test_cri_sandbox_annotations_size_the_vm(vmrt, bundle, cid):
    # a pod sandbox as containerd creates it: no limits of its own, the pod's sums as annotations
    bundle.config["linux"].pop("resources", None)
    bundle.config["annotations"] = {
        "io.kubernetes.cri.container-type": "sandbox",
        "io.kubernetes.cri.sandbox-memory": str(512 << 20),
        "io.kubernetes.cri.sandbox-cpu-quota": "200000",
        "io.kubernetes.cri.sandbox-cpu-period": "100000",
    }
    bundle.sh("grep MemTotal /proc/meminfo; nproc")
    r = vmrt("run", "--bundle", bundle.write(), cid, timeout=BOOT)
    assert r.rc == 0, r
    memtotal, nproc = r.out.splitlines()
    kb = int(memtotal.split()[1])
    assert 600 << 10 < kb <= 704 << 10, memtotal  # 512 MiB + 192 MiB overhead
    assert int(nproc) == min(2, os.cpu_count())
    # more than the host can give: refused before anything boots, naming the annotation
    bundle.config["annotations"]["io.kubernetes.cri.sandbox-memory"] = str(1 << 50)
    r = vmrt("create", "--bundle", bundle.write(), cid + "x", timeout=BOOT)
    assert r.rc == 1 and "annotations[io.kubernetes.cri.sandbox-memory]: the VM would need" in r.err, r
    assert "Traceback" not in r.err and not os.path.exists(os.path.join(vmrt.root, cid + "x"))
    assert vm_processes(vmrt.root) == []


def test_failed_create_and_killed_supervisor_leave_nothing(vmrt, bundle, cid, subreaper):
    bundle.config["mounts"].append({"destination": "/x", "type": "nosuchfs", "source": "none"})
    r = vmrt("create", "--bundle", bundle.write(), cid, timeout=BOOT)
    assert r.rc == 1 and "runk create failed: unable to start container process: mount /x: no such device" in r.err, r
    assert not os.path.exists(os.path.join(vmrt.root, cid))
    assert vm_processes(vmrt.root) == []
    bundle.config["mounts"].pop()
    bundle.args("sleep", "1000")
    pid = create(vmrt, bundle, cid)
    assert len(vm_processes(vmrt.root)) == 2
    os.kill(pid, signal.SIGKILL)
    wait_exit(pid)
    deadline = time.monotonic() + 10  # PR_SET_PDEATHSIG does the rest
    while vm_processes(vmrt.root):
        assert time.monotonic() < deadline, vm_processes(vmrt.root)
        time.sleep(0.1)
    assert vmrt.state(cid)["status"] == "stopped"
    assert vmrt("delete", cid).rc == 0
    assert not os.path.exists(os.path.join(vmrt.root, cid))


def test_podman_run_with_runk_vm(vmrt, podman, guest):
    run, image = podman
    r = run("run", "--rm", image, "echo", "hi")
    assert (r.returncode, r.stdout) == (0, "hi\n"), r.stderr
    r = run("run", "--rm", image, "uname", "-r")
    assert (r.returncode, r.stdout) == (0, release(guest) + "\n"), r.stderr
