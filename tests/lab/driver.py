"""The lab guest's driver: runs inside the guest, started by systemd (lab-driver.service, Type=exec,
wanted by multi-user.target; tests/lab/stage1.sh writes it), on the host's python3 -S.

It waits for the boot to finish (`systemctl is-system-running --wait`) and for the lingering
user's systemd instance, then runs the plan's commands one after another (all at once when the plan says "parallel")
and reports to the host
over the virtio-serial port in runk.vm.wire frames: EVT {"event": "started"} once the system is
up, one STDOUT frame per JSON line ({"boot": {...}}, then one {"result": {...}} per command),
EXIT {"exit_code": 0}. Then `systemctl reboot --force --force` (qemu runs with -no-reboot).

A command of the plan: {"name", "argv", "user": bool, "timeout": s, "env": {}, "cwd"}. Each gets
an empty directory LAB_OUT=/run/lab/out/NAME (owned by the user it runs as), "{out}" in its argv
stands for it, and the files it leaves there come back in its result. A user command runs as
LAB_USER with runuser, with the user manager's XDG_RUNTIME_DIR and session bus.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

CHECKOUT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, CHECKOUT)

from runk.vm.wire import wire  # noqa: E402

LAB = "/run/lab"
MAX_FILE = 8 << 20


def uptime() -> float:
    with open("/proc/uptime") as f:
        return float(f.read().split()[0])


def sh(*argv: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def wait_for_boot(timeout: float) -> dict:
    t = time.monotonic()
    try:
        state = sh("systemctl", "is-system-running", "--wait", timeout=timeout).stdout.strip()
    except subprocess.TimeoutExpired:
        state = "timeout"
    failed = sh("systemctl", "list-units", "--failed", "--plain", "--no-legend").stdout
    boot = {
        "state": state,
        "uptime": uptime(),
        "waited": round(time.monotonic() - t, 2),
        "failed_units": [line.split()[0] for line in failed.splitlines() if line.strip()],
    }
    if state != "running":
        boot["jobs"] = sh("systemctl", "list-jobs", "--no-legend").stdout
        boot["journal"] = sh("journalctl", "-b", "-p", "warning", "--no-pager", "-q").stdout[-8000:]
    return boot


def wait_for_user(user: str, uid: int, timeout: float) -> dict:
    """The lingering user's manager: user@UID.service active and its bus socket there."""
    t = time.monotonic()
    unit = f"user@{uid}.service"
    state = ""
    while time.monotonic() - t < timeout:
        state = sh("systemctl", "is-active", unit).stdout.strip()
        if state == "active" and os.path.exists(f"/run/user/{uid}/bus"):
            break
        time.sleep(0.2)
    return {
        "name": user,
        "uid": uid,
        "unit": unit,
        "state": state,
        "waited": round(time.monotonic() - t, 2),
        "uptime": uptime(),
    }


def collect(out: str) -> dict:
    files = {}
    for base, _dirs, names in os.walk(out):
        for n in names:
            p = os.path.join(base, n)
            with open(p, "rb") as f:
                files[os.path.relpath(p, out)] = f.read(MAX_FILE).decode("utf-8", "replace")
    return files


def run_command(cmd: dict, user: dict) -> dict:
    name = cmd["name"]
    out = os.path.join(LAB, "out", name)
    os.makedirs(out, exist_ok=True)
    env = dict(
        os.environ,
        LAB_OUT=out,
        LAB_USER=user["name"],
        LAB_UID=str(user["uid"]),
        LAB_CHECKOUT=CHECKOUT,
        PYTHONDONTWRITEBYTECODE="1",
        **cmd.get("env", {}),
    )
    argv = [a.replace("{out}", out) for a in cmd["argv"]]
    if cmd.get("user"):
        os.chown(out, user["uid"], user["uid"])
        uid = user["uid"]
        argv = [
            "runuser",
            "-u",
            user["name"],
            "--",
            "env",
            f"HOME=/home/{user['name']}",
            f"XDG_RUNTIME_DIR=/run/user/{uid}",
            f"DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/{uid}/bus",
            *argv,
        ]
    t = time.monotonic()
    p = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env=env,
        cwd=cmd.get("cwd") or CHECKOUT,
        start_new_session=True,
    )
    try:
        stdout, stderr = p.communicate(timeout=cmd.get("timeout", 300))
        rc = p.returncode
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        stdout, stderr = p.communicate()
        rc = None
    return {
        "name": name,
        "rc": rc,
        "seconds": round(time.monotonic() - t, 2),
        "stdout": stdout.decode("utf-8", "replace"),
        "stderr": stderr.decode("utf-8", "replace"),
        "files": collect(out),
    }


def run_parallel(commands: list[dict], user: dict, line) -> None:
    """All the commands at once, each result sent as it comes (one line at a time)."""
    import threading

    lock = threading.Lock()

    def one(cmd: dict) -> None:
        r = run_command(cmd, user)
        with lock:
            line({"result": r})

    threads = [threading.Thread(target=one, args=(cmd,)) for cmd in commands]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def main() -> None:
    with open(os.path.join(LAB, "plan.json")) as f:
        plan = json.load(f)
    with open(os.path.join(LAB, "port")) as f:
        port = os.open(f.read().strip(), os.O_WRONLY)

    def send(data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(port, view) :]

    def line(obj: object) -> None:
        send(wire.encode(wire.STDOUT, 0, json.dumps(obj).encode() + b"\n"))

    try:
        boot = wait_for_boot(plan.get("boot_timeout", 120))
        send(wire.encode_json(wire.EVT, 0, {"event": "started", "uptime": boot["uptime"]}))
        with open(os.path.join(LAB, "uid")) as f:
            uid = int(f.read())
        boot["user"] = wait_for_user(plan["user"], uid, plan.get("user_timeout", 60))
        line({"boot": boot})
        if plan.get("parallel"):
            run_parallel(plan["commands"], boot["user"], line)
        else:
            for cmd in plan["commands"]:
                line({"result": run_command(cmd, boot["user"])})
        send(wire.encode_json(wire.EXIT, 0, {"exit_code": 0}))
    except BaseException as e:  # the host must hear why rather than wait for its timeout
        import traceback

        send(wire.encode(wire.STDERR, 0, traceback.format_exc().encode()))
        send(wire.encode_json(wire.EXIT, 0, {"exit_code": 70 if isinstance(e, Exception) else 1}))
    finally:
        os.close(port)
        subprocess.run(["systemctl", "reboot", "--force", "--force"])


if __name__ == "__main__":
    main()
