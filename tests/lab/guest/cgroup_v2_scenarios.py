"""The scenarios of test_cgroup_v2.py, run in the lab guest (cgroup v2 only, systemd as PID 1):
real containers with runk's own CLI (cgroupfs driver; and the same ones with runc, for the v1→v2
conversions), collected into one report. Every scenario is caught on its own, so one failure
does not hide the others: the report has {"error": traceback} in its place.

    collect(RUNK, RUNC, BASE) -> dict

BASE holds rootfs/ (busybox) and base.json (a config from `runk spec`); bundles are written there.
Containers run with --no-pivot, as they did when this ran with an initramfs as the guest's root.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
import traceback

from conftest import wait_for

RUNK = RUNC = BASE = ""  # set by collect()
CG = "/sys/fs/cgroup"
MiB = 1 << 20
V2_FILES = (
    "memory.max",
    "memory.low",
    "memory.high",
    "memory.swap.max",
    "cpu.weight",
    "cpu.max",
    "cpuset.cpus",
    "cpuset.mems",
    "pids.max",
    "io.weight",
    "io.bfq.weight",
)


class Runtime:
    def __init__(self, binary: str, root: str) -> None:
        self.binary, self.root, self.name = binary, root, os.path.basename(binary)

    def __call__(self, *args: str, input: str | None = None, timeout: float = 60) -> dict:
        # files, not pipes: a detached container keeps the stdio it was given
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            rc = subprocess.run(
                [self.binary, "--root", self.root, *args],
                stdout=out,
                stderr=err,
                input=input.encode() if input is not None else None,
                stdin=None if input is not None else subprocess.DEVNULL,
                timeout=timeout,
            ).returncode
            out.seek(0)
            err.seek(0)
            return {"rc": rc, "out": out.read().decode(errors="replace"), "err": err.read().decode(errors="replace")}

    def ok(self, *args: str, **kw) -> dict:
        r = self(*args, **kw)
        if r["rc"] != 0:
            raise RuntimeError(f"{self.name} {' '.join(args)}: {r}")
        return r

    def state(self, cid: str) -> dict:
        return json.loads(self.ok("state", cid)["out"])

    def run_d(self, cid: str, bundle: str) -> tuple[int, str]:
        self.ok("run", "-d", "--no-pivot", "--bundle", bundle, cid)
        pid = self.state(cid)["pid"]
        return pid, cgroup_dir(pid)


RUNTIMES: dict[str, Runtime] = {}
rk: Runtime


def bundle(name: str, args: list[str], resources: dict | None = None, **linux) -> str:
    with open(os.path.join(BASE, "base.json")) as f:
        cfg = json.load(f)
    cfg["root"] = {"path": os.path.join(BASE, "rootfs"), "readonly": True}
    cfg["process"].update(terminal=False, args=args)
    cfg["linux"]["resources"] = {"devices": [{"allow": False, "access": "rwm"}], **(resources or {})}
    cfg["linux"].update(linux)
    d = os.path.join(BASE, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f)
    return d


def cgroup_dir(pid: int) -> str:
    with open(f"/proc/{pid}/cgroup") as f:
        for line in f:
            if line.startswith("0::"):
                return CG + line[3:].strip()
    raise RuntimeError(f"pid {pid} has no cgroup v2 path")


def rd(d: str, name: str) -> str | None:
    try:
        with open(os.path.join(d, name)) as f:
            return f.read().strip()
    except OSError:
        return None


def files(d: str) -> dict:
    return {n: rd(d, n) for n in V2_FILES}


def keyed(d: str, name: str) -> dict:
    return dict(l.split(None, 1) for l in (rd(d, name) or "").splitlines())


def procs(d: str) -> list[int]:
    return [int(p) for p in (rd(d, "cgroup.procs") or "").split()]


def device_programs(d: str) -> int:
    from runk.linux.cgroups import devices_bpf

    fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
    try:
        return len(devices_bpf.attached(fd, d))
    finally:
        os.close(fd)


def msg(r: dict) -> str:
    """The message of a logfmt error line."""
    return r["err"].split('msg="', 1)[-1].rsplit('"', 1)[0]


# -- scenarios -----------------------------------------------------------------------------------
RESOURCES = {
    "memory": {"limit": 64 * MiB, "reservation": 32 * MiB, "swap": 96 * MiB},
    "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0", "mems": "0"},
    "pids": {"limit": 40},
    "blockIO": {"weight": 300},
    "unified": {"memory.high": str(60 * MiB)},
}
UPDATE = [
    "--memory",
    "100m",
    "--memory-swap",
    "150m",
    "--memory-reservation",
    "40m",
    "--cpu-share",
    "1024",
    "--cpu-quota",
    "20000",
    "--cpu-period",
    "50000",
    "--pids-limit",
    "30",
    "--blkio-weight",
    "500",
]
UPDATE_R = {"pids": {"limit": 25}, "cpu": {"shares": 2}, "unified": {"memory.high": str(90 * MiB)}}


def resources(rt: Runtime) -> dict:
    """Every v2 file after create, update (flags, then -r -), pause/resume, stats, delete."""
    cid = f"res-{rt.name}"
    b = bundle(cid, ["sh", "-c", "sleep 600 & sleep 600 & wait"], RESOURCES, cgroupsPath=f"/runk-v2/{cid}")
    out: dict = {}
    pid, d = rt.run_d(cid, b)
    out["dir"] = d
    wait_for(lambda: len(procs(d)) == 3)
    out["created"] = files(d)
    out["init_in_group"] = pid in procs(d)
    out["device_programs"] = device_programs(d)
    out["ps"] = json.loads(rt.ok("ps", "--format", "json", cid)["out"])
    out["procs"] = sorted(procs(d))
    ev = json.loads(rt.ok("events", "--stats", cid)["out"])
    out["stats"] = {
        "type": ev["type"],
        "id": ev["id"],
        "keys": sorted(ev["data"]),
        "memory": ev["data"].get("memory", {}).get("usage"),
        "pids": ev["data"].get("pids"),
        "cpu_total": ev["data"]["cpu"]["usage"]["total"],
    }
    out["update"] = {"rc": rt("update", *UPDATE, cid)["rc"], "files": files(d)}
    r = rt("update", "-r", "-", cid, input=json.dumps(UPDATE_R))
    out["update_r"] = {"rc": r["rc"], "err": r["err"], "files": files(d)}
    rt.ok("pause", cid)
    r = rt("exec", cid, "true")
    out["paused"] = {
        "freeze": rd(d, "cgroup.freeze"),
        "frozen": keyed(d, "cgroup.events").get("frozen"),
        "status": rt.state(cid)["status"],
        "exec_rc": r["rc"],
        "exec_msg": msg(r),
    }
    rt.ok("resume", cid)
    out["resumed"] = {
        "freeze": rd(d, "cgroup.freeze"),
        "frozen": keyed(d, "cgroup.events").get("frozen"),
        "status": rt.state(cid)["status"],
        "exec": rt("exec", cid, "echo", "in")["out"],
    }
    out["delete"] = rt("delete", "--force", cid)["rc"]
    out["dir_left"] = os.path.isdir(d)
    out["parent_left"] = os.path.isdir(os.path.dirname(d))
    return out


def kill_all() -> dict:
    cid = "killall"
    cfg_ns = [{"type": t} for t in ("network", "ipc", "uts", "mount")]  # no pid namespace
    b = bundle(cid, ["sh", "-c", "sleep 600 & sleep 600 & wait"], namespaces=cfg_ns)
    pid, d = rk.run_d(cid, b)
    wait_for(lambda: len(procs(d)) == 3)
    out = {"before": len(procs(d)), "has_cgroup_kill": os.path.exists(os.path.join(d, "cgroup.kill"))}
    out["kill_rc"] = rk("kill", "--all", cid, "KILL")["rc"]
    wait_for(lambda: not procs(d))
    out["after"] = len(procs(d))
    wait_for(lambda: rk.state(cid)["status"] == "stopped")
    out["status"] = rk.state(cid)["status"]
    out["delete"] = rk("delete", cid)["rc"]
    out["dir_left"] = os.path.isdir(d)
    return out


def devices() -> dict:
    """The eBPF device filter: nodes made by linux.devices (/dev/kmsg, and /dev/null, whose
    default allow rule is then dropped as runc does) under a deny-all, then allowed."""
    nodes = [
        {"path": "/dev/kmsg", "type": "c", "major": 1, "minor": 11, "fileMode": 0o600},
        {"path": "/dev/null", "type": "c", "major": 1, "minor": 3, "fileMode": 0o666},
    ]
    script = "echo runk-v2-guest > /dev/kmsg && echo kmsg; echo x > /dev/null && echo null"
    deny = [{"allow": False, "access": "rwm"}]

    def allow(minor: int, access: str) -> dict:
        return {"allow": True, "type": "c", "major": 1, "minor": minor, "access": access}

    out = {}
    for name, rules, sh in (
        ("denied", deny, script),
        ("allowed", deny + [allow(11, "w"), allow(3, "rw")], script),
        ("read_only", deny + [allow(11, "r")], "echo x > /dev/kmsg && echo kmsg"),
    ):
        b = bundle(f"dev-{name}", ["sh", "-c", sh], devices=nodes)
        with open(os.path.join(b, "config.json")) as f:
            cfg = json.load(f)
        cfg["linux"]["resources"]["devices"] = rules
        with open(os.path.join(b, "config.json"), "w") as f:
            json.dump(cfg, f)
        r = rk("run", "--no-pivot", "--bundle", b, f"dev-{name}")
        out[name] = {"rc": r["rc"], "out": r["out"].split(), "eperm": r["err"].count("Operation not permitted")}
    return out


def failed_create() -> dict:
    b = bundle("bad", ["true"], {"memory": {"limit": 64 * MiB}, "cpu": {"cpus": "99"}}, cgroupsPath="/runk-v2-bad")
    r = rk("create", "--no-pivot", "--bundle", b, "bad")
    return {
        "rc": r["rc"],
        "err": r["err"],
        "left": os.path.exists(f"{CG}/runk-v2-bad"),
        "state_rc": rk("state", "bad")["rc"],
    }


def collect(runk: str, runc: str, base: str) -> dict:
    global RUNK, RUNC, BASE, rk
    RUNK, RUNC, BASE = runk, runc, base
    # roots of their own: podman (another session) keeps runk's and runc's state in /run/runk and /run/runc
    tag = os.urandom(4).hex()
    RUNTIMES.update(runk=Runtime(RUNK, f"/run/lab-v2-runk-{tag}"), runc=Runtime(RUNC, f"/run/lab-v2-runc-{tag}"))
    rk = RUNTIMES["runk"]
    report: dict = {
        "controllers": rd(CG, "cgroup.controllers"),
        # (mount point, type) of every cgroup mount; CRIU's restore in the other root session
        # mounts a cgroup2 of its own for a moment (its cgroup yard), so there may be two
        "mounts": [
            [l.split()[4], l.split(" - ")[1].split()[0]] for l in open("/proc/self/mountinfo") if " - cgroup" in l
        ],
    }
    scenarios = [
        ("runk", lambda: resources(RUNTIMES["runk"])),
        ("runc", lambda: resources(RUNTIMES["runc"])),
        ("kill_all", kill_all),
        ("devices", devices),
        ("failed_create", failed_create),
    ]
    for name, fn in scenarios:
        if name == "runc" and not os.access(RUNC, os.X_OK):
            continue
        t = time.monotonic()
        try:
            report[name] = fn()
        except BaseException:
            report[name] = {"error": traceback.format_exc()}
        report.setdefault("seconds", {})[name] = round(time.monotonic() - t, 2)
    for rt in RUNTIMES.values():  # no state may be left: list what is
        report.setdefault("left", {})[rt.name] = list(os.listdir(rt.root) if os.path.isdir(rt.root) else [])
        if report["left"][rt.name] == [] and os.path.isdir(rt.root):
            os.rmdir(rt.root)
    return report
