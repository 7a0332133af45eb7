"""cgroups through the real CLI on real containers (this host: cgroup v1 plus a cgroup2 mount at
/sys/fs/cgroup/unified): every resource reaches the container's cgroup files and is enforced
where a container can show it; update, pause/resume, ps, events, kill --all and delete act on the
cgroups; and the same container under runc gives the same answers.

The container's cgroup directories are found as a user would: `state` pid -> /proc/PID/cgroup,
joined to the mount points in /proc/self/mountinfo. cgroup v2 controllers are tested in the
lab's systemd cgroup-v2 guest (tests/lab/guest/test_cgroup_v2.py).
"""

from __future__ import annotations

import functools
import json
import os
import re
import subprocess
import tempfile

import pytest

from tests import helpers
from tests.conftest import requires

MiB = 1 << 20
_STARTED: list[dict[str, str]] = []  # the cgroup dirs of every container start() made


@pytest.fixture(autouse=True)
def _v1_host():
    requires("root", "cgroup_v1")


@pytest.fixture
def audit(request, runk, leak_audit):
    """After the test: delete what it left running, then no cgroup directory of any container it
    started may remain in any hierarchy (and leak_audit: no mounts, processes or state)."""
    _STARTED.clear()
    yield
    for name in ("runc", "runk"):
        if name in request.fixturenames:
            rt = request.getfixturevalue(name)
            if os.path.isdir(rt.root):
                for c in os.listdir(rt.root):
                    if c != "@cache":
                        rt("delete", "--force", c)
    left = [d for dirs in _STARTED for d in leftovers(dirs)]
    _STARTED.clear()
    assert left == [], "cgroups left behind"


# -- helpers -------------------------------------------------------------------------------------
def mountpoints() -> dict[str, str]:
    """controller (or name=..., or "" for cgroup2) -> mount point."""
    with open("/proc/cgroups") as f:
        known = {l.split()[0] for l in f if not l.startswith("#")}
    out: dict[str, str] = {}
    with open("/proc/self/mountinfo") as f:
        for line in f:
            pre, post = line.split(" - ", 1)
            fstype, _src, opts = post.split()[:3]
            mp = pre.split()[4]
            if fstype == "cgroup2":
                out.setdefault("", mp)
            elif fstype == "cgroup":
                for o in opts.split(","):
                    if o in known or o.startswith("name="):
                        out.setdefault(o, mp)
    return out


def cgroup_dirs(pid: int) -> dict[str, str]:
    """controller -> the directory of `pid`'s cgroup in that controller's hierarchy."""
    mps = mountpoints()
    dirs = {}
    with open(f"/proc/{pid}/cgroup") as f:
        for line in f:
            _, ctrls, path = line.rstrip("\n").split(":", 2)
            for c in ctrls.split(",") if ctrls else [""]:
                if c in mps:
                    dirs[c] = mps[c] + path.rstrip("/")
    return dirs


def rd(d: str, name: str) -> str:
    with open(os.path.join(d, name)) as f:
        return f.read().strip()


wait_for = functools.partial(helpers.wait_for, timeout=5.0)


def start(rt, bundle, cid: str, resources: dict | None = None, *args: str, **linux) -> dict:
    """`run -d` a container (default: sleep 600); its state, with its cgroup dirs as "dirs"."""
    bundle.args(*(args or ("sleep", "600")))
    bundle.config["linux"]["resources"] = {"devices": [{"allow": False, "access": "rwm"}], **(resources or {})}
    bundle.config["linux"].update(linux)
    bundle.write()
    r = rt("run", "-d", "--bundle", bundle.path, cid)
    assert r.rc == 0, r
    st = rt.state(cid)
    st["dirs"] = cgroup_dirs(st["pid"])
    _STARTED.append(st["dirs"])
    return st


def without_pidns(bundle) -> None:
    bundle.config["linux"]["namespaces"] = [n for n in bundle.config["linux"]["namespaces"] if n["type"] != "pid"]


def cgroup_procs(d: str) -> list[int]:
    try:
        return [int(p) for p in rd(d, "cgroup.procs").split()]
    except FileNotFoundError:
        return []


def proc_state(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return ""


def leftovers(dirs: dict[str, str]) -> list[str]:
    return sorted({d for d in dirs.values() if os.path.isdir(d)})


def blkio_weight_file(d: str) -> str | None:
    for name in ("blkio.weight", "blkio.bfq.weight"):
        if os.path.exists(os.path.join(d, name)):
            return name
    return None


# -- every resource, written and read back ------------------------------------------------------
RESOURCES = {
    "memory": {
        "limit": 96 * MiB,
        "reservation": 48 * MiB,
        "swap": 128 * MiB,
        "swappiness": 10,
        "disableOOMKiller": True,
    },
    "cpu": {"shares": 512, "quota": 30000, "period": 60000, "cpus": "1", "mems": "0"},
    "pids": {"limit": 37},
    "blockIO": {"weight": 300},
}


def test_resources_read_back_from_cgroup_files(runk, bundle, cid, audit):
    st = start(runk, bundle, cid, RESOURCES)
    d = st["dirs"]
    assert cid in d["memory"] and d["memory"].endswith("/" + cid)
    assert rd(d["memory"], "memory.limit_in_bytes") == str(96 * MiB)
    assert rd(d["memory"], "memory.soft_limit_in_bytes") == str(48 * MiB)
    assert rd(d["memory"], "memory.memsw.limit_in_bytes") == str(128 * MiB)
    assert rd(d["memory"], "memory.swappiness") == "10"
    assert "oom_kill_disable 1" in rd(d["memory"], "memory.oom_control").splitlines()
    assert rd(d["cpu"], "cpu.shares") == "512"
    assert rd(d["cpu"], "cpu.cfs_quota_us") == "30000"
    assert rd(d["cpu"], "cpu.cfs_period_us") == "60000"
    assert rd(d["cpuset"], "cpuset.cpus") == "1"
    assert rd(d["cpuset"], "cpuset.mems") == "0"
    assert rd(d["pids"], "pids.max") == "37"
    name = blkio_weight_file(d["blkio"])
    if name:  # this host: blkio.bfq.weight only (no CFQ)
        assert rd(d["blkio"], name) == "300"
    # every process of the container is in its group, in every hierarchy
    for ctrl in ("memory", "cpu", "cpuset", "pids", "blkio", "devices", "freezer"):
        assert st["pid"] in cgroup_procs(d[ctrl]), ctrl
    assert runk("delete", "--force", cid).rc == 0
    assert leftovers(d) == []


def test_devices_list_is_the_default_allow_list(runk, bundle, cid, audit):
    st = start(runk, bundle, cid)
    rules = rd(st["dirs"]["devices"], "devices.list").splitlines()
    assert "a *:* rwm" not in rules
    for r in ("c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm", "c 5:0 rwm", "c 5:2 rwm", "c 136:* rwm"):
        assert r in rules, rules


def test_devices_list_keeps_the_configs_order(runk, bundle, cid, audit):
    """runtime-spec: "The runtime MUST apply entries in the listed order" (runtime-tools'
    linux_cgroups_devices reads devices.list in order). The rules apply at the init's READY,
    once the group holds the init; the list still shows them in config order, then runc's
    defaults (runc sorts them: its run of that program fails)."""
    devs = [
        {"allow": False, "access": "rwm"},
        {"allow": True, "type": "c", "major": 10, "minor": 229, "access": "rwm"},
        {"allow": True, "type": "b", "major": 8, "minor": 20, "access": "rw"},
        {"allow": True, "type": "b", "major": 10, "minor": 200, "access": "r"},
    ]
    st = start(runk, bundle, cid, {"devices": devs})
    listed = rd(st["dirs"]["devices"], "devices.list").splitlines()
    assert listed[:5] == ["c 10:229 rwm", "b 8:20 rw", "b 10:200 r", "c *:* m", "b *:* m"], listed


# -- enforcement ---------------------------------------------------------------------------------
def test_memory_limit_oom_kills_the_container(runk, bundle, cid, audit):
    bundle.sh("tail /dev/zero")
    bundle.config["linux"]["resources"] = {"memory": {"limit": 16 * MiB, "swap": 16 * MiB}}
    bundle.write()
    r = runk("run", "--bundle", bundle.path, cid)
    assert r.rc == 137, r


def test_pids_limit_stops_a_fork_loop(runk, bundle, cid, audit):
    bundle.sh("n=0; while [ $n -lt 40 ]; do sleep 30 & n=$((n+1)); echo forked $n; done; echo end")
    bundle.config["linux"]["resources"] = {"pids": {"limit": 10}}
    bundle.write()
    r = runk("run", "--bundle", bundle.path, cid)
    assert "can't fork" in r.err, r
    forked = [int(l.split()[1]) for l in r.out.splitlines() if l.startswith("forked ")]
    assert 0 < max(forked) < 10, r


def test_device_rule_denies_open(runk, bundle, cid, audit):
    """A node made by linux.devices without an allow rule cannot be opened; with one, it can.
    /dev/null: the default allow rule that runc (and runk) append to the spec's rules is dropped
    when linux.devices names /dev/null itself, and then a deny-all denies it."""
    bundle.config["linux"]["devices"] = [
        {"path": "/dev/loop-control", "type": "c", "major": 10, "minor": 237, "fileMode": 0o600},
        {"path": "/dev/null", "type": "c", "major": 1, "minor": 3, "fileMode": 0o666},
    ]
    bundle.sh("true < /dev/loop-control && echo loop-control; echo x > /dev/null && echo null")
    bundle.config["linux"]["resources"] = {"devices": [{"allow": False, "access": "rwm"}]}
    bundle.write()
    r = runk("run", "--bundle", bundle.path, cid)
    assert r.out == "" and r.err.count("Operation not permitted") == 2, r
    bundle.config["linux"]["resources"]["devices"] += [
        {"allow": True, "type": "c", "major": 10, "minor": 237, "access": "r"},
        {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rw"},
    ]
    bundle.write()
    r = runk("run", "--bundle", bundle.path, cid)
    assert (r.rc, r.out) == (0, "loop-control\nnull\n"), r
    # an access the rule does not grant is denied: the node is allowed "r", not "w"
    bundle.sh("echo x > /dev/loop-control").write()
    r = runk("run", "--bundle", bundle.path, cid)
    assert r.rc != 0 and "Operation not permitted" in r.err, r
    # a rule taken away from a running container's devices cgroup applies to what is exec'd
    bundle.config["linux"]["devices"] = []
    st = start(runk, bundle, cid + "-n")
    assert runk("exec", cid + "-n", "sh", "-c", "echo x > /dev/null").rc == 0
    with open(os.path.join(st["dirs"]["devices"], "devices.deny"), "w") as f:
        f.write("c 1:3 rwm")
    r = runk("exec", cid + "-n", "sh", "-c", "echo x > /dev/null")
    assert r.rc != 0 and "Operation not permitted" in r.err, r


def test_cpuset_seen_in_the_container(runk, bundle, cid, audit):
    bundle.sh("grep Cpus_allowed_list /proc/self/status")
    bundle.config["linux"]["resources"] = {"cpu": {"cpus": "1"}}
    bundle.write()
    r = runk("run", "--bundle", bundle.path, cid)
    assert (r.rc, r.out.split()) == (0, ["Cpus_allowed_list:", "1"]), r


# -- update --------------------------------------------------------------------------------------
def test_update_flags_change_a_running_container(runk, bundle, cid, audit):
    st = start(runk, bundle, cid, {"memory": {"limit": 64 * MiB}, "pids": {"limit": 20}, "cpu": {"shares": 1024}})
    d = st["dirs"]
    r = runk(
        "update",
        "--memory",
        "100m",
        "--memory-reservation",
        "50m",
        "--memory-swap",
        "200m",
        "--cpu-share",
        "256",
        "--cpu-period",
        "50000",
        "--cpu-quota",
        "25000",
        "--cpuset-cpus",
        "0",
        "--cpuset-mems",
        "0",
        "--pids-limit",
        "30",
        "--blkio-weight",
        "200",
        cid,
    )
    assert r.rc == 0, r
    assert rd(d["memory"], "memory.limit_in_bytes") == str(100 * MiB)
    assert rd(d["memory"], "memory.soft_limit_in_bytes") == str(50 * MiB)
    assert rd(d["memory"], "memory.memsw.limit_in_bytes") == str(200 * MiB)
    assert rd(d["cpu"], "cpu.shares") == "256"
    assert rd(d["cpu"], "cpu.cfs_period_us") == "50000"
    assert rd(d["cpu"], "cpu.cfs_quota_us") == "25000"
    assert rd(d["cpuset"], "cpuset.cpus") == "0"
    assert rd(d["pids"], "pids.max") == "30"
    name = blkio_weight_file(d["blkio"])
    if name:
        assert rd(d["blkio"], name) == "200"
    # the new limit is enforced: an allocation past it is OOM-killed
    r = runk("exec", cid, "sh", "-c", "tail /dev/zero")
    assert r.rc == 137, r
    assert runk.state(cid)["status"] == "running"


def test_update_resources_from_file_and_stdin(runk, bundle, cid, audit, tmp_path):
    st = start(runk, bundle, cid, {"memory": {"limit": 64 * MiB}, "pids": {"limit": 20}})
    d = st["dirs"]
    res = tmp_path / "res.json"
    res.write_text(json.dumps({"memory": {"limit": 80 * MiB}, "pids": {"limit": 25}, "cpu": {"shares": 300}}))
    assert runk("update", "--resources", str(res), cid).rc == 0
    assert rd(d["memory"], "memory.limit_in_bytes") == str(80 * MiB)
    assert rd(d["pids"], "pids.max") == "25"
    assert rd(d["cpu"], "cpu.shares") == "300"
    r = runk(
        "update", "-r", "-", cid, input=json.dumps({"pids": {"limit": 12}, "cpu": {"quota": 20000, "period": 100000}})
    )
    assert r.rc == 0, r
    assert rd(d["pids"], "pids.max") == "12"
    assert rd(d["cpu"], "cpu.cfs_quota_us") == "20000"
    assert rd(d["memory"], "memory.limit_in_bytes") == str(80 * MiB)  # untouched
    # a bad value is a clear error and changes nothing
    r = runk("update", "--cpuset-cpus", "99", cid)
    assert r.rc != 0 and "cpuset.cpus" in r.err, r
    assert rd(d["cpuset"], "cpuset.cpus") != "99"


# -- pause / resume ------------------------------------------------------------------------------
def test_pause_resume_and_exec_while_paused(runk, bundle, cid, audit):
    st = start(runk, bundle, cid)
    fz = st["dirs"]["freezer"]
    assert runk("pause", cid).rc == 0
    assert rd(fz, "freezer.state") == "FROZEN"
    assert runk.state(cid)["status"] == "paused"
    assert "paused" in runk("list").out
    r = runk("exec", cid, "true")
    assert r.rc != 0 and "paused" in r.err and "--ignore-paused" in r.err, r
    # --ignore-paused lets it in; it runs once the container is thawed
    with tempfile.TemporaryFile() as out:
        p = subprocess.Popen(
            [runk.binary, "--root", runk.root, "exec", "--ignore-paused", cid, "echo", "ran"],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        try:
            # it joins the frozen cgroup and waits there with the container
            assert wait_for(lambda: len(cgroup_procs(fz)) == 2), cgroup_procs(fz)
            assert p.poll() is None
            assert runk("resume", cid).rc == 0
            assert p.wait(timeout=20) == 0
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        out.seek(0)
        assert out.read() == b"ran\n"
    assert rd(fz, "freezer.state") == "THAWED"
    assert runk.state(cid)["status"] == "running"
    assert runk("resume", cid).rc != 0  # not paused


# -- ps ------------------------------------------------------------------------------------------
def test_ps_table_json_and_ps_args(runk, bundle, cid, audit):
    st = start(runk, bundle, cid, None, "sh", "-c", "sleep 600 & sleep 600 & wait")
    procs = st["dirs"]["pids"]
    assert wait_for(lambda: len(cgroup_procs(procs)) == 3)
    r = runk("ps", "--format", "json", cid)
    assert r.rc == 0, r
    assert sorted(json.loads(r.out)) == sorted(cgroup_procs(procs))
    r = runk("ps", cid)
    lines = r.out.splitlines()
    assert lines[0].split()[:2] == ["UID", "PID"]
    cmds = sorted(l.split(None, 7)[7] for l in lines[1:])  # ps -ef cuts lines at 80 columns
    assert cmds[0].startswith("sh -c sleep 600 &") and cmds[1:] == ["sleep 600"] * 2, r
    r = runk("ps", cid, "-o", "pid,comm")
    assert r.rc == 0, r
    rows = [l.split() for l in r.out.splitlines()]
    assert rows[0] == ["PID", "COMMAND"]
    assert sorted(rows[1:]) == sorted(
        [
            [str(p), c]
            for p, c in ((st["pid"], "sh"),) + tuple((q, "sleep") for q in cgroup_procs(procs) if q != st["pid"])
        ]
    )
    assert runk("ps", "--format", "yaml", cid).rc != 0


# -- events --------------------------------------------------------------------------------------
def test_events_stats_once(runk, bundle, cid, audit):
    start(runk, bundle, cid, {"memory": {"limit": 64 * MiB}, "pids": {"limit": 30}})
    r = runk("events", "--stats", cid)
    assert r.rc == 0, r
    lines = r.out.splitlines()
    assert len(lines) == 1
    ev = json.loads(lines[0])
    assert ev["type"] == "stats" and ev["id"] == cid
    data = ev["data"]
    assert {"cpu", "memory", "pids"} <= set(data)
    assert data["memory"]["usage"]["usage"] > 0
    assert data["memory"]["usage"]["limit"] == 64 * MiB
    assert data["pids"] == {"current": 1, "limit": 30}
    assert data["cpu"]["usage"]["total"] > 0


def test_events_reports_oom(runk, bundle, cid, audit, tmp_path):
    start(runk, bundle, cid, {"memory": {"limit": 16 * MiB, "swap": 16 * MiB}})
    out = open(tmp_path / "events", "w+")
    p = subprocess.Popen(
        [runk.binary, "--root", runk.root, "events", "--interval", "1s", cid],
        stdout=out,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )

    def watching() -> bool:  # events holds the memory cgroup's oom_control (v1 notification)
        try:
            return any(
                os.readlink(f"/proc/{p.pid}/fd/{fd}").endswith("/memory.oom_control")
                for fd in os.listdir(f"/proc/{p.pid}/fd")
            )
        except OSError:
            return False

    try:
        assert wait_for(watching), "events did not arm its OOM watch"
        seen = False
        for _ in range(3):  # the eventfd is registered just after the open: retry a lost race
            assert runk("exec", cid, "sh", "-c", "tail /dev/zero").rc == 137
            seen = wait_for(lambda: '"oom"' in (tmp_path / "events").read_text(), timeout=2)
            if seen:
                break
        events = [json.loads(l) for l in (tmp_path / "events").read_text().splitlines()]
        assert seen, events
        assert {"type": "oom", "id": cid} in events
        assert all(e["type"] in ("oom", "stats") and e["id"] == cid for e in events)
        assert runk("kill", cid, "KILL").rc == 0
        p.wait(timeout=10)  # runk's events ends when the container stops (runc 1.1.5's goes on)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        out.close()


# -- kill --all, delete, failed create ------------------------------------------------------------
def test_kill_all_reaches_every_process(runk, bundle, cid, audit):
    without_pidns(bundle)  # no pid namespace: killing the init alone would leave the children
    st = start(runk, bundle, cid, None, "sh", "-c", "sleep 600 & sleep 600 & wait")
    d = st["dirs"]
    assert wait_for(lambda: len(cgroup_procs(d["pids"])) == 3)
    assert runk("kill", "--all", cid, "KILL").rc == 0
    assert wait_for(lambda: cgroup_procs(d["pids"]) == []), cgroup_procs(d["pids"])
    assert wait_for(lambda: runk.state(cid)["status"] == "stopped")
    assert runk("delete", cid).rc == 0
    assert leftovers(d) == []


@pytest.mark.parametrize("init_gone", [False, True])
def test_sigkill_in_the_host_pid_namespace_reaches_every_process(runk, bundle, cid, init_gone, audit):
    """runc (kill.bats "kill KILL [host pidns]"): without a pid namespace of its own, plain
    `kill ID KILL` (no --all) kills every process of the container's cgroup, the exec'd ones
    too; and it still does once the init is gone (the container reads stopped), where another
    signal is refused as not running."""
    without_pidns(bundle)
    st = start(runk, bundle, cid, None, "sleep", "600")
    d = st["dirs"]
    for _ in range(3):
        assert runk("exec", "-d", cid, "sleep", "600").rc == 0
    assert wait_for(lambda: len(cgroup_procs(d["pids"])) == 4)
    if init_gone:
        os.kill(st["pid"], 9)
        assert wait_for(lambda: runk.state(cid)["status"] == "stopped")
        r = runk("kill", cid, "TERM")
        assert r.rc != 0 and "container not running" in r.err, r
    assert runk("kill", cid, "KILL").rc == 0
    assert wait_for(lambda: cgroup_procs(d["pids"]) == []), cgroup_procs(d["pids"])
    assert wait_for(lambda: runk.state(cid)["status"] == "stopped")
    assert runk("delete", cid).rc == 0
    assert leftovers(d) == []
    r = runk("kill", cid, "KILL")
    assert r.rc != 0 and "does not exist" in r.err, r


def test_delete_removes_the_cgroup_in_every_hierarchy(runk, bundle, cid, audit):
    parent = f"{cid}-parent"
    try:
        st = start(
            runk, bundle, cid, {"memory": {"limit": 64 * MiB}, "pids": {"limit": 20}}, cgroupsPath=f"/{parent}/{cid}"
        )
        d = st["dirs"]
        assert {"memory", "cpu", "cpuset", "pids", "devices", "freezer", "blkio", "name=systemd", ""} <= set(d), (
            d
        )  # "": the cgroup2 mount (hybrid)
        assert all(p.endswith(f"/{parent}/{cid}") for p in d.values()), d
        assert runk("delete", cid).rc != 0  # running
        assert leftovers(d) == sorted(set(d.values()))
        assert runk("delete", "--force", cid).rc == 0
        assert leftovers(d) == []
    finally:
        # the parents stay, as runc leaves them (it removes the container's own path only)
        for mp in set(mountpoints().values()):
            for p in (os.path.join(mp, parent, cid), os.path.join(mp, parent)):
                if os.path.isdir(p):
                    os.rmdir(p)


def test_failed_create_leaves_no_cgroup(runk, bundle, cid, audit):
    mps = mountpoints()
    bundle.config["linux"]["cgroupsPath"] = f"/{cid}"
    bundle.config["linux"]["resources"] = {"memory": {"limit": 64 * MiB}, "cpu": {"cpus": "99"}}
    bundle.args("true").write()
    r = runk("create", "--bundle", bundle.path, cid)
    assert r.rc != 0 and "cpuset.cpus" in r.err and '\\"99\\"' in r.err, r
    assert [mp for mp in set(mps.values()) if os.path.exists(os.path.join(mp, cid))] == []
    assert runk("state", cid).rc != 0


def test_systemd_cgroup_is_refused_clearly(runk, bundle, cid, audit):
    if os.path.isdir("/run/systemd/system"):
        pytest.skip("systemd runs here: this test is for hosts without it")
    bundle.config["linux"]["cgroupsPath"] = f"system.slice:runk-test:{cid}"
    bundle.args("true").write()
    r = runk("create", "--bundle", bundle.path, cid, globals_=("--systemd-cgroup",))
    assert r.rc == 1, r
    assert "systemd not running on this host, cannot use systemd cgroups manager" in r.err
    assert runk("state", cid).rc != 0
    found = subprocess.run(
        ["find", "/sys/fs/cgroup", "-maxdepth", "4", "-name", f"*{cid}*"], capture_output=True, text=True
    ).stdout
    assert found == ""
    bundle.config["linux"]["cgroupsPath"] = f"/{cid}"  # not slice:prefix:name
    bundle.write()
    r = runk("create", "--bundle", bundle.path, cid, globals_=("--systemd-cgroup",))
    assert r.rc == 1 and 'format \\"slice:prefix:name\\"' in r.err, r


# -- differential: the same container under runc ------------------------------------------------
@pytest.fixture
def both(runk, runc, bundle, cid, audit):
    """start(resources, *args) -> [(runtime, id, state)] for runc and runk on the same bundle."""

    def go(resources=None, *args):
        out = []
        for rt in (runc, runk):
            name = f"{cid}-{os.path.basename(rt.binary)}"
            out.append((rt, name, start(rt, bundle, name, resources, *args)))
        return out

    return go


def test_differential_ps_and_stats(both):
    pair = both({"memory": {"limit": 64 * MiB}, "pids": {"limit": 30}}, "sh", "-c", "sleep 600 & sleep 600 & wait")
    counts, keys, pids = [], [], []
    for rt, name, st in pair:
        assert wait_for(lambda: len(cgroup_procs(st["dirs"]["pids"])) == 3)
        counts.append(len(json.loads(rt("ps", "--format", "json", name).out)))
        ev = json.loads(rt("events", "--stats", name).out)
        assert (ev["type"], ev["id"]) == ("stats", name)
        keys.append(set(ev["data"]))
        pids.append(ev["data"]["pids"])
        assert ev["data"]["memory"]["usage"]["limit"] == 64 * MiB
    assert counts == [3, 3]
    assert keys[0] == keys[1] and {"cpu", "memory", "pids"} <= keys[1], keys
    assert pids[0] == pids[1] == {"current": 3, "limit": 30}


def test_differential_freezer(both):
    for rt, name, st in both():
        fz = st["dirs"]["freezer"]
        assert rt("pause", name).rc == 0
        assert (rd(fz, "freezer.state"), rt.state(name)["status"]) == ("FROZEN", "paused")
        r = rt("exec", name, "true")
        assert r.rc != 0 and "cannot exec in a paused container" in r.err, (rt.binary, r)
        assert rt("pause", name).rc != 0, rt.binary  # already paused
        assert rt("resume", name).rc == 0
        assert (rd(fz, "freezer.state"), rt.state(name)["status"]) == ("THAWED", "running")
        # kill --all and delete --force of a paused container: nothing stays frozen or behind
        assert rt("pause", name).rc == 0
        assert rt("kill", "--all", name, "KILL").rc == 0
        assert wait_for(lambda: cgroup_procs(st["dirs"]["pids"]) == [])
        assert rt("delete", "--force", name).rc == 0
        assert leftovers(st["dirs"]) == [], rt.binary


UPDATE_FILES = [
    ("memory", "memory.limit_in_bytes"),
    ("memory", "memory.soft_limit_in_bytes"),
    ("memory", "memory.memsw.limit_in_bytes"),
    ("cpu", "cpu.shares"),
    ("cpu", "cpu.cfs_quota_us"),
    ("cpu", "cpu.cfs_period_us"),
    ("cpuset", "cpuset.cpus"),
    ("cpuset", "cpuset.mems"),
    ("pids", "pids.max"),
]


UPDATES = (
    ["--memory", "200m", "--memory-swap", "300m"],  # both above the old swap limit: swap first
    ["--memory", "32m", "--memory-swap", "48m"],  # both below the old limit: memory first
    ["--memory", "40m"],
    ["--memory-swap", "-1"],
    ["--cpu-quota", "40000", "--cpu-period", "80000"],
    ["--pids-limit", "50", "--blkio-weight", "5"],
    ["--memory-reservation", "24m", "--cpuset-cpus", "1", "--cpuset-mems", "0", "--cpu-share", "128"],
    ["--pids-limit", "-1"],
    ["--cpu-quota", "-1"],
)


def test_differential_update(both, tmp_path):
    res = tmp_path / "res.json"
    res.write_text(json.dumps({"memory": {"limit": 72 * MiB}, "cpu": {"shares": 700}, "pids": {"limit": 33}}))
    pair = both({"memory": {"limit": 64 * MiB, "swap": 96 * MiB}, "pids": {"limit": 20}, "cpu": {"shares": 1024}})
    seen = []
    for rt, name, st in pair:
        d = st["dirs"]
        files = UPDATE_FILES + ([("blkio", blkio_weight_file(d["blkio"]))] if blkio_weight_file(d["blkio"]) else [])
        snap = [{f: rd(d[c], f) for c, f in files}]
        for args in UPDATES + (["--resources", str(res)], ["-r", "-"]):
            r = rt("update", *args, name, input=json.dumps({"cpu": {"shares": 900}}))
            snap.append((args, r.rc, {f: rd(d[c], f) for c, f in files}))
        seen.append(snap)
    assert seen[0] == seen[1]
    after = {tuple(a): (rc, files) for a, rc, files in seen[1][1:]}
    assert after[("--memory", "200m", "--memory-swap", "300m")] == (
        0,
        {
            **after[("--memory", "200m", "--memory-swap", "300m")][1],
            "memory.limit_in_bytes": str(200 * MiB),
            "memory.memsw.limit_in_bytes": str(300 * MiB),
        },
    )
    assert after[("--pids-limit", "-1")][1]["pids.max"] == "max"
    assert after[("-r", "-")][1]["cpu.shares"] == "900"
    assert all(rc == 0 for rc, _ in after.values()), after


def test_differential_stopped_container(both):
    """update, pause, resume, events and ps on a stopped container: runc's answers."""
    answers = []
    for rt, name, _st in both():
        assert rt("kill", name, "KILL").rc == 0
        assert wait_for(lambda: rt.state(name)["status"] == "stopped")
        got = []
        for args in (["update", "--pids-limit", "5"], ["pause"], ["resume"], ["events", "--stats"]):
            r = rt(*args, name)
            msg = r.err.split("msg=", 1)[-1].strip().replace(name, "ID")
            got.append((args[0], r.rc, msg))
        r = rt("ps", name)
        got.append(("ps", r.rc, r.out.split()[:2]))
        r = rt("ps", "--format", "json", name)
        got.append(("ps json", r.rc, json.loads(r.out)))
        answers.append(got)
    assert answers[0] == answers[1]


def test_differential_leftovers_of_a_stopped_container(both, bundle):
    """No pid namespace: the init dies, its child lives on in the cgroup. ps lists it and
    delete (without --force) kills it and removes the cgroup, as runc does. (TERM: a KILL
    reaches every process of such a container in runc main and runk, the init alone in runc
    1.1.5; test_sigkill_in_the_host_pid_namespace_reaches_every_process.)"""
    without_pidns(bundle)
    answers = []
    for rt, name, st in both(None, "sh", "-c", "sleep 600 & wait"):
        d = st["dirs"]
        assert wait_for(lambda: len(cgroup_procs(d["pids"])) == 2)
        assert rt("kill", name, "TERM").rc == 0
        assert wait_for(lambda: rt.state(name)["status"] == "stopped")
        left = cgroup_procs(d["pids"])
        ps = json.loads(rt("ps", "--format", "json", name).out)
        assert ps == left and len(left) == 1, (rt.binary, ps, left)
        r = rt("delete", name)
        answers.append((len(ps), r.rc, leftovers(d)))
        assert proc_state(left[0]) in ("", "Z"), rt.binary  # killed (a zombie until reaped)
    assert answers == [(1, 0, []), (1, 0, [])], answers


def test_differential_default_devices_cannot_be_denied(both, bundle):
    """runc appends its default allow list after the spec's rules: a deny for /dev/null in the
    spec does not take it away, under runc or runk."""
    deny_null = {
        "devices": [
            {"allow": False, "access": "rwm"},
            {"allow": False, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
        ]
    }
    rules = []
    for rt, name, st in both(deny_null):
        r = rt("exec", name, "sh", "-c", "echo x > /dev/null && echo ok")
        assert (r.rc, r.out) == (0, "ok\n"), (rt.binary, r)
        rules.append(sorted(rd(st["dirs"]["devices"], "devices.list").splitlines()))
    assert rules[0] == rules[1]


def test_differential_exec_into_sub_cgroups(both):
    """exec --cgroup SUB (every hierarchy) and --cgroup CTRL:SUB (one v1 controller): the
    process's /proc/self/cgroup, as runc puts it there."""
    seen = []
    for rt, name, st in both():
        dirs = sorted(set(st["dirs"].values()))
        subs = [os.path.join(d, "sub") for d in dirs]
        for d in subs:
            os.mkdir(d)
            if d == os.path.join(st["dirs"]["cpuset"], "sub"):
                for f in ("cpuset.cpus", "cpuset.mems"):  # an empty cpuset takes no task
                    with open(os.path.join(d, f), "w") as out:
                        out.write(rd(st["dirs"]["cpuset"], f))
        try:
            every = rt("exec", "--cgroup", "sub", name, "cat", "/proc/self/cgroup")
            one = rt("exec", "--cgroup", "pids:sub", name, "cat", "/proc/self/cgroup")
            assert every.rc == 0 and one.rc == 0, (rt.binary, every, one)
            assert wait_for(lambda: all(cgroup_procs(d) == [] for d in subs))
        finally:
            for d in subs:
                os.rmdir(d)
        lines = [sorted(l.split(":", 1)[1].replace(name, "ID") for l in r.out.splitlines()) for r in (every, one)]
        assert all(l.endswith("/ID/sub") for l in lines[0]), (rt.binary, lines[0])
        moved = [l for l in lines[1] if l.endswith("/ID/sub")]
        assert moved == ["pids:/ID/sub"], (rt.binary, lines[1])
        seen.append(lines)
    assert seen[0] == seen[1]


def test_exec_cgroup_argument_errors(runk, bundle, cid, audit):
    start(runk, bundle, cid)
    for args, msg in (
        (["--cgroup", "nosuch:x"], "unknown controller nosuch"),
        (["--cgroup", "../../x"], "bad sub cgroup path: ../../x is not a sub cgroup path"),  # runc's
        (["--cgroup", ".."], " .. is not a sub cgroup path"),  # runc 1.1.5's words
        (["--cgroup", "a", "--cgroup", "b"], "missing <controller>: prefix"),
        (["--cgroup", "pids:a", "--cgroup", "pids:b"], "controller pids specified multiple times"),
        (["--cgroup", "sub-that-is-not-there"], "/sub-that-is-not-there/cgroup.procs: no such file or directory"),
        (["--cgroup", "cpu:sub-that-is-not-there"], "/sub-that-is-not-there/cgroup.procs: no such file "),
    ):
        r = runk("exec", *args, cid, "true")
        assert r.rc == 255 and msg in r.err, (args, r)
    # runc's words for a process that cannot join its cgroup (exec.bats greps " adding pid ")
    assert re.search(r"error adding pid \d+ to cgroups: failed to write \d+: open /sys/fs/cgroup/", r.err), r
