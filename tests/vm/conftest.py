"""Guards for tests that boot micro-VMs: skip with the reason when this host cannot boot one.

`guest` is a session fixture: the kernel (fetched once by scripts/mkguest, or here) and the
initramfs are prepared once; the accelerator decision and the kernel version go to the log.
"""

from __future__ import annotations

import os

import pytest

from runk.vm import testing
from tests.helpers import JSON_RUNTIMES, write_containers_conf

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="session")
def guest(request) -> testing.Guest:
    if os.environ.get("RUNK_VM_ACCEL") == "none":
        pytest.skip("RUNK_VM_ACCEL=none")
    try:
        g = testing.default_guest()
    except testing.GuestUnavailable as e:
        pytest.skip(str(e))
    tr = request.config.pluginmanager.get_plugin("terminalreporter")
    if tr is not None:
        tr.write_line(f"\nguest: {g.kernel.package} {g.kernel.version} on {g.machine}, {g.accel_reason}")
    return g


@pytest.fixture(scope="session")
def guest_shares(guest) -> dict:
    """The host /usr (the guest's python3) and this checkout (runk's own code, its .venv),
    mounted in the guest at the same paths; virtiofsd needs root."""
    if os.geteuid() != 0:
        pytest.skip("sharing directories with the guest (virtiofsd) needs root")
    if guest.virtiofsd is None:
        pytest.skip("needs virtiofsd (qemu-system-common)")
    return {"hostusr": "/usr", "runk": TOP}


@pytest.fixture
def vmrt(guest):
    """runk-vm with its own --root; at the end every container is deleted and nothing of any
    VM may remain: no qemu or virtiofsd of this root, no state."""
    import uuid

    from tests.conftest import Runtime, requires

    requires("root", "runk")
    if guest.virtiofsd is None:
        pytest.skip("needs virtiofsd (qemu-system-common)")
    rt = Runtime(os.path.join(TOP, ".venv", "bin", "runk-vm"), f"/run/runk-vmtest/{uuid.uuid4().hex[:10]}")
    yield rt
    rt.cleanup()
    assert vm_processes(rt.root) == [], "qemu or virtiofsd left behind"


def vm_processes(root: str) -> list[str]:
    """Live qemu and virtiofsd processes of containers under `root`, or of the container whose
    directory `root` is (their cwd or argv names it)."""
    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            continue
        comm, state = stat[stat.find("(") + 1 : stat.rfind(")")], stat[stat.rfind(")") + 2]
        if (
            state != "Z"
            and comm.startswith(("qemu-system", "virtiofsd"))
            and (root + "/" in cmd or (cwd + "/").startswith(root + "/"))
        ):
            out.append(f"{pid} {cmd[:120]}")
    return out


@pytest.fixture(scope="module")
def subreaper():
    """Orphans (a supervisor once `runk create` exits, its qemu once it is killed) come to this
    process, so a test can collect the supervisor's exit status as conmon would."""
    from runk._native import lib
    from runk.linux.syscalls import prctl

    prctl(lib.PR_SET_CHILD_SUBREAPER, 1)
    yield
    prctl(lib.PR_SET_CHILD_SUBREAPER, 0)
    while True:
        try:
            if os.waitpid(-1, os.WNOHANG)[0] == 0:
                break
        except ChildProcessError:
            break


@pytest.fixture(scope="module")
def podman(guest):
    """podman set up offline as tests/podman does it, in its own storage (vfs: no
    mounts to undo) and containers.conf naming runk-vm a JSON-logging runtime; the image is
    imported from a busybox-static rootfs tarball. Yields (run(*podman args), image)."""
    import shutil
    import subprocess
    import tarfile
    import tempfile

    if os.geteuid() != 0:
        pytest.skip("needs root (rootful podman)")
    if not (shutil.which("podman") and shutil.which("conmon")):
        pytest.skip("needs podman and conmon (apt-get install podman)")
    d = tempfile.mkdtemp(prefix="rvp-", dir="/run")  # short: conmon's socket paths
    conf = os.path.join(d, "containers.conf")
    write_containers_conf(
        conf,
        {"events_logfile_path": f"{d}/events.log", "tmp_dir": f"{d}/tmp"},
        json_runtimes=JSON_RUNTIMES + ("runk-vm",),
    )
    rootfs = os.path.join(d, "rootfs")
    for sub in ("bin", "sbin", "usr/bin", "usr/sbin", "etc", "proc", "sys", "dev", "tmp", "root"):
        os.makedirs(os.path.join(rootfs, sub))
    busybox = shutil.which("busybox")
    shutil.copy(busybox, os.path.join(rootfs, "bin", "busybox"))
    for applet in subprocess.run([busybox, "--list-full"], capture_output=True, text=True).stdout.split():
        if applet != "bin/busybox":
            os.makedirs(os.path.join(rootfs, os.path.dirname(applet)), exist_ok=True)
            os.symlink("/bin/busybox", os.path.join(rootfs, applet))
    with open(os.path.join(rootfs, "etc", "passwd"), "w") as f:
        f.write("root:x:0:0:root:/root:/bin/sh\n")
    with open(os.path.join(rootfs, "etc", "group"), "w") as f:
        f.write("root:x:0:\n")
    tar = os.path.join(d, "busybox.tar")
    with tarfile.open(tar, "w") as t:
        t.add(rootfs, arcname=".")
    env = dict(os.environ, CONTAINERS_CONF=conf)
    base = [
        "podman",
        "--root",
        os.path.join(d, "storage"),
        "--runroot",
        os.path.join(d, "run"),
        "--storage-driver",
        "vfs",
        "--runtime",
        os.path.join(TOP, ".venv", "bin", "runk-vm"),
    ]

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            base + list(args), env=env, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL
        )

    run.argv, run.env = base, env  # type: ignore[attr-defined]  (for a test that runs podman itself)
    image = "localhost/runk-vm-busybox:test"
    r = run(
        "import",
        "--change",
        'CMD ["/bin/sh"]',
        "--change",
        "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        tar,
        image,
    )
    assert r.returncode == 0, r.stderr
    yield run, image
    run("rm", "--all", "--force")
    run("rmi", "--all", "--force")
    shutil.rmtree(d, ignore_errors=True)
