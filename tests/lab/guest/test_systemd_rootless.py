"""Rootless containers with the systemd cgroup driver, as the lingering user through its systemd
user instance (the user bus): `--rootless true --systemd-cgroup` by hand, then rootless podman with
cgroup_manager=systemd on the runtime; limits read back inside the container; runc alongside."""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid

import pytest
from conftest import BUNDLE, CG, REFERENCE, RUNC, RUNK, rootless_bundle, sh

MiB = 1 << 20
LIMITS = {"memory": {"limit": 64 * MiB}, "pids": {"limit": 42}}
INSIDE = "cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max; sed -n 's/^0:://p' /proc/self/cgroup"
TIMES: dict[str, float] = {}


def _user_unit_known(unit: str) -> bool:
    out = sh("systemctl", "--user", "list-units", "--all", "--plain", "--no-legend", unit).out
    return any(line.split()[0] == unit for line in out.splitlines() if line.strip())


def _gone(unit: str, path: str) -> bool:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (_user_unit_known(unit) or os.path.exists(path)):
        time.sleep(0.1)
    return not _user_unit_known(unit) and not os.path.exists(path)


@pytest.mark.as_user
@pytest.mark.parametrize("name,binary", [pytest.param("runc", RUNC, marks=REFERENCE), ("runk", RUNK)])
def test_rootless_systemd_scope(tmp_path, name, binary):
    """A full container in a scope of the user's manager: its limits inside, its unit with
    Delegate=yes, then exec and delete leave no unit."""
    uid = os.getuid()
    assert uid != 0
    cid = f"sdrl{name}{uuid.uuid4().hex[:6]}"
    unit = f"labrl-{cid}.scope"
    path = f"{CG}/user.slice/user-{uid}.slice/user@{uid}.service/user.slice/{unit}"
    b = rootless_bundle(str(tmp_path), binary, INSIDE + "; exec sleep 600", LIMITS, f"user.slice:labrl:{cid}")
    root = os.path.join(os.environ["XDG_RUNTIME_DIR"], f"lab-sdrl-{name}-{uuid.uuid4().hex[:6]}")
    rt = [binary, "--root", root, "--rootless", "true", "--systemd-cgroup"]
    out, err = tmp_path / "out", tmp_path / "err"
    try:
        with open(out, "w") as f, open(err, "w") as e:
            t = time.monotonic()
            cp = subprocess.run([*rt, "run", "-d", "-b", b, cid], stdin=subprocess.DEVNULL, stdout=f, stderr=e)
            TIMES[f"{name} run -d"] = time.monotonic() - t
        assert cp.returncode == 0, err.read_text()
        deadline = time.monotonic() + 10
        while len(out.read_text().split("\n")) < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        lines = out.read_text().split("\n")
        assert lines[:2] == [str(64 * MiB), "42"], lines
        assert lines[2] == "/", lines  # the spec's cgroup namespace (runc's and runk's alike)
        pid = json.loads(sh(*rt, "state", cid).out)["pid"]
        with open(f"{path}/cgroup.procs") as f:
            assert str(pid) in f.read().split()  # that "/" is the unit's group
        props = sh("systemctl", "--user", "show", unit, "-p", "ActiveState", "-p", "Delegate", "-p", "MemoryMax")
        assert sorted(props.out.split()) == ["ActiveState=active", "Delegate=yes", f"MemoryMax={64 * MiB}"], props
        t = time.monotonic()
        ex = sh(*rt, "exec", cid, "cat", "/sys/fs/cgroup/pids.max")
        TIMES[f"{name} exec"] = time.monotonic() - t
        assert ex.rc == 0 and ex.out.strip() == "42", ex
        t = time.monotonic()
        d = sh(*rt, "delete", "-f", cid)
        TIMES[f"{name} delete"] = time.monotonic() - t
        assert d.rc == 0, d
        assert _gone(unit, path), sh("systemctl", "--user", "status", unit)
    finally:
        sh(*rt, "delete", "-f", cid)


# -- rootless podman, cgroup_manager=systemd -------------------------------------------------
@pytest.fixture(scope="module")
def rootless_podman(tmp_path_factory):
    if not os.path.exists("/usr/bin/podman"):
        pytest.skip("podman is not installed")
    d = tmp_path_factory.mktemp("rlpodman")
    conf = d / "containers.conf"
    conf.write_text('[engine]\ncgroup_manager = "systemd"\nevents_logger = "file"\n')
    env = dict(os.environ, CONTAINERS_CONF=str(conf))
    runroot = os.path.join(os.environ["XDG_RUNTIME_DIR"], f"lab-sdpm-{uuid.uuid4().hex[:6]}")
    base = ["podman", "--root", str(d / "storage"), "--runroot", runroot, "--storage-driver", "vfs"]

    def run(*args: str, timeout: float = 180):
        return sh(*base, *args, env=env, timeout=timeout)

    tar = subprocess.run(["tar", "-C", f"{BUNDLE}/rootfs", "-c", "."], capture_output=True, check=True).stdout
    p = subprocess.run([*base, "import", "-", "localhost/labbox"], input=tar, capture_output=True, env=env)
    assert p.returncode == 0, p.stderr.decode()
    yield run
    run("rm", "-a", "-f", "-t", "0")
    run("system", "reset", "-f")
    sh("rm", "-rf", str(d), runroot)


@pytest.mark.as_user
@pytest.mark.parametrize("name,binary", [pytest.param("runc", RUNC, marks=REFERENCE), ("runk", RUNK)])
def test_rootless_podman_systemd_limits(rootless_podman, name, binary):
    t = time.monotonic()
    r = rootless_podman(
        "--runtime", binary, "run", "--rm", "--network", "none", "--memory", "64m", "--pids-limit", "50",
        "localhost/labbox", "sh", "-c", INSIDE,
    )  # fmt: skip
    TIMES[f"podman+{name} run --rm"] = time.monotonic() - t
    assert r.rc == 0, r
    assert r.out.split()[:3] == [str(64 * MiB), "50", "/"], r  # podman's own cgroup namespace


@pytest.mark.as_user
def test_zz_times():
    pytest.skip("times: " + "; ".join(f"{k} {v:.2f} s" for k, v in sorted(TIMES.items())))
