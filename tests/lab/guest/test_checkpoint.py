"""Checkpoint and restore through CRIU on the lab's 6.1 kernel, runk and runc side by side.

A busybox shell counts in memory and writes each number to a file it keeps open on the
container's /dev/shm (a tmpfs saved in the images): after restore the count goes on from where it
was (its memory came back), the open file is the same, the restored init is in the cgroup made
for it, and state, exec, ps, kill and delete work on it. The container's stdio are pipes (as
conmon gives them; CRIU cannot save a file from outside the container's mounts).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import uuid

import pytest
from conftest import BUNDLE, CG, RUNC, RUNK, proc_cgroup, read, runtimes, sh

pytestmark = pytest.mark.second_root  # CRIU and podman: the second root session (tests/lab/conftest.py)

COUNTER = (
    "i=0; exec 3>>/dev/shm/log; while :; do i=$((i+1)); echo $i > /dev/shm/count; echo $i >&3; echo $i; sleep 0.1; done"
)
TIMES: dict[str, list[float]] = {}


@pytest.fixture(scope="module", autouse=True)
def _criu_warm(tmp_path_factory) -> None:
    """CRIU's first run after boot probes the kernel (its kerndat cache, seconds under TCG):
    paid here once, so the times below compare runk and runc, not who ran first."""
    d = tmp_path_factory.mktemp("criu-warm")
    sh("criu", "check", "--log-file", str(d / "check.log"), cwd=str(d))


class Pipes:
    """stdin/stdout/stderr pipes for a detached container; we keep the other ends."""

    def __init__(self) -> None:
        self.in_r, self.in_w = os.pipe()
        self.out_r, self.out_w = os.pipe()

    def child(self) -> dict:
        return {"stdin": self.in_r, "stdout": self.out_w, "stderr": self.out_w}

    def detach(self) -> None:
        for fd in (self.in_r, self.out_w):
            os.close(fd)
        self.in_r = self.out_w = -1

    def close(self) -> None:
        for fd in (self.in_r, self.in_w, self.out_r, self.out_w):
            if fd >= 0:
                os.close(fd)


def _rt(rt, *args: str, pipes: Pipes | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    """The runtime with the container's pipes as its stdio (a detached container keeps them:
    never a pipe of ours that we wait to end); its error lines come from --log."""
    import tempfile

    with tempfile.NamedTemporaryFile() as log:
        if pipes:
            kw = pipes.child()
        else:
            kw = {"stdin": subprocess.DEVNULL, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        cp = subprocess.run([rt.binary, "--root", rt.root, "--log", log.name, *args], timeout=timeout, **kw)
        cp.stderr = open(log.name, "rb").read()
    return cp


def _count(pid: int) -> int:
    with open(f"/proc/{pid}/root/dev/shm/count") as f:
        return int(f.read().strip() or 0)


def _wait_count(pid: int, above: int, within: float = 20) -> int:
    end = time.monotonic() + within
    while time.monotonic() < end:
        try:
            n = _count(pid)
        except (OSError, ValueError):
            n = 0
        if n > above:
            return n
        time.sleep(0.05)
    raise AssertionError(f"the counter of {pid} did not pass {above} within {within} s")


def _timed(label: str, rt, *args: str, pipes: Pipes | None = None) -> subprocess.CompletedProcess:
    t = time.monotonic()
    cp = _rt(rt, *args, pipes=pipes)
    TIMES.setdefault(label, []).append(time.monotonic() - t)
    return cp


def _start(rt, bundle, name: str, cg: str) -> tuple[int, Pipes]:
    b = bundle.write(["sh", "-c", COUNTER], cgroups_path=cg)
    p = Pipes()
    cp = _rt(rt, "run", "-d", "--bundle", b, name, pipes=p)
    p.detach()
    assert cp.returncode == 0, cp.stderr
    pid = rt.state(name)["pid"]
    _wait_count(pid, 2)
    return pid, p


def _cycle(rt, bundle, tmp_path, kind: str) -> None:
    """run -d, checkpoint, restore -d, and everything a user checks afterwards."""
    name = f"cr-{kind}-{uuid.uuid4().hex[:6]}"
    cg = f"/lab-cr/{name}"
    pid, p = _start(rt, bundle, name, cg)
    images, work = str(tmp_path / "images"), str(tmp_path / "work")
    cp = _timed(f"{kind} checkpoint", rt, "checkpoint", "--image-path", images, "--work-path", work, name)
    assert cp.returncode == 0, (cp.stderr, sh("tail", "-20", f"{work}/dump.log"))
    assert json.loads(read(f"{images}/descriptors.json"))[1].startswith("pipe:[")
    # the container is gone after a dump without --leave-running, its cgroup too
    st = rt("state", name)
    assert st.rc == 1 and "does not exist" in st.err, st
    assert not os.path.exists(f"/proc/{pid}/root/dev/shm/count") or sh("kill", "-0", str(pid)).rc != 0
    assert not os.path.exists(CG + cg)

    q = Pipes()
    pidfile = str(tmp_path / "pid")
    cp = _timed(
        f"{kind} restore",
        rt,
        "restore",
        "-d",
        "--bundle",
        bundle.path,
        "--image-path",
        images,
        "--work-path",
        work,
        "--pid-file",
        pidfile,
        name,
        pipes=q,
    )
    q.detach()
    assert cp.returncode == 0, (cp.stderr, sh("tail", "-30", f"{work}/restore.log"))
    state = rt.state(name)
    npid = state["pid"]
    assert state["status"] == "running"
    assert int(read(pidfile)) == npid
    # its memory came back: the count goes on from where the dump left it, not from 1
    at_restore = _count(npid)
    assert at_restore >= 3
    _wait_count(npid, at_restore + 2)
    out = [int(n) for n in os.read(q.out_r, 4096).decode().split()]
    # the new stdout pipe gets the count where the dump left it, one by one
    assert out and 3 <= out[0] <= at_restore and out == list(range(out[0], out[0] + len(out))), out
    # the file it keeps open is the same open file
    assert os.readlink(f"/proc/{npid}/fd/3") == "/dev/shm/log"
    log = read(f"/proc/{npid}/root/dev/shm/log").split()
    assert log[:3] == ["1", "2", "3"] and int(log[-1]) >= at_restore
    # back in its cgroup
    assert proc_cgroup(npid) == cg
    assert str(npid) in read(f"{CG}{cg}/cgroup.procs").split()
    # exec, ps
    # the log, not the count file (truncated at each write); and /sys/fs/cgroup as before the
    # dump: without a cgroup namespace the whole hierarchy, its own group at its path
    own = "test -f /sys/fs/cgroup$(sed -n 's/^0:://p' /proc/self/cgroup)/cgroup.procs && echo own-ok"
    ex = rt("exec", name, "sh", "-c", f"tail -n 1 /dev/shm/log; {own}")
    assert ex.rc == 0 and int(ex.out.split()[0]) >= at_restore and ex.out.split()[1:] == ["own-ok"], ex
    ps = rt("ps", "--format", "json", name)
    assert ps.rc == 0 and npid in json.loads(ps.out), ps
    # kill, delete: nothing left
    rt.ok("kill", name, "KILL")
    end = time.monotonic() + 10
    while rt.state(name)["status"] != "stopped" and time.monotonic() < end:
        time.sleep(0.05)
    rt.ok("delete", name)
    assert rt("state", name).rc == 1
    assert not os.path.exists(CG + cg)
    assert sh("kill", "-0", str(npid)).rc != 0
    p.close()
    q.close()


@pytest.fixture(params=runtimes())
def rt(request, runc, runk):
    return runk if request.param == "runk" else runc


def test_checkpoint_restore(rt, bundle, tmp_path):
    _cycle(rt, bundle, tmp_path, os.path.basename(rt.binary))


def _leave_running(rt, bundle, tmp_path, kind: str) -> None:
    name = f"crl-{kind}-{uuid.uuid4().hex[:6]}"
    cg = f"/lab-cr/{name}"
    pid, p = _start(rt, bundle, name, cg)
    images = str(tmp_path / "images")
    cp = _rt(rt, "checkpoint", "--leave-running", "--image-path", images, name)
    assert cp.returncode == 0, cp.stderr
    st = rt.state(name)
    assert st["status"] == "running" and st["pid"] == pid
    n = _count(pid)
    _wait_count(pid, n + 1)  # it goes on
    assert os.path.exists(f"{images}/inventory.img")
    rt.ok("delete", "--force", name)
    assert not os.path.exists(CG + cg)
    p.close()


def test_checkpoint_leave_running(rt, bundle, tmp_path):
    _leave_running(rt, bundle, tmp_path, os.path.basename(rt.binary))


def _pre_dump(rt, bundle, tmp_path, kind: str) -> None:
    name = f"crp-{kind}-{uuid.uuid4().hex[:6]}"
    cg = f"/lab-cr/{name}"
    pid, p = _start(rt, bundle, name, cg)
    base = tmp_path / "cp"
    cp = _rt(rt, "checkpoint", "--pre-dump", "--image-path", str(base / "pre"), name)
    assert cp.returncode == 0, cp.stderr
    assert rt.state(name)["status"] == "running"  # a pre-dump leaves it running
    bad = _rt(rt, "checkpoint", "--parent-path", str(base / "pre"), "--image-path", str(base / "final"), name)
    assert bad.returncode == 1 and b"--parent-path must be relative" in bad.stderr, bad.stderr
    missing = _rt(rt, "checkpoint", "--parent-path", "../nothing", "--image-path", str(base / "final"), name)
    assert missing.returncode == 1 and b"invalid --parent-path" in missing.stderr, missing.stderr
    cp = _rt(rt, "checkpoint", "--parent-path", "../pre", "--image-path", str(base / "final"), name)
    assert cp.returncode == 0, cp.stderr
    assert os.path.islink(base / "final" / "parent")
    q = Pipes()
    cp = _rt(rt, "restore", "-d", "--bundle", bundle.path, "--image-path", str(base / "final"), name, pipes=q)
    q.detach()
    assert cp.returncode == 0, cp.stderr
    npid = rt.state(name)["pid"]
    n = _count(npid)
    assert n >= 3
    _wait_count(npid, n + 1)
    rt.ok("delete", "--force", name)
    assert not os.path.exists(CG + cg)
    p.close()
    q.close()


def test_pre_dump_and_parent(rt, bundle, tmp_path):
    _pre_dump(rt, bundle, tmp_path, os.path.basename(rt.binary))


def _recv_master(listener: socket.socket) -> int:
    conn, _ = listener.accept()
    with conn:
        _msg, anc, _f, _a = conn.recvmsg(64, socket.CMSG_SPACE(4))
    return int.from_bytes(anc[0][2][:4], "little")


def _console(rt, bundle, tmp_path, kind: str) -> None:
    """A terminal container: the restored one's new pty master arrives on --console-socket."""
    name = f"crt-{kind}-{uuid.uuid4().hex[:6]}"
    cg = f"/lab-cr/{name}"
    b = bundle.write(["sh", "-c", COUNTER], cgroups_path=cg)
    cfg = json.load(open(os.path.join(b, "config.json")))
    cfg["process"]["terminal"] = True
    json.dump(cfg, open(os.path.join(b, "config.json"), "w"))
    path = str(tmp_path / "console.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(1)
    listener.settimeout(60)
    import threading

    got: list[int] = []
    t = threading.Thread(target=lambda: got.append(_recv_master(listener)))
    t.start()
    rt.ok("run", "-d", "--console-socket", path, "--bundle", b, name)
    t.join(60)
    pid = rt.state(name)["pid"]
    _wait_count(pid, 2)
    images = str(tmp_path / "images")
    cp = _rt(rt, "checkpoint", "--image-path", images, name)
    assert cp.returncode == 0, cp.stderr
    os.close(got.pop())
    t = threading.Thread(target=lambda: got.append(_recv_master(listener)))
    t.start()
    cp = _rt(rt, "restore", "-d", "--console-socket", path, "--bundle", b, "--image-path", images, name)
    t.join(60)
    assert cp.returncode == 0, cp.stderr
    assert got, "no pty master on the console socket"
    master = got.pop()
    npid = rt.state(name)["pid"]
    n = _count(npid)
    _wait_count(npid, n + 1)
    data = b""
    end = time.monotonic() + 10
    while b"\n" not in data and time.monotonic() < end:
        data += os.read(master, 1024)
    assert data.strip().split(b"\r\n")[0].strip().isdigit(), data  # its output comes out of the new master
    assert os.readlink(f"/proc/{npid}/fd/1").startswith("/dev/pts/")
    rt.ok("delete", "--force", name)
    os.close(master)
    listener.close()
    assert not os.path.exists(CG + cg)


def test_restore_with_console_socket(rt, bundle, tmp_path):
    _console(rt, bundle, tmp_path, os.path.basename(rt.binary))


def _time_namespaces(rt, name: str) -> set[str]:
    """The time namespaces of the container's processes (one gone meanwhile left out)."""
    ps = rt("ps", "--format", "json", name)
    assert ps.rc == 0, ps
    out = set()
    for pid in json.loads(ps.out):
        try:
            out.add(os.readlink(f"/proc/{pid}/ns/time"))
        except FileNotFoundError:
            pass
    return out


def _bind_mounts_and_exec(rt, bundle, tmp_path, kind: str) -> None:
    """runc main's checkpoint.bats "bind mount, destination is symlink", "nested bind mounts"
    and "checkpoint/restore and exec" in one container: a bind at /conf, a symlink to /real/conf
    in the rootfs (CRIU finds the mount at /real/conf); a bind at /test from a source relative to
    the bundle and one at /test/for/nested inside it, whose mount point is removed from /test's
    source before the restore (made there again); then a process exec'd into the restored
    container (in the time namespace CRIU restored it into) and a second cycle that keeps it."""
    name = f"crb-{kind}-{uuid.uuid4().hex[:6]}"
    b = bundle.write(["sh", "-c", COUNTER], cgroups_path=f"/lab-cr/{name}")
    rootfs = tmp_path / "rootfs"
    sh("cp", "-a", os.path.join(BUNDLE, "rootfs"), str(rootfs))
    os.makedirs(rootfs / "real" / "conf")
    os.symlink("/real/conf", rootfs / "conf")
    srcs = {d: tmp_path / d for d in ("conf", "outer", "inner")}
    for d, path in srcs.items():
        os.mkdir(path)
        (path / "marker").write_text(d + "\n")
    cfg = json.load(open(os.path.join(b, "config.json")))
    cfg["root"]["path"] = str(rootfs)
    cfg["mounts"] += [
        {"type": "bind", "source": src, "destination": dest, "options": ["rbind", "rw"]}
        for src, dest in ((str(srcs["conf"]), "/conf"), ("outer", "/test"), (str(srcs["inner"]), "/test/for/nested"))
    ]
    json.dump(cfg, open(os.path.join(b, "config.json"), "w"))
    p = Pipes()
    cp = _rt(rt, "run", "-d", "--bundle", b, name, pipes=p)
    p.detach()
    assert cp.returncode == 0, cp.stderr
    _wait_count(rt.state(name)["pid"], 2)
    assert os.path.isdir(srcs["outer"] / "for" / "nested")  # the point the create made, in the source
    images, work = str(tmp_path / "images"), str(tmp_path / "work")
    pipes = [p]
    sleeper = ""
    for cycle in (1, 2):
        cp = _rt(rt, "checkpoint", "--image-path", images, "--work-path", work, name)
        assert cp.returncode == 0, (cycle, cp.stderr, sh("grep", "-E", "Error|Warn", f"{work}/dump.log"))
        if cycle == 1:
            shutil.rmtree(srcs["outer"] / "for")
        q = Pipes()
        pipes.append(q)
        cp = _rt(rt, "restore", "-d", "--bundle", b, "--image-path", images, "--work-path", work, name, pipes=q)
        q.detach()
        assert cp.returncode == 0, (cycle, cp.stderr, sh("grep", "-E", "Error|Warn", f"{work}/restore.log"))
        npid = rt.state(name)["pid"]
        _wait_count(npid, _count(npid))
        cat = "cat /conf/marker /real/conf/marker /test/marker /test/for/nested/marker"
        if sleeper:  # the process exec'd before this cycle came back with the container
            ex = rt("exec", name, "sh", "-c", f"{cat} && ls -d /proc/{sleeper}")
            assert ex.rc == 0 and ex.out.split() == ["conf", "conf", "outer", "inner", f"/proc/{sleeper}"], ex
        else:
            ex = rt("exec", name, "sh", "-c", f"{cat}; sleep 1000 </dev/null >/dev/null 2>&1 & echo $!")
            assert ex.rc == 0 and ex.out.split()[:4] == ["conf", "conf", "outer", "inner"], ex
            sleeper = ex.out.split()[4]
            # every process of the container, the exec'd one too, in one time namespace
            assert len(_time_namespaces(rt, name)) == 1
    # nothing of the restores is left mounted in the rootfs on this side
    assert not [ln for ln in read("/proc/self/mountinfo").splitlines() if str(rootfs) in ln]
    rt.ok("delete", "--force", name)
    for pp in pipes:
        pp.close()


def test_runk_checkpoint_bind_mounts_and_exec(runk, bundle, tmp_path):
    """runk only: runc 1.1.5 leaves the exec'd process outside the restored time namespace (runc
    main passes the three bats cases this follows)."""
    _bind_mounts_and_exec(runk, bundle, tmp_path, "runk")


def test_runk_restore_empty_ns_and_errors(runk, bundle, tmp_path):
    """--empty-ns network is accepted (and is the default anyway); an unknown one is refused as
    runc refuses it; a restore from a directory without images fails and leaves nothing."""
    name = f"cre-{uuid.uuid4().hex[:6]}"
    b = bundle.write(["sh", "-c", COUNTER], cgroups_path=f"/lab-cr/{name}")
    for binary in (RUNK, RUNC):
        r = sh(
            binary, "--root", runk.root, "restore", "--empty-ns", "mount", "-d", "--bundle", b, name, cwd=str(tmp_path)
        )
        assert r.rc == 1 and 'namespace \\"mount\\" is not supported' in r.err, r
    empty = str(tmp_path / "empty")
    r = runk("restore", "-d", "--bundle", b, "--image-path", empty, name)
    assert r.rc == 1 and "descriptors.json" in r.err, r
    assert runk("state", name).rc == 1
    assert not os.path.exists(f"{CG}/lab-cr/{name}")


def _pm(*argv: str, timeout: float = 180) -> str:
    """podman with files for stdio (conmon outlives `run -d` and would hold a pipe open)."""
    import tempfile

    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        cp = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, timeout=timeout)
        out.seek(0)
        err.seek(0)
        o, e = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    assert cp.returncode == 0, f"{' '.join(argv)}: rc={cp.returncode} {o[-800:]} {e[-1500:]}"
    return o


def _podman(runtime: str, image: str) -> None:
    """`podman container checkpoint` and `restore` with `runtime` as podman's OCI runtime."""
    name = f"crpod-{os.path.basename(runtime)}-{uuid.uuid4().hex[:6]}"
    # podman's cgroupfs manager (test_systemd_checkpoint.py has the systemd manager's cycle)
    pm = ["podman", "--cgroup-manager", "cgroupfs", "--runtime", runtime]
    _pm(*pm, "run", "-d", "--network", "none", "--name", name, image, "sh", "-c", COUNTER)
    try:
        pid_s, cid = _pm(*pm, "inspect", "--format", "{{.State.Pid}} {{.Id}}", name).split()
        _wait_count(int(pid_s), 2)
        t = time.monotonic()
        try:
            _pm(*pm, "container", "checkpoint", name)
        except AssertionError as e:
            import glob
            import re

            logs = glob.glob(f"/var/lib/containers/storage/overlay-containers/{cid}*/userdata/dump.log")
            errors = [ln for ln in (read(logs[0]).splitlines() if logs else []) if re.search(r"Error|Warn", ln)]
            raise AssertionError(f"{e}\ndump.log: " + "\n".join(errors[-25:])) from None
        TIMES.setdefault(f"podman+{os.path.basename(runtime)} checkpoint", []).append(time.monotonic() - t)
        assert _pm(*pm, "inspect", "--format", "{{.State.Status}}", name).strip() == "exited"
        t = time.monotonic()
        _pm(*pm, "container", "restore", name)
        TIMES.setdefault(f"podman+{os.path.basename(runtime)} restore", []).append(time.monotonic() - t)
        status, npid_s = _pm(*pm, "inspect", "--format", "{{.State.Status}} {{.State.Pid}}", name).split()
        assert status == "running"
        npid = int(npid_s)
        n = _count(npid)
        assert n >= 3
        _wait_count(npid, n + 1)
        assert int(_pm(*pm, "exec", name, "tail", "-n", "1", "/dev/shm/log").strip()) >= n
        logs = _pm(*pm, "logs", name).split()
        assert logs[:3] == ["1", "2", "3"]
    finally:
        sh(*pm, "rm", "-f", "-t", "0", name, timeout=120)
    assert sh(*pm, "container", "exists", name).rc == 1


@pytest.mark.parametrize("runtime", runtimes())
def test_podman_checkpoint_restore(runtime, podman_image):
    _podman(RUNK if runtime == "runk" else RUNC, podman_image)


def test_zz_times():
    """Not a check: the times of the cycles above, runk's and runc's, shown on the host as this
    test's skip reason (the lab reports a guest test's output only when it fails)."""
    report = "; ".join(f"{label} " + ", ".join(f"{t:.2f} s" for t in ts) for label, ts in sorted(TIMES.items()))
    pytest.skip(f"times: {report or 'no cycle ran'}")
