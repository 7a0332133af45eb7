"""Guest agent (guest, PID 1): builds and runs the container with runk's own core, on request.

Runs in the guest, exec'd by the guest /init (runk.relay=exec) on the host's python3 shared over
virtio-fs. It serves runk.vm.wire.protocol requests on the virtio-serial port and realizes them with
runk.container.container, i.e. the LinuxBackend and runk.linux: the same namespace, mount, cgroup
(v2 here), capability, seccomp and rlimit code as on the host, with a guest --root of GUEST_ROOT.
The VM layer adds only the transport (this loop, runk.vm.guest.procio) and the VM lifecycle.
A process's preserved fds ("fds" in CreateContainer/ExecProcess, `--preserve-fds` on the host)
are pipe or socketpair ends at the same numbers (runk.vm.guest.fdio), handed to runk's core as
its preserve_fds and relayed as FD frames.

A VM holds one sandbox container (the first CreateContainer, its init on stream 0) and any
number of pod members (runk.vm.host.pod): a member's CreateContainer arrives on the stream the
supervisor gave it and names the namespaces it joins ("join"); the agent points those at the
sandbox init's (/proc/<its pid>/ns/<type>), so the pod shares network and IPC as under runc,
while the member gets its own pid and mount namespaces and its own guest cgroup. Requests name
the container with "container_id" (default: the sandbox). A member's exit reports on its stream
and leaves the VM running; RemoveContainer deletes a member; DestroySandbox deletes the members,
then the sandbox, and powers off.
"""

from __future__ import annotations

import os
import select
import signal
import time

from runk.vm.guest.procio import Proc
from runk.vm.wire import protocol as P
from runk.vm.wire import wire

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from runk.container.container import Container

T_IMPORTED = time.monotonic()  # the interpreter is up and this module loaded

GUEST_ROOT = "/run/runk"  # the guest's runk --root
BUNDLES = "/run/runk-bundles"  # one guest bundle (config.json) per container
EXIT_DRAIN_SECONDS = 5.0


class AgentError(Exception):
    """A request that cannot be served; the message goes back in the reply."""


class Agent:
    def __init__(self, port_fd: int) -> None:
        self.peer = P.Peer(port_fd)
        self.procs: dict[int, Proc] = {}  # stream -> process
        self.reaped: dict[int, int] = {}  # pid -> wait status, of pids not yet claimed
        self.cid: str | None = None  # the sandbox container
        self.sandbox_pid = 0  # its init's pid (members join its namespaces)
        self.members: dict[str, int] = {}  # pod member id -> the stream of its init
        self.done = False
        self.wake_r, self.wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)

    # -- the loop -----------------------------------------------------------------------------
    def serve(self) -> None:
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.set_wakeup_fd(self.wake_w)
        while not self.done:
            poller = select.poll()
            poller.register(self.peer.fd, select.POLLIN)
            poller.register(self.wake_r, select.POLLIN)
            for p in self.procs.values():
                p.register(poller)
            try:
                events = poller.poll(1000)
            except InterruptedError:
                continue
            for fd, ev in events:
                if fd == self.peer.fd:
                    frames = self.peer.receive()
                    if self.peer.closed:
                        self.done = True  # the host is gone: power off
                    for f in frames:
                        self.handle(f)
                elif fd == self.wake_r:
                    _drain(self.wake_r)
                else:
                    for p in list(self.procs.values()):
                        p.on_event(fd, ev, self.peer)
            self.reap()

    def reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            self.reaped[pid] = status
        for stream, p in list(self.procs.items()):
            if p.pid in self.reaped:
                p.finish(self.reaped.pop(p.pid), self.peer)
                del self.procs[stream]
        if len(self.reaped) > 4096:  # orphans of the container nobody asks about
            self.reaped.clear()

    def handle(self, f: wire.Frame) -> None:
        if f.type == wire.STDIN:
            p = self.procs.get(f.stream)
            if p is not None:
                p.feed_stdin(f.payload)
            return
        if f.type == wire.FD:
            p = self.procs.get(f.stream)
            if p is not None:
                p.fds.feed(*P.fd_payload(f))
            return
        if f.type != wire.REQ:
            return
        req = f.json()
        rid = req.get("rid", 0)
        op = req.get("op")
        handler = getattr(self, "op_" + str(op), None)
        if handler is None:
            self.peer.send(P.reply(rid, False, f"unknown request {op!r}"))
            return
        try:
            data = handler(req, f.stream) or {}
        except BaseException as e:  # every failure is a reply
            if isinstance(e, (SystemExit, KeyboardInterrupt)):
                raise
            from runk.errors import describe

            self.peer.send(P.reply(rid, False, describe(e) if not isinstance(e, AgentError) else str(e)))
            return
        self.peer.send(P.reply(rid, True, **data))

    # -- verbs ----------------------------------------------------------------------------------
    def _load(self, lock: bool = False, cid: object = None) -> Container:
        from runk.container import container as ct

        if self.cid is None:
            raise AgentError("no container in this sandbox")
        if cid is not None and cid != self.cid and cid not in self.members:
            raise AgentError(f"container {cid} is not in this sandbox")
        return ct.load(GUEST_ROOT, str(cid or self.cid), lock=lock)

    def op_CreateContainer(self, req: dict[str, Any], stream: int) -> dict[str, Any]:
        from runk import _json
        from runk.backend.requests import CreateRequest
        from runk.container import container as ct

        cid, cfg = req["id"], req["config"]
        member = self.cid is not None
        if member:
            if stream == P.INIT_STREAM or stream in self.procs:
                raise AgentError(f"stream {stream} is in use")
            if cid == self.cid or cid in self.members:
                raise AgentError(f"container {cid} already exists in this sandbox")
            join_sandbox(cfg, self.sandbox_pid, req.get("join") or [])
        else:
            stream = P.INIT_STREAM
        if req.get("block"):
            _mount_block(req["block"], cfg["root"]["path"])
        if req.get("volumes"):
            from runk.vm.guest import disks

            disks.link(req["volumes"])
        if req.get("interfaces"):
            from runk.vm.guest import netconf

            netconf.configure(req["interfaces"])
            netconf.share_guest_netns(cfg)
        mount_pod_shm(cfg)
        bundle = os.path.join(BUNDLES, cid)
        os.makedirs(bundle, exist_ok=True)
        with open(os.path.join(bundle, "config.json"), "w") as f:
            f.write(_json.dumps(cfg))
        terminal = bool((cfg.get("process") or {}).get("terminal"))
        creq = CreateRequest(
            bundle=bundle,
            backend="linux",
            no_pivot=bool(req.get("no_pivot")),
            no_new_keyring=bool(req.get("no_new_keyring")),
        )
        proc = Proc(stream, terminal, req.get("fds"))
        creq.console_fd = proc.console_fd
        creq.tty_relayed = bool(req.get("tty_relayed"))
        creq.preserve_fds = proc.fds.preserve()
        try:
            with proc.stdio():
                c = ct.create(GUEST_ROOT, cid, creq)
            pid = c.rec.pid if c.rec is not None else None
            c.close()
            if pid is None:
                raise AgentError("the container has no pid")
            proc.started(pid)
        except BaseException:
            proc.close()
            raise
        if member:
            self.members[cid] = stream
        else:
            self.cid, self.sandbox_pid = cid, pid
        self.procs[stream] = proc
        return {"pid": pid}

    def op_StartContainer(self, req: dict[str, Any], stream: int) -> dict[str, Any]:
        c = self._load(lock=True, cid=req.get("container_id"))
        try:
            c.start()
        finally:
            c.close()
        return {}

    def op_ExecProcess(self, req: dict[str, Any], stream: int) -> dict[str, Any]:
        from runk.backend.requests import ExecRequest

        if stream == P.INIT_STREAM or stream in self.procs:
            raise AgentError(f"stream {stream} is in use")
        process = req["process"]
        ereq = ExecRequest(process, detach=False)
        proc = Proc(stream, bool(process.get("terminal")), req.get("fds"))
        ereq.console_fd = proc.console_fd
        ereq.preserve_fds = proc.fds.preserve()
        c = self._load(cid=req.get("container_id"))
        try:
            with proc.stdio():
                pid = c.exec(ereq)
            proc.started(pid)
        except BaseException:
            proc.close()
            raise
        finally:
            c.close()
        self.procs[stream] = proc
        return {"pid": pid}

    def op_SignalProcess(self, req: dict[str, Any], stream: int) -> dict[str, Any]:
        sig = int(req["signal"])
        cid = req.get("container_id")
        if stream != P.INIT_STREAM and cid is None:
            cid = next((k for k, s in self.members.items() if s == stream), None)
        if stream == P.INIT_STREAM or cid is not None:
            c = self._load(cid=cid)
            try:
                c.kill(sig, bool(req.get("all")))
            finally:
                c.close()
            return {}
        p = self.procs.get(stream)
        if p is None:
            raise AgentError("process already exited")
        os.kill(p.pid, sig)
        return {}

    def op_TtyWinResize(self, req: dict[str, Any], stream: int) -> dict[str, Any]:
        p = self.procs.get(stream)
        if p is not None:
            p.resize(int(req["rows"]), int(req["cols"]))
        return {}

    def op_PauseContainer(self, req: dict[str, Any], stream: int) -> dict[str, Any]:
        self._call(req, "pause")  # Container.pause returns None
        return {}

    def op_ResumeContainer(self, req: dict[str, Any], stream: int) -> dict[str, Any]:
        self._call(req, "resume")
        return {}

    def op_UpdateContainer(self, req: dict[str, Any], stream: int) -> dict[str, Any]:
        self._call(req, "update", req.get("resources") or {})
        return {}

    def op_StatsContainer(self, req: dict[str, Any], stream: int) -> dict[str, Any]:
        return {"stats": self._call(req, "stats")}

    def op_ListProcesses(self, req: dict[str, Any], stream: int) -> dict[str, Any]:
        """The pids; with "table", also their /proc facts (ps in table form on the host)."""
        pids = self._call(req, "processes")
        if not req.get("table"):
            return {"pids": pids}
        from runk.vm.guest import procsnap

        return {"pids": pids, "table": procsnap.snapshot(list(pids) if isinstance(pids, list) else [])}

    def _call(self, req: dict[str, Any], method: str, *args: object) -> object:
        c = self._load(lock=method in ("pause", "resume", "update"), cid=req.get("container_id"))
        try:
            out = getattr(c, method)(*args)
        finally:
            c.close()
        return {} if out is None else out

    def op_RemoveContainer(self, req: dict[str, Any], stream: int) -> dict[str, Any]:
        """Delete a pod member in the guest (killing what still runs of it); its EXIT follows on
        its stream. The sandbox container goes with DestroySandbox only."""
        cid = req.get("container_id")
        if cid not in self.members:
            raise AgentError(f"container {cid} is not a member of this sandbox")
        self._delete(str(cid))
        return {}

    def _delete(self, cid: str) -> None:
        import shutil

        c = self._load(lock=True, cid=cid)
        try:
            c.delete(force=True)
        finally:
            c.close()
        stream = self.members.pop(cid, None)
        deadline = time.monotonic() + EXIT_DRAIN_SECONDS
        while stream is not None and stream in self.procs and time.monotonic() < deadline:
            self.reap()
            time.sleep(0.02)
        shutil.rmtree(os.path.join(BUNDLES, cid), ignore_errors=True)

    def op_DestroySandbox(self, req: dict[str, Any], stream: int) -> dict[str, Any]:
        """Kill what runs (the members first), report the exits, then power off (after the reply
        is sent)."""
        for cid in list(self.members):
            try:
                self._delete(cid)
            except Exception as e:  # the sandbox goes anyway
                os.write(2, f"runk agent: delete {cid}: {e}\n".encode())
        if self.cid is not None:
            c = self._load(lock=True)
            try:
                c.delete(force=True)
            finally:
                c.close()
        deadline = time.monotonic() + EXIT_DRAIN_SECONDS
        while P.INIT_STREAM in self.procs and time.monotonic() < deadline:
            self.reap()
            time.sleep(0.02)
        self.done = True
        return {}


# OCI namespace type -> its name under /proc/PID/ns
NS_FILES = {"network": "net", "ipc": "ipc", "uts": "uts", "pid": "pid"}


def join_sandbox(cfg: dict[str, Any], sandbox_pid: int, join: list[str]) -> None:
    """A pod member's config: the namespaces named in `join` become the sandbox init's (by its
    /proc path in the guest); the others stay new."""
    linux = cfg.setdefault("linux", {})
    namespaces = linux.get("namespaces") or []
    for ns in namespaces:
        if ns.get("type") in join and ns.get("type") in NS_FILES:
            ns["path"] = f"/proc/{sandbox_pid}/ns/{NS_FILES[ns['type']]}"
    linux["namespaces"] = namespaces


def mount_pod_shm(cfg: dict[str, Any]) -> None:
    """The guest's pod shm tmpfs (protocol.POD_SHM), once, if the config binds it."""
    if not any(m.get("source") == P.POD_SHM for m in cfg.get("mounts") or []) or os.path.ismount(P.POD_SHM):
        return
    from runk._native import lib
    from runk.linux.syscalls import mount

    os.makedirs(P.POD_SHM, exist_ok=True)
    mount("shm", P.POD_SHM, "tmpfs", lib.MS_NOSUID | lib.MS_NODEV | lib.MS_NOEXEC, P.POD_SHM_OPTIONS)


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 4096):
            pass
    except BlockingIOError:
        pass


def _mount_block(dev: str, target: str) -> None:
    from runk.linux.syscalls import mount

    os.makedirs(target, exist_ok=True)
    mount(dev, target, "ext4", 0)


def _power_off() -> None:
    os.sync()
    try:
        os.execv("/bin/busybox", ["reboot", "-f"])  # qemu runs with -no-reboot: it exits
    finally:
        os._exit(0)  # PID 1 exiting panics: qemu exits too


def _uptime() -> float:
    with open("/proc/uptime") as f:
        return float(f.read().split()[0])


def main() -> None:
    t0 = time.monotonic()
    started = round(_uptime() - (t0 - T_IMPORTED), 2)
    port = os.environ.get("RUNK_AGENT_PORT", "")
    fd = os.open(port, os.O_RDWR | os.O_CLOEXEC)
    # everything the verbs use, imported while the host waits for hello (not after a fork)
    from runk.backend import linux  # noqa: F401
    from runk.container import container  # noqa: F401
    from runk.linux import launch  # noqa: F401
    from runk.linux.cgroups import v2  # noqa: F401
    from runk.oci import config, validate  # noqa: F401

    os.makedirs(GUEST_ROOT, mode=0o700, exist_ok=True)
    agent = Agent(fd)
    # guest uptimes: /init started, modules and shares ready, python3 and this module loaded, hello
    agent.peer.send(
        P.event(
            "hello",
            kernel=os.uname().release,
            init=float(os.environ.get("RUNK_INIT_UPTIME") or 0),
            ready=float(os.environ.get("RUNK_READY_UPTIME") or 0),
            python=started,
            uptime=_uptime(),
        )
    )
    try:
        agent.serve()
    except BaseException as e:  # PID 1 must not return: report, then power off
        import traceback

        traceback.print_exc()
        os.write(2, f"runk agent: {type(e).__name__}: {e}\n".encode())
    _power_off()


if __name__ == "__main__":
    main()
