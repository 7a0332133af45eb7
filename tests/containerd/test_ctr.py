"""containerd's runc shim (io.containerd.runc.v2) driving runk through its BinaryName option
(`ctr run --runc-binary`), and the same scenarios with runc.

A private containerd: its own config, root, state, sockets and runtime root under
/run/runk-ctrd-test-* and /var/lib/runk-ctrd-test-*; never the default /run/containerd socket.
(The shim itself puts its ttrpc socket in /run/containerd/s/<hash of our address>; containerd
1.6 has no option for that. The directories it had to create are removed again if they are
empty. ctr's IO fifos go to a private --fifo-dir.) The image is an OCI archive built here from
the busybox rootfs and loaded with `ctr image import`. Skips with the reason when containerd is
not installed or cannot start.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
import uuid

import pytest

from tests.conftest import RUNC, RUNK, requires, shared_rootfs
from tests.containerd.daemon import IMAGE, Containerd, build_oci_archive
from tests.podman.ptydrive import run_in_pty

pytestmark = pytest.mark.slow

RUNTIMES = {"runk": RUNK, "runc": RUNC}


@pytest.fixture(scope="module")
def containerd():
    requires("root", "busybox", "containerd")
    c = Containerd()
    try:
        c.start()
        archive = os.path.join(c.state_dir, "busybox-oci.tar")
        build_oci_archive(shared_rootfs(), archive)
        r = c.ctr("image", "import", archive, timeout=120)
        if r.returncode != 0:
            raise RuntimeError(f"ctr image import: {r.stderr}")
        os.unlink(archive)
    except Exception as e:
        c.stop()
        pytest.skip(f"containerd cannot run here: {e}")
    yield c
    c.stop()


@pytest.fixture(params=list(RUNTIMES))
def rt(request, containerd):
    binary = RUNTIMES[request.param]
    if not os.access(binary, os.X_OK):
        pytest.skip(f"needs {binary}")

    class Rt:
        name = request.param
        path = binary
        ids: list = []  # noqa: RUF012 -- the class is made per fixture call: this list is the test's

        def new_id(self) -> str:
            cid = f"{request.param}-{uuid.uuid4().hex[:8]}"
            self.ids.append(cid)
            return cid

        def run_opts(self) -> list:
            return ["--runc-binary", binary, "--runc-root", containerd.runtime_root, "--fifo-dir", containerd.fifo_dir]

        def exec_opts(self) -> list:
            return ["--fifo-dir", containerd.fifo_dir]

        def knows(self, cid: str) -> bool:
            r = subprocess.run(
                [binary, "--root", os.path.join(containerd.runtime_root, containerd.namespace), "state", cid],
                capture_output=True,
                timeout=30,
            )
            return r.returncode == 0

    r = Rt()
    yield r
    for cid in r.ids:
        containerd.ctr("task", "kill", "-s", "SIGKILL", cid)
        containerd.ctr("task", "delete", "-f", cid)
        containerd.ctr("container", "delete", cid)


def _wait_status(containerd, cid: str, status: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while True:
        rows = [l.split() for l in containerd.ctr("task", "ls").stdout.splitlines()[1:]]
        got = {r[0]: r[2] for r in rows if len(r) >= 3}
        if got.get(cid) == status:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"task {cid}: {got.get(cid)}, wanted {status}")
        time.sleep(0.05)


def _exit_code_of_delete(r: subprocess.CompletedProcess) -> int:
    m = re.search(r"exit with non-zero exit code (\d+)", r.stderr)
    return int(m.group(1)) if m else 0


def test_ctr_run_rm_exit_code(containerd, rt):
    cid = rt.new_id()
    r = containerd.ctr("run", "--rm", *rt.run_opts(), IMAGE, cid, "sh", "-c", "echo hi from $0; id -u; exit 3")
    assert r.returncode == 3, (r, containerd.tail())
    assert r.stdout == "hi from sh\n0\n", r
    assert not rt.knows(cid), "runtime state left after --rm"


def test_ctr_run_tty(containerd, rt):
    # ctr resizes the console only after the task started: poll for the size
    # (busybox stty prints nothing for a 0x0 terminal)
    script = (
        "tty; for i in $(seq 200); do s=$(stty size 2>/dev/null); "
        '[ -n "$s" ] && [ "$s" != \'0 0\' ] && break; sleep 0.05; done; echo size=$s; exit 5'
    )
    r = run_in_pty(
        containerd.argv("run", "--rm", "-t", *rt.run_opts(), IMAGE, rt.new_id(), "sh", "-c", script),
        dict(os.environ),
        rows=35,
        cols=99,
        timeout=60,
    )
    assert r.rc == 5, r
    out = r.out.replace("\r", "")  # ctr's raw terminal plus the container's ONLCR
    assert "/dev/pts/0\n" in out and "size=35 99\n" in out, r


def test_ctr_detached_lifecycle(containerd, rt):
    cid = rt.new_id()
    r = containerd.ctr(
        "run", "-d", *rt.run_opts(), IMAGE, cid, "sh", "-c", 'trap "exit 0" TERM; while :; do sleep 0.1; done'
    )
    assert r.returncode == 0, (r, containerd.tail())
    _wait_status(containerd, cid, "RUNNING")
    assert rt.knows(cid)
    # task ps: the shim asks the runtime (`ps --format json`)
    r = containerd.ctr("task", "ps", cid)
    assert r.returncode == 0 and len(r.stdout.splitlines()) >= 2, r
    # exec: exit status, stdin
    r = containerd.ctr("task", "exec", *rt.exec_opts(), "--exec-id", "e1", cid, "sh", "-c", "echo in-exec; exit 7")
    assert (r.returncode, r.stdout) == (7, "in-exec\n"), r
    r = containerd.ctr(
        "task", "exec", *rt.exec_opts(), "--exec-id", "e2", cid, "tr", "a-z", "A-Z", input="exec stdin\n"
    )
    assert (r.returncode, r.stdout) == (0, "EXEC STDIN\n"), r
    # pause / resume, with the freezer
    freezer = f"/sys/fs/cgroup/freezer/{containerd.namespace}/{cid}/freezer.state"
    assert containerd.ctr("task", "pause", cid).returncode == 0
    _wait_status(containerd, cid, "PAUSED")
    if os.path.exists(freezer):
        assert open(freezer).read().strip() == "FROZEN"
    assert containerd.ctr("task", "resume", cid).returncode == 0
    _wait_status(containerd, cid, "RUNNING")
    r = containerd.ctr("task", "metrics", cid)
    assert r.returncode == 0 and "memory.usage_in_bytes" in r.stdout, r
    # SIGTERM: the trap exits 0
    assert containerd.ctr("task", "kill", cid).returncode == 0
    _wait_status(containerd, cid, "STOPPED")
    r = containerd.ctr("task", "delete", cid)
    assert r.returncode == 0 and _exit_code_of_delete(r) == 0, r
    assert not rt.knows(cid)
    assert containerd.ctr("container", "delete", cid).returncode == 0


def test_ctr_kill_9_and_exec_tty(containerd, rt):
    cid = rt.new_id()
    r = containerd.ctr("run", "-d", *rt.run_opts(), IMAGE, cid, "sleep", "1000")
    assert r.returncode == 0, r
    _wait_status(containerd, cid, "RUNNING")
    r = run_in_pty(
        containerd.argv("task", "exec", "-t", *rt.exec_opts(), "--exec-id", "t1", cid, "sh", "-c", "tty; exit 4"),
        dict(os.environ),
        timeout=60,
    )
    assert r.rc == 4 and "/dev/pts/" in r.out, r
    assert containerd.ctr("task", "kill", "-s", "SIGKILL", cid).returncode == 0
    _wait_status(containerd, cid, "STOPPED")
    r = containerd.ctr("task", "delete", cid)
    assert _exit_code_of_delete(r) == 137, r
