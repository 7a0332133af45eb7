"""process.scheduler, process.ioPriority, process.execCPUAffinity, linux.memoryPolicy and
linux.personality as the container's processes have them, read from the host (/proc/<pid>,
sched_getscheduler, ioprio_get, chrt) for the init and for exec'd processes, and runc's
refusals of bad values, each naming its field and leaving nothing behind."""

from __future__ import annotations

import ctypes
import json
import os
import subprocess
import tempfile

import pytest

from tests.helpers import proc_status, run_sh, running

SCHED_BATCH, SCHED_DEADLINE = 3, 6
IOPRIO_WHO_PROCESS = 1
SYS_ioprio_get = 252  # x86_64


def _ioprio(pid: int) -> tuple[int, int]:
    """(class, level) of pid, by ioprio_get(2) from the host."""
    libc = ctypes.CDLL(None, use_errno=True)
    v = libc.syscall(SYS_ioprio_get, IOPRIO_WHO_PROCESS, pid)
    assert v >= 0, os.strerror(ctypes.get_errno())
    return v >> 13, v & 0x1FFF


def _cpus(pid: int | str) -> str:
    return proc_status(pid)["Cpus_allowed_list"]


def _exec_pid(runk, cid: str, tmp_path, *args: str, process: dict | None = None) -> int:
    pidfile = tmp_path / f"exec-{len(os.listdir(tmp_path))}.pid"
    extra: list[str] = []
    if process is not None:
        p = tmp_path / "process.json"
        p.write_text(json.dumps(process))
        extra = ["--process", str(p)]
    r = runk("exec", "-d", "--pid-file", str(pidfile), *extra, cid, *args)
    assert r.rc == 0, r
    return int(pidfile.read_text())


def _all_cpus() -> str:
    with open(
        "/sys/fs/cgroup/cpuset/cpuset.cpus"
        if os.path.exists("/sys/fs/cgroup/cpuset")
        else "/sys/devices/system/cpu/online"
    ) as f:
        return f.read().strip()


def _refused(runk, bundle, cid: str, field: str, text: str) -> None:
    r = run_sh(runk, bundle, cid, "echo should-not-run")
    assert r.rc == 1 and "should-not-run" not in r.out, r
    assert f"{field}: {text}" in r.err.replace('\\"', '"'), r
    assert not os.path.exists(os.path.join(runk.root, cid)), "a refused create left its state"


# ---- process.scheduler


def test_scheduler_applies_to_init_and_exec(runk, bundle, cid, tmp_path, leak_audit):
    bundle.config["process"]["scheduler"] = {"policy": "SCHED_BATCH", "priority": 0, "nice": 19}
    with running(runk, bundle, cid) as pid:
        assert os.sched_getscheduler(pid) == SCHED_BATCH
        assert os.getpriority(os.PRIO_PROCESS, pid) == 19
        # an exec'd process takes the container's scheduler
        epid = _exec_pid(runk, cid, tmp_path, "sleep", "100")
        assert os.sched_getscheduler(epid) == SCHED_BATCH and os.getpriority(os.PRIO_PROCESS, epid) == 19
        # and its own --process scheduler wins, with every SCHED_DEADLINE parameter and flag
        proc = {
            "args": ["/bin/sleep", "100"],
            "cwd": "/",
            "scheduler": {
                "policy": "SCHED_DEADLINE",
                "flags": ["SCHED_FLAG_RESET_ON_FORK"],
                "runtime": 42000,
                "deadline": 100000,
                "period": 1000000,
            },
        }
        dpid = _exec_pid(runk, cid, tmp_path, process=proc)
        out = subprocess.run(["chrt", "-p", str(dpid)], capture_output=True, text=True, check=True).stdout
        assert "SCHED_DEADLINE|SCHED_RESET_ON_FORK" in out, out
        assert "runtime/deadline/period parameters: 42000/100000/1000000" in out, out


@pytest.mark.parametrize(
    "sched,field,text",
    [
        (
            {"policy": "SCHED_OTHER", "nice": 20},
            "process.scheduler.nice",
            "invalid scheduler.nice: 20 when scheduler.policy is SCHED_OTHER",
        ),
        (
            {"policy": "SCHED_BATCH", "priority": 3},
            "process.scheduler.priority",
            "scheduler.priority can only be specified for SchedFIFO or SchedRR policy",
        ),
        (
            {"policy": "SCHED_RR", "runtime": 1000},
            "process.scheduler",
            "scheduler runtime/deadline/period can only be specified for SchedDeadline policy",
        ),
    ],
)
def test_bad_scheduler_is_refused_with_runcs_text(runk, bundle, cid, sched, field, text, leak_audit):
    bundle.config["process"]["scheduler"] = sched
    _refused(runk, bundle, cid, field, text)


def test_deadline_scheduler_with_a_cpuset_names_it(runk, bundle, cid, leak_audit):
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("needs 2 CPUs")
    bundle.config["linux"]["resources"] = {"cpu": {"cpus": "0", "mems": "0"}}
    bundle.config["process"]["scheduler"] = {
        "policy": "SCHED_DEADLINE",
        "runtime": 42000,
        "deadline": 1000000,
        "period": 1000000,
    }
    r = run_sh(runk, bundle, cid, "echo should-not-run")
    assert r.rc == 1 and "process scheduler can't be used together with AllowedCPUs" in r.err, r
    assert not os.path.exists(os.path.join(runk.root, cid))


# ---- process.ioPriority


def test_io_priority_applies_to_init_and_exec(runk, bundle, cid, tmp_path, leak_audit):
    bundle.config["process"]["ioPriority"] = {"class": "IOPRIO_CLASS_BE", "priority": 4}
    with running(runk, bundle, cid) as pid:
        assert _ioprio(pid) == (2, 4)
        assert _ioprio(_exec_pid(runk, cid, tmp_path, "sleep", "100")) == (2, 4)
        # a process.json of its own wins; priority may be left out
        proc = {"args": ["/bin/sleep", "100"], "cwd": "/", "ioPriority": {"class": "IOPRIO_CLASS_IDLE"}}
        assert _ioprio(_exec_pid(runk, cid, tmp_path, process=proc)) == (3, 0)


# ---- linux.memoryPolicy


def _first_policy(text: str) -> str:
    return text.splitlines()[0].split()[1]


def test_memory_policy_reaches_init_and_exec(runk, bundle, cid, tmp_path, leak_audit):
    bundle.config["linux"]["memoryPolicy"] = {"mode": "MPOL_BIND", "nodes": "0", "flags": ["MPOL_F_STATIC_NODES"]}
    with running(runk, bundle, cid) as pid:
        with open(f"/proc/{pid}/numa_maps") as f:
            assert _first_policy(f.read()) == "bind=static:0"
        r = runk("exec", cid, "head", "-n1", "/proc/self/numa_maps")
        assert r.rc == 0 and _first_policy(r.out) == "bind=static:0", r


def test_memory_policy_interleave(runk, bundle, cid, leak_audit):
    bundle.config["linux"]["memoryPolicy"] = {"mode": "MPOL_INTERLEAVE", "nodes": "0"}
    r = run_sh(runk, bundle, cid, "head -n1 /proc/self/numa_maps")
    assert r.rc == 0 and _first_policy(r.out) == "interleave:0", r


@pytest.mark.parametrize(
    "policy,field,text",
    [
        ({}, "linux.memoryPolicy.mode", 'invalid memory policy mode ""'),
        ({"mode": "INTERLEAVE", "nodes": "0"}, "linux.memoryPolicy.mode", 'invalid memory policy mode "INTERLEAVE"'),
        (
            {"mode": "MPOL_PREFERRED", "nodes": "0", "flags": ["badflag"]},
            "linux.memoryPolicy.flags[0]",
            'invalid memory policy flag "badflag"',
        ),
        (
            {"mode": "MPOL_DEFAULT", "nodes": "0-7"},
            "linux.memoryPolicy.nodes",
            "memory policy mode requires 0 nodes but got 8",
        ),
        ({"mode": "MPOL_BIND"}, "linux.memoryPolicy.nodes", "memory policy mode requires at least one node but got 0"),
        ({"mode": "MPOL_BIND", "nodes": "0-9876543210"}, "linux.memoryPolicy.nodes", "invalid memory policy nodes"),
        (
            {"mode": "MPOL_BIND", "nodes": "3-1"},
            "linux.memoryPolicy.nodes",
            'invalid memory policy nodes "3-1": invalid range: 3-1',
        ),
    ],
)
def test_bad_memory_policy_is_refused(runk, bundle, cid, policy, field, text, leak_audit):
    bundle.config["linux"]["memoryPolicy"] = policy
    _refused(runk, bundle, cid, field, text)


def test_memory_policy_on_a_missing_node_fails_in_the_kernel(runk, bundle, cid, leak_audit):
    nodes = os.listdir("/sys/devices/system/node")
    missing = max(int(n[4:]) for n in nodes if n.startswith("node") and n[4:].isdigit()) + 1
    bundle.config["linux"]["memoryPolicy"] = {"mode": "MPOL_BIND", "nodes": str(missing)}
    r = run_sh(runk, bundle, cid, "echo should-not-run")
    assert r.rc == 1 and "set_mempolicy: invalid argument" in r.err, r
    assert not os.path.exists(os.path.join(runk.root, cid))


# ---- CPU affinity


def _taskset(runk, cpu: str, *args: str) -> subprocess.CompletedProcess:
    """runk pinned to one CPU by taskset; output through files (a detached container keeps its
    stdio open, so a pipe would not reach EOF)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        cp = subprocess.run(
            ["taskset", "-c", cpu, runk.binary, "--root", runk.root, *args],
            stdout=out,
            stderr=err,
            timeout=60,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "RUNK_TEST_ROOT": runk.root},
        )
        out.seek(0)
        err.seek(0)
        cp.stdout, cp.stderr = out.read().decode(), err.read().decode()
    return cp


def test_callers_affinity_does_not_leak_into_the_container(runk, bundle, cid, leak_audit):
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("needs 2 CPUs")
    first = str(min(os.sched_getaffinity(0)))
    bundle.args("sleep", "100").write()
    r = _taskset(runk, first, "run", "-d", "--bundle", bundle.path, cid)
    assert r.returncode == 0, r
    try:
        pid = runk.state(cid)["pid"]
        assert _cpus(pid) == _all_cpus()
        r = _taskset(runk, first, "exec", cid, "grep", "Cpus_allowed_list", "/proc/self/status")
        assert r.returncode == 0 and r.stdout.split() == ["Cpus_allowed_list:", _all_cpus()], r
    finally:
        runk("delete", "--force", cid)


def test_callers_affinity_gives_way_to_the_cgroup_cpuset(runk, bundle, cid, leak_audit):
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        pytest.skip("needs 2 CPUs")
    bundle.config["linux"]["resources"] = {"cpu": {"cpus": str(cpus[1]), "mems": "0"}}
    bundle.args("grep", "Cpus_allowed_list", "/proc/self/status").write()
    r = _taskset(runk, str(cpus[0]), "run", "--bundle", bundle.path, cid)
    assert r.returncode == 0 and r.stdout.split() == ["Cpus_allowed_list:", str(cpus[1])], r


def test_exec_cpu_affinity_final(runk, bundle, cid, tmp_path, leak_audit):
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        pytest.skip("needs 2 CPUs")
    bundle.config["process"]["execCPUAffinity"] = {"initial": str(cpus[0]), "final": str(cpus[1])}
    with running(runk, bundle, cid) as pid:
        assert _cpus(pid) == _all_cpus()  # not the init's: it is exec's setting
        assert _cpus(_exec_pid(runk, cid, tmp_path, "sleep", "100")) == str(cpus[1])
        proc = {"args": ["/bin/sleep", "100"], "cwd": "/", "execCPUAffinity": {"final": f"{cpus[0]},{cpus[1]}"}}
        assert _cpus(_exec_pid(runk, cid, tmp_path, process=proc)) == f"{cpus[0]}-{cpus[1]}"
    assert os.sched_getaffinity(0) == set(cpus)  # runk's own affinity was restored (library use)


def test_bad_cpu_affinity_is_refused(runk, bundle, cid, leak_audit):
    bundle.config["process"]["execCPUAffinity"] = {"final": "2-1"}
    _refused(runk, bundle, cid, "process.execCPUAffinity.final", 'bad CPUAffinity.Final "2-1": invalid range: 2-1')


# ---- personality on exec, refused fields


def test_personality_applies_to_exec(runk, bundle, cid, tmp_path, leak_audit):
    bundle.config["linux"]["personality"] = {"domain": "LINUX32"}
    with running(runk, bundle, cid) as pid:
        with open(f"/proc/{pid}/personality") as f:
            assert int(f.read(), 16) == 8  # PER_LINUX32
        r = runk("exec", cid, "uname", "-m")
        assert r.rc == 0 and r.out.strip() == "i686", r
        epid = _exec_pid(runk, cid, tmp_path, "sleep", "100")
        with open(f"/proc/{epid}/personality") as f:
            assert int(f.read(), 16) == 8


def test_intel_rdt_is_refused_where_the_host_has_none(runk, bundle, cid, leak_audit):
    if os.path.exists("/sys/fs/resctrl/schemata"):
        pytest.skip("this host has resctrl")
    bundle.config["linux"]["intelRdt"] = {"closID": "x", "l3CacheSchema": "L3:0=f"}
    _refused(runk, bundle, cid, "linux.intelRdt", "intelRdt is specified in config, but Intel RDT is not enabled")


def test_apparmor_profile_is_refused(runk, bundle, cid, leak_audit):
    bundle.config["process"]["apparmorProfile"] = "unconfined"
    _refused(runk, bundle, cid, "process.apparmorProfile", "AppArmor is not supported by runk")


def test_personality_flags_are_warned_about(runk, bundle, cid, leak_audit):
    bundle.config["linux"]["personality"] = {"domain": "LINUX", "flags": ["SOMEFLAG"]}
    r = run_sh(runk, bundle, cid, "true")
    assert r.rc == 0 and "ignoring unsupported personality flags: SOMEFLAG" in r.err, r
