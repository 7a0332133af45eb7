"""The process part of a container's setup, shared by the init and exec's tenant: terminal,
limits, fds, cwd, seccomp, identity, capabilities, then the sealed trampoline (DESIGN 3.4
steps 19-23, runc finalizeNamespace and the end of standard_init_linux.go).

Runs in the forked child only: no imports at call time from the file system (everything is
imported by the parent before the fork; the modules only some configs need, console, schedattr
and hookexec, by runk.linux.launch.preload, and found in sys.modules here), errors as
RunkError/SyscallError for the channel.
"""

from __future__ import annotations

from runk import _os as os
from runk import log
from runk._native import lib
from runk.errors import RunkError, describe
from runk.linux import caps, channel, execpath, identity, rlimits
from runk.linux.syscalls import personality, prctl

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

    from runk.linux.fds import LaunchFds
    from runk.linux.plan import ContainerPlan, ProcessPlan, SecurityPlan


START_ERROR_MAX = 16384  # of a startContainer hook's failure sent to `start` through the exec fifo


def setup_terminal(proc: ProcessPlan, console_fd: int, bind_console: bool) -> None:
    """A pty from the container's devpts; the master goes to the console socket, the slave
    becomes the controlling terminal and stdio (runc setupConsole; /dev/console for the init).
    A terminal relayed by runk's foreground run/exec gets ONLCR cleared, as runc's relay
    clears it on the master it receives (tty.go recvtty), so output lines end in "\n" there;
    here, before the master leaves, so no output of the process can precede it. A master sent
    to a --console-socket keeps the kernel's default: clearing it is the receiver's choice."""
    from runk.linux import console  # preloaded (runk.linux.launch.preload) when terminal is set

    master, slave, _slave_path = console.open_pty()
    if proc.console_size:
        console.set_size(slave, *proc.console_size)
    if proc.tty_relayed:
        console.clear_onlcr(slave)
    if bind_console:
        console.bind_console(slave)
    console.send_master(console_fd, master)
    os.close(master)
    console.make_controlling(slave)


def apply_limits(proc: ProcessPlan, sec: SecurityPlan, proc_fd: int = -1) -> None:
    """oom_score_adj, rlimits and no_new_privs, as the last steps before identity (init, exec).
    proc_fd: an fd of the procfs root to write through (-1: the /proc this process sees)."""
    if proc.oom_score_adj is not None:
        rlimits.set_oom_score_adj(proc.oom_score_adj, proc_fd)
    rlimits.apply(list(proc.rlimits))
    if sec.no_new_privileges:
        prctl(lib.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)


def apply_sched(proc: ProcessPlan) -> None:
    """Scheduler, io priority, personality and memory policy, in runc's order (its init and
    setns init, after no_new_privs): the workload inherits each across execve."""
    if proc.scheduler is not None or proc.ioprio is not None:
        from runk.linux import schedattr  # preloaded (runk.linux.launch.preload) for these

        if proc.scheduler is not None:
            schedattr.apply_scheduler(proc.scheduler, proc.cpus_limited)
        if proc.ioprio is not None:
            schedattr.apply_ioprio(proc.ioprio)
    if proc.personality is not None:
        personality(proc.personality)
    if proc.mempolicy is not None:
        from runk.linux.schedattr import apply_memory_policy

        apply_memory_policy(*proc.mempolicy)


def finish_process(plan: ContainerPlan, fds: LaunchFds, chan: channel.Channel) -> None:
    """fds, cwd, seccomp, identity, capabilities, then the trampoline (shared with exec's
    tenant). The order is runc's finalizeNamespace, with the fd sweep and the cwd check moved
    before the seccomp filter, which may forbid close_range(2) or getcwd(2)."""
    proc, sec = plan.process, plan.security
    fifo_fd = fds.fifo
    proc_fd = fds.proc
    if proc_fd >= 0 and fifo_fd < 0:
        os.close(proc_fd)  # only the fifo reopen needs it: never left to the workload
        proc_fd = fds.proc = -1
    close_fds(proc.preserve_fds, [fd for fd in (fifo_fd, proc_fd) if fd >= 0])
    # chdir before dropping privileges if we can, after otherwise (runc finalizeNamespace)
    chdir_done = _try_chdir(proc.cwd)
    if chdir_done:
        _verify_cwd(strict=True)
    if sec.seccomp is not None and not sec.no_new_privileges:
        # without no_new_privs, loading a filter needs CAP_SYS_ADMIN: before the caps drop (runc)
        from runk.linux import seccomp

        hand_listener(chan, seccomp.load(sec.seccomp))
    caps.drop_bounding(sec.caps["bounding"])
    caps.set_keepcaps(True)
    identity.fix_stdio(proc.uid, proc.gid)
    identity.switch(proc.uid, proc.gid, list(proc.additional_gids))
    if not chdir_done:
        try:
            os.chdir(proc.cwd)
        except OSError as e:
            raise RunkError(
                f'chdir to cwd ("{proc.cwd}") set in config.json failed: {os.strerror(e.errno or 0).lower()}'
            ) from None
        _verify_cwd(strict=False)
    caps.set_keepcaps(False)
    caps.apply(sec.caps)
    env = list(proc.env)
    homes = [e for e in env if e.startswith("HOME=")]
    if not homes or homes[-1] == "HOME=":  # runc: no HOME, or an empty one, is the user's home
        env.append("HOME=" + identity.passwd_home(proc.uid))
    if not proc.args:
        path = ""  # no process: created, never startable (start refuses it)
    elif plan.kind == "exec":
        path = execpath.lookpath(proc.args[0], env)  # exec fails at once, as runc's (255)
        execpath.check_access(path, sec.caps["effective"])
    else:
        # A program that cannot be found or run does not fail create: runtime.md says
        # process.args MUST NOT be applied until start, and runtime-tools' misc_props expects
        # create+start+delete to succeed. The trampoline reports runc's message after the start
        # gate and exits 127 or 126, the codes podman gives for these errors.
        try:
            path = execpath.lookpath(proc.args[0], env)
            execpath.check_access(path, sec.caps["effective"])
        except RunkError as e:
            code = 126 if str(e).endswith("permission denied") else 127
            path = f"!{code}!{e}"
    seccomp_fd = -1
    if sec.seccomp is not None and sec.no_new_privileges:
        from runk.linux import seccomp

        if sec.seccomp.notify or plan.hooks.start_container:
            # runc's order: the filter is in force before the start gate, so that startContainer
            # hooks run under it, and its listener reaches the agent while create runs
            hand_listener(chan, seccomp.load(sec.seccomp))
        else:
            # as late as possible: the trampoline loads it after the start gate, just before execve
            seccomp_fd = seccomp.to_memfd(sec.seccomp)
            os.set_inheritable(seccomp_fd, True)
    if plan.kind == "exec":
        log.debug(f"setns_init: about to exec {path}")
    else:
        log.debug("init: closing the pipe to signal completion")
    chan.send(channel.READY)
    chan.close()
    if plan.hooks.start_container:
        # startContainer hooks run in the container after start is called, before the user
        # process (runtime-spec config.md), and poststart only after them. create has returned
        # by then, so the init does the fifo handshake itself: opening the write end returns once
        # `start` opened the read end; the byte is written only after the hooks succeeded. A
        # failure is written instead, after a "!", for `start` to report as its own error (runc
        # reports it through its run), and the init exits. The open write end then goes to the
        # trampoline, so that `start` still sees EOF only at the final execve.
        writer = False
        try:
            if fifo_fd >= 0:
                if proc_fd >= 0:
                    w = os.open(f"self/fd/{fifo_fd}", os.O_WRONLY, dir_fd=proc_fd)
                else:
                    w = os.open(f"/proc/self/fd/{fifo_fd}", os.O_WRONLY)
                os.close(fifo_fd)
                fifo_fd, writer = w, True
            # a hook without env of its own gets the process's (runc's init), HOME included
            if plan.hooks.start_container:
                from runk.linux.hookexec import run_hooks  # preloaded (launch.preload) with hooks

                run_hooks(
                    "startContainer", list(plan.hooks.start_container), plan.state_doc(os.getpid(), "created"), env
                )
            if fifo_fd >= 0:
                os.write(fifo_fd, b"0")
                # Python opens close-on-exec (so the hooks did not get it); the trampoline needs it
                os.set_inheritable(fifo_fd, True)
        except BaseException as e:
            text = describe(e).encode(errors="replace")[:START_ERROR_MAX]
            if writer:
                os.write(fifo_fd, b"!" + text)
            else:
                os.write(2, b"runk: " + text + b"\n")
            os._exit(1)
    gate = str(fifo_fd) + (f"@{proc_fd}" if proc_fd >= 0 and fifo_fd >= 0 else "")
    argv = [
        "runk-exec",
        gate,
        str(seccomp_fd),
        str(sec.seccomp.flags if sec.seccomp is not None and seccomp_fd >= 0 else 0),
        path,
        *proc.args,
    ]
    os.execve(fds.trampoline, [a.encode("utf-8", "surrogateescape") for a in argv], dict(_split(e) for e in env))


def hand_listener(chan: channel.Channel, fd: int) -> None:
    """A seccomp notify listener fd (-1: none) goes up to the parent, which hands it to the seccomp
    agent; this process keeps no copy (nor does the workload), and waits until the agent has it."""
    if fd < 0:
        return
    try:
        chan.send(channel.SECCOMP, fds=[fd])
    finally:
        os.close(fd)
    chan.expect(channel.SECCOMP_DONE)


def _verify_cwd(strict: bool) -> None:
    """CVE-2024-21626: a cwd outside the container (a leaked host dirfd) must not be used.
    After the seccomp filter is loaded getcwd(2) may be refused; then the check is skipped
    (the fd sweep already closed every host descriptor)."""
    try:
        cwd = os.getcwd()
    except FileNotFoundError:
        cwd = ""
    except OSError:
        if strict:
            raise
        return
    if not cwd.startswith("/"):
        raise RunkError("current working directory is outside of container mount namespace root")


def _split(kv: str) -> tuple[bytes, bytes]:
    k, _, v = kv.partition("=")
    return k.encode("utf-8", "surrogateescape"), v.encode("utf-8", "surrogateescape")


def _try_chdir(cwd: str) -> bool:
    try:
        os.chdir(cwd)
        return True
    except OSError:
        return False


def close_fds(preserve: int, keep: list[int]) -> None:
    """CVE-2024-21626: every fd runk holds, except stdio, the preserved fds and the ones the
    trampoline needs, is close-on-exec before the last exec (the trampoline memfd itself stays
    CLOEXEC: execveat of an ELF binary through a CLOEXEC fd works)."""
    from runk.linux.syscalls import close_range_cloexec

    try:
        close_range_cloexec(3 + preserve)
    except OSError:
        # ENOSYS on old kernels: walk /proc/self/fd as runc does, or every possible fd
        try:
            fds: Iterable[int] = [int(n) for n in os.listdir("/proc/self/fd")]
        except OSError:
            import resource

            fds = range(3 + preserve, resource.getrlimit(resource.RLIMIT_NOFILE)[0])
        for fd in fds:
            if fd >= 3 + preserve:
                try:
                    os.set_inheritable(fd, False)
                except OSError:
                    pass  # not open (or the directory fd listdir used)
    for fd in keep:
        os.set_inheritable(fd, True)
