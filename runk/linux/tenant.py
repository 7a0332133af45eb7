"""exec's stage 2 ("runk:[2:EXEC]"): a process inside a running container's namespaces and
cgroup, confined like the container (identity, capabilities, no_new_privs, seccomp, rlimits),
then the sealed trampoline without a start gate.

Runs in the forked child only (no imports). The bootstrap already joined the namespaces; the
pid namespace applies to this process because the bootstrap forked it.
"""
from __future__ import annotations

import os

from runk._native import lib
from runk.linux import channel, console, rlimits
from runk.linux.init import finish_process
from runk.linux.syscalls import prctl, set_name


def tenant_main(plan: object, chan: channel.Channel) -> None:
    try:
        set_name("runk:[2:EXEC]")
        if plan.rootfs_chroot:
            os.chroot(plan.rootfs_chroot)     # a container made with --no-pivot / no mount ns
        os.chdir("/")
        os.setsid()
        if plan.terminal:
            master, slave, _path = console.open_pty()
            if plan.console_size:
                console.set_size(slave, *plan.console_size)
            console.send_master(plan.console_fd, master)
            os.close(master)
            console.make_controlling(slave)
        os.umask(plan.umask)
        if plan.oom_score_adj is not None:
            rlimits.set_oom_score_adj(plan.oom_score_adj)
        rlimits.apply(plan.rlimits)
        if plan.no_new_privileges:
            prctl(lib.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
        finish_process(plan, chan)
    except BaseException as e:
        from runk.errors import describe
        chan.send_error(describe(e), getattr(e, "errno", 0) or 0, "exec")
        os._exit(1)
