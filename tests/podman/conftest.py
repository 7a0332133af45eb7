"""podman end to end, offline, on runk and on runc (CONTRACT.md section 1).

The session fixture writes a test-local containers.conf (passed through CONTAINERS_CONF, so
/etc/containers is never touched) and imports a busybox image under a per-session name. Every
scenario runs twice, with `podman --runtime` = the checkout's runk and = runc, so that a
failure on runk alone is runk's and not the set-up's. Containers get per-session unique names and
are removed after each test; the image is removed after the session.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
import uuid

import pytest

from tests.conftest import RUNC, RUNK, requires, shared_rootfs
from tests.helpers import write_containers_conf
from tests.podman.ptydrive import PtyRun, run_in_pty

RUNTIMES = {"runk": RUNK, "runc": RUNC}
PODMAN = shutil.which("podman") or "/usr/bin/podman"


def _containers_conf(path: str) -> None:
    write_containers_conf(path, {"runtime": "runc"}, runtimes={"runk": RUNK, "runc": RUNC})


class Result:
    def __init__(self, rc: int, out: str, err: str, argv: list, elapsed: float) -> None:
        self.rc, self.out, self.err, self.argv, self.elapsed = rc, out, err, argv, elapsed

    def __repr__(self) -> str:
        return (
            f"Result(argv={' '.join(self.argv[3:])!r}, rc={self.rc}, out={self.out[-500:]!r}, err={self.err[-800:]!r})"
        )


class Session:
    """What the whole session shares: the environment, the image, the name prefix."""

    def __init__(self, workdir: str) -> None:
        self.workdir = workdir
        self.conf = os.path.join(workdir, "containers.conf")
        _containers_conf(self.conf)
        self.env = dict(os.environ, CONTAINERS_CONF=self.conf)
        self.env.pop("CONTAINER_HOST", None)
        self.prefix = "rkpm" + uuid.uuid4().hex[:6]
        self.image = f"localhost/{self.prefix}-busybox:latest"

    def podman(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run(
            [PODMAN, *args], env=self.env, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
        )

    def import_image(self) -> None:
        tarball = os.path.join(self.workdir, "busybox-rootfs.tar")
        subprocess.run(["tar", "--numeric-owner", "-C", shared_rootfs(), "-cf", tarball, "."], check=True)
        r = self.podman(
            "import",
            "--change",
            'CMD ["/bin/sh"]',
            "--change",
            "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            tarball,
            self.image,
            timeout=120,
        )
        if r.returncode != 0:
            raise RuntimeError(f"podman import failed: {r.stderr}")

    def remove_leftovers(self) -> None:
        r = self.podman("ps", "-a", "--filter", f"name=^{self.prefix}", "--format", "{{.Names}}")
        for name in r.stdout.split():
            if name.startswith(self.prefix):
                self.podman("rm", "-f", "-t", "0", name)

    def close(self) -> None:
        self.remove_leftovers()
        self.podman("rmi", "-f", self.image)


class Podman:
    """`podman --runtime RUNTIME ...` for one test, with unique container names."""

    def __init__(self, session: Session, runtime: str, binary: str) -> None:
        self.session = session
        self.runtime = runtime
        self.binary = binary
        self.image = session.image
        self.names: list[str] = []

    def argv(self, *args: str) -> list[str]:
        return [PODMAN, "--runtime", self.binary, *args]

    def __call__(
        self,
        *args: str,
        input: str | None = None,
        timeout: float = 60,
        check: bool = False,
        shell_prefix: list | None = None,
    ) -> Result:
        argv = self.argv(*args)
        if shell_prefix:
            argv = [*shell_prefix, *argv]
        # files, not pipes: conmon outlives `run -d` and would keep a pipe open
        t0 = time.monotonic()
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            cp = subprocess.run(
                argv,
                env=self.session.env,
                stdout=out,
                stderr=err,
                timeout=timeout,
                input=input.encode() if input is not None else None,
                stdin=None if input is not None else subprocess.DEVNULL,
            )
            out.seek(0)
            err.seek(0)
            r = Result(
                cp.returncode,
                out.read().decode(errors="replace"),
                err.read().decode(errors="replace"),
                argv,
                time.monotonic() - t0,
            )
        if check and r.rc != 0:
            raise AssertionError(f"podman failed: {r}")
        return r

    def pty(self, *args: str, **kw) -> PtyRun:
        return run_in_pty(self.argv(*args), self.session.env, **kw)

    def name(self, what: str = "c") -> str:
        n = f"{self.session.prefix}-{self.runtime}-{what}-{uuid.uuid4().hex[:6]}"
        self.names.append(n)
        return n

    def run_d(self, *args: str, name: str | None = None) -> str:
        """`run -d` a container; return its name once podman says it runs."""
        name = name or self.name()
        self("run", "-d", "--name", name, *args, check=True)
        return name

    def inspect(self, name: str) -> dict:
        r = self("inspect", "--type", "container", name, check=True)
        return json.loads(r.out)[0]

    def state(self, name: str) -> dict:
        return self.inspect(name)["State"]

    def ps_state(self, name: str) -> str:
        """`podman ps -a`'s State column for this container ("running", "exited", ...)."""
        r = self("ps", "-a", "--filter", f"name=^{name}$", "--format", "json", check=True)
        rows = json.loads(r.out or "[]")
        assert len(rows) == 1, rows
        return rows[0]["State"]

    def expect_state(self, name: str, status: str, exit_code: int | None = None) -> dict:
        """Both `inspect` and `ps` agree the container is in `status`."""
        st = self.state(name)
        assert st["Status"] == status, st
        assert self.ps_state(name) == status
        if status == "paused":
            assert st["Paused"] and not st["Running"], st
        elif status == "running":
            assert st["Running"] and not st["Paused"] and st["Pid"] > 0, st
        else:
            assert not st["Running"], st
        if exit_code is not None:
            assert st["ExitCode"] == exit_code, st
        return st

    def wait_exited(self, name: str, timeout: float = 30) -> dict:
        """ "stopped" is podman's state between the container's exit and the cleanup that conmon
        starts (podman container cleanup); "exited" comes after it."""
        return wait_for(lambda: (s := self.state(name))["Status"] == "exited" and s, timeout, f"{name} to exit")

    def wait_log(self, name: str, text: str, timeout: float = 30) -> str:
        def both() -> str:
            r = self("logs", name)
            return r.out + r.err

        return wait_for(lambda: (o := both()) and text in o and o, timeout, f"{text!r} in the logs of {name}")

    def cgroup_file(self, name: str, controller: str, file: str) -> str:
        cid = self.inspect(name)["Id"]
        with open(f"/sys/fs/cgroup/{controller}/libpod_parent/libpod-{cid}/{file}") as f:
            return f.read().strip()

    def cleanup(self) -> None:
        for n in self.names:
            self("rm", "-f", "-t", "0", n, timeout=60)


def wait_for(cond, timeout: float, what: str, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)
        interval = min(interval * 1.5, 0.5)


@pytest.fixture(scope="session")
def podman_session():
    requires("root", "busybox")
    if not (shutil.which("podman") and shutil.which("conmon")):
        pytest.skip(
            "needs podman and conmon (apt-get install podman conmon netavark aardvark-dns "
            "iptables catatonit; scripts/setup installs them)"
        )
    workdir = tempfile.mkdtemp(prefix="runk-podman-", dir="/var/tmp")
    s = Session(workdir)
    try:
        s.import_image()
    except Exception as e:
        shutil.rmtree(workdir, ignore_errors=True)
        pytest.skip(f"cannot make the test image: {e}")
    yield s
    s.close()
    shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(params=list(RUNTIMES))
def pm(request, podman_session):
    binary = RUNTIMES[request.param]
    if not os.access(binary, os.X_OK):
        pytest.skip(f"needs {binary}" + (" (scripts/setup)" if request.param == "runk" else ""))
    p = Podman(podman_session, request.param, binary)
    yield p
    p.cleanup()
