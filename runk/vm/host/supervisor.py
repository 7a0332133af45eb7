"""Supervisor (supervisor, host): the process that is a VM container's init (DESIGN 3.15).

Runs on the host, exec'd by `runk create` (runk.backend.vm) with the container's stdio as its
own 0-2, its cwd the container directory. It owns the VM: virtiofsd and qemu
(runk.vm.host.machine), the agent channel (agent.sock, qemu connects to it) and the control socket
vm.sock on which runk start/kill/exec/pause/... (runk.vm.host.control) reach the guest agent
(runk.vm.guest.agent). It relays the init's stdio as frames (a host pty handed over
--console-socket when the container has a terminal) and the preserved fds create let it keep
(`--preserve-fds`, runk.vm.host.fdrelay: their bytes as FD frames), forwards the signals it gets to the guest
init, writes `created` while the container waits for start, `exit` when it ended, and exits
with the container's status: the code, or the same signal re-raised
(runk.vm.host.hostio.exit_as), so conmon reaps it as it would runc's init.
"""

from __future__ import annotations

import os
import select
import signal
import socket
import time

from runk import _json
from runk.vm.host import bounds, hostio, machine
from runk.vm.host.fdrelay import HostFds, decode
from runk.vm.host.sandbox import AGENT_SOCK, VFS_SOCK, VmPlan
from runk.vm.host.switchboard import (
    CONTROL_SOCK,
    CREATED,
    EXIT_FILE,
    PAUSED,
    Client,
    Switchboard,
    touch,
    unlink_quiet,
    write_file,
)
from runk.vm.wire import protocol as P
from runk.vm.wire import wire

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

PLAN_FILE, INFO_FILE, LOG = "vm-plan.json", "vm.json", "supervisor.log"
# before the container exists, these give up the create
ABORT_SIGNALS = (signal.SIGHUP, signal.SIGINT, signal.SIGQUIT, signal.SIGTERM)


class BootError(Exception):
    pass


def _listen(path: str) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    s.bind(path)
    s.listen(8)
    return s


class Supervisor(Switchboard):
    def __init__(
        self,
        plan: VmPlan,
        cid: str,
        ready_fd: int,
        console_socket: str | None,
        console_fd: int | None,
        fds: list[tuple[int, str]] | None = None,
    ) -> None:
        self.plan, self.cid, self.ready_fd = plan, cid, ready_fd
        self.fd_plan = fds or []
        self.init_fds = HostFds(P.INIT_STREAM, self.fd_plan, self.to_agent)
        self.console_socket, self.console_fd = console_socket, console_fd
        self.terminal = bool((plan.guest_config.get("process") or {}).get("terminal"))
        self.children: list[machine.Child] = []
        self.nics: list[dict[str, Any]] = []  # the namespace's interfaces plugged into the VM
        self.agent: P.Peer | None = None
        self.agent_sock: socket.socket | None = None
        self.listeners: dict[int, socket.socket] = {}
        self.agent_listener = -1
        self.clients: dict[int, Client] = {}
        self.pending = {}
        self.owners: dict[int, Client] = {}  # exec stream -> control client
        self.member_inits: dict[int, str] = {}
        self.rid = 0
        self.next_stream = 1
        self.hello = None
        self.status = None
        self.created = self.destroying = self.qemu_gone = False
        self.stdin_open = not self.terminal
        self.slave: int | None = None
        self.outs = {wire.STDOUT: 1, wire.STDERR: 2}
        self.t0 = time.monotonic()
        self.times: dict[str, float] = {}
        self.wake_r, self.wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)

    def mark(self, what: str) -> None:
        self.times[what] = round(time.monotonic() - self.t0, 3)

    # -- lifecycle ----------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        hostio.forward_signals(self.wake_w)
        try:
            self.boot()
            self.report({"ok": True, "times": self.times})
            while self.status is None and not self.qemu_gone:
                self.step(1.0)
        except BaseException as e:  # report to runk create, then clean up
            from runk.errors import describe

            msg = str(e) if isinstance(e, (BootError, RuntimeError)) else describe(e)
            if self.ready_fd >= 0:
                self.report({"ok": False, "error": msg})
            else:
                self.log(f"error: {msg}")
            if not self.created:
                self.shutdown()
                return {"exit_code": 1}
        status = self.status or ({"signal": signal.SIGKILL} if self.destroying else {"exit_code": 255})
        if self.status is None:
            self.log(f"the VM ended without the container's exit status{self.tail()}")
            write_file(EXIT_FILE, _json.dumps(status))
        self.shutdown()
        return status

    def boot(self) -> None:
        plan = self.plan
        self.log(
            f"accelerator {plan.accel_reason}; machine {plan.machine}, {plan.mem_mb} MiB, "
            f"{plan.cpus} vCPU, rootfs over {plan.rootfs_mode}, kernel {plan.kernel_release}"
        )
        for name in (AGENT_SOCK, CONTROL_SOCK):
            s = _listen(name)
            self.listeners[s.fileno()] = s
            if name == AGENT_SOCK:
                self.agent_listener = s.fileno()
        if plan.rootfs_mode == "block":
            machine.build_image(plan)
        vfs = _listen(VFS_SOCK)
        try:
            self.children.append(machine.start_virtiofsd(plan, vfs.fileno()))
        finally:
            vfs.close()
        from runk.vm.host import netplug

        self.nics = netplug.isolated(netplug.plug)
        if self.nics:
            self.log("network: " + ", ".join(f"{n['name']} ({n['mac']}) on {n['tap']}" for n in self.nics))
        qemu = machine.start_qemu(plan, [(n["tap"], n["mac"]) for n in self.nics])
        self.children.append(qemu)
        self.mark("qemu")
        self.save_info()
        from runk.state.faults import freeze

        freeze("qemu", os.path.dirname(os.getcwd()), qemu.pid)
        # both end early if qemu exits (its pidfd); a guest that is alive but silent ends here
        self.wait(lambda: self.hello is not None, bounds.boot(), "the guest agent did not say hello")
        self.mark("hello")
        reply = self.call(
            P.CREATE,
            bounds.control(),
            id=self.cid,
            config=plan.guest_config,
            block="/dev/vda" if plan.rootfs_mode == "block" else None,
            tty_relayed=self.console_fd is not None,  # runk-vm run's own relay, not a console socket
            interfaces=[{k: n[k] for k in ("name", "mac", "mtu", "addresses", "routes")} for n in self.nics],
            volumes=[serial for _path, serial in plan.volumes],
            fds=[[n, d] for n, d in self.fd_plan],
        )
        if not reply.get("ok"):
            raise BootError(reply.get("error") or "CreateContainer failed")
        self.mark("created")
        if self.terminal:
            master, self.slave = hostio.open_pty()
            hostio.take_controlling(self.slave)
            try:
                hostio.send_console(master, self.console_socket, self.console_fd)
            finally:
                os.close(master)
        if self.console_fd is not None:
            os.close(self.console_fd)
            self.console_fd = None
        self.created = True
        touch(CREATED)
        self.save_info(guest_pid=reply.get("pid"))

    def report(self, doc: dict[str, Any]) -> None:
        if self.ready_fd < 0:
            return
        try:
            P.write_all(self.ready_fd, (_json.dumps(doc) + "\n").encode())
        except OSError:
            pass
        os.close(self.ready_fd)
        self.ready_fd = -1

    def shutdown(self) -> None:
        """Power the guest off (the agent kills what still runs), stop qemu and virtiofsd,
        remove the sockets, the image and the markers."""
        grace = 0.0
        if self.agent is not None and not self.qemu_gone and not self.agent.closed:
            try:
                self.agent.send(P.request(P.DESTROY, self.next_rid()))
                grace = 5.0
            except OSError:
                pass
        machine.stop(self.children, qemu_grace=grace)
        if self.nics:
            from runk.vm.host import netplug

            try:
                netplug.isolated(netplug.unplug, self.nics)
            except netplug.PlugError as e:
                self.log(f"unplug: {e}")
            self.nics = []
        self.init_fds.close()
        for name in (CREATED, PAUSED):
            unlink_quiet(name)
        for s in list(self.listeners.values()) + [c.sock for c in self.clients.values()]:
            s.close()
        if self.agent_sock is not None:
            self.agent_sock.close()

    # -- the loop -----------------------------------------------------------------------------
    def wait(self, done: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            if self.qemu_gone:
                raise BootError(f"{what}: qemu exited{self.tail()}")
            if time.monotonic() > deadline:
                raise BootError(f"{what} within {timeout:g} s{self.tail()}")
            self.step(min(1.0, max(0.0, deadline - time.monotonic())))

    def step(self, timeout: float) -> None:
        poller = select.poll()
        fds: dict[int, str] = {}
        for fd in self.listeners:
            fds[fd] = "listen"
        if self.agent is not None and not self.agent.closed:
            fds[self.agent.fd] = "agent"
        for fd in self.clients:
            fds[fd] = "client"
        if self.created and self.stdin_open:
            fds[0] = "stdin"
        if self.created and self.slave is not None:
            fds[self.slave] = "slave"
        if self.created:
            for fd in self.init_fds.poll_fds():
                fds[fd] = "fd"
        fds[self.wake_r] = "signal"
        for c in self.children:
            if c.name == "qemu" and c.status is None:
                fds[c.pidfd] = "qemu"
        for fd in fds:
            poller.register(fd, select.POLLIN)
        if self.ready_fd >= 0:
            poller.register(self.ready_fd, 0)  # POLLERR: runk create went away
        try:
            events = poller.poll(timeout * 1000)
        except InterruptedError:
            return
        for fd, _ev in events:
            if fd == self.ready_fd:
                raise BootError("runk create went away")
            kind = fds.get(fd)
            if kind == "listen":
                self.accept(fd)
            elif kind == "agent" and self.agent is not None:
                for f in self.agent.receive():
                    self.from_agent(f)
            elif kind == "client":
                self.from_client(fd)
            elif kind in ("stdin", "slave"):
                self.read_input(fd)
            elif kind == "fd":
                self.init_fds.on_readable(fd)
            elif kind == "signal":
                for sig in hostio.read_signals(self.wake_r):
                    self.on_signal(sig)
            elif kind == "qemu":
                self.qemu_gone = True

    def accept(self, fd: int) -> None:
        conn, _ = self.listeners[fd].accept()
        conn.setblocking(True)
        if fd == self.agent_listener and self.agent is None:
            self.agent_sock = conn
            self.agent = P.Peer(conn.fileno())
            self.listeners.pop(fd).close()
            unlink_quiet(AGENT_SOCK)
        else:
            self.clients[conn.fileno()] = Client(conn)

    def read_input(self, fd: int) -> None:
        try:
            data = os.read(fd, P.CHUNK)
        except OSError:  # EIO: conmon closed the master
            data = b""
        if not data:
            if fd == 0:
                self.stdin_open = False
                self.to_agent(wire.eof(wire.STDIN, P.INIT_STREAM))
            else:
                self.slave_closed()
            return
        for frame in P.data_frames(wire.STDIN, P.INIT_STREAM, data):
            self.to_agent(frame)

    def slave_closed(self) -> None:
        if self.slave is not None:
            os.close(self.slave)
        self.slave = None

    def on_signal(self, sig: int) -> None:
        if sig == signal.SIGWINCH:
            if self.slave is not None and self.created:
                rows, cols = hostio.winsize(self.slave)
                self.agent_call(P.RESIZE, P.INIT_STREAM, None, rows=rows, cols=cols)
            return
        if sig in hostio.NOT_FORWARDED:
            return
        if not self.created:
            if sig in ABORT_SIGNALS:
                raise BootError(f"interrupted by signal {sig}")
            return
        self.agent_call(P.SIGNAL, P.INIT_STREAM, None, signal=sig)

    # -- records ------------------------------------------------------------------------------
    def save_info(self, **extra: object) -> None:
        from runk.linux import procfs

        plan = self.plan
        info: dict[str, Any] = {
            "supervisor": os.getpid(),
            "accel": plan.accel,
            "accel_reason": plan.accel_reason,
            "machine": plan.machine,
            "mem_mb": plan.mem_mb,
            "cpus": plan.cpus,
            "kernel_release": plan.kernel_release,
            "rootfs": plan.rootfs_mode,
            "times": self.times,
            "hello": self.hello,
            **extra,
        }
        for c in self.children:
            info[c.name] = [c.pid, procfs.starttime(c.pid)]
            info[c.name + "_rss_kb"] = machine.rss_kb(c.pid)
        info["supervisor_rss_kb"] = machine.rss_kb(os.getpid())
        write_file(INFO_FILE, _json.dumps(info))

    def log(self, msg: str) -> None:
        with open(LOG, "a") as f:
            f.write(f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} {msg}\n")

    def tail(self) -> str:
        lines = []
        for name in ("qemu.log", "virtiofsd.log", "console.log"):
            try:
                with open(name, errors="replace") as f:
                    text = [line for line in f.read().splitlines() if line.strip()][-6:]
            except OSError:
                continue
            if text:
                lines.append(f"{name}: " + " | ".join(text))
        return ("; " + "; ".join(lines)) if lines else ""


def main(argv: list[str]) -> None:
    """argv: CONTAINER_DIR ID READY_FD CONSOLE_FD|-1 [CONSOLE_SOCKET [FDS]] (FDS: the preserved
    fds it holds, runk.vm.host.fdrelay.encode)."""
    cdir, cid, ready_fd, console_fd = argv[0], argv[1], int(argv[2]), int(argv[3])
    console_socket = argv[4] if len(argv) > 4 and argv[4] else None
    fds = decode(argv[5]) if len(argv) > 5 else []
    for fd, _d in fds:  # ours to relay: qemu and virtiofsd must not hold them open
        os.set_inheritable(fd, False)
    os.chdir(cdir)
    try:
        from runk.linux.syscalls import set_name

        set_name("runk-vm")
    except (ImportError, OSError):
        pass
    with open(PLAN_FILE, "rb") as f:
        plan = VmPlan.from_json(f.read())
    sup = Supervisor(plan, cid, ready_fd, console_socket, console_fd if console_fd >= 0 else None, fds)
    hostio.exit_as(sup.run())
