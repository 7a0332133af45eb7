"""exec's stage 2 ("runk:[2:EXEC]"): a process inside a running container's namespaces and
cgroup, confined like the container (identity, capabilities, no_new_privs, seccomp, rlimits),
then the sealed trampoline without a start gate.

Runs in the forked child only (no imports). The bootstrap already joined the namespaces; the
pid namespace applies to this process because the bootstrap forked it.
"""

from __future__ import annotations

from runk import _os as os
from runk import log
from runk.linux import channel
from runk.linux.process import apply_limits, apply_sched, finish_process, setup_terminal
from runk.linux.syscalls import set_name

TYPE_CHECKING = False
if TYPE_CHECKING:
    from runk.linux.fds import LaunchFds
    from runk.linux.plan import ContainerPlan


def tenant_main(plan: ContainerPlan, fds: LaunchFds, chan: channel.Channel) -> None:
    try:
        set_name("runk:[2:EXEC]")
        log.debug(f"tenant[{os.getpid()}]: child process in init()")
        chan.expect(channel.CGROUP_DONE)  # in the container's cgroups before anything runs
        os.setsid()
        if plan.process.terminal:
            # before a chroot: a container without a mount namespace has no devpts in its rootfs
            setup_terminal(plan.process, fds.console, bind_console=False)
        if plan.rootfs_chroot:
            os.chroot(plan.rootfs_chroot)  # a container made with --no-pivot / no mount ns
        os.chdir("/")
        os.umask(plan.process.umask)
        apply_limits(plan.process, plan.security)
        apply_sched(plan.process)
        finish_process(plan, fds, chan)
    except BaseException as e:
        from runk.errors import describe

        chan.send_error(describe(e), getattr(e, "errno", 0) or 0, "exec")
        os._exit(1)
