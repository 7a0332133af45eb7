"""Rootless runk on this host: non-root users made for the session, runk and runc run as them.

A user gets a home, /etc/subuid and /etc/subgid ranges, and its own XDG_RUNTIME_DIR
(/run/user/UID, 0700); everything is removed after the session (its processes killed by pid,
the entries and directories removed). Commands run as `runuser -u USER -- env -i ...` with a
clean environment, as a user's login would give them.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
import uuid

import pytest

from tests.conftest import RUNC, RUNK, SHARED_ROOTFS_DIR, requires, shared_rootfs
from tests.helpers import write_containers_conf

PODMAN = shutil.which("podman") or "/usr/bin/podman"
SUBID_FILES = ("/etc/subuid", "/etc/subgid")
SUBID_COUNT = 65536


class Result:
    def __init__(self, cp: subprocess.CompletedProcess, argv: list[str], elapsed: float) -> None:
        self.rc = cp.returncode
        self.out = cp.stdout
        self.err = cp.stderr
        self.argv = argv
        self.elapsed = elapsed

    def __repr__(self) -> str:
        return f"Result(argv={self.argv!r}, rc={self.rc}, out={self.out[-500:]!r}, err={self.err[-800:]!r})"


def _free_subid_start() -> int:
    """The first id above every range in /etc/subuid and /etc/subgid (and above 100000)."""
    top = 100000
    for f in SUBID_FILES:
        try:
            with open(f) as fh:
                for line in fh:
                    parts = line.strip().split(":")
                    if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
                        top = max(top, int(parts[1]) + int(parts[2]))
        except FileNotFoundError:
            pass
    return top


def _subid_entries(name: str, f: str) -> list[str]:
    try:
        with open(f) as fh:
            return [line for line in fh if line.split(":")[0] == name]
    except FileNotFoundError:
        return []


def _drop_subid_entries(name: str) -> None:
    for f in SUBID_FILES:
        try:
            with open(f) as fh:
                lines = fh.readlines()
        except FileNotFoundError:
            continue
        keep = [line for line in lines if line.split(":")[0] != name]
        if keep != lines:
            with open(f, "w") as fh:
                fh.writelines(keep)


def _pids_of(uid: int) -> list[int]:
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if os.stat(f"/proc/{name}").st_uid == uid:
                    out.append(int(name))
            except OSError:
                pass
    return out


def _owned_mounts(prefixes: tuple[str, ...]) -> list[str]:
    with open("/proc/self/mountinfo") as f:
        mps = [line.split()[4] for line in f]
    return [mp for mp in mps if mp.startswith(prefixes)]


class User:
    """A non-root user of this host made for the tests."""

    def __init__(self, name: str) -> None:
        self.name = name
        subprocess.run(["useradd", "-m", "-s", "/bin/sh", name], check=True, capture_output=True)
        pw = pwd.getpwnam(name)
        self.uid, self.gid, self.home = pw.pw_uid, pw.pw_gid, pw.pw_dir
        # useradd gives a range when /etc/subuid exists and SUB_UID_COUNT allows; else add one
        start = _free_subid_start()
        for f in SUBID_FILES:
            if not _subid_entries(name, f):
                with open(f, "a") as fh:
                    fh.write(f"{name}:{start}:{SUBID_COUNT}\n")
        self.xdg = f"/run/user/{self.uid}"
        os.makedirs(self.xdg, exist_ok=True)
        os.chown(self.xdg, self.uid, self.gid)
        os.chmod(self.xdg, 0o700)
        # a scratch directory of the user's for bundles (pytest's tmp_path is root's, 0700)
        self.tmp = tempfile.mkdtemp(prefix=f"{name}-", dir="/tmp")
        os.chown(self.tmp, self.uid, self.gid)

    def env(self, **extra: str | None) -> dict[str, str]:
        env = {
            "HOME": self.home,
            "USER": self.name,
            "LOGNAME": self.name,
            "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "XDG_RUNTIME_DIR": self.xdg,
        }
        for k, v in extra.items():
            if v is None:
                env.pop(k, None)
            else:
                env[k] = v
        return env

    def argv(self, argv: list[str], env: dict[str, str]) -> list[str]:
        return ["runuser", "-u", self.name, "--", "env", "-i", *(f"{k}={v}" for k, v in env.items()), *argv]

    def run(
        self,
        *argv: str,
        input: str | None = None,
        timeout: float = 60,
        env: dict[str, str] | None = None,
        cwd: str | None = None,
    ) -> Result:
        full = self.argv(list(argv), env if env is not None else self.env())
        t0 = time.monotonic()
        # files, not pipes: a detached container keeps the stdio it was given
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            cp = subprocess.run(
                full,
                input=input.encode() if input is not None else None,
                stdin=None if input is not None else subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                timeout=timeout,
                cwd=cwd or self.tmp,
            )
            out.seek(0)
            err.seek(0)
            cp.stdout = out.read().decode(errors="replace")
            cp.stderr = err.read().decode(errors="replace")
        return Result(cp, list(argv), time.monotonic() - t0)

    def mkdir(self, name: str) -> str:
        d = os.path.join(self.tmp, name)
        os.makedirs(d, exist_ok=True)
        os.chown(d, self.uid, self.gid)
        return d

    def remove(self) -> None:
        for _ in range(3):
            pids = _pids_of(self.uid)
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.3)
        for mp in reversed(_owned_mounts((self.home + "/", self.tmp + "/", self.xdg + "/"))):
            subprocess.run(["umount", "-l", mp], capture_output=True)
        shutil.rmtree(self.tmp, ignore_errors=True)
        shutil.rmtree(self.xdg, ignore_errors=True)
        subprocess.run(["userdel", "-r", "-f", self.name], capture_output=True)
        shutil.rmtree(self.home, ignore_errors=True)
        _drop_subid_entries(self.name)


class Users:
    """Up to a few users per session, made on first use."""

    def __init__(self) -> None:
        self.tag = uuid.uuid4().hex[:6]
        self.made: dict[str, User] = {}

    def get(self, which: str) -> User:
        if which not in self.made:
            self.made[which] = User(f"rkrl{which}{self.tag}")
        return self.made[which]

    def close(self) -> None:
        for u in self.made.values():
            u.remove()


@pytest.fixture(scope="session")
def users():
    requires("root", "busybox", "runk")
    if not shutil.which("useradd") or not shutil.which("runuser"):
        pytest.skip("needs useradd and runuser (passwd, util-linux)")
    shared_rootfs()
    u = Users()
    yield u
    u.close()


@pytest.fixture(scope="session")
def alice(users) -> User:
    return users.get("a")


@pytest.fixture(scope="session")
def bob(users) -> User:
    return users.get("b")


class RootlessBundle:
    """A bundle of `runk spec --rootless` made by the user, on the shared busybox rootfs."""

    def __init__(self, user: User, path: str, config: dict) -> None:
        self.user = user
        self.path = path
        self.config = config

    def args(self, *args: str) -> RootlessBundle:
        self.config["process"]["args"] = list(args)
        return self.write()

    def sh(self, script: str) -> RootlessBundle:
        return self.args("sh", "-c", script)

    def write(self) -> RootlessBundle:
        import json

        p = os.path.join(self.path, "config.json")
        with open(p, "w") as f:
            json.dump(self.config, f, indent=1)
        os.chown(p, self.user.uid, self.user.gid)
        return self


def rootless_bundle(user: User, spec_by: str = RUNK) -> RootlessBundle:
    import json

    d = user.mkdir("bundle-" + uuid.uuid4().hex[:8])
    r = user.run(spec_by, "spec", "--rootless", "--bundle", d)
    assert r.rc == 0, r
    with open(os.path.join(d, "config.json")) as f:
        cfg = json.load(f)
    cfg["root"] = {"path": os.path.join(SHARED_ROOTFS_DIR, "rootfs"), "readonly": True}
    cfg["process"]["terminal"] = False
    return RootlessBundle(user, d, cfg).args("true")


@pytest.fixture
def bundle_a(alice) -> RootlessBundle:
    return rootless_bundle(alice)


@pytest.fixture(params=["runk", "runc"])
def runtime(request) -> tuple[str, str]:
    """(name, binary): each scenario under runk and runc."""
    if request.param == "runc":
        requires("runc")
    return request.param, {"runk": RUNK, "runc": RUNC}[request.param]


# -- rootless podman --------------------------------------------------------------------------


class RootlessPodman:
    """`podman --runtime R` as the user, vfs storage in its home, in its own XDG_RUNTIME_DIR."""

    def __init__(self, user: User, conf: str, image: str, binary: str, runtime: str) -> None:
        self.user, self.conf, self.image, self.binary, self.runtime = user, conf, image, binary, runtime
        self.names: list[str] = []

    def argv(self, *args: str) -> list[str]:
        return [PODMAN, "--storage-driver", "vfs", "--runtime", self.binary, *args]

    def env(self) -> dict[str, str]:
        return self.user.env(CONTAINERS_CONF=self.conf)

    def __call__(self, *args: str, timeout: float = 90, input: str | None = None) -> Result:
        return self.user.run(*self.argv(*args), timeout=timeout, env=self.env(), input=input)

    def name(self) -> str:
        n = f"rkrl-{self.runtime}-{uuid.uuid4().hex[:6]}"
        self.names.append(n)
        return n

    def full_argv(self, *args: str) -> list[str]:
        return self.user.argv(self.argv(*args), self.env())

    def cleanup(self) -> None:
        for n in self.names:
            self("rm", "-f", "-t", "0", n)


@pytest.fixture(scope="session")
def podman_user(alice):
    """Alice with a busybox image in her own (vfs) storage and a containers.conf naming runk."""
    if not (shutil.which("podman") and shutil.which("conmon")):
        pytest.skip("needs podman and conmon (scripts/setup)")
    for tool in ("newuidmap", "slirp4netns"):
        if not shutil.which(tool):
            pytest.skip(f"needs {tool} (apt-get install uidmap slirp4netns; scripts/setup)")
    if not os.stat("/dev/net/tun").st_mode & 0o006:
        pytest.skip(
            "/dev/net/tun is 0600: rootless slirp4netns cannot open it (scripts/setup makes it 0666, as udev does)"
        )
    conf = os.path.join(alice.tmp, "containers.conf")
    write_containers_conf(conf, {"runtime": "runc"}, runtimes={"runk": RUNK, "runc": RUNC})
    os.chmod(conf, 0o644)
    tarball = os.path.join(alice.tmp, "busybox.tar")
    subprocess.run(["tar", "--numeric-owner", "-C", shared_rootfs(), "-cf", tarball, "."], check=True)
    os.chmod(tarball, 0o644)
    image = "localhost/rkrl-busybox:latest"
    pm = RootlessPodman(alice, conf, image, RUNC, "runc")
    r = pm("import", "--change", 'CMD ["/bin/sh"]', tarball, image, timeout=180)
    if r.rc != 0:
        pytest.skip(f"cannot import the test image as {alice.name}: {r}")
    yield alice, conf, image
    pm("system", "reset", "-f", timeout=180)


@pytest.fixture
def rpm(request, podman_user, runtime):
    user, conf, image = podman_user
    name, binary = runtime
    p = RootlessPodman(user, conf, image, binary, name)
    yield p
    p.cleanup()
