"""A create that dies at any step, or fails on a full disk, leaves nothing that `delete --force`
does not remove: no state directory, cgroup (in any hierarchy), mount or process.

Deaths are made by construction, not by timing: RUNK_TEST_STOP_AFTER=<step> (honoured only with
the test runner's RUNK_TEST_ROOT tag for the same --root, runk/state/faults.py) makes runk
SIGKILL itself, or with ":group" its whole process group (the bootstrap and init it forked),
right after that step of LinuxBackend.create.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import uuid

import pytest

from tests.conftest import RUNK

# (step, what exists outside the state directory when runk dies there)
STEPS = [
    ("config", "nothing"),  # config.json written
    ("claim", "nothing"),  # the record naming the cgroups, before they are made
    ("cgroup", "cgroups"),  # the cgroups made
    ("forked", "cgroups"),  # the init forked into them, its pid not yet on disk
    ("forked:group", "cgroups"),
    ("pid", "cgroups"),  # the pid on disk, the init waiting for cgroup_done
    ("pid:group", "cgroups"),
    ("launch", "init"),  # the init ready, waiting in the trampoline
    ("launch:group", "init"),
    ("state", "init"),  # the final state written, before the pid file
]


def cgroup_dirs(cid: str) -> list[str]:
    """Every directory named cid under every cgroup hierarchy mounted on the host."""
    out = []
    with open("/proc/self/mountinfo") as f:
        mounts = [ln.split()[4] for ln in f if " - cgroup" in ln]
    for mnt in mounts:
        for top, dirs, _files in os.walk(mnt):
            out += [os.path.join(top, d) for d in dirs if d == cid]
    return sorted(out)


def waiting_inits(root: str) -> list[str]:
    """Processes holding a file under root open (an init waiting on its exec fifo)."""
    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                if os.readlink(f"/proc/{pid}/fd/{fd}").startswith(root + "/"):
                    out.append(pid)
                    break
        except OSError:
            continue
    return out


def create_killed(runk, bundle_dir: str, cid: str, step: str, verb: tuple[str, ...]) -> int:
    """runk <verb> in a session of its own (a group kill must not reach pytest)."""
    env = dict(os.environ, RUNK_TEST_ROOT=runk.root, RUNK_TEST_STOP_AFTER=step)
    cp = subprocess.run(
        [RUNK, "--root", runk.root, *verb, "--bundle", bundle_dir, cid],
        env=env,
        start_new_session=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=60,
    )
    return cp.returncode


def assert_nothing_left(runk, cid: str) -> None:
    assert not os.path.exists(os.path.join(runk.root, cid)), "state directory left behind"
    assert cgroup_dirs(cid) == [], "cgroups left behind"
    assert waiting_inits(runk.root) == [], "container init left behind"


# run -d goes through the same create: a few steps suffice
CASES = [(step, left, ("create",)) for step, left in STEPS] + [
    (step, left, ("run", "-d")) for step, left in STEPS if step in ("cgroup", "forked:group", "pid", "launch:group")
]


@pytest.mark.parametrize("step,left,verb", CASES, ids=[f"{' '.join(v)}-{s}" for s, _, v in CASES])
def test_delete_force_cleans_a_create_killed_after_each_step(runk, bundle, cid, step, left, verb, leak_audit):
    bundle.args("sleep", "1000")
    rc = create_killed(runk, bundle.write(), cid, step, verb)
    assert rc == -9, f"runk was not killed after {step!r} (rc {rc})"
    # what the death left, as the attacker found it
    assert os.path.isdir(os.path.join(runk.root, cid))
    if left in ("cgroups", "init"):
        assert cgroup_dirs(cid), "the cgroups were never made: the step is not where it says"
    if left == "init":
        assert waiting_inits(runk.root), "no init waits: the step is not where it says"
    r = runk("delete", "--force", cid)
    assert r.rc == 0, r
    assert_nothing_left(runk, cid)
    # the id is free again and works
    bundle.args("true")
    assert runk("run", "--bundle", bundle.write(), cid).rc == 0
    assert_nothing_left(runk, cid)


def test_state_and_list_do_not_show_a_claim_without_a_process(runk, bundle, cid, leak_audit):
    """A create killed before the init existed is not a container yet (runc: no state.json),
    but delete --force finds what it claimed."""
    assert create_killed(runk, bundle.write(), cid, "cgroup", ("create",)) == -9
    r = runk("state", cid)
    assert r.rc == 1 and "container does not exist" in r.err, r
    assert runk("list", "-q").out.split() == []
    assert runk("delete", "--force", cid).rc == 0
    assert_nothing_left(runk, cid)


def test_the_fault_point_needs_the_test_guard(runk, bundle, cid, leak_audit):
    """RUNK_TEST_STOP_AFTER alone (no RUNK_TEST_ROOT tag for this --root) changes nothing."""
    env = {k: v for k, v in os.environ.items() if k != "RUNK_TEST_ROOT"}
    env["RUNK_TEST_STOP_AFTER"] = "cgroup"
    cp = subprocess.run(
        [RUNK, "--root", runk.root, "run", "--bundle", bundle.write(), cid],
        env=env,
        start_new_session=True,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=60,
    )
    assert cp.returncode == 0, cp
    assert_nothing_left(runk, cid)


@pytest.fixture
def full_tmpfs(tmp_path):
    """A 64 KiB tmpfs; fill(n) leaves n bytes free (in whole pages)."""
    mnt = tmp_path / "full"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0755", "tmpfs", str(mnt)], check=True)
    filler = mnt / "filler"

    def fill(free: int) -> None:
        with open(filler, "wb"):
            pass
        st = os.statvfs(mnt)
        avail = st.f_bavail * st.f_frsize
        fd = os.open(filler, os.O_WRONLY)
        try:
            if avail - free > 0:
                os.posix_fallocate(fd, 0, avail - free)
        finally:
            os.close(fd)

    yield str(mnt), fill
    r = subprocess.run(["umount", str(mnt)], capture_output=True, text=True)
    if r.returncode != 0:
        subprocess.run(["umount", "-l", str(mnt)])
    assert r.returncode == 0, f"the tmpfs stays busy: {r.stderr}"


def test_full_root_fails_cleanly_at_every_step(runk, bundle, full_tmpfs, leak_audit):
    """--root on a full filesystem, with room for none, one, two... pages: each create either
    succeeds (then is deleted) or fails with the disk's error and leaves nothing; delete --force
    afterwards has nothing to do. The tmpfs unmounts: nothing holds it busy."""
    mnt, fill = full_tmpfs
    root = os.path.join(mnt, "root")
    bundle.args("sleep", "1000")
    bdir = bundle.write()
    failures = 0
    for pages in range(6):
        fill(pages * 4096)
        cid = f"full-{pages}-{uuid.uuid4().hex[:6]}"
        # files, not pipes: a created container keeps its stdio open
        with tempfile.TemporaryFile() as err:
            cp = subprocess.run(
                [RUNK, "--root", root, "create", "--bundle", bdir, cid],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
                timeout=60,
                env=dict(os.environ, RUNK_TEST_ROOT=root),
            )
            err.seek(0)
            cp.stderr = err.read().decode(errors="replace")
        if cp.returncode == 0:
            fill(1 << 20)  # room again for delete's own writes (none are needed)
            assert subprocess.run([RUNK, "--root", root, "delete", "--force", cid]).returncode == 0
        else:
            failures += 1
            assert cp.returncode == 1 and f"write {root}/" in cp.stderr and ": no space left on device" in cp.stderr, cp
            assert "Error" not in cp.stderr and "Traceback" not in cp.stderr, cp.stderr
            assert not os.path.exists(os.path.join(root, cid)), (pages, os.listdir(root))
            assert cgroup_dirs(cid) == [], (pages, "cgroups left behind")
            assert waiting_inits(mnt) == [], (pages, "container init left behind")
            d = subprocess.run([RUNK, "--root", root, "delete", "--force", cid])
            assert d.returncode == 0
        assert cgroup_dirs(cid) == []
    assert failures >= 2


def test_full_disk_for_the_pid_file_undoes_the_launch(runk, bundle, cid, full_tmpfs, leak_audit):
    """The pid file is written last, after the init is ready: its ENOSPC must stop the init and
    remove the cgroups and the state (the init used to stay, its cgroups with it)."""
    mnt, fill = full_tmpfs
    fill(0)
    bundle.args("sleep", "1000")
    pid_file = os.path.join(mnt, "pid")
    r = runk("create", "--bundle", bundle.write(), "--pid-file", pid_file, cid)
    assert r.rc == 1 and f"write {pid_file}: no space left on device" in r.err, r  # runc's words
    assert_nothing_left(runk, cid)
    assert waiting_inits(mnt) == []
    assert runk("delete", "--force", cid).rc == 0
