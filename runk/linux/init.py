"""Stage 2, the container init ("runk:[2:INIT]"): the ordered setup of DESIGN 3.4, then the
sealed trampoline.

Runs in the forked child only: no imports from the file system (everything it uses was imported
by the parent before the fork, what only some configs need by runk.linux.launch.preload; after
pivot_root the host's site-packages is gone), output through the channel, exit
through os._exit. The order follows runc's standard_init_linux.go; each security step names its
reason.
"""

from __future__ import annotations

import errno

from runk import _os as os
from runk import log
from runk._native import lib
from runk.linux import channel, masks, procwrite, rootfs
from runk.linux.process import apply_limits, apply_sched, finish_process, setup_terminal
from runk.linux.syscalls import join_session_keyring, loopback_up, set_name, unshare

TYPE_CHECKING = False
if TYPE_CHECKING:
    from runk.linux.fds import LaunchFds
    from runk.linux.plan import ContainerPlan


def init_main(plan: ContainerPlan, fds: LaunchFds, chan: channel.Channel) -> None:
    """Never returns: execs the trampoline or reports an error and _exit(1)s."""
    try:
        _init(plan, fds, chan)
    except BaseException as e:  # the child's top level: report, never unwind into the parent's code
        from runk.errors import describe

        chan.send_error(describe(e), getattr(e, "errno", 0) or 0, "init")
        os._exit(1)


def _init(plan: ContainerPlan, fds: LaunchFds, chan: channel.Channel) -> None:
    ns, mp, proc = plan.namespaces, plan.mounts, plan.process
    assert mp is not None  # an init's plan always has its mounts (kind "init")
    set_name("runk:[2:INIT]")
    log.debug(f"init[{os.getpid()}]: child process in init()")
    os.setsid()  # a session leader, so a terminal can become its controlling tty
    if ns.new_net:
        loopback_up()
    if plan.security.new_keyring:
        # a session keyring of its own, so the container cannot read the host's keys (runc)
        try:
            join_session_keyring(f"_ses.{plan.id}")
        except OSError as e:
            if e.errno not in (errno.ENOSYS, errno.EPERM, errno.EACCES):  # keyrings unavailable
                raise
    os.umask(0)  # device nodes and directories get exactly their modes
    # the namespace is rooted at the cgroup we are in when it is made: the container's
    cgroup_first = ns.new_cgroupns
    if cgroup_first:
        chan.expect(channel.CGROUP_DONE)
    if ns.new_cgroupns:
        unshare(lib.CLONE_NEWCGROUP)
    root_fd = rootfs.prepare(mp, fds, ns.mount_ns) if ns.mount_ns else -1
    if not cgroup_first:
        # the mounts above overlapped the parent's cgroup migration; nothing of the container
        # (hooks, exec) runs before it is in its cgroups
        chan.expect(channel.CGROUP_DONE)
    if proc.cwd and root_fd >= 0:
        from runk.linux.paths import open_in_root

        try:
            os.close(open_in_root(root_fd, proc.cwd, "dir"))  # runc creates a missing cwd
        except OSError:
            pass
    if plan.hooks.runtime_hooks:
        chan.send(channel.HOOKS)
        chan.expect(channel.HOOKS_DONE)
    if plan.hooks.create_container:
        # in the rootfs, as runc runs them (relative paths in a hook name the container's files),
        # with the process's environment when they have none of their own (runc 1.1.5's init)
        if root_fd >= 0:
            os.fchdir(root_fd)
        elif mp.rootfs:
            os.chdir(mp.rootfs)
        from runk.linux.hookexec import run_hooks  # preloaded (runk.linux.launch.preload)

        state = plan.state_doc(os.getpid(), "created")
        run_hooks("createContainer", list(plan.hooks.create_container), state, list(proc.env))
    proc_root = -1
    if ns.mount_ns:
        rootfs.pivot(mp.rootfs, mp.no_pivot)
        os.close(root_fd)
        # the container's /proc, checked to be the root of a procfs: the sysctl and
        # oom_score_adj writes go through it (runk.linux.procwrite)
        proc_root = procwrite.open_root()
    elif mp.rootfs:
        if proc.terminal:
            # the host's mount namespace: its own devpts, before the chroot hides it (runc
            # mounts a new devpts over the rootfs's /dev/pts, which runk does not do in the
            # host's namespace), and no /dev/console bind
            setup_terminal(proc, fds.console, bind_console=False)
        if fds.fifo >= 0:
            # no mount namespace: nothing may be mounted, so the chroot has no /proc for the
            # trampoline to reopen the fifo through; it gets the host's /proc as an fd, closed
            # before the workload runs (this container shares the host's mounts anyway)
            fds.proc = os.open("/proc", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        os.chroot(mp.rootfs)
        os.chdir("/")
    if proc.terminal and (ns.mount_ns or not mp.rootfs):
        setup_terminal(proc, fds.console, bind_console=ns.mount_ns)
    if ns.mount_ns:
        rootfs.finish(mp)
        rootfs.reopen_dev_null()
    os.umask(proc.umask)
    if ns.hostname is not None:
        from runk.linux.syscalls import sethostname

        sethostname(ns.hostname)
    if ns.domainname is not None:
        from runk.linux.syscalls import setdomainname

        setdomainname(ns.domainname)
    if ns.sysctl:
        from runk.linux import sysctl  # preloaded (runk.linux.launch.preload)

        sysctl.write_all(list(ns.sysctl), proc_root)
    for p in mp.readonly_paths:
        masks.readonly(p)
    masks.mask_all(list(mp.masked_paths))
    apply_limits(proc, plan.security, proc_root if proc_root >= 0 else fds.proc)
    apply_sched(proc)
    if proc_root >= 0:
        os.close(proc_root)
    finish_process(plan, fds, chan)
