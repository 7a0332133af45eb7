"""Shared fixtures: the runk runner, busybox bundles, requirement guards and the leak audit.

Tests that need root, runc, cgroups or KVM skip with the reason (runc's `requires`, crun's 77).
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import tempfile
import uuid

import pytest

try:  # the settings profiles (HYPOTHESIS_PROFILE=ci|long|dev) for every test that uses hypothesis
    import tests.property.profiles  # noqa: F401
except ImportError:  # pragma: no cover - hypothesis not installed: those tests skip
    pass

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
RUNK = os.path.join(TOP, ".venv", "bin", "runk")
RUNC = shutil.which("runc") or "/usr/sbin/runc"
SHARED_ROOTFS_DIR = "/var/tmp/runk-test-bundle"


def _have(what: str) -> str | None:
    """None if the host has `what`, else the reason it is missing."""
    if what == "root":
        return None if os.geteuid() == 0 else "needs root"
    if what == "runc":
        return None if os.access(RUNC, os.X_OK) else "needs runc (apt-get install runc)"
    if what == "runk":
        return None if os.access(RUNK, os.X_OK) else "needs .venv/bin/runk (scripts/setup)"
    if what == "busybox":
        return None if shutil.which("busybox") else "needs busybox-static"
    if what == "cgroup_v1":
        return None if os.path.isdir("/sys/fs/cgroup/memory") else "needs cgroup v1 controllers"
    if what == "cgroup2":
        with open("/proc/self/mountinfo") as f:
            return None if " - cgroup2 " in f.read() else "needs a cgroup2 mount"
    if what == "kvm":
        return None if os.path.exists("/dev/kvm") else "needs /dev/kvm"
    if what == "podman":
        return None if shutil.which("podman") and shutil.which("conmon") else "needs podman and conmon"
    if what == "containerd":
        missing = [b for b in ("containerd", "ctr", "containerd-shim-runc-v2") if not shutil.which(b)]
        return f"needs containerd ({', '.join(missing)} missing; apt-get install containerd)" if missing else None
    if what == "qemu":
        return None if shutil.which("qemu-system-x86_64") else "needs qemu-system-x86"
    raise ValueError(what)


def requires(*what: str) -> None:
    for w in what:
        why = _have(w)
        if why:
            pytest.skip(why)


class Result:
    def __init__(self, cp: subprocess.CompletedProcess) -> None:
        self.rc = cp.returncode
        self.out = cp.stdout
        self.err = cp.stderr

    def __repr__(self) -> str:
        return f"Result(rc={self.rc}, out={self.out[-400:]!r}, err={self.err[-600:]!r})"


class Runtime:
    """Runs runk (or runc, for differential tests) with its own --root."""

    def __init__(self, binary: str, root: str) -> None:
        self.binary = binary
        self.root = root

    def __call__(
        self,
        *args: str,
        input: str | None = None,
        timeout: float = 60,
        env: dict | None = None,
        check: bool = False,
        globals_: tuple = (),
    ) -> Result:
        cmd = [self.binary, "--root", self.root, *globals_, *args]
        # a tag in the environment of runk (and of its forked setup children) lets leak_audit
        # tell this test's processes from those of others using the machine
        env = {**(os.environ if env is None else env), "RUNK_TEST_ROOT": self.root}
        # files, not pipes: a created container keeps the stdio it was given open, so a pipe
        # would not reach EOF when runk exits (runc behaves the same)
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            cp = subprocess.run(
                cmd,
                input=input.encode() if input is not None else None,
                stdout=out,
                stderr=err,
                timeout=timeout,
                env=env,
                stdin=None if input is not None else subprocess.DEVNULL,
            )
            out.seek(0)
            err.seek(0)
            cp.stdout = out.read().decode(errors="replace")
            cp.stderr = err.read().decode(errors="replace")
        r = Result(cp)
        if check and r.rc != 0:
            raise AssertionError(f"{cmd} failed: {r}")
        return r

    def state(self, cid: str) -> dict:
        r = self("state", cid, check=True)
        return json.loads(r.out)

    def cleanup(self) -> None:
        if not os.path.isdir(self.root):
            return
        for cid in os.listdir(self.root):
            if cid != "@cache":  # runk's own files (store.CACHE_DIR)
                subprocess.run(
                    [self.binary, "--root", self.root, "delete", "--force", cid], capture_output=True, timeout=60
                )
        shutil.rmtree(self.root, ignore_errors=True)


def shared_rootfs() -> str:
    """A busybox rootfs built once by scripts/mkbundle and shared read-mostly by the tests."""
    rootfs = os.path.join(SHARED_ROOTFS_DIR, "rootfs")
    if not os.path.exists(os.path.join(rootfs, "bin", "busybox")):
        subprocess.run([os.path.join(TOP, "scripts", "mkbundle"), SHARED_ROOTFS_DIR], check=True, capture_output=True)
    _refresh_shared_config()
    return rootfs


def _refresh_shared_config() -> None:
    """The shared bundle outlives checkouts: its config.json is `runk spec` of the runk that made
    it (an older one gave "ociVersion": "1.0.2", and a test passed there that failed on a fresh
    machine). Rewrite it when this runk's spec says otherwise, so every test starts from it."""
    from runk.oci.defaults import spec_document

    path = os.path.join(SHARED_ROOTFS_DIR, "config.json")
    want = spec_document()
    try:
        with open(path) as f:
            if json.load(f) == want:
                return
    except (OSError, ValueError):
        pass
    with open(path + ".tmp", "w") as f:
        json.dump(want, f, indent="\t")
    os.replace(path + ".tmp", path)


class Bundle:
    """A bundle directory with its own config.json; the rootfs is shared unless copied."""

    def __init__(self, path: str, rootfs: str) -> None:
        self.path = path
        with open(os.path.join(SHARED_ROOTFS_DIR, "config.json")) as f:
            self.config = json.load(f)
        self.config["root"] = {"path": rootfs, "readonly": True}
        self.config["process"]["terminal"] = False
        self.config["process"]["args"] = ["true"]
        # what the host can grant (no CAP_SYS_RESOURCE here; hard nofile limit 20000)
        self.config["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}]

    @property
    def rootfs(self) -> str:
        return self.config["root"]["path"]

    def args(self, *args: str) -> Bundle:
        self.config["process"]["args"] = list(args)
        return self

    def sh(self, script: str) -> Bundle:
        return self.args("sh", "-c", script)

    def write(self) -> str:
        with open(os.path.join(self.path, "config.json"), "w") as f:
            json.dump(self.config, f, indent=1)
        return self.path

    def own_rootfs(self) -> str:
        """Copy the shared rootfs for a test that changes it."""
        dst = os.path.join(self.path, "rootfs")
        if not os.path.exists(dst):
            subprocess.run(["cp", "-a", self.rootfs, dst], check=True)
        self.config["root"]["path"] = dst
        return dst

    def copy(self) -> dict:
        return copy.deepcopy(self.config)


@pytest.fixture
def cid() -> str:
    return "t-" + uuid.uuid4().hex[:12]


def _runtime(name: str, binary: str):
    """A runtime with its own --root for one test, every container of it deleted afterwards."""
    requires("root", name)
    rt = Runtime(binary, f"/run/{name}-test/{uuid.uuid4().hex[:10]}")
    yield rt
    rt.cleanup()


@pytest.fixture
def runk() -> Runtime:
    yield from _runtime("runk", RUNK)


@pytest.fixture
def runc() -> Runtime:
    yield from _runtime("runc", RUNC)


@pytest.fixture
def bundle(tmp_path: object) -> Bundle:
    requires("root", "busybox", "runk")
    rootfs = shared_rootfs()
    d = tmp_path / "bundle"
    d.mkdir()
    b = Bundle(str(d), rootfs)
    b.write()
    return b


# mount points other tools on a shared machine make and remove while tests run (podman, netavark)


def _mounts(basetemp: str) -> set[str]:
    """Mounts where a container of this session could leak one into the host's namespace: its
    bundles and rootfs copies (pytest's temporary directory), the shared test rootfs, and the
    --root directories. Other tools' mounts elsewhere (podman, VMs) are not this test's."""
    ours = (basetemp, SHARED_ROOTFS_DIR, "/run/runk-test", "/run/runc-test")
    out = set()
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mp = line.split()[4]
            if mp.startswith(ours):
                out.add(" ".join(line.split()[3:5]))
    return out


def _ours(pid: str, root: str, comm: str) -> bool:
    """A runk setup process started by this test (tagged environment), or a waiting init whose
    exec fifo lives under this test's --root."""
    try:
        if comm.startswith("runk:["):
            with open(f"/proc/{pid}/environ", "rb") as f:
                return f"RUNK_TEST_ROOT={root}".encode() in f.read().split(b"\0")
        for fd in os.listdir(f"/proc/{pid}/fd"):
            if os.readlink(f"/proc/{pid}/fd/{fd}").startswith(root + "/"):
                return True
    except OSError:
        pass
    return False


def _runk_procs(root: str) -> set[str]:
    out = set()
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/comm") as f:
                comm = f.read().strip()
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().split(b"\0")[0].decode(errors="replace")
        except OSError:
            continue
        if (comm.startswith("runk:[") or cmd == "runk-exec") and _ours(pid, root, comm):
            with open(f"/proc/{pid}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
            if state != "Z":
                out.add(f"{pid}:{comm}")
    return out


@pytest.fixture
def leak_audit(runk: Runtime, tmp_path_factory) -> None:
    """After the test: no new mounts, no live runk setup or waiting process, no state left."""
    basetemp = str(tmp_path_factory.getbasetemp())
    before_m = _mounts(basetemp)
    before_p = _runk_procs(runk.root)
    yield
    assert _mounts(basetemp) - before_m == set(), "mounts left behind"
    assert _runk_procs(runk.root) - before_p == set(), "runk processes left behind"
    leftover = [n for n in os.listdir(runk.root) if n != "@cache"] if os.path.isdir(runk.root) else []
    assert leftover == [], "state left behind"
