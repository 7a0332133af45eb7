"""A private dockerd for the session, with runk registered from the README's daemon.json.

Everything of it is its own: data root, exec root (so its managed containerd's sockets and
state too), pidfile, API socket, containerd namespaces, cgroup parent and a bridge made here
with a subnet no route of the host uses; iptables, ip forwarding and masquerading are off, so
nothing of the host's firewall changes. An image is imported from the tests' busybox rootfs
(`docker import`). At the end (also after a failure) every container is removed, dockerd and
whatever of it is left (containerd, shims) are ended by pid, mounts under its directories
unmounted, and the bridge, cgroups and directories it made removed. Skips with the reason when
docker.io is not installed or dockerd cannot start here.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid

import pytest

from tests.conftest import RUNC, RUNK, requires, shared_rootfs
from tests.podman.ptydrive import PtyRun, run_in_pty
from tests.snippets import snippet

DOCKER = "/usr/bin/docker"  # Debian's client, of the daemon's version (another may be first in PATH)
DOCKERD = "/usr/sbin/dockerd"
RUNTIMES = {"runk": RUNK, "runc": RUNC}
START_TIMEOUT = 60.0


def _free_subnet() -> str:
    """A /24 in 172.29.0.0/16 that no route of the host covers (the third octet random)."""
    routes = subprocess.run(["ip", "-4", "route", "show", "table", "all"], capture_output=True, text=True).stdout
    for _ in range(50):
        net = f"172.29.{uuid.uuid4().int % 250 + 2}"
        if f"{net}." not in routes:
            return net
    raise RuntimeError("no free 172.29.x.0/24 for the test bridge")


class Result:
    def __init__(self, cp: subprocess.CompletedProcess, elapsed: float) -> None:
        self.rc, self.out, self.err, self.elapsed = cp.returncode, cp.stdout, cp.stderr, elapsed
        self.argv = cp.args

    def __repr__(self) -> str:
        return f"Result(argv={self.argv[1:]!r}, rc={self.rc}, out={self.out[-500:]!r}, err={self.err[-800:]!r})"


class Dockerd:
    def __init__(self) -> None:
        self.tag = uuid.uuid4().hex[:8]
        self.dir = tempfile.mkdtemp(prefix=f"runk-docker-{self.tag}-", dir="/tmp")
        self.sock = os.path.join(self.dir, "docker.sock")
        self.exec_root = os.path.join(self.dir, "exec")
        self.pidfile = os.path.join(self.dir, "docker.pid")
        self.config = os.path.join(self.dir, "daemon.json")
        self.log = os.path.join(self.dir, "dockerd.log")
        self.bridge = f"rkdk{self.tag[:6]}"
        self.net = _free_subnet()
        self.cgroup_parent = f"runk-docker-{self.tag}"
        self.image = f"runk-docker-busybox-{self.tag}:latest"
        self.env = dict(os.environ, DOCKER_HOST=f"unix://{self.sock}", DOCKER_CONFIG=os.path.join(self.dir, "client"))
        self.env.pop("DOCKER_CONTEXT", None)
        self.proc: subprocess.Popen | None = None
        self.made = [
            p for p in ("/run/containerd", "/run/containerd/s", "/etc/docker/key.json") if not os.path.exists(p)
        ]
        self.write_config(snippet("docker-daemon.json"))

    def write_config(self, text: str) -> None:
        json.loads(text)  # the README's snippet is valid JSON
        with open(self.config, "w") as f:
            f.write(text)

    def start(self) -> None:
        subprocess.run(["ip", "link", "add", "name", self.bridge, "type", "bridge"], check=True, capture_output=True)
        subprocess.run(["ip", "addr", "add", f"{self.net}.1/24", "dev", self.bridge], check=True)
        subprocess.run(["ip", "link", "set", self.bridge, "up"], check=True)
        argv = [
            DOCKERD,
            "--config-file", self.config,
            "--data-root", os.path.join(self.dir, "data"),
            "--exec-root", self.exec_root,
            "--pidfile", self.pidfile,
            "-H", f"unix://{self.sock}",
            "--containerd-namespace", f"runk-docker-{self.tag}",
            "--containerd-plugins-namespace", f"runk-docker-{self.tag}-plugins",
            "--cgroup-parent", "/" + self.cgroup_parent,  # absolute: below the hierarchies' roots
            "--bridge", self.bridge,
            "--iptables=false", "--ip6tables=false", "--ip-forward=false", "--ip-masq=false",
            "--userland-proxy=false",
        ]  # fmt: skip
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen(argv, stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"dockerd exited {self.proc.returncode}: {self.tail()}")
            if os.path.exists(self.sock) and self("version", timeout=10).rc == 0:
                return
            time.sleep(0.1)
        raise RuntimeError(f"dockerd did not answer in {START_TIMEOUT:.0f} s: {self.tail()}")

    def reload(self, text: str) -> None:
        """Write a new daemon.json and SIGHUP dockerd (runtimes and default-runtime reload)."""
        self.write_config(text)
        assert self.proc is not None
        self.proc.send_signal(signal.SIGHUP)

    def tail(self) -> str:
        try:
            with open(self.log, errors="replace") as f:
                return f.read()[-2000:]
        except OSError:
            return ""

    def argv(self, *args: str) -> list[str]:
        return [DOCKER, *args]

    def __call__(self, *args: str, input: str | None = None, timeout: float = 60, check: bool = False) -> Result:
        t0 = time.monotonic()
        # files, not pipes: a detached container's shim could hold a pipe open
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            cp = subprocess.run(
                self.argv(*args),
                env=self.env,
                stdout=out,
                stderr=err,
                timeout=timeout,
                input=input.encode() if input is not None else None,
                stdin=None if input is not None else subprocess.DEVNULL,
            )
            out.seek(0)
            err.seek(0)
            cp.stdout, cp.stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
        r = Result(cp, time.monotonic() - t0)
        if check and r.rc != 0:
            raise AssertionError(f"docker failed: {r}\n{self.tail()}")
        return r

    def pty(self, *args: str, **kw: object) -> PtyRun:
        return run_in_pty(self.argv(*args), self.env, **kw)

    def _ours(self) -> list[int]:
        """Processes whose command line names our directory (containerd, shims)."""
        pids = []
        for p in os.listdir("/proc"):
            if p.isdigit():
                try:
                    with open(f"/proc/{p}/cmdline", "rb") as f:
                        if self.dir.encode() in f.read():
                            pids.append(int(p))
                except OSError:
                    pass
        return pids

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            r = self("ps", "-aq", timeout=30)
            if r.rc == 0 and r.out.split():
                self("rm", "-f", *r.out.split(), timeout=120)
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        deadline = time.monotonic() + 10
        while (pids := self._ours()) and time.monotonic() < deadline:
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGTERM if time.monotonic() < deadline - 5 else signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.2)
        with open("/proc/self/mountinfo") as f:
            mps = [l.split()[4] for l in f if self.dir in l.split()[4]]
        for mp in reversed(mps):
            subprocess.run(["umount", "-l", mp], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)
        subprocess.run(["ip", "link", "del", self.bridge], capture_output=True)
        # the cgroup parent and what containers left in it: children before the parent
        for d in sorted(glob.glob(f"/sys/fs/cgroup/*/{self.cgroup_parent}*"), key=len, reverse=True):
            for sub in glob.glob(os.path.join(d, "*/")):
                _rmdir(sub)
            _rmdir(d)
        for p in reversed(self.made):
            if p.endswith(".json"):
                try:
                    os.unlink(p)
                except OSError:
                    pass
            else:
                _rmdir(p)


def _rmdir(path: str) -> None:
    try:
        os.rmdir(path)
    except OSError:
        pass


@pytest.fixture(scope="session")
def dockerd():
    requires("root", "busybox")
    missing = [b for b in (DOCKER, DOCKERD) if not os.access(b, os.X_OK)]
    missing += [b for b in ("containerd", "containerd-shim-runc-v2") if not shutil.which(b)]
    if missing:
        pytest.skip(f"needs docker.io ({', '.join(missing)} missing; apt-get install docker.io)")
    d = Dockerd()
    try:
        d.start()
        tarball = os.path.join(d.dir, "busybox-rootfs.tar")
        subprocess.run(["tar", "--numeric-owner", "-C", shared_rootfs(), "-cf", tarball, "."], check=True)
        path_env = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        d("import", "-c", 'CMD ["/bin/sh"]', "-c", f"ENV {path_env}", tarball, d.image, timeout=120, check=True)
        os.unlink(tarball)
    except Exception as e:
        d.stop()
        pytest.skip(f"dockerd cannot run here: {e}")
    try:
        yield d
    finally:
        d.stop()


class Rt:
    """docker with `--runtime NAME` for one test; container names unique, removed afterwards."""

    def __init__(self, d: Dockerd, name: str) -> None:
        self.d = d
        self.name = name
        self.binary = RUNTIMES[name]
        self.image = d.image
        self.names: list[str] = []

    def new_name(self) -> str:
        n = f"rk-{self.name}-{uuid.uuid4().hex[:8]}"
        self.names.append(n)
        return n

    def run(self, *args: str, **kw) -> Result:
        """`docker run --rm --runtime NAME ARGS` (flags first, then the image and the command)."""
        return self.d("run", "--rm", "--runtime", self.name, *args, **kw)

    def run_d(self, *args: str, cmd: tuple[str, ...] = ("sleep", "1000")) -> str:
        name = self.new_name()
        self.d("run", "-d", "--runtime", self.name, "--name", name, *args, self.image, *cmd, check=True)
        return name

    def inspect(self, name: str) -> dict:
        return json.loads(self.d("inspect", name, check=True).out)[0]

    def knows(self, cid: str) -> bool:
        """The runtime itself has the container (its state under the shim's runtime root)."""
        for root in glob.glob(os.path.join(self.d.exec_root, "runtime-*", "*")):
            r = subprocess.run([self.binary, "--root", root, "state", cid], capture_output=True, timeout=30)
            if r.returncode == 0 and json.loads(r.stdout).get("id") == cid:
                return True
        return False

    def cgroup(self, name: str, controller: str, file: str) -> str:
        cid = self.inspect(name)["Id"]
        with open(f"/sys/fs/cgroup/{controller}/{self.d.cgroup_parent}/{cid}/{file}") as f:
            return f.read().strip()

    def wait_for(self, what: str, pred, timeout: float = 30):
        deadline = time.monotonic() + timeout
        while True:
            v = pred()
            if v:
                return v
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            time.sleep(0.1)

    def cleanup(self) -> None:
        if self.names:
            self.d("rm", "-f", *self.names, timeout=120)


@pytest.fixture(params=list(RUNTIMES))
def rt(request, dockerd):
    if not os.access(RUNTIMES[request.param], os.X_OK):
        pytest.skip(f"needs {RUNTIMES[request.param]}")
    r = Rt(dockerd, request.param)
    yield r
    r.cleanup()
