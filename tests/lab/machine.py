"""The lab: a "modern host" (systemd as PID 1, cgroup v2 only) booted in a micro-VM from this
checkout, running a list of commands as root and as a non-root user, results back on the host.

    run = boot([Command("root", ["id", "-u"]), Command("me", ["id", "-u"], user=True)])
    run.boot["state"]            # "running": systemctl is-system-running after the boot
    run.results["me"].stdout     # "1000\n"; .rc, .stderr, .seconds, .files (what it left in $LAB_OUT)

How it boots (host side here, guest side in stage1.sh and driver.py):
- runk's own VM pieces (runk.vm.testing.Guest): the Debian cloud kernel and runk's initramfs,
  qemu and one virtiofsd per share, all killed by PR_SET_PDEATHSIG and reaped however the run
  ends, and their work directory removed; the guest clock at the host's TSC rate.
- Shares, read-only: the host's /usr, the host's /etc (at /lab-etc), this checkout and the
  asset directory (the guest kernel's modules, depmod'ed by runk.vm.image.kmod) at their own
  paths, and whatever `shares` adds (the shared busybox test bundle).
- runk's /init runs stage1.sh as PID 1 (runk.relay=exec): a tmpfs root with the shares moved in,
  /bin, /lib... as symlinks into /usr, /etc an overlay (tmpfs upper over the host's), the host's
  enablement links removed and slow or pointless units masked, the lab user created and lingering,
  a modprobe wrapper for the guest's modules in /proc/sys/kernel/modprobe; then switch_root into
  /lib/systemd/systemd, which mounts cgroup2 only (systemd 252's default).
- lab-driver.service (driver.py) waits for `systemctl is-system-running --wait`, runs the plan,
  sends the results over virtio-serial and ends with `systemctl reboot --force --force`; qemu
  runs with -no-reboot, so it exits.
"""

from __future__ import annotations

import json
import os
import time

from runk.vm import testing
from runk.vm.image import kmod

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
USER = "labuser"
GUEST_ETC = "/lab-etc"
MEM = "1G"
# vCPUs (RUNK_LAB_SMP, capped at the host's CPUs): 2 by default, one per guest session that runs
# at the same time (tests/lab/conftest.py's sessions; TCG runs each vCPU on a host thread of its
# own); RUNK_LAB_SMP=1 leaves a busy host a CPU
SMP = max(1, min(int(os.environ.get("RUNK_LAB_SMP") or 2), os.cpu_count() or 1))


class Command:
    """A command for the guest: argv ("{out}" = its LAB_OUT directory), as root or as USER."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        *,
        user: bool = False,
        timeout: float = 300,
        env: dict[str, str] | None = None,
        cwd: str | None = None,
    ) -> None:
        if not name or "/" in name or name.startswith("."):
            raise ValueError(f"command name {name!r}: a plain file name")
        self.name, self.argv, self.user = name, list(argv), user
        self.timeout, self.env, self.cwd = timeout, dict(env or {}), cwd

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "argv": self.argv,
            "user": self.user,
            "timeout": self.timeout,
            "env": self.env,
            "cwd": self.cwd,
        }


class CommandResult:
    __slots__ = ("files", "name", "rc", "seconds", "stderr", "stdout")

    def __init__(self, d: dict) -> None:
        for k in self.__slots__:
            setattr(self, k, d.get(k))

    def __repr__(self) -> str:
        return (
            f"CommandResult({self.name}: rc={self.rc}, {self.seconds} s, "
            f"stdout={self.stdout[-2000:]!r}, stderr={self.stderr[-2000:]!r})"
        )


class LabRun:
    """What came back: boot (state, failed units, uptime, the user's manager), results by name,
    guest (runk.vm.testing.GuestResult: console_log, boot_seconds, qemu_rss_kb, ...), seconds."""

    def __init__(self, guest: testing.GuestResult, seconds: float) -> None:
        self.guest, self.seconds = guest, seconds
        self.boot: dict = {}
        self.results: dict[str, CommandResult] = {}
        for line in guest.stdout.splitlines():
            msg = json.loads(line)
            if "boot" in msg:
                self.boot = msg["boot"]
            else:
                r = CommandResult(msg["result"])
                self.results[r.name] = r

    def summary(self) -> str:
        g = self.guest
        parts = [
            f"systemd {self.boot.get('state')} {g.boot_seconds:.1f} s after qemu started "
            f"(guest uptime {self.boot.get('uptime', 0):.1f} s)",
            f"user manager after {self.boot.get('user', {}).get('waited')} s more",
        ]
        parts += [f"{r.name} {r.seconds} s (rc {r.rc})" for r in self.results.values()]
        parts.append(f"whole run {self.seconds:.1f} s, qemu peak RSS {(g.qemu_rss_kb or 0) >> 10} MB")
        return "; ".join(parts)


def modules_root(guest: testing.Guest) -> str:
    """The depmod'ed tree of the guest kernel's modules (under the asset directory)."""
    return kmod.stage(guest.kernel.modules_dir, guest.dir)


def boot(
    commands: list[Command],
    *,
    shares: dict | None = None,
    kernel_args: str = "",
    timeout: float | None = None,
    guest: testing.Guest | None = None,
    smp: int = SMP,
    parallel: bool = False,
) -> LabRun:
    """Boot the lab, run `commands` (one after another; all at once if `parallel`), power off.
    Raises runk.vm.testing.GuestUnavailable (this host cannot: a skip reason),
    GuestError/GuestTimeout (with the console's tail)."""
    t = time.monotonic()
    g = guest or testing.default_guest()
    if g.virtiofsd is None:
        raise testing.GuestUnavailable("the lab needs virtiofsd (qemu-system-common)")
    if os.geteuid() != 0:
        raise testing.GuestUnavailable("the lab needs root (virtiofsd)")
    try:
        mods = modules_root(g)
    except (kmod.ModuleError, OSError) as e:
        raise testing.GuestUnavailable(f"no depmod'ed guest modules: {e}") from None
    all_shares = {
        "hostusr": "/usr",
        "hostetc": testing.Share("/etc", GUEST_ETC, readonly=True),
        "checkout": testing.Share(TOP, readonly=True),
        "assets": testing.Share(g.dir, readonly=True),
    }
    for tag, s in (shares or {}).items():
        all_shares[tag] = s if isinstance(s, testing.Share) else testing.Share(s, readonly=True)
    move = " ".join(s.guest for tag, s in all_shares.items() if isinstance(s, testing.Share) and s.guest != GUEST_ETC)
    env = {"LAB_CHECKOUT": TOP, "LAB_ETC": GUEST_ETC, "LAB_MOVE": move, "LAB_MODULES": mods, "LAB_USER": USER}
    script = "".join(f"export {k}='{v}'\n" for k, v in env.items())
    script += f"exec /bin/sh {os.path.join(HERE, 'stage1.sh')}\n"
    plan = {"user": USER, "commands": [c.to_json() for c in commands], "parallel": parallel}
    if timeout is None:
        timeout = 180 + (max if parallel else sum)(c.timeout for c in commands)
    r = g.run(
        script,
        shares=all_shares,
        kernel_args=kernel_args,
        mem=MEM,
        timeout=timeout,
        stdin=json.dumps(plan).encode(),
        relay="exec",
        smp=smp,
    )
    if r.rc != 0:
        raise testing.GuestError(f"the lab's driver failed (rc {r.rc}): {r.stderr}", r.console_log, r.qemu_log, r)
    return LabRun(r, time.monotonic() - t)
