"""VmBackend (host, runk commands): the same container inside its own micro-VM (DESIGN 3.15).

Runs in the parent (runk create/start/kill/exec/delete/...), with the module-level functions of
runk.backend.linux. create() plans the VM (runk.vm.host.sandbox), forks the supervisor
(runk.vm.host.supervisor: the container's init on the host, in its host sandbox namespaces and
host cgroup) and returns once the guest agent reports the container created and waiting for
start; the supervisor's pid is the pid in state.json and --pid-file. The other verbs go to the
supervisor's control socket (runk.vm.host.control); exec forks an exec proxy
(runk.vm.host.execproxy). `--preserve-fds` is relayed as bytes by those host processes
(runk.vm.host.fdrelay: pipes, files, stream sockets; anything else refused before create or
exec makes anything).
State files beside state.json (all in the container dir, removed by delete): vm-plan.json,
vm.json (pids, accelerator, timings), `created` while waiting for start, `paused`, `exit`.

A pod member (runk.vm.host.pod: a container joining a running VM container's namespaces, or
named by CRI annotations) gets no VM: create stages its files into the sandbox's share
(runk.vm.host.podshare) and forks a member supervisor (runk.vm.host.member) instead, whose pid
is the member's; its record's sandbox holds "pod" (the sandbox's directory) and "pod_id". Its
verbs go to the sandbox supervisor's socket naming the member (container_id), and this module
keeps its `created` and `paused` markers; delete removes it from the guest (RemoveContainer)
and unstages its files.
"""

from __future__ import annotations

import sys

from runk import _os as os
from runk import log
from runk.errors import CONTAINER_NOT_RUNNING, RunkError
from runk.state import hooks
from runk.state import status as st
from runk.state.cleanup import CleanupStack
from runk.state.record import StateRecord
from runk.state.store import CONFIG_FILE, STATE_FILE, ContainerDir, write_atomic

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from runk.backend.base import EventSource
    from runk.backend.requests import CheckpointRequest, CreateRequest, ExecRequest, RestoreRequest
    from runk.linux.cgroups.base import CgroupManager
    from runk.vm.host.pod import Candidate
    from runk.vm.host.sandbox import Stage

NO_CRIU = (
    "the vm backend (runk-vm) does not support {}: the container runs inside a micro-VM, "
    "which CRIU cannot save or restore"
)
SIGKILL = 9  # signal.SIGKILL (no `signal` here: it imports enum)
SANDBOX_NS = ("network", "ipc", "uts")  # the host sandbox the supervisor runs in
WAIT_GONE_SECONDS = 20.0


def _dir(rec: StateRecord) -> str:
    return (rec.sandbox or {}).get("dir") or ""


def _pod(rec: StateRecord) -> str:
    """A pod member's sandbox directory ("" for a container with a VM of its own)."""
    return (rec.sandbox or {}).get("pod") or ""


def _call(rec: StateRecord, op: str, **args: Any) -> dict[str, Any]:
    from runk.vm.host import control

    if _pod(rec):
        return control.call(_pod(rec), op, container_id=rec.id, **args)
    return control.call(_dir(rec), op, **args)


def _marker(rec: StateRecord, name: str, present: bool) -> None:
    """A pod member's `created`/`paused` marker (a sandbox's supervisor keeps its own)."""
    path = os.path.join(_dir(rec), name)
    if present:
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o600))
        return
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _spawn_supervisor(
    cdir: ContainerDir,
    cfg: dict[str, Any],
    req: CreateRequest,
    mgr: CgroupManager | None,
    entry: str = "runk.vm.host.supervisor",
    fds: list[tuple[int, str]] | None = None,
) -> tuple[int, int]:
    """Fork, enter the host sandbox (setsid, cgroup, namespaces), exec the supervisor (or a pod
    member's, `entry`); it keeps the preserved `fds` (runk.vm.host.fdrelay) open to relay them."""
    from runk.linux.bootstrap import adopt_stdio
    from runk.linux.namespaces import clone_flag, open_ns_path
    from runk.linux.syscalls import setns, unshare

    joins, flags = [], 0
    for ns in (cfg.get("linux") or {}).get("namespaces") or []:
        if ns.get("type") in SANDBOX_NS:
            if ns.get("path"):
                joins.append((open_ns_path(ns["type"], ns["path"]), ns["path"]))
            else:
                flags |= clone_flag(ns["type"])
    ready_r, ready_w = os.pipe2(os.O_CLOEXEC)
    keep = [ready_w] + ([req.console_fd] if req.console_fd is not None else []) + [n for n, _d in fds or []]
    boot = f"import sys; sys.path[:0] = {[p for p in sys.path if p]!r}; from {entry} import main; main(sys.argv[1:])"
    argv = [
        sys.executable,
        "-I",
        "-S",
        "-c",
        boot,
        cdir.path,
        cdir.id,
        str(ready_w),
        str(req.console_fd if req.console_fd is not None else -1),
        req.console_socket or "",
        ",".join(f"{n}:{d}" for n, d in fds or []),
    ]
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(ready_r)
            adopt_stdio(req.stdio)
            os.setsid()
            if mgr is not None:
                mgr.apply(os.getpid())
            for fd, path in joins:
                setns(fd, 0, path)
            if flags:
                unshare(flags)
            for fd in map(int, os.listdir("/proc/self/fd")):
                if fd > 2:
                    try:
                        os.set_inheritable(fd, fd in keep)
                    except OSError:
                        pass
            os.execv(sys.executable, argv)
        except BaseException as e:  # report through the ready pipe, never return
            from runk import _json
            from runk.errors import describe

            try:
                os.write(ready_w, (_json.dumps({"ok": False, "error": describe(e)}) + "\n").encode())
            finally:
                os._exit(1)
    os.close(ready_w)
    for fd, _p in joins:
        os.close(fd)
    return pid, ready_r


def _wait_ready(pid: int, ready: int, timeout: float) -> None:
    """The supervisor's ready line, within `timeout` (runk.vm.host.bounds.ready): its own bounds
    (hello, CreateContainer) end a silent guest; this one ends a supervisor that is itself stuck
    or stopped. Its death is an EOF at once (it holds the only write end)."""
    from runk import _json

    try:
        data = _read_line(ready, timeout)
    finally:
        os.close(ready)
    if data is None:
        raise RunkError(f"the VM supervisor did not report within {timeout:g} s")
    doc: dict[str, Any] = {}
    if data.strip():
        try:
            parsed = _json.loads(data.split(b"\n", 1)[0])
        except ValueError:
            parsed = None
        doc = parsed if isinstance(parsed, dict) else {"error": data.decode(errors="replace")}
    if doc.get("ok"):
        return
    _, status = os.waitpid(pid, 0)
    raise RunkError(doc.get("error") or f"the VM supervisor exited ({os.waitstatus_to_exitcode(status)})")


def _read_line(fd: int, timeout: float) -> bytes | None:
    """Bytes up to a newline or EOF; None if `timeout` seconds pass first."""
    import select
    from time import monotonic

    deadline = monotonic() + timeout
    data = b""
    while b"\n" not in data:
        left = deadline - monotonic()
        if left <= 0:
            return None
        try:
            if not select.select([fd], [], [], left)[0]:
                continue
        except InterruptedError:
            continue
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        data += chunk
    return data


def _kill_and_reap(pid: int) -> None:
    try:
        os.kill(pid, SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass


def _undo_spawn(cdir: ContainerDir, rec: StateRecord, pid: int) -> None:
    """Stop a supervisor spawned by a create that then failed (a createRuntime hook, a full disk)
    and what it started: qemu and virtiofsd by their recorded pids, anything else in the host
    cgroup; a member's container in its sandbox's guest."""
    _kill_and_reap(pid)
    if _pod(rec):
        _remove_member(rec)
    _stop_vm_processes(cdir, rec)


def _remove_member(rec: StateRecord) -> None:
    """RemoveContainer: the member leaves the guest (killed if it runs); nothing if the VM is gone."""
    from runk.vm.wire import protocol as P

    if not os.path.exists(os.path.join(_pod(rec), "vm.sock")):
        return  # the sandbox's VM has ended, and the member with it
    try:
        _call(rec, P.REMOVE, timeout=WAIT_GONE_SECONDS)
    except (RunkError, OSError) as e:
        log.debug(f"vm: removing {rec.id} from its sandbox: {e}")


def _plan_member(
    cdir: ContainerDir, cfg: dict[str, Any], req: CreateRequest, box: Candidate
) -> tuple[list[Stage], str]:
    """A pod member's plan (runk.vm.host.pod.member_plan), in vm-member.json for its member
    supervisor; returns its stages and rootfs."""
    from runk import _json
    from runk.oci.config import rootfs_path
    from runk.vm.host import pod

    stages, gcfg, join = pod.member_plan(cfg, req.bundle, cdir.id)
    doc = {"pod": box.dir, "pod_id": box.id, "create": {"id": cdir.id, "config": gcfg, "join": join}}
    cdir.write("vm-member.json", _json.dumps(doc))
    log.debug(f"vm: a member of {box.id}'s pod, in its VM (joins {', '.join(join) or 'nothing'})")
    return stages, rootfs_path(cfg, req.bundle)


def _stop_vm_processes(cdir: ContainerDir, rec: StateRecord) -> None:
    """SIGKILL qemu and virtiofsd (vm.json) and whatever else still runs in the host cgroup: a
    supervisor whose create died before it recorded the pid, its children."""
    info = _info(cdir)
    for key in ("qemu", "virtiofsd"):
        if isinstance(info.get(key), list):
            _gone(int(info[key][0]), info[key][1], 0.0)
    if rec.cgroup_paths:
        from runk.linux.cgroups import kill_leftovers

        kill_leftovers(rec.cgroup_paths, SIGKILL)


def _info(cdir: ContainerDir) -> dict[str, Any]:
    from runk import _json

    raw = cdir.read("vm.json")
    try:
        doc = _json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}


def _gone(pid: int, start: int | None, timeout: float) -> None:
    """Wait for pid (with that start time) to end; SIGKILL it after `timeout`."""
    from runk.linux.procfs import is_alive, open_pidfd, wait_gone

    if wait_gone(pid, start, int(timeout * 1000)):
        return
    pidfd = open_pidfd(pid)
    if pidfd is None:
        return
    try:
        if is_alive(pid, start):  # the pidfd is of that process, not a reused pid
            import _signal

            _signal.pidfd_send_signal(pidfd, SIGKILL)
    except ProcessLookupError:
        pass
    finally:
        os.close(pidfd)
    wait_gone(pid, start, 5000)


class VmBackend:
    """A container in its own micro-VM (runk.backend.base.Backend)."""

    name = "vm"
    host_pids = False  # processes() are the guest's pids

    def create(self, cdir: ContainerDir, cfg: dict[str, Any], raw: bytes, req: CreateRequest) -> StateRecord:
        from runk.errors import describe
        from runk.state.faults import freeze
        from runk.state.faults import point as stop_after
        from runk.state.hooks import state_for
        from runk.vm.host import sandbox

        if req.pidfd_socket:
            raise RunkError("--pidfd-socket: the vm backend's container process is in its guest: no pidfd")
        fds: list[tuple[int, str]] = []
        if req.preserve_fds:
            from runk.vm.host import fdrelay

            fds = fdrelay.plan(req.preserve_fds)  # refused before anything is made
        undo = CleanupStack()
        try:
            cdir.write(CONFIG_FILE, raw)
            stop_after("config", cdir.root)
            terminal = bool((cfg.get("process") or {}).get("terminal"))
            if terminal and not req.console_socket and req.console_fd is None:
                raise RunkError("cannot allocate tty if runk will detach without setting console socket")
            if req.console_socket and not terminal:
                raise RunkError("cannot use console socket if runk will not detach or allocate tty")
            for i, hook in enumerate((cfg.get("hooks") or {}).get("createContainer") or []):
                # it runs in the guest, whose own files are the host's /usr and the container's
                if not str((hook or {}).get("path") or "").startswith("/usr/"):
                    where = "runs in the guest, which has the host's /usr only"
                    log.warn(f"createContainer hook #{i}: {hook.get('path')} {where}")
            from runk.vm.host import pod

            box = pod.find_sandbox(cfg, cdir.root, cdir.id)
            stages: list[Stage] = []
            if box is not None:
                stages, rootfs = _plan_member(cdir, cfg, req, box)
                sandbox_ref, block = {"dir": cdir.path, "pod": box.dir, "pod_id": box.id}, False
            else:
                plan = sandbox.plan_vm(cfg, req.bundle)
                cdir.write("vm-plan.json", plan.to_json())
                log.debug(
                    f"vm: accelerator {plan.accel_reason}; {plan.mem_mb} MiB, {plan.cpus} vCPU, "
                    f"rootfs over {plan.rootfs_mode}, kernel {plan.kernel_release}"
                )
                rootfs, sandbox_ref, block = plan.rootfs, {"dir": cdir.path}, plan.rootfs_mode == "block"
            mgr = None
            if cfg.get("linux") is not None:
                # the host cgroup holds the supervisor, qemu and virtiofsd (podman stats sees the VM);
                # the container's limits apply inside the guest, where its processes run
                from runk.linux.cgroups import make_manager

                mgr = make_manager(
                    (cfg.get("linux") or {}).get("cgroupsPath") or None, cdir.id, systemd=req.systemd_cgroup
                )
            # the claim (as the linux backend's): the host cgroup on disk before it is made
            rec = StateRecord.claim(
                cdir.id,
                self.name,
                req.bundle,
                cfg.get("annotations") or {},
                mgr.paths() if mgr is not None else {},
                req.systemd_cgroup,
                rootfs=rootfs,
                sandbox=sandbox_ref,
            )
            cdir.write(STATE_FILE, rec.to_json())
            stop_after("claim", cdir.root)
            if mgr is not None:
                mgr.create({})
                undo.push(mgr.destroy)
            if box is not None:
                from runk.vm.host import podshare

                undo.push(podshare.detach, box.dir, cdir.id)
                podshare.attach(box.dir, cdir.id, stages)
                stop_after("staged", cdir.root)
            entry = "runk.vm.host.member" if box is not None else "runk.vm.host.supervisor"
            pid, ready = _spawn_supervisor(cdir, cfg, req, mgr, entry, fds)
            undo.push(_undo_spawn, cdir, rec, pid)
            stop_after("spawn", cdir.root)
            freeze("supervisor", cdir.root, pid)
            from runk.linux import procfs

            rec.pid, rec.pid_starttime = pid, procfs.starttime(pid)
            cdir.write(STATE_FILE, rec.to_json())
            from runk.vm.host import bounds

            _wait_ready(pid, ready, bounds.ready(block))
            stop_after("ready", cdir.root)
            hooks.run_runtime_phases(cfg, state_for(rec, hooks.STATUS["createRuntime"]))
            rec.status = st.CREATED
            cdir.write(STATE_FILE, rec.to_json())
            if req.pid_file:
                write_atomic(None, req.pid_file, str(pid))
            undo.drop()
            return rec
        except BaseException:
            errors = undo.unwind()
            for e in errors:
                log.warn(f"cleaning up the failed create: {describe(e)}")
            if errors:
                cdir.keep = True  # the record names what is left, for delete --force
            raise

    def live_status(self, cdir: ContainerDir | None, rec: StateRecord) -> str:
        """creating while create holds the lock; stopped once the supervisor wrote `exit` or is gone;
        paused, created (the `created` marker) or running otherwise (runc's meanings)."""
        from runk.linux import procfs

        if rec.status == st.CREATING and cdir is not None and cdir.is_locked_elsewhere():
            return st.CREATING
        if cdir is not None and cdir.exists("exit"):
            return st.STOPPED
        if not procfs.is_alive(rec.pid or 0, rec.pid_starttime):
            return st.STOPPED
        if rec.status == st.CREATING:
            return st.STOPPED  # its create died half-way: only delete can follow
        if cdir is not None and cdir.exists("paused"):
            return st.PAUSED
        if cdir is not None and cdir.exists("created"):
            return st.CREATED
        return st.RUNNING

    def start(self, cdir: ContainerDir, rec: StateRecord) -> None:
        from runk.vm.wire import protocol as P

        _call(rec, P.START)
        if _pod(rec):
            _marker(rec, "created", False)

    def kill(self, rec: StateRecord, sig: int, all_procs: bool) -> None:
        from runk.vm.host.control import SupervisorTimeout
        from runk.vm.wire import protocol as P

        try:
            _call(rec, P.SIGNAL, signal=sig, all=bool(all_procs))
        except SupervisorTimeout:
            raise  # alive but silent: not "not running"
        except RunkError as e:
            if "not running" in str(e) or "VM supervisor" in str(e):
                raise RunkError(CONTAINER_NOT_RUNNING) from None
            raise

    def kill_remaining(self, rec: StateRecord, sig: int) -> bool:
        """Nothing of a stopped VM container runs in it any more: nothing to signal."""
        return False

    def destroy(self, cdir: ContainerDir, rec: StateRecord, status: str) -> None:
        """Power the VM off (the supervisor kills the container and exits), and make sure nothing of
        it runs: the supervisor, then qemu and virtiofsd by their recorded pids; then remove the
        host cgroup that held them."""
        from runk.linux import procfs
        from runk.vm.wire import protocol as P

        if _pod(rec):
            self._destroy_member(cdir, rec)
            return
        if rec.pid and procfs.is_alive(rec.pid, rec.pid_starttime):
            if status != st.STOPPED or rec.status == st.CREATING:
                # (a create that died after the supervisor was ready left it running)
                try:
                    _call(rec, P.DESTROY, timeout=WAIT_GONE_SECONDS)
                except RunkError:
                    pass
            _gone(rec.pid, rec.pid_starttime, WAIT_GONE_SECONDS)
        info = _info(cdir)
        for key in ("qemu", "virtiofsd"):
            if isinstance(info.get(key), list):
                _gone(int(info[key][0]), info[key][1], 5.0)
        _stop_vm_processes(cdir, rec)
        if rec.cgroup_paths:
            from runk.linux.cgroups.saved import remove_groups

            remove_groups(rec.cgroup_paths)

    def _destroy_member(self, cdir: ContainerDir, rec: StateRecord) -> None:
        """A pod member: out of the guest (its host process exits with it), its files out of the
        sandbox's share, its host cgroup removed. With the sandbox's VM gone, only the host side
        is left to clean."""
        from runk.vm.host import podshare

        _remove_member(rec)
        if rec.pid:
            _gone(rec.pid, rec.pid_starttime, WAIT_GONE_SECONDS)
        try:
            podshare.detach(_pod(rec), rec.id)
        except RunkError as e:
            log.warn(f"{e}")
        _stop_vm_processes(cdir, rec)
        if rec.cgroup_paths:
            from runk.linux.cgroups.saved import remove_groups

            remove_groups(rec.cgroup_paths)

    def exec_process(self, cdir: ContainerDir, rec: StateRecord, cfg: dict[str, Any], req: ExecRequest) -> int:
        """Start req.process in the guest container; returns the pid of its host exec proxy, which
        relays the preserved fds (runk.vm.host.fdrelay)."""
        from runk.vm.host import execproxy, fdrelay

        if req.pidfd_socket:
            raise RunkError("--pidfd-socket: the vm backend's container process is in its guest: no pidfd")
        fds = fdrelay.plan(req.preserve_fds) if req.preserve_fds else []
        pid = execproxy.start(
            _pod(rec) or cdir.path,
            req.process,
            req.console_socket,
            req.console_fd,
            close_fds=(cdir.fd,),
            stdio=req.stdio,
            container_id=rec.id if _pod(rec) else None,
            fds=fds,
        )
        if req.pid_file:
            write_atomic(None, req.pid_file, str(pid))
        return pid

    def pause(self, rec: StateRecord) -> None:
        from runk.vm.wire import protocol as P

        _call(rec, P.PAUSE)
        if _pod(rec):
            _marker(rec, "paused", True)

    def resume(self, rec: StateRecord) -> None:
        from runk.vm.wire import protocol as P

        _call(rec, P.RESUME)
        if _pod(rec):
            _marker(rec, "paused", False)

    def update(self, rec: StateRecord, resources: dict[str, Any]) -> None:
        from runk.vm.wire import protocol as P

        _call(rec, P.UPDATE, resources=resources)

    def processes(self, rec: StateRecord) -> list[int]:
        """The container's pids as the guest numbers them (they are not host pids)."""
        from runk.vm.wire import protocol as P

        return list(_call(rec, P.PS).get("pids") or [])

    def process_table(self, rec: StateRecord) -> str:
        """`ps -ef`'s columns for the container's processes, from the guest's /proc."""
        from runk.vm.host import pstable
        from runk.vm.wire import protocol as P

        return pstable.render(_call(rec, P.PS, table=True).get("table") or {"uptime": 0, "now": 0})

    def stats(self, rec: StateRecord) -> dict[str, Any]:
        from runk.vm.wire import protocol as P

        return _call(rec, P.STATS).get("stats") or {}

    def oom_events(self, rec: StateRecord) -> EventSource:
        """OOM kills in the host cgroup that holds the VM (qemu, virtiofsd, the supervisor)."""
        from runk.linux.cgroups.oom_events import OomWatcher

        return OomWatcher(rec.cgroup_paths or {})

    def features_document(self) -> dict[str, Any]:
        """`runk-vm features`: the linux document (the same core runs in the guest), cgroup v2 only
        (inside the guest), plus what the VM layer adds, under org.runk.vm.* annotations."""
        from runk.oci.features import features_document as linux_features
        from runk.vm.host import qemu

        doc = linux_features()
        doc["linux"]["cgroup"] = {"v1": False, "v2": True, "systemd": False, "systemdUser": False, "rdma": True}
        ann = doc.setdefault("annotations", {})
        ann["org.runk.backend"] = "vm"
        try:
            accel, reason = qemu.choose_accel()
        except ValueError as e:
            accel, reason = "none", str(e)
        ann["org.runk.vm.accelerator"] = accel
        ann["org.runk.vm.accelerator.reason"] = reason
        ann["org.runk.vm.rootfs"] = "virtiofs (default), block (annotation runk.vm.rootfs=block)"
        ann["org.runk.vm.channel"] = "virtio-serial"
        ann["org.runk.vm.pods"] = (
            "a container joining a running VM container's network or IPC namespace by path, or named "
            "its member by CRI annotations (io.kubernetes.cri.sandbox-id, io.kubernetes.cri-o.SandboxID), "
            "runs in that container's VM"
        )
        from runk.vm.image import assets

        k = assets.load_kernel(assets.assets_dir())
        ann["org.runk.vm.kernel"] = f"{k.package} {k.version}" if k else "missing (run scripts/mkguest)"
        return doc

    def checkpoint(self, cdir: ContainerDir, rec: StateRecord, cfg: dict[str, Any], req: CheckpointRequest) -> None:
        raise RunkError(NO_CRIU.format("checkpoint"))

    def restore(self, cdir: ContainerDir, cfg: dict[str, Any], raw: bytes, req: RestoreRequest) -> StateRecord:
        raise RunkError(NO_CRIU.format("restore"))
