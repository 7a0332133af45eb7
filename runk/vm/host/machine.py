"""qemu and virtiofsd of one micro-VM (supervisor): started to die with it, and stopped.

virtiofsd runs in a private mount namespace holding the staged share.

Runs in the supervisor (host), whose cwd is the container directory: every path here is
relative to it. Each child gets PR_SET_PDEATHSIG=SIGKILL before it execs, so a killed supervisor
takes its VM with it; the staging mounts live only in virtiofsd's mount namespace, so they
vanish with it. Nothing here outlives the supervisor but files in the container directory,
which stop() removes (and `delete` removes with the directory).
"""

from __future__ import annotations

import os
import select
import signal
import subprocess

from runk.linux.bootstrap import reset_signals
from runk.vm.host import sandbox
from runk.vm.host.sandbox import AGENT_SOCK, IMAGE, SHARE_DIR, VFS_SOCK, Stage, VmPlan

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

FILES = (AGENT_SOCK, VFS_SOCK, IMAGE, "vm.sock")  # removed by stop()


class Child:
    __slots__ = ("name", "pid", "pidfd", "status")

    def __init__(self, name: str, pid: int) -> None:
        self.name, self.pid = name, pid
        self.pidfd = os.pidfd_open(pid)
        self.status: int | None = None

    def reap(self, block: bool = False) -> int | None:
        if self.status is None:
            pid, st = os.waitpid(self.pid, 0 if block else os.WNOHANG)
            if pid:
                self.status = st
                os.close(self.pidfd)
        return self.status

    def stop(self, grace: float) -> None:
        """Wait up to `grace` seconds for it to leave, then SIGKILL it; reaped either way."""
        if self.status is not None:
            return
        if grace > 0:
            select.select([self.pidfd], [], [], grace)
        if self.reap() is None:
            try:
                signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.reap(block=True)


def spawn(
    name: str, argv: list[str], log: str, keep_fds: tuple[int, ...] = (), prepare: Callable[[], None] | None = None
) -> Child:
    """fork + exec with PDEATHSIG; `prepare()` runs in the child first. A failure before the exec
    comes back as an OSError/RuntimeError carrying the child's message."""
    from runk._native import lib
    from runk.linux.syscalls import prctl

    parent = os.getpid()
    err_r, err_w = os.pipe2(os.O_CLOEXEC)
    logfd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
    pid = os.fork()
    if pid == 0:
        try:
            os.close(err_r)
            prctl(lib.PR_SET_PDEATHSIG, signal.SIGKILL)
            if os.getppid() != parent:
                os._exit(1)
            reset_signals()
            null = os.open("/dev/null", os.O_RDONLY)
            os.dup2(null, 0)
            os.dup2(logfd, 1)
            os.dup2(logfd, 2)
            for fd in keep_fds:
                os.set_inheritable(fd, True)
            if prepare is not None:
                prepare()
            os.execv(argv[0], argv)
        except BaseException as e:  # the child must never return
            from runk.errors import describe

            try:
                os.write(err_w, f"{name}: {describe(e)}".encode())
            finally:
                os._exit(127)
    os.close(err_w)
    os.close(logfd)
    try:
        msg = b""
        while chunk := os.read(err_r, 4096):
            msg += chunk
    finally:
        os.close(err_r)
    if msg:
        os.waitpid(pid, 0)
        raise RuntimeError(msg.decode(errors="replace"))
    return Child(name, pid)


def stage(stages: list[Stage], share: str) -> None:
    """In a new mount namespace (the caller's, after fork): a tmpfs on `share` holding a bind
    mount of every stage source (read-only where asked). The host sees an empty directory."""
    from runk._native import lib
    from runk.linux.syscalls import mount, unshare

    unshare(lib.CLONE_NEWNS)
    mount(None, "/", None, lib.MS_REC | lib.MS_SLAVE)
    mount("runk-share", share, "tmpfs", lib.MS_NOSUID | lib.MS_NODEV, "mode=755")
    for s in stages:
        target = os.path.join(share, s.name)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if s.kind == "dir":
            os.mkdir(target)
        else:
            os.close(os.open(target, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o644))
        flags = lib.MS_BIND | (lib.MS_REC if s.recursive else 0)
        mount(s.source, target, None, flags, shown=s.source)
        if s.readonly:
            mount(None, target, None, lib.MS_BIND | lib.MS_REMOUNT | lib.MS_RDONLY, shown=s.source)


def build_image(plan: VmPlan) -> None:
    """The block-image rootfs: `mkfs.ext4 -d`, no root or loop device needed (VM.md)."""
    cp = subprocess.run(
        ["mkfs.ext4", "-q", "-F", "-d", plan.rootfs, "-L", "rootfs", IMAGE, f"{plan.image_mb}M"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if cp.returncode != 0:
        raise RuntimeError(f"mkfs.ext4 -d {plan.rootfs}: {cp.stderr.strip() or cp.returncode}")


def start_virtiofsd(plan: VmPlan, listen_fd: int) -> Child:
    os.makedirs(SHARE_DIR, exist_ok=True)
    share = os.path.abspath(SHARE_DIR)
    from runk.vm.host import qemu

    argv = qemu.virtiofsd_argv(plan.virtiofsd, share, fd=listen_fd, cache="auto", flavour=plan.virtiofsd_flavour)
    return spawn("virtiofsd", argv, "virtiofsd.log", keep_fds=(listen_fd,), prepare=lambda: stage(plan.stages, share))


def start_qemu(plan: VmPlan, nics: list[tuple[str, str]] | None = None) -> Child:
    return spawn("qemu", sandbox.qemu_argv(plan, nics), "qemu.log")


def stop(children: list[Child], qemu_grace: float = 0.0) -> None:
    """qemu first (virtiofsd leaves when it disconnects), then the rest; then our files."""
    for c in sorted(children, key=lambda c: c.name != "qemu"):
        c.stop(qemu_grace if c.name == "qemu" else 1.0)
    for name in FILES:
        try:
            os.unlink(name)
        except FileNotFoundError:
            pass
    try:
        os.rmdir(SHARE_DIR)
    except OSError:
        pass


def rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0
