"""buildah on runk and on runc: `buildah bud --runtime` and `buildah run --runtime`.

A private storage (CONTAINERS_STORAGE_CONF names a graph root and run root under the session's
temporary directory), the busybox image pulled into it from an OCI archive of the tests'
rootfs and tagged docker.io/library/busybox, so `FROM busybox` resolves locally and no
registry is asked. The README's Containerfile and commands run as written (the path of runk
replaced); the other scenarios run on both runtimes.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import time
import uuid

import pytest

from tests.conftest import RUNC, RUNK, requires, shared_rootfs
from tests.containerd.test_ctr import build_oci_archive
from tests.snippets import snippet

pytestmark = [pytest.mark.buildah, pytest.mark.slow]

RUNTIMES = {"runk": RUNK, "runc": RUNC}
BUILDAH = shutil.which("buildah") or "/usr/bin/buildah"


class Buildah:
    def __init__(self, workdir: str) -> None:
        self.dir = workdir
        conf = os.path.join(workdir, "storage.conf")
        with open(conf, "w") as f:
            f.write(f'[storage]\ndriver = "overlay"\ngraphroot = "{workdir}/root"\nrunroot = "{workdir}/run"\n')
        self.env = dict(os.environ, CONTAINERS_STORAGE_CONF=conf)
        self.tag = uuid.uuid4().hex[:8]

    def __call__(self, *args: str, cwd: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(
            [BUILDAH, *args],
            env=self.env,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )

    def close(self) -> None:
        self("rm", "--all")
        self("rmi", "--all", "--force")
        with open("/proc/self/mountinfo") as f:
            mps = [l.split()[4] for l in f if l.split()[4].startswith(self.dir)]
        for mp in reversed(mps):
            subprocess.run(["umount", "-l", mp], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def buildah(tmp_path_factory):
    requires("root", "busybox")
    if not os.access(BUILDAH, os.X_OK):
        pytest.skip("needs buildah (apt-get install buildah)")
    b = Buildah(str(tmp_path_factory.mktemp("buildah")))
    try:
        archive = os.path.join(b.dir, "busybox-oci.tar")
        build_oci_archive(shared_rootfs(), archive)
        r = b("pull", "-q", f"oci-archive:{archive}")
        if r.returncode != 0:
            raise RuntimeError(f"buildah pull: {r.stderr}")
        r = b("tag", r.stdout.split()[-1], "docker.io/library/busybox:latest")
        if r.returncode != 0:
            raise RuntimeError(f"buildah tag: {r.stderr}")
        os.unlink(archive)
    except Exception as e:
        b.close()
        pytest.skip(f"buildah cannot run here: {e}")
    yield b
    b.close()


@pytest.fixture(params=list(RUNTIMES))
def rt(request):
    if not os.access(RUNTIMES[request.param], os.X_OK):
        pytest.skip(f"needs {RUNTIMES[request.param]}")
    return request.param


def _context(buildah, text: str) -> str:
    d = os.path.join(buildah.dir, f"ctx-{uuid.uuid4().hex[:8]}")
    os.mkdir(d)
    with open(os.path.join(d, "Containerfile"), "w") as f:
        f.write(text)
    return d


def test_readme_build_and_run(buildah, rt):
    """The README's Containerfile and its three commands, with `rt` as the runtime."""
    ctx = _context(buildah, snippet("buildah-containerfile"))
    lines = snippet("buildah-commands", runk=RUNTIMES[rt]).strip().splitlines()
    assert len(lines) == 3, lines
    out = []
    for line in lines:
        argv = shlex.split(line.replace("localhost/hello", f"localhost/hello-{rt}").replace("hello-work", f"hw-{rt}"))
        assert argv[0] == "buildah"
        t0 = time.monotonic()
        r = buildah(*argv[1:], cwd=ctx)
        print(f"\n[buildah timing] {rt} {argv[1]}: {(time.monotonic() - t0) * 1000:.0f} ms")
        assert r.returncode == 0, (line, r.stdout, r.stderr)
        out.append(r.stdout)
    assert out[-1] == "hello from /work\n0\n", out


CONTAINERFILE = """FROM busybox
ENV STAGE=one
WORKDIR /data/sub
RUN echo "$STAGE $(pwd)" > here && ip -o link | cut -d: -f2 | tr -d ' ' > links
ENV STAGE=two
RUN echo "$STAGE" >> here && id -u >> here && ls /proc/self/fd | wc -l > fds
"""


@pytest.mark.parametrize("network", ["none", "host"])
def test_bud_env_workdir_network(buildah, rt, network):
    ctx = _context(buildah, CONTAINERFILE)
    image = f"localhost/rkbud-{buildah.tag}-{rt}-{network}"
    r = buildah("bud", "--runtime", RUNTIMES[rt], "--network", network, "-t", image, ".", cwd=ctx)
    assert r.returncode == 0, (r.stdout, r.stderr)
    cname = f"rkbud-{buildah.tag}-{rt}-{network}"
    assert buildah("from", "--name", cname, image).returncode == 0
    r = buildah("run", "--runtime", RUNTIMES[rt], cname, "--", "sh", "-c", "pwd; cat here links; echo $STAGE")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[:4] == ["/data/sub", "one /data/sub", "two", "0"], r.stdout
    links = {l.split("@")[0] for l in lines[4:-1]}  # "veth0@if12": a link's peer
    if network == "none":
        assert links == {"lo"}, r.stdout
    else:
        # the host's devices that are not virtual (veths come and go with others' containers)
        real = set(os.listdir("/sys/class/net")) - set(os.listdir("/sys/devices/virtual/net"))
        assert real and real <= links, (r.stdout, real)
    assert lines[-1] == "two", r.stdout


def test_bud_failing_run_reports_exit_code(buildah, rt):
    ctx = _context(buildah, 'FROM busybox\nRUN echo before\nRUN sh -c "echo failing >&2; exit 7"\nRUN echo never\n')
    r = buildah("bud", "--runtime", RUNTIMES[rt], "-t", f"localhost/rkfail-{buildah.tag}-{rt}", ".", cwd=ctx)
    assert r.returncode == 7, (r.stdout, r.stderr)
    assert "before\n" in r.stdout and "never" not in r.stdout.replace("RUN echo never", ""), r.stdout
    assert "failing" in r.stdout + r.stderr
    assert "while running runtime: exit status 7" in r.stderr, r.stderr


def test_run_exit_code_user_and_missing_program(buildah, rt):
    cname = f"rkrun-{buildah.tag}-{rt}"
    assert buildah("from", "--name", cname, "busybox").returncode == 0
    r = buildah("run", "--runtime", RUNTIMES[rt], "--user", "1000:1000", cname, "--", "sh", "-c", "id -u; exit 5")
    assert (r.returncode, r.stdout) == (5, "1000\n"), r
    assert "exit status 5" in r.stderr, r.stderr
    r = buildah("run", "--runtime", RUNTIMES[rt], cname, "--", "/nonexistent")
    assert r.returncode != 0 and "/nonexistent" in r.stderr, r
