"""Parent side of create and exec: LaunchFds (the fds the parent opens for the child, one owner
that closes them) and the driver that forks the bootstrap with the plan (runk.linux.plan),
answers its requests on the channel and rolls back on any failure.

Runs in the parent. launch() imports everything the child will use (the bootstrap, and the
init with rootfs etc. or exec's tenant) before the fork, so nothing is imported after it
(DESIGN 3.4 rule of thumb).
"""

from __future__ import annotations

import sys

from runk import _os as os
from runk import log
from runk.errors import InitError, RunkError
from runk.linux import bootstrap, channel, procwrite
from runk.linux.channel import Channel
from runk.linux.fds import LaunchFds

SIGKILL = 9  # signal.SIGKILL (`signal` imports enum)

TYPE_CHECKING = False  # no `typing` at run time (create's import budget)
if TYPE_CHECKING:
    from typing import Any, Protocol

    from runk.linux.cgroups.base import Entry
    from runk.linux.plan import ContainerPlan

    class Callbacks(Protocol):
        """What the container layer does at each step; the driver knows nothing of state files."""

        def cgroup_entry(self) -> Entry | None: ...
        def cgroup_apply(self, pid: int) -> None: ...
        def on_pid(self, pid: int) -> None: ...
        def runtime_hooks(self, pid: int) -> None: ...
        def seccomp_state(self, pid: int) -> dict[str, Any]: ...
        def on_ready(self, pid: int) -> None: ...


def launch(
    plan: ContainerPlan,
    fds: LaunchFds,
    cb: Callbacks,
    close_in_child: list[int],
    stdio: tuple[int, int, int] | None = None,
) -> int:
    """Fork the bootstrap and drive it until the init reports ready. Returns the init's host pid.
    `fds`: what the child uses, owned (and closed) by the caller; the cgroup entry is added to it
    here and its fds closed once the child is forked. `stdio`: the fds that become the container
    process's 0-2 (None: runk's own).

    On any failure the bootstrap and init are SIGKILLed and reaped before the error propagates.
    """
    from runk._native import lib
    from runk.linux.syscalls import prctl

    # orphans of the bootstrap (the init) come to us, so a failed create can reap them; on
    # success they pass on to our own subreaper (conmon) when we exit
    prctl(lib.PR_SET_CHILD_SUBREAPER, 1)
    # import what the child runs now: after the fork (and pivot_root) nothing may be imported
    if plan.kind == "exec":
        from runk.linux.tenant import tenant_main as entry
    else:
        from runk.linux.init import init_main as entry
    preload(plan)
    parent, child = Channel.pair()
    sys.stdout.flush()
    sys.stderr.flush()
    cg = fds.cgroup = cb.cgroup_entry()
    saved_affinity = _enter_initial_affinity(plan)
    try:
        boot = _fork(cg)
        if boot == 0:
            parent.close()
            if cg is not None and cg.clone_fd >= 0:
                close_in_child = [*close_in_child, cg.clone_fd]
            bootstrap.child_entry(plan, fds, child, close_in_child, entry, stdio)
            os._exit(1)
    finally:
        if saved_affinity is not None:
            os.sched_setaffinity(0, saved_affinity)
        fds.close_cgroup()
    child.close()
    log.debug(f"launch: {plan.kind} of {plan.id}: bootstrap pid {boot}")
    init_pid = 0
    boot_reaped = False
    early: list[dict[str, Any]] = []  # the init's messages that overtook the bootstrap's pid
    bound = setup_bound(plan)
    try:
        while True:
            msg: dict[str, Any] | None
            received: list[int] = []
            if early and init_pid:
                msg = early.pop(0)
            else:
                msg, received = _recv_within(parent, bound)
            if received and (msg is None or msg["t"] != channel.SECCOMP):
                _close_all(received)  # only a seccomp message carries an fd
                received = []
            if msg is None:
                raise InitError("container init exited unexpectedly before it was ready")
            t = msg["t"]
            if t in (channel.HOOKS, channel.READY) and not init_pid:
                # the init waits for cgroup_done, sent after the pid, so this cannot happen;
                # should a message ever overtake the pid, it is handled after it
                early.append(msg)
                continue
            if t == channel.USERMAP:
                from runk.linux import userns

                userns.write_maps(boot, list(plan.namespaces.uid_map), list(plan.namespaces.gid_map))
                parent.send(channel.USERMAP_DONE)
            elif t == channel.TIMENS:
                offsets = plan.namespaces.time_offsets.encode()
                procwrite.write(f"/proc/{boot}/timens_offsets", offsets, "linux.timeOffsets")
                parent.send(channel.TIMENS_DONE)
            elif t == channel.PID:
                init_pid = int(msg["pid"])
                log.debug(f"launch: {plan.kind} of {plan.id}: process pid {init_pid}; joining its cgroups")
                if init_pid != boot:
                    # it exits once it has forked the init
                    if not _reap(boot, bound):
                        raise InitError(
                            f"container setup process {boot} did not exit within {bound:g}s (stopped or frozen?)"
                        )
                    boot_reaped = True
                try:
                    cb.on_pid(init_pid)
                    cb.cgroup_apply(init_pid)
                    _final_affinity(plan, init_pid)
                    parent.send(channel.CGROUP_DONE)
                except (OSError, RunkError) as e:
                    # the init may have failed meanwhile (its mounts run in parallel): its own
                    # error explains more than a broken pipe or a vanished pid
                    _raise_child_error(parent, e)
            elif t == channel.HOOKS:
                log.debug(f"launch: running the prestart and createRuntime hooks of {plan.id}")
                try:
                    cb.runtime_hooks(init_pid)
                except BaseException as e:
                    parent.send_error(str(e))
                    raise
                parent.send(channel.HOOKS_DONE)
            elif t == channel.SECCOMP:
                try:
                    _to_agent(plan, cb, init_pid, received)
                finally:
                    _close_all(received)  # the agent has its own copy; runk keeps none
                parent.send(channel.SECCOMP_DONE)
            elif t == channel.READY:
                log.debug(f"launch: {plan.kind} of {plan.id}: process {init_pid} ready")
                cb.on_ready(init_pid)
                return init_pid
            elif t == channel.ERROR:
                raise InitError(str(msg.get("msg", "")), int(msg.get("errno") or 0), str(msg.get("stage", "")))
            else:
                raise InitError(f"unexpected message {t!r} from container init")
    except BaseException:
        for pid in {boot, init_pid} - {0}:
            try:
                os.kill(pid, SIGKILL)
            except ProcessLookupError:
                pass
        if not boot_reaped:
            _reap(boot)
        if init_pid and init_pid != boot:
            _reap(init_pid)
        raise
    finally:
        parent.close()


def _to_agent(plan: ContainerPlan, cb: Callbacks, pid: int, fds: list[int]) -> None:
    """The listener fd a container process (pid) sent up: to the seccomp agent, with its state."""
    from runk.linux import seccomp_agent

    prog = plan.security.seccomp
    if len(fds) != 1 or prog is None or not prog.notify:
        raise InitError("unexpected seccomp listener fd from the container process")
    doc = seccomp_agent.process_state(pid, prog.listener_metadata, cb.seccomp_state(pid))
    seccomp_agent.send(prog.listener_path, doc, fds[0])


def _close_all(fds: list[int]) -> None:
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass


def preload(plan: ContainerPlan) -> None:
    """Import the child's modules that only some configs need, before the fork: the init and
    the tenant import them at the point of use, where they must already be in sys.modules
    (after pivot_root the checkout is gone). A config that needs none pays for none."""
    proc, ns = plan.process, plan.namespaces
    if proc.terminal:
        from runk.linux import console  # noqa: F401
    if proc.scheduler is not None or proc.ioprio is not None or proc.mempolicy is not None:
        from runk.linux import schedattr  # noqa: F401
    if plan.hooks.create_container or plan.hooks.start_container:
        from runk.linux import hookexec  # noqa: F401
    if ns.sysctl:
        from runk.linux import sysctl  # noqa: F401


def _enter_initial_affinity(plan: ContainerPlan) -> set[int] | None:
    """exec's execCPUAffinity.initial: this process takes it for the fork, so the setup child
    runs on those CPUs from its birth until it joins the container's cgroups (runc's setns
    process); returns the affinity to restore after the fork, None when there is none."""
    initial = plan.process.affinity_initial
    if initial is None:
        return None
    from runk.linux.schedattr import set_affinity

    saved = os.sched_getaffinity(0)
    set_affinity(0, initial, "initial")
    return saved


def _final_affinity(plan: ContainerPlan, pid: int) -> None:
    """Once the process is in its cgroups: exec's execCPUAffinity.final, or every CPU of its
    cpuset when no affinity is configured, so that runk's own (runk run under taskset) does not
    leak into the container (runc resets it the same way)."""
    proc = plan.process
    if proc.affinity_final is not None:
        from runk.linux.schedattr import set_affinity

        set_affinity(pid, proc.affinity_final, "final")
    elif proc.affinity_initial is None:
        _reset_affinity(pid)


def _reset_affinity(pid: int) -> None:
    """Every CPU for pid (the kernel keeps it inside its cpuset), so that the caller's own
    affinity (runk run under taskset) does not leak into the container; a warning on failure.
    Here rather than in runk.linux.schedattr: every create and exec does it."""
    from runk._native import ffi, lib

    if lib.runk_sched_setaffinity_all(pid) < 0:
        log.warn(
            f"resetting the CPU affinity of pid {pid} failed: {os.strerror(ffi.errno).lower()}"
            " -- the container process may inherit runk's CPU affinity"
        )


def _fork(cg: Entry | None) -> int:
    """os.fork(), or clone3 straight into the container's cgroup v2 group when there is one (see
    cgroups.Entry); ENOSYS, EINVAL etc. (kernel < 5.7, no such group) fall back to fork. Only a
    single-threaded process clones itself: glibc's fork also takes malloc's and stdio's locks
    so that another thread cannot hold them in the child; the raw syscall does not."""
    if cg is None or cg.clone_fd < 0 or not _single_threaded():
        return os.fork()
    from runk._native import lib

    pid: int = lib.runk_fork_into_cgroup(cg.clone_fd)
    if pid < 0:
        return os.fork()
    cg.cloned = True
    return pid


def _single_threaded() -> bool:
    try:
        return len(os.listdir("/proc/self/task")) == 1
    except OSError:
        return False


def _raise_child_error(chan: Channel, cause: BaseException) -> None:
    """Prefer the init's own error, if it sent one, to ours; never wait long for it (a step of
    ours may have failed while the init is alive and waiting for cgroup_done)."""
    import select

    msg = None
    try:
        if select.select([chan.fileno()], [], [], 0.5)[0]:
            msg, _ = chan.recv()
    except OSError:
        msg = None
    if msg is not None and msg.get("t") == channel.ERROR:
        raise InitError(str(msg.get("msg", "")), int(msg.get("errno") or 0), str(msg.get("stage", "")))
    raise cause


def _reap(pid: int, bound: float | None = 10.0) -> bool:
    """waitpid within `bound` seconds (None: no bound); False if pid outlived it (a SIGKILLed
    task in a frozen v1 cgroup dies only once thawed: it is left to our subreaper then)."""
    if bound is not None:
        from runk.linux.procfs import wait_gone

        if not wait_gone(pid, None, int(bound * 1000)):
            return False
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass
    return True


SETUP_TIMEOUT = 60.0


def setup_bound(plan: ContainerPlan) -> float | None:
    """How long the parent waits for each message of the setup children before it gives up.

    Setup takes milliseconds; 60 s (RUNK_SETUP_TIMEOUT overrides it) ends a create whose
    bootstrap or init was stopped, frozen, or hung in the kernel. createContainer hooks run in
    the init: their timeouts are added, and one without a timeout makes the wait unbounded, as
    runc's (a hook without a timeout may run for ever by the spec)."""
    try:
        bound = float(os.environ.get("RUNK_SETUP_TIMEOUT") or SETUP_TIMEOUT)
    except ValueError:
        bound = SETUP_TIMEOUT
    for hook in plan.hooks.create_container:
        timeout = hook.get("timeout") if isinstance(hook, dict) else None
        if not timeout:
            return None
        bound += timeout
    return bound


def _recv_within(chan: Channel, bound: float | None) -> tuple[dict[str, Any] | None, list[int]]:
    """The next message from the setup children, or InitError after `bound` seconds of silence."""
    if bound is not None:
        import select

        if not select.select([chan.fileno()], [], [], bound)[0]:
            raise InitError(f"container init did not answer within {bound:g}s (stopped, frozen or hung in the kernel)")
    return chan.recv(with_fds=True)
