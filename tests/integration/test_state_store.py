"""The state store under concurrency: one winner for an id, "creating" while create runs,
commands on one container serialized by the lock, a killed create cleaned by delete --force,
and a recycled pid never mistaken for the container."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import tempfile
import time

from tests.conftest import RUNK


def _spawn(rt, *args):
    """runk in the background, its stderr in a file: a created container keeps the stdio it was
    given, so a pipe would not reach EOF."""
    err = tempfile.TemporaryFile(mode="w+")
    p = subprocess.Popen(
        [RUNK, "--root", rt.root, *args], stdout=subprocess.DEVNULL, stderr=err, stdin=subprocess.DEVNULL, text=True
    )
    p.errfile = err
    return p


def _stderr(p) -> str:
    p.errfile.seek(0)
    return p.errfile.read()


def _running_record(runk, bundle, cid: str) -> tuple[str, dict]:
    """A detached `sleep 100` container; the path of its state.json and the record in it."""
    bundle.args("sleep", "100").write()
    runk("run", "-d", "--bundle", bundle.path, cid, check=True)
    path = os.path.join(runk.root, cid, "state.json")
    with open(path) as f:
        return path, json.load(f)


def _write_record(path: str, rec: dict) -> None:
    with open(path, "w") as f:
        json.dump(rec, f)


def _assert_dead(pid: int) -> None:
    """Within 10 s, pid has gone or is a zombie."""
    end = time.monotonic() + 10
    state = ""
    while time.monotonic() < end:
        try:
            with open(f"/proc/{pid}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return
        if state == "Z":
            return
        time.sleep(0.05)
    raise AssertionError(f"process {pid} still runs ({state})")


def _slow_create_hook(bundle, tmp_path, seconds: str = "30"):
    """A createRuntime hook that signals it runs (a file) and then sleeps."""
    marker = tmp_path / "hook-running"
    bundle.config.setdefault("hooks", {})["createRuntime"] = [
        {"path": "/bin/sh", "args": ["sh", "-c", f"touch {marker}; sleep {seconds}"]}
    ]
    bundle.args("sleep", "100").write()
    return marker


def _wait_for(path, timeout=20.0):
    end = time.time() + timeout
    while time.time() < end:
        if os.path.exists(path):
            return True
        time.sleep(0.02)
    return False


def test_racing_creates_one_winner(runk, bundle, cid, leak_audit):
    bundle.args("sleep", "100").write()
    procs = [_spawn(runk, "create", "--bundle", bundle.path, cid) for _ in range(4)]
    results = [(p.wait(timeout=60), _stderr(p)) for p in procs]
    assert sorted(rc for rc, _ in results) == [0, 1, 1, 1], results
    for rc, err in results:
        if rc:
            assert "container with given ID already exists" in err
    st = runk.state(cid)
    assert st["status"] == "created" and os.path.exists(f"/proc/{st['pid']}")
    runk("delete", "--force", cid, check=True)


def test_state_says_creating_and_start_waits_for_the_lock(runk, bundle, cid, tmp_path, leak_audit):
    marker = _slow_create_hook(bundle, tmp_path, "1")
    create = _spawn(runk, "create", "--bundle", bundle.path, cid)
    assert _wait_for(marker)
    assert runk.state(cid)["status"] == "creating"
    t0 = time.time()
    r = runk("start", cid)  # serialized behind create's lock, then starts it
    assert r.rc == 0, r
    assert create.wait(timeout=30) == 0
    assert time.time() - t0 > 0.3
    assert runk.state(cid)["status"] == "running"
    runk("delete", "--force", cid, check=True)


def test_killed_create_is_cleaned_by_delete_force(runk, bundle, cid, tmp_path, leak_audit):
    marker = _slow_create_hook(bundle, tmp_path)
    create = _spawn(runk, "create", "--bundle", bundle.path, cid)
    assert _wait_for(marker)
    pid = json.loads(open(os.path.join(runk.root, cid, "state.json")).read())["pid"]
    create.send_signal(signal.SIGKILL)
    create.wait(timeout=30)
    subprocess.run(["pkill", "-f", str(marker)])  # the orphaned hook
    # runk died with the lock released: the half-made container reads as stopped
    assert runk.state(cid)["status"] == "stopped" or os.path.exists(f"/proc/{pid}")
    r = runk("delete", "--force", cid)
    assert r.rc == 0, r
    assert runk("state", cid).rc == 1
    _assert_dead(pid)  # the init did not survive delete --force


def test_a_recycled_pid_is_not_the_container(runk, bundle, cid, leak_audit):
    """Status comes from pid + start time: a live process with the recorded pid but another
    start time (a recycled pid) means the container has stopped."""
    path, rec = _running_record(runk, bundle, cid)
    real = rec["pid"]
    rec["pid"] = os.getpid()  # alive, but not the container's process
    _write_record(path, rec)
    st = runk.state(cid)
    assert st["status"] == "stopped" and st["pid"] == 0
    r = runk("kill", cid, "KILL")  # must not signal the stranger
    assert r.rc == 1 and "container not running" in r.err
    rec["pid"] = real
    _write_record(path, rec)
    assert runk.state(cid)["status"] == "running"
    runk("delete", "--force", cid, check=True)


def test_a_pid_that_names_a_thread_is_not_the_container(runk, bundle, cid, leak_audit):
    """pidfd_open answers EINVAL (6.1) or ENOENT (newer kernels), not ESRCH, for a pid that
    names no thread-group leader: an init being reaped by its subreaper at that moment (delete
    --force right after its cgroup was killed: "invalid argument" in the lab's CI), or a pid
    taken since by another process's thread. Both mean the container's process is gone: kill
    says the container is not running and delete --force finishes, never the kernel's errno."""
    import threading

    path, rec = _running_record(runk, bundle, cid)
    real = rec["pid"]
    started, done = threading.Event(), threading.Event()
    tid = []

    def body() -> None:
        tid.append(threading.get_native_id())
        started.set()
        done.wait(60)

    t = threading.Thread(target=body)
    t.start()
    try:
        started.wait(10)
        assert tid[0] != os.getpid()
        with open(f"/proc/self/task/{tid[0]}/stat") as f:
            start = int(f.read().rsplit(")", 1)[1].split()[19])
        # the thread's id and start time: /proc/<tid>/stat reads as that process's would
        rec["pid"], rec["pid_starttime"] = tid[0], start
        _write_record(path, rec)
        r = runk("kill", cid, "TERM")
        assert r.rc == 1 and "container not running" in r.err, r
        r = runk("delete", "--force", cid)
        assert r.rc == 0 and r.err == "", r
        assert t.is_alive()  # the stranger was not signalled
    finally:
        done.set()
        t.join()
    _assert_dead(real)  # the real init went with its cgroup
    assert runk("state", cid).rc == 1


def test_leftovers_of_a_crashed_machine_are_removed_by_delete_force(runk, cid):
    """Writes are renames, not fsynced (as runc's): after a crash of the machine a state file can
    be empty or torn, or a create killed right after its claim leaves an empty directory. None
    of its processes or cgroups exist then; `delete --force` removes the directory, and the id
    can be used again."""
    os.makedirs(runk.root, exist_ok=True)
    cases = {
        "empty-dir": None,
        "empty-state": b"",
        "torn-state": b'{"ociVersion":"1.0.2","id":"x',
        "torn-state-with-config": b'{"id":',
    }
    for name, state in cases.items():
        d = os.path.join(runk.root, f"{cid}-{name}")
        os.mkdir(d, 0o711)
        if state is not None:
            with open(os.path.join(d, "state.json"), "wb") as f:
                f.write(state)
        if name.endswith("with-config"):
            with open(os.path.join(d, "config.json"), "w") as f:
                f.write('{"ociVersion":"1.0.2","root":{"path":"rootfs"}}')
    for name in cases:
        c = f"{cid}-{name}"
        r = runk("state", c)
        assert r.rc == 1 and "container does not exist" in r.err, (name, r)
        r = runk("delete", "--force", c)
        assert r.rc == 0 and r.err == "", (name, r)
        assert not os.path.exists(os.path.join(runk.root, c)), name


def test_kill_all_of_a_torn_state_says_the_container_does_not_exist(runk, cid):
    """A torn state file beside the kept config (a crash of the machine mid-create): its status is
    stopped, so `kill --all` passes the status check, but there is no record to find processes
    by. runc cannot load such a container either: "container does not exist", never an internal
    error."""
    d = os.path.join(runk.root, cid)
    os.makedirs(d, 0o711)
    with open(os.path.join(d, "state.json"), "wb") as f:
        f.write(b'{"id":')
    with open(os.path.join(d, "config.json"), "w") as f:
        f.write('{"ociVersion":"1.0.2","root":{"path":"rootfs"}}')
    r = runk("kill", "--all", cid, "KILL")
    assert r.rc == 1 and "container does not exist" in r.err and "internal error" not in r.err, r
    runk("delete", "--force", cid, check=True)
    assert not os.path.exists(d)
