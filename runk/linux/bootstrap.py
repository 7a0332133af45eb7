"""Stage 1, the bootstrap ("runk:[1:BOOT]"): join and unshare namespaces, then fork the init.

Runs in the first forked child only (no imports; DESIGN 3.17 rule 5). It stays in the host pid
namespace, so the pid its fork returns is the init's host pid. When no pid or time namespace has
to be entered, it is the init itself and there is one fork (crun).
"""

from __future__ import annotations

import gc

from runk import _os as os
from runk import log
from runk._native import lib
from runk.linux import channel, procwrite
from runk.linux.namespaces import join_order
from runk.linux.syscalls import prctl, set_name, setns, unshare

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from runk.linux.fds import LaunchFds
    from runk.linux.plan import ContainerPlan


def reset_signals() -> None:
    """SIG_DFL everywhere and an empty mask: Python's SIG_IGN for SIGPIPE and SIGXFSZ would
    survive execve into the workload (DESIGN 3.7 item 5)."""
    import _signal

    for sig in range(1, 65):
        if sig in (9, 19, 32, 33):  # SIGKILL, SIGSTOP, and glibc's reserved RT signals
            continue
        try:
            _signal.signal(sig, _signal.SIG_DFL)
        except (OSError, ValueError):
            pass
    _signal.pthread_sigmask(_signal.SIG_SETMASK, [])


def adopt_stdio(stdio: tuple[int, int, int] | None) -> None:
    """Make the given fds this process's 0, 1 and 2 (a library caller's pipes or files); None
    keeps the inherited ones. Each is first copied above 2, so any order of 0-2 works."""
    if stdio is None:
        return
    import fcntl

    high = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3) for fd in stdio]
    for target, fd in enumerate(high):
        os.dup2(fd, target)
        os.close(fd)


def child_entry(
    plan: ContainerPlan,
    fds: LaunchFds,
    chan: channel.Channel,
    close: list[int],
    entry: Callable[[ContainerPlan, LaunchFds, channel.Channel], None],
    stdio: tuple[int, int, int] | None = None,
) -> None:
    """First code after fork; never returns. `entry` is the init's or the tenant's main, imported
    by the parent (runk.linux.launch) before the fork."""
    try:
        gc.disable()  # a collected file object would close an fd number that is reused
        reset_signals()
        adopt_stdio(stdio)
        for fd in close:
            try:
                os.close(fd)  # the lock fd first: an inherited flock would block `start`
            except OSError:
                pass
        set_name("runk:[1:BOOT]")
        # non-dumpable before entering any namespace: no /proc/<pid>/exe, fd or ptrace access
        # from the container while runk code runs (CVE-2019-5736)
        prctl(lib.PR_SET_DUMPABLE, 0, 0, 0, 0)
        _join_cgroups(fds.cgroup.tasks if fds.cgroup is not None else [])
        _bootstrap(plan, fds, chan, entry)
    except BaseException as e:
        from runk.errors import describe

        chan.send_error(describe(e), getattr(e, "errno", 0) or 0, "bootstrap")
        os._exit(1)


def _join_cgroups(tasks: list[tuple[int, str]]) -> None:
    """Write "0" to each v1 `tasks` file the parent opened: this process (one thread, freshly
    forked) joins the groups itself, before it enters any namespace; the init it forks inherits
    them (cgroups.Entry says why this is not a cgroup.procs write by the parent)."""
    for fd, path in tasks:
        try:
            os.write(fd, b"0")
        except OSError as e:
            from runk.errors import CgroupError

            raise CgroupError(f'write "0" to {path}: {os.strerror(e.errno or 0).lower()}') from None
        os.close(fd)


def _enter_user(fd: int) -> None:
    setns(fd, 0, "user namespace")
    os.setresgid(0, 0, 0)
    os.setresuid(0, 0, 0)


def _bootstrap(
    plan: ContainerPlan,
    fds: LaunchFds,
    chan: channel.Channel,
    entry: Callable[[ContainerPlan, LaunchFds, channel.Channel], None],
) -> None:
    ns = plan.namespaces
    log.debug(f"bootstrap[{os.getpid()}]: => nsexec container setup")
    joins = join_order(fds.join_list(ns))
    # root joins the others with its host privileges first; a rootless caller has privileges
    # only inside the container's user namespace, so it enters that one first (runc's order)
    user_first = os.geteuid() != 0
    for nstype, fd in joins if user_first else ():
        if nstype == "user":
            _enter_user(fd)
    for nstype, fd in joins:
        if nstype == "user":
            continue
        if nstype == "mount":
            break
        setns(fd, 0, f"{nstype} namespace")
    for nstype, fd in joins if not user_first else ():
        if nstype == "user":
            _enter_user(fd)
    for nstype, fd in joins:
        if nstype == "mount":
            setns(fd, 0, "mount namespace")
    for _nstype, fd in joins:
        os.close(fd)
    fds.joins = {}
    if ns.new_user:
        # a rootless parent writes the maps as the caller's uid: /proc/<pid>/{uid,gid}_map and
        # setgroups of a non-dumpable task are root's, so the task is dumpable for just that
        # exchange (runc nsexec does the same); it runs nothing of the container meanwhile
        rootless = os.geteuid() != 0
        unshare(lib.CLONE_NEWUSER)
        if rootless:
            prctl(lib.PR_SET_DUMPABLE, 1, 0, 0, 0)
        chan.send(channel.USERMAP)
        chan.expect(channel.USERMAP_DONE)
        if rootless:
            prctl(lib.PR_SET_DUMPABLE, 0, 0, 0, 0)
        os.setresgid(0, 0, 0)
        os.setresuid(0, 0, 0)
    if ns.unshare_flags:
        unshare(ns.unshare_flags)
    if ns.time_offsets and ns.new_user:
        # non-dumpable in a user namespace, the bootstrap cannot open its own /proc files for
        # writing (owned by the host's root): the parent writes the offsets (runc)
        chan.send(channel.TIMENS)
        chan.expect(channel.TIMENS_DONE)
    elif ns.time_offsets:
        procwrite.write("/proc/self/timens_offsets", ns.time_offsets.encode(), "linux.timeOffsets")
    log.debug(f"bootstrap[{os.getpid()}]: namespaces joined {[t for t, _ in joins]}, unshared {ns.unshare_flags:#x}")
    if ns.needs_fork:
        log.debug(f"bootstrap[{os.getpid()}]: fork the init into the new pid or time namespace")
        pid = os.fork()
        if pid == 0:
            entry(plan, fds, chan)
            os._exit(1)
        chan.send(channel.PID, pid=pid)
        os._exit(0)
    chan.send(channel.PID, pid=os.getpid())
    entry(plan, fds, chan)
    os._exit(1)
