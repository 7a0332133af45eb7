"""Run a command in a throw-away micro-VM and get its output and status back (host side).

Not used by runk's commands: the tests boot guests with it (tests/vm) and so does
`scripts/mkguest --boot` (setup's smoke boot), which is why it stays in the package rather than
under tests/. It imports runk.vm.host.qemu, runk.vm.image and runk.vm.wire.

    r = run_in_guest(["python3", "-S", "-c", "..."],
                     shares={"hostusr": "/usr", "runk": checkout}, kernel_args="cgroup_no_v1=all")
    r.rc, r.stdout, r.stderr, r.console_log, r.seconds

Each share is served by its own virtiofsd and mounted in the guest at the same path as on the
host (a Share(...) value can say otherwise); the host /usr is mounted read-only. With /usr
shared, the guest's python3 is the host's and the relay runs on it (streamed output, signal
reported); without, a busybox relay sends the output after the command ends. qemu and virtiofsd
get PR_SET_PDEATHSIG and are killed, and the work directory with its sockets removed, however
the run ends (exit, guest crash, timeout, exception).
"""

from __future__ import annotations

import base64
import os
import select
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from runk.vm.host import qemu
from runk.vm.image import assets, initramfs
from runk.vm.wire import wire

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    Shares = dict[str, "str | Share"]  # tag -> a host directory or a Share
    Procs = dict[str, tuple[subprocess.Popen[bytes], int]]  # name -> (process, pidfd)

ALLOWED_TAG = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
POWEROFF_GRACE = 15.0  # seconds the guest gets to power off after the EXIT frame
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
CMDLINE_BUDGET = 1200  # longer commands travel in the initrd overlay instead of runk.cmd=


class GuestError(RuntimeError):
    """The guest did not deliver an exit status; console_log says what it printed."""

    def __init__(self, msg: str, console_log: str = "", qemu_log: str = "", result: GuestResult | None = None) -> None:
        tail = "\n".join(console_log.splitlines()[-25:])
        super().__init__(f"{msg}\n--- qemu ---\n{qemu_log.strip()}\n--- console (tail) ---\n{tail}")
        self.console_log = console_log
        self.qemu_log = qemu_log
        self.result = result


class GuestTimeout(GuestError):
    pass


class GuestUnavailable(RuntimeError):
    """This host cannot boot a guest (no qemu, no kernel, ...): the message is a skip reason."""


class Share:
    """A host directory served over virtio-fs under `tag`, mounted at `guest` (default: the
    same path), read-only if asked (the host /usr always is)."""

    __slots__ = ("guest", "host", "readonly", "tag")

    def __init__(self, host: str, guest: str | None = None, readonly: bool = False, tag: str = "") -> None:
        self.host = os.path.abspath(host)
        self.guest = guest or self.host
        self.readonly = readonly or self.host == "/usr"
        self.tag = tag

    def __repr__(self) -> str:
        return f"Share({self.tag}: {self.host} -> {self.guest}{' ro' if self.readonly else ''})"


class GuestResult:
    """What a guest run gave back; a field the run did not reach is None."""

    __slots__ = (
        "accel",
        "accel_reason",
        "boot_seconds",
        "command_seconds",
        "console_log",
        "guest_uptime",
        "kernel_release",
        "machine",
        "qemu_log",
        "qemu_rss_kb",
        "raw_stderr",
        "raw_stdout",
        "rc",
        "relay",
        "seconds",
        "signal",
        "stderr",
        "stdout",
        "virtiofsd_rss_kb",
    )

    rc: int | None  # the exit code; 128+N for signal N
    stdout: str | None
    stderr: str | None
    console_log: str | None
    seconds: float | None  # the whole run
    signal: int | None  # the signal that ended the command
    raw_stdout: bytes | None
    raw_stderr: bytes | None
    boot_seconds: float | None  # qemu's start to the guest's "started" event
    guest_uptime: float | None  # the guest's uptime at that event
    command_seconds: float | None  # "started" to EXIT
    qemu_rss_kb: int | None
    virtiofsd_rss_kb: int | None
    accel: str | None
    accel_reason: str | None
    machine: str | None
    kernel_release: str | None
    relay: str | None
    qemu_log: str | None

    def __init__(
        self,
        *,
        rc: int | None = None,
        stdout: str | None = None,
        stderr: str | None = None,
        console_log: str | None = None,
        seconds: float | None = None,
        signal: int | None = None,
        raw_stdout: bytes | None = None,
        raw_stderr: bytes | None = None,
        boot_seconds: float | None = None,
        guest_uptime: float | None = None,
        command_seconds: float | None = None,
        qemu_rss_kb: int | None = None,
        virtiofsd_rss_kb: int | None = None,
        accel: str | None = None,
        accel_reason: str | None = None,
        machine: str | None = None,
        kernel_release: str | None = None,
        relay: str | None = None,
        qemu_log: str | None = None,
    ) -> None:
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr
        self.console_log = console_log
        self.seconds = seconds
        self.signal = signal
        self.raw_stdout = raw_stdout
        self.raw_stderr = raw_stderr
        self.boot_seconds = boot_seconds
        self.guest_uptime = guest_uptime
        self.command_seconds = command_seconds
        self.qemu_rss_kb = qemu_rss_kb
        self.virtiofsd_rss_kb = virtiofsd_rss_kb
        self.accel = accel
        self.accel_reason = accel_reason
        self.machine = machine
        self.kernel_release = kernel_release
        self.relay = relay
        self.qemu_log = qemu_log

    def __repr__(self) -> str:
        return (
            f"GuestResult(rc={self.rc}, stdout={(self.stdout or '')[-300:]!r}, "
            f"stderr={(self.stderr or '')[-500:]!r}, seconds={self.seconds or 0.0:.2f})"
        )


def _pdeathsig() -> Callable[[], None]:
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)

    def child() -> None:
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # die with the harness

    return child


class Guest:
    """A bootable guest on this host: kernel, initramfs, qemu, accelerator. Reusable."""

    def __init__(
        self,
        directory: str | None = None,
        flavour: str = "cloud",
        fetch: bool = True,
        machine: str | None = None,
        accel: str | None = None,
        log: Callable[[str], None] | None = None,
    ) -> None:
        binary = qemu.qemu_binary()
        if not binary:
            raise GuestUnavailable("needs qemu-system-x86_64 (apt-get install qemu-system-x86)")
        self.qemu = binary
        self.dir = directory or assets.assets_dir()
        kernel: assets.KernelAssets | None
        try:
            if fetch:
                kernel = assets.ensure_kernel(self.dir, flavour, check_apt=False, log=log)
            else:
                kernel = assets.load_kernel(self.dir, flavour)
        except (assets.KernelError, OSError) as e:
            raise GuestUnavailable(f"no guest kernel in {self.dir}: {e}") from None
        if kernel is None:
            raise GuestUnavailable(f"no guest kernel in {self.dir} (run scripts/mkguest)")
        self.kernel = kernel
        try:
            self.initramfs = initramfs.build_initramfs(self.kernel.modules_dir, self.dir, log=log)
        except (initramfs.InitramfsError, OSError, RuntimeError) as e:
            raise GuestUnavailable(f"cannot build the initramfs: {e}") from None
        if accel:
            self.accel, self.accel_reason = accel, "given by the caller"
        else:
            self.accel, self.accel_reason = qemu.choose_accel()
        self.machine = machine or qemu.pick_machine(self.qemu)
        self.virtiofsd = qemu.virtiofsd_binary()

    def run(
        self,
        cmd: list[str] | str,
        *,
        shares: Shares | None = None,
        kernel_args: str = "",
        mem: str = "256M",
        timeout: float = 120,
        stdin: bytes | None = None,
        relay: str = "auto",
        smp: int = 1,
    ) -> GuestResult:
        t0 = time.monotonic()
        plan = _plan_shares(shares or {})
        if plan and not self.virtiofsd:
            raise GuestUnavailable("shares need virtiofsd (qemu-system-common on bookworm)")
        if relay == "auto":
            relay = "python" if any(s.guest == "/usr" for s in plan) else "sh"
        script = cmd if isinstance(cmd, str) else "exec " + shlex.join(cmd) + "\n"
        _sweep_stale()
        work = tempfile.mkdtemp(prefix=f"runk-vm-{os.getpid()}-")
        procs: Procs = {}
        rusage: dict[str, int] = {}
        listeners: list[socket.socket] = []
        try:
            files: dict[str, bytes] = {}
            extra = [f"runk.relay={relay}"]
            if plan:
                extra.append("runk.fs=" + ",".join(f"{s.tag}:{s.guest}:{'ro' if s.readonly else 'rw'}" for s in plan))
            b64 = base64.b64encode(script.encode()).decode()
            if len(b64) <= CMDLINE_BUDGET:
                extra.append(f"runk.cmd={b64}")
            else:
                files["runk/cmd"] = script.encode()
            if stdin is not None:
                files["runk/stdin"] = stdin
            initrd = self.initramfs
            if files:
                initrd = initramfs.with_overlay(self.initramfs, files, os.path.join(work, "initrd"))
            append = qemu.kernel_cmdline(self.accel, *extra, kernel_args)

            agent = _listen(os.path.join(work, "agent.sock"), listeners)
            preexec = _pdeathsig()
            sockets = []
            virtiofsd = self.virtiofsd or ""  # there when plan has shares
            for s in plan:
                path = os.path.join(work, f"{s.tag}.vfs.sock")
                lsock = _listen(path, listeners)
                argv = qemu.virtiofsd_argv(
                    virtiofsd,
                    s.host,
                    fd=lsock.fileno(),
                    flavour=qemu.virtiofsd_flavour(virtiofsd),
                    cache="always" if s.readonly else "auto",
                )
                with open(os.path.join(work, f"{s.tag}.vfs.log"), "wb") as log:
                    p = subprocess.Popen(
                        argv,
                        stdin=subprocess.DEVNULL,
                        stdout=log,
                        stderr=log,
                        pass_fds=(lsock.fileno(),),
                        preexec_fn=preexec,
                        start_new_session=True,
                    )
                procs[f"virtiofsd:{s.tag}"] = (p, os.pidfd_open(p.pid))
                lsock.close()
                listeners.remove(lsock)
                sockets.append((s.tag, path))
            console = os.path.join(work, "console.log")
            argv = qemu.build_argv(
                kernel=self.kernel.boot_image,
                initrd=initrd,
                append=append,
                agent_socket=os.path.join(work, "agent.sock"),
                shares=sockets,
                machine=self.machine,
                accel=self.accel,
                mem=mem,
                smp=smp,
                console=console,
                qemu=self.qemu,
            )
            t_qemu = time.monotonic()
            with open(os.path.join(work, "qemu.log"), "wb") as log:
                p = subprocess.Popen(
                    argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, preexec_fn=preexec, start_new_session=True
                )
            procs["qemu"] = (p, os.pidfd_open(p.pid))
            r = GuestResult(
                accel=self.accel,
                accel_reason=self.accel_reason,
                machine=self.machine,
                kernel_release=self.kernel.release,
                relay=relay,
            )
            err = _relay(agent, procs, r, t_qemu, t0 + timeout, rusage)
            _stop(procs, rusage)
            r.console_log = _text(console)
            r.qemu_log = _text(os.path.join(work, "qemu.log"))
            r.qemu_rss_kb = rusage.get("qemu")
            r.virtiofsd_rss_kb = sum(v for k, v in rusage.items() if k.startswith("virtiofsd"))
            r.seconds = time.monotonic() - t0
            if err:
                cls = GuestTimeout if err.startswith("timeout") else GuestError
                raise cls(err, r.console_log, r.qemu_log, r)
            return r
        finally:
            _stop(procs, rusage)
            for ls in listeners:
                ls.close()
            shutil.rmtree(work, ignore_errors=True)

    def run_python(self, code: str, *, shares: Shares | None = None, **kw: Any) -> GuestResult:
        """Run `code` on the guest's python3 -S (the host's /usr, shared) with runk importable
        from this checkout, its .venv's packages (cffi) included. See runk_python_setup."""
        paths, base = runk_python_setup()
        prelude = f"import sys; sys.path[:0] = {paths!r}\n"
        return self.run(["python3", "-S", "-c", prelude + code], shares={**base, **(shares or {})}, **kw)


def runk_python_setup() -> tuple[list[str], dict[str, str]]:
    """(sys.path entries, shares) that make runk's own code run in the guest: the checkout this
    runk is imported from and its .venv site-packages, plus the host /usr for python3 and the
    shared libraries (libseccomp, libffi) behind the cffi bindings."""
    import glob

    top = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    paths = [top, *sorted(glob.glob(os.path.join(top, ".venv/lib/python3*/site-packages")))]
    return paths, {"hostusr": "/usr", "runk": top}


def _sweep_stale() -> None:
    """Remove the work directories of harness processes that died without cleaning up
    (SIGKILL: their qemu and virtiofsd died with them, by PR_SET_PDEATHSIG)."""
    tmp = tempfile.gettempdir()
    for name in os.listdir(tmp):
        parts = name.split("-")
        if name.startswith("runk-vm-") and len(parts) == 4 and parts[2].isdigit():
            if not os.path.exists(f"/proc/{parts[2]}"):
                shutil.rmtree(os.path.join(tmp, name), ignore_errors=True)


def _plan_shares(shares: Shares) -> list[Share]:
    plan = []
    for tag, v in shares.items():
        s = v if isinstance(v, Share) else Share(v)
        s.tag = tag
        if not tag or len(tag) > 36 or not set(tag) <= ALLOWED_TAG:
            raise ValueError(f"share tag {tag!r}: 1-36 characters of [A-Za-z0-9_.-]")
        for p in (s.host, s.guest):
            if not p.startswith("/") or any(c in p for c in ",: \t\n\"'\\"):
                raise ValueError(f"share path {p!r}: absolute, without , : quotes or spaces")
        if not os.path.isdir(s.host):
            raise ValueError(f"share {tag}: {s.host} is not a directory")
        plan.append(s)
    return sorted(plan, key=lambda s: s.guest.count("/") + (s.guest != "/"))


def _listen(path: str, keep: list[socket.socket]) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    keep.append(s)
    s.bind(path)
    s.listen(1)
    return s


def _text(path: str) -> str:
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


def _relay(
    agent: socket.socket, procs: Procs, r: GuestResult, t_qemu: float, deadline: float, rusage: dict[str, int]
) -> str | None:
    """Collect frames until EXIT and qemu's exit; None on success, else what went wrong."""
    qemu_pidfd = procs["qemu"][1]
    poll = select.poll()
    poll.register(agent, select.POLLIN)
    poll.register(qemu_pidfd, select.POLLIN)
    conn = None
    dec = wire.Decoder()
    out, err = bytearray(), bytearray()
    st: dict[str, Any] = {"exit": None, "started": None}

    def take(data: bytes) -> None:
        for f in dec.feed(data):
            if f.type == wire.STDOUT:
                out.extend(f.payload)
            elif f.type == wire.STDERR:
                err.extend(f.payload)
            elif f.type == wire.EVT:
                ev = f.json()
                if ev.get("event") == "started":
                    st["started"] = time.monotonic()
                    r.boot_seconds = st["started"] - t_qemu
                    r.guest_uptime = ev.get("uptime")
            elif f.type == wire.EXIT:
                st["exit"] = f.json()
                r.command_seconds = time.monotonic() - (st["started"] or t_qemu)

    qemu_gone = grace = False
    while not qemu_gone:
        now = time.monotonic()
        if st["exit"] is not None and not grace:  # the guest powers off now, within a grace
            deadline = min(deadline, now + POWEROFF_GRACE)
            grace = True
        if now >= deadline:
            if st["exit"] is not None:
                break  # it did not power off: it is killed, the result stands
            return f"timeout: no exit status {deadline - t_qemu:.0f} s after qemu started"
        for fd, _ev in poll.poll(max(0, (deadline - now) * 1000)):
            if fd == agent.fileno():
                conn, _ = agent.accept()
                poll.unregister(agent)
                poll.register(conn, select.POLLIN)
            elif conn is not None and fd == conn.fileno():
                try:
                    data = conn.recv(1 << 20)
                except OSError:  # reset by qemu's exit
                    data = b""
                if data:
                    take(data)
                else:
                    poll.unregister(conn)
            elif fd == qemu_pidfd:
                qemu_gone = True
    if conn is not None:
        # what qemu handed to the socket before it exited is still there to read
        conn.setblocking(False)
        try:
            while data := conn.recv(1 << 20):
                take(data)
        except OSError:  # nothing more (EAGAIN) or reset
            pass
        conn.close()
    r.raw_stdout, r.raw_stderr = bytes(out), bytes(err)
    r.stdout = r.raw_stdout.decode("utf-8", "replace")
    r.stderr = r.raw_stderr.decode("utf-8", "replace")
    exit_info = st["exit"]
    if exit_info is None:
        status = _reap(procs["qemu"][0], qemu_pidfd, rusage, "qemu")
        return f"qemu exited (status {status}) before the command's exit status arrived"
    if "signal" in exit_info:
        r.signal = exit_info["signal"]
        r.rc = 128 + r.signal
    else:
        r.rc = exit_info.get("exit_code")
    return None


def _reap(p: subprocess.Popen[bytes], pidfd: int, rusage: dict[str, int], name: str, block: bool = True) -> int | None:
    if p.returncode is not None:
        return p.returncode
    pid, status, ru = os.wait4(p.pid, 0 if block else os.WNOHANG)
    if pid == 0:
        return None
    p.returncode = os.waitstatus_to_exitcode(status)
    rusage[name] = ru.ru_maxrss
    os.close(pidfd)
    return p.returncode


def _stop(procs: Procs, rusage: dict[str, int]) -> None:
    """qemu first (virtiofsd then sees the disconnect and exits), then whatever is left."""
    names = sorted(procs, key=lambda n: n != "qemu")
    for name in names:
        p, pidfd = procs[name]
        if p.returncode is not None:
            continue
        if name != "qemu":  # give virtiofsd a moment to leave on its own
            select.select([pidfd], [], [], 1.0)
        if _reap(p, pidfd, rusage, name, block=False) is None:
            try:
                os.kill(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            _reap(p, pidfd, rusage, name)


_default: Guest | None = None


def default_guest() -> Guest:
    """One prepared Guest per process (GuestUnavailable if this host cannot boot one)."""
    global _default
    if _default is None:
        _default = Guest()
    return _default


def run_in_guest(
    argv_or_script: list[str] | str,
    *,
    shares: Shares | None = None,
    kernel_args: str = "",
    mem: str = "256M",
    timeout: float = 120,
    stdin: bytes | None = None,
    relay: str = "auto",
) -> GuestResult:
    """Boot a guest, run the command (argv, or a shell script as a str), return its result.

    GuestResult: rc (exit code; 128+N for signal N), stdout, stderr (str; raw_* as bytes),
    console_log, seconds, and boot_seconds, guest_uptime, command_seconds, qemu_rss_kb,
    virtiofsd_rss_kb, accel, accel_reason, machine, kernel_release, relay, signal.
    Raises GuestUnavailable (skip reason), GuestTimeout, GuestError (no exit status)."""
    return default_guest().run(
        argv_or_script, shares=shares, kernel_args=kernel_args, mem=mem, timeout=timeout, stdin=stdin, relay=relay
    )


def run_python_in_guest(code: str, **kw: Any) -> GuestResult:
    """run_in_guest for Python code with runk importable (Guest.run_python)."""
    return default_guest().run_python(code, **kw)
