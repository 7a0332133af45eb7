"""Where the systemd cgroup driver meets checkpoint/restore, runk and runc side by side: a container
in a transient scope is checkpointed (the scope goes with it) and restored (`restore -d`) into a
re-created scope with Delegate=yes and its resources; exec, kill and delete work afterwards and
leave no unit. Then podman with the systemd cgroup manager on each, through a container's life
with a checkpoint and restore in it.
Also the org.systemd.property.* annotations (extra properties of the unit)."""

from __future__ import annotations

import time
import uuid

import pytest
from conftest import CG, RUNC, RUNK, Runtime, proc_cgroup, read, runtimes, sh
from test_checkpoint import COUNTER, TIMES, Pipes, _count, _pm, _rt, _wait_count
from test_systemd_driver import assert_gone, show

pytestmark = pytest.mark.second_root  # CRIU and podman: the second root session (tests/lab/conftest.py)

MiB = 1 << 20
RESOURCES = {"memory": {"limit": 64 * MiB}, "pids": {"limit": 40}}
WANT = {"ActiveState": "active", "Delegate": "yes", "MemoryMax": str(64 * MiB), "TasksMax": "40"}


@pytest.fixture(scope="module", autouse=True)
def _criu_warm(tmp_path_factory) -> None:
    d = tmp_path_factory.mktemp("criu-warm")
    sh("criu", "check", "--log-file", str(d / "check.log"), cwd=str(d))


@pytest.fixture(params=runtimes())
def rt(request):
    binary = RUNC if request.param == "runc" else RUNK
    r = Runtime(binary, f"/run/lab-sdcr-{request.param}-{uuid.uuid4().hex[:8]}", "--systemd-cgroup")
    r.name = request.param
    yield r
    r.cleanup()


def _timed(label: str, rt, *args: str, pipes: Pipes | None = None):
    t = time.monotonic()
    cp = _rt(rt, "--systemd-cgroup", *args, pipes=pipes)
    TIMES.setdefault(label, []).append(time.monotonic() - t)
    return cp


def test_checkpoint_restore_in_a_scope(rt, bundle, tmp_path):
    name = f"sdcr{uuid.uuid4().hex[:6]}"
    unit = f"labcr-{name}.scope"
    d = f"{CG}/system.slice/{unit}"
    b = bundle.write(["sh", "-c", COUNTER], RESOURCES, cgroups_path=f"system.slice:labcr:{name}")
    p = Pipes()
    cp = _rt(rt, "--systemd-cgroup", "run", "-d", "--bundle", b, name, pipes=p)
    p.detach()
    assert cp.returncode == 0, cp.stderr
    pid = rt.state(name)["pid"]
    assert proc_cgroup(pid) == f"/system.slice/{unit}"
    _wait_count(pid, 2)
    images, work = str(tmp_path / "images"), str(tmp_path / "work")
    # runk here as runc main's checkpoint.bats on cgroup v2: CRIU leaves the cgroups alone (mode
    # "ignore", which runc 1.1.5 lacks); the default mode is podman's cycle and test_checkpoint's
    mode = ["--manage-cgroups-mode", "ignore"] if rt.name == "runk" else []
    cp = _timed(
        f"systemd {rt.name} checkpoint", rt, "checkpoint", *mode, "--image-path", images, "--work-path", work, name
    )
    assert cp.returncode == 0, (cp.stderr, sh("tail", "-20", f"{work}/dump.log"))
    assert rt("state", name).rc == 1
    assert_gone(unit, d)  # the scope went with the container

    q = Pipes()
    args = ("restore", "-d", *mode, "--bundle", b, "--image-path", images, "--work-path", work, name)
    cp = _timed(f"systemd {rt.name} restore", rt, *args, pipes=q)
    q.detach()
    assert cp.returncode == 0, (cp.stderr, sh("tail", "-30", f"{work}/restore.log"))
    npid = rt.state(name)["pid"]
    n = _count(npid)
    assert n >= 3
    _wait_count(npid, n + 1)  # its memory came back and it goes on
    # back in its re-created scope, with its properties and files
    assert proc_cgroup(npid) == f"/system.slice/{unit}"
    assert show(unit, *WANT) == WANT
    assert (read(f"{d}/memory.max"), read(f"{d}/pids.max")) == (str(64 * MiB), "40")
    assert str(npid) in read(f"{d}/cgroup.procs").split()
    ex = rt("exec", name, "cat", "/proc/self/cgroup")
    assert ex.rc == 0 and ex.out.strip() == f"0::/system.slice/{unit}", ex
    rt.ok("kill", name, "KILL")
    end = time.monotonic() + 10
    while rt.state(name)["status"] != "stopped" and time.monotonic() < end:
        time.sleep(0.05)
    rt.ok("delete", name)
    assert_gone(unit, d)
    p.close()
    q.close()


@pytest.mark.parametrize("runtime", runtimes())
def test_podman_systemd_manager(runtime, podman_image):
    """podman with the systemd cgroup manager on the runtime, one container through its life: run
    with --memory/--cpus/--pids-limit (libpod's scope in machine.slice, its properties and files),
    exec, stats, `container checkpoint` and `restore` (the scope there again with its limits, the
    counter goes on), update, pause/unpause, stop, rm -f; no unit and no cgroup left."""
    binary = RUNK if runtime == "runk" else RUNC
    name = f"sdpod-{runtime}-{uuid.uuid4().hex[:6]}"
    pm = ["podman", "--cgroup-manager", "systemd", "--runtime", binary]
    limits = ("--memory", "64m", "--cpus", "0.5", "--pids-limit", "50")
    _pm(*pm, "run", "-d", "--network", "none", *limits, "--name", name, podman_image, "sh", "-c", COUNTER)
    try:
        pid_s, cid = _pm(*pm, "inspect", "--format", "{{.State.Pid}} {{.Id}}", name).split()
        unit = f"libpod-{cid}.scope"
        d = f"{CG}/machine.slice/{unit}"
        assert proc_cgroup(int(pid_s)) == f"/machine.slice/{unit}"
        want = {"ActiveState": "active", "Delegate": "yes", "MemoryMax": str(64 * MiB), "TasksMax": "50"}
        assert show(unit, *want) == want
        files = "cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/cpu.max /sys/fs/cgroup/pids.max"
        assert _pm(*pm, "exec", name, "sh", "-c", files).split() == [str(64 * MiB), "50000", "100000", "50"]
        assert name in _pm(*pm, "stats", "--no-stream", "--format", "json", name)
        _wait_count(int(pid_s), 2)

        t = time.monotonic()
        _pm(*pm, "container", "checkpoint", name)
        TIMES.setdefault(f"podman+{runtime} systemd checkpoint", []).append(time.monotonic() - t)
        assert _pm(*pm, "inspect", "--format", "{{.State.Status}}", name).strip() == "exited"
        t = time.monotonic()
        _pm(*pm, "container", "restore", name)
        TIMES.setdefault(f"podman+{runtime} systemd restore", []).append(time.monotonic() - t)
        status, npid_s = _pm(*pm, "inspect", "--format", "{{.State.Status}} {{.State.Pid}}", name).split()
        npid = int(npid_s)
        assert status == "running"
        assert proc_cgroup(npid) == f"/machine.slice/{unit}"
        assert show(unit, *want) == want
        n = _count(npid)
        assert n >= 3
        _wait_count(npid, n + 1)
        # the log, not the count file, which the counter truncates before each write
        assert int(_pm(*pm, "exec", name, "tail", "-n", "1", "/dev/shm/log").strip()) >= n

        _pm(*pm, "update", "--memory", "96m", name)
        assert read(f"{d}/memory.max") == str(96 * MiB)
        assert show(unit, "MemoryMax")["MemoryMax"] == str(96 * MiB)
        _pm(*pm, "pause", name)
        assert read(f"{d}/cgroup.freeze") == "1"
        _pm(*pm, "unpause", name)
        assert read(f"{d}/cgroup.freeze") == "0"
        _pm(*pm, "stop", "-t", "1", name)
        _pm(*pm, "rm", "-f", name)
        assert_gone(unit, d)
    finally:
        sh(*pm, "rm", "-f", "-t", "0", name, timeout=120)


def test_zz_times():
    """Not a check: the times above (the lab shows a guest test's output only when it fails)."""
    report = "; ".join(f"{k} " + ", ".join(f"{t:.2f} s" for t in v) for k, v in sorted(TIMES.items()))
    pytest.skip(f"times: {report or 'no cycle ran'}")
