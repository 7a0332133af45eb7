"""Fixtures of the lab's guest-side tests: they run inside the systemd cgroup-v2 guest
(tests/lab/machine.py), as root unless marked as_user, on the checkout's .venv python, with
the checkout, the host's /usr and the shared busybox test bundle read-only at their host paths.

The environment (from tests/lab/driver.py): LAB_CHECKOUT, LAB_USER, LAB_UID, LAB_OUT; and
RUNK_LAB_REFERENCE=1 when the host's run has it, which runs the runc reference cases too (runc
alone, marked runc_reference: what runk's case is checked against, with no comparison in the
test), and the measurements (marked measurement: times of runk beside runc's); CI leaves
them out.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import uuid

import pytest

CHECKOUT = os.environ.get("LAB_CHECKOUT") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
)
RUNK = os.path.join(CHECKOUT, ".venv", "bin", "runk")
if CHECKOUT not in sys.path:
    sys.path.insert(0, CHECKOUT)  # the host suite's helpers (imports os and time only)
from tests.helpers import wait_for as wait_for  # noqa: E402  (the guest's tests import it from here)

RUNC = "/usr/sbin/runc"
BUNDLE = "/var/tmp/runk-test-bundle"  # scripts/mkbundle's, made by the host's tests/conftest.py
CG = "/sys/fs/cgroup"


def pytest_collection_modifyitems(config, items) -> None:
    if not os.path.exists("/run/lab/plan.json"):
        skip = pytest.mark.skip(reason="a lab guest test: runs only inside the lab (-m lab)")
        for item in items:
            item.add_marker(skip)
    elif not os.environ.get("RUNK_LAB_REFERENCE"):
        skip = pytest.mark.skip(reason="a runc reference case: RUNK_LAB_REFERENCE=1 runs it")
        timing = pytest.mark.skip(reason="a measurement (times beside runc's): RUNK_LAB_REFERENCE=1 runs it")
        for item in items:
            if item.get_closest_marker("runc_reference"):
                item.add_marker(skip)
            elif item.get_closest_marker("measurement"):
                item.add_marker(timing)


REFERENCE = pytest.mark.runc_reference


def runtimes(*, reference: bool = True) -> list:
    """["runc", "runk"] as parameters; runc a reference case (see pytest.ini) unless the test
    compares the two."""
    return [pytest.param("runc", marks=REFERENCE) if reference else "runc", "runk"]


class Proc:
    def __init__(self, cp: subprocess.CompletedProcess) -> None:
        self.rc, self.out, self.err = cp.returncode, cp.stdout, cp.stderr

    def __repr__(self) -> str:
        return f"rc={self.rc} out={self.out[-1500:]!r} err={self.err[-1500:]!r}"


def sh(*argv: str, input: str | None = None, timeout: float = 120, **kw) -> Proc:
    return Proc(
        subprocess.run(
            argv,
            capture_output=True,
            text=True,
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
            timeout=timeout,
            **kw,
        )
    )


def ok(*argv: str, **kw) -> str:
    p = sh(*argv, **kw)
    assert p.rc == 0, f"{' '.join(argv)}: {p}"
    return p.out


def read(path: str) -> str:
    with open(path) as f:
        return f.read().strip()


def proc_cgroup(pid: int) -> str:
    """The cgroup v2 path of `pid` (the 0:: line)."""
    for line in read(f"/proc/{pid}/cgroup").splitlines():
        if line.startswith("0::"):
            return line[3:]
    raise AssertionError(f"pid {pid} has no cgroup v2 line")


class Runtime:
    """runc or runk with its own --root (removed with every container left at the end)."""

    def __init__(self, binary: str, root: str, *global_args: str) -> None:
        self.binary, self.root, self.global_args = binary, root, list(global_args)

    def __call__(self, *args: str, **kw) -> Proc:
        # files, not pipes, for stdio: a detached container keeps what it was given
        import tempfile

        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            cp = subprocess.run(
                [self.binary, "--root", self.root, *self.global_args, *args],
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
                timeout=kw.get("timeout", 120),
            )
            out.seek(0)
            err.seek(0)
            return Proc(
                subprocess.CompletedProcess(
                    cp.args, cp.returncode, out.read().decode(errors="replace"), err.read().decode(errors="replace")
                )
            )

    def ok(self, *args: str) -> str:
        p = self(*args)
        assert p.rc == 0, f"{os.path.basename(self.binary)} {' '.join(args)}: {p}"
        return p.out

    def state(self, cid: str) -> dict:
        return json.loads(self.ok("state", cid))

    def cleanup(self) -> None:
        if os.path.isdir(self.root):
            for cid in os.listdir(self.root):
                self("delete", "--force", cid)
            subprocess.run(["rm", "-rf", self.root])


@pytest.fixture
def runc():
    rt = Runtime(RUNC, f"/run/lab-runc-{uuid.uuid4().hex[:8]}")
    yield rt
    rt.cleanup()


@pytest.fixture
def runk():
    rt = Runtime(RUNK, f"/run/lab-runk-{uuid.uuid4().hex[:8]}")
    yield rt
    rt.cleanup()


class Bundle:
    """A bundle dir whose config.json (scripts/mkbundle's) runs `args` on the shared rootfs."""

    def __init__(self, path: str) -> None:
        self.path = path
        with open(os.path.join(BUNDLE, "config.json")) as f:
            self.config = json.load(f)
        self.config["root"] = {"path": os.path.join(BUNDLE, "rootfs"), "readonly": True}
        self.config["process"]["terminal"] = False

    def write(self, args: list[str], resources: dict | None = None, cgroups_path: str | None = None) -> str:
        cfg = copy.deepcopy(self.config)
        cfg["process"]["args"] = args
        if resources is not None:
            cfg["linux"]["resources"] = resources
        if cgroups_path is not None:
            cfg["linux"]["cgroupsPath"] = cgroups_path
        with open(os.path.join(self.path, "config.json"), "w") as f:
            json.dump(cfg, f)
        return self.path


def rootless_bundle(
    path: str, binary: str, script: str, resources: dict | None = None, cgroups_path: str | None = None
) -> str:
    """A bundle in `path` from `binary spec --rootless` (runc's or runk's own) that runs `sh -c
    script` on the shared rootfs, with `resources` and `cgroups_path` when given."""
    p = sh(binary, "spec", "--rootless", "--bundle", path)
    assert p.rc == 0, p
    with open(os.path.join(path, "config.json")) as f:
        cfg = json.load(f)
    cfg["root"] = {"path": os.path.join(BUNDLE, "rootfs"), "readonly": True}
    cfg["process"]["terminal"] = False
    cfg["process"]["args"] = ["sh", "-c", script]
    if resources is not None:
        cfg["linux"]["resources"] = resources
    if cgroups_path is not None:
        cfg["linux"]["cgroupsPath"] = cgroups_path
    with open(os.path.join(path, "config.json"), "w") as f:
        json.dump(cfg, f)
    return path


@pytest.fixture
def bundle(tmp_path) -> Bundle:
    if not os.path.exists(os.path.join(BUNDLE, "rootfs", "bin", "busybox")):
        pytest.fail(f"{BUNDLE} is not shared with the guest (tests/lab/conftest.py shares it)")
    return Bundle(str(tmp_path))


@pytest.fixture(scope="session")
def podman_image(tmp_path_factory):
    """The shared busybox rootfs as an image in root's default podman storage: imported once
    per session (seconds under TCG), removed at its end."""
    if not os.path.exists("/usr/bin/podman"):
        pytest.skip("podman is not installed")
    image = f"localhost/labbox-{uuid.uuid4().hex[:6]}:latest"
    tarball = str(tmp_path_factory.mktemp("image") / "rootfs.tar")
    ok("tar", "--numeric-owner", "-C", os.path.join(BUNDLE, "rootfs"), "-cf", tarball, ".")
    ok("podman", "import", "--change", 'CMD ["/bin/sh"]', tarball, image, timeout=180)
    yield image
    sh("podman", "rmi", "-f", image, timeout=120)


class User:
    """The lingering non-root user: run a command as it, in its session's environment."""

    def __init__(self) -> None:
        self.name = os.environ.get("LAB_USER", "labuser")
        self.uid = int(os.environ.get("LAB_UID") or ok("id", "-u", self.name))
        self.manager = f"{CG}/user.slice/user-{self.uid}.slice/user@{self.uid}.service"

    def env(self) -> list[str]:
        return [
            f"HOME=/home/{self.name}",
            f"XDG_RUNTIME_DIR=/run/user/{self.uid}",
            f"DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/{self.uid}/bus",
        ]

    def sh(self, *argv: str, **kw) -> Proc:
        return sh("runuser", "-u", self.name, "--", "env", *self.env(), *argv, **kw)


@pytest.fixture(scope="session")
def user() -> User:
    return User()
