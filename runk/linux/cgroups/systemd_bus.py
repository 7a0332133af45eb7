"""A connection to systemd's manager over D-Bus (jeepney): transient units and their jobs.

Runs in the parent, only for the systemd cgroup driver (create, update and delete with
--systemd-cgroup): jeepney is imported here and nowhere else, so the command paths that do not
use the driver never load it. The system instance is reached through the system bus (as root);
a user instance (rootless) through the user's session bus: $DBUS_SESSION_BUS_ADDRESS, else
$XDG_RUNTIME_DIR/bus.

Jobs: StartTransientUnit and StopUnit return a job; its result comes with the JobRemoved
signal, to which the connection subscribes before calling (the signal may arrive before the
reply). Every wait is bounded.
"""

from __future__ import annotations

from runk import _os as os
from runk.errors import CgroupError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections import deque
    from typing import Any

    from jeepney.io.blocking import DBusConnection

    from runk.linux.cgroups.systemd_props import Prop

SYSTEMD = "org.freedesktop.systemd1"
PATH = "/org/freedesktop/systemd1"
MANAGER = "org.freedesktop.systemd1.Manager"
SYSTEM_BUS = "unix:path=/run/dbus/system_bus_socket"
JOB_TIMEOUT = 30.0  # runc waits as long for systemd to start or stop a unit
CALL_TIMEOUT = 30.0
NO_SUCH_UNIT = "org.freedesktop.systemd1.NoSuchUnit"
UNIT_EXISTS = "org.freedesktop.systemd1.UnitExists"
_HINT = "for a rootless container the user's systemd instance and its session bus are needed"


def _command_lines(argv: list[str]) -> tuple[bool, str]:
    """(ran and exited 0, its output: stdout and stderr) of a short helper command."""
    import subprocess

    try:
        cp = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=CALL_TIMEOUT)
    except (OSError, subprocess.SubprocessError) as e:
        return False, str(e)
    return cp.returncode == 0, cp.stdout + cp.stderr


def _value_of(text: str, key: str) -> str | None:
    """The value of the first "KEY=value" line (leading spaces allowed), None without one."""
    for line in text.splitlines():
        line = line.strip()
        if line.startswith(key + "="):
            return line[len(key) + 1 :]
    return None


def user_bus_address() -> str:
    """The session bus of the caller's systemd user instance, as runc finds it:
    $DBUS_SESSION_BUS_ADDRESS, else $XDG_RUNTIME_DIR/bus when it exists, else what
    `systemctl --user show-environment` says."""
    addr = os.environ.get("DBUS_SESSION_BUS_ADDRESS", "")
    if addr:
        return addr
    xdg = os.environ.get("XDG_RUNTIME_DIR", "")
    if xdg and os.path.exists(os.path.join(xdg, "bus")):
        return "unix:path=" + os.path.join(xdg, "bus")
    ran, out = _command_lines(["systemctl", "--user", "--no-pager", "show-environment"])
    if not ran:
        raise CgroupError(
            "failed to connect to dbus: could not execute `systemctl --user --no-pager show-environment` "
            f"(output={out.strip()!r}) ({_HINT})"
        )
    found = _value_of(out, "DBUS_SESSION_BUS_ADDRESS")
    if not found:
        raise CgroupError(
            "failed to connect to dbus: could not detect DBUS_SESSION_BUS_ADDRESS from `systemctl --user "
            "--no-pager show-environment`: set DBUS_SESSION_BUS_ADDRESS, or XDG_RUNTIME_DIR to a "
            f"directory with the bus socket ({_HINT})"
        )
    return found


def _owner_uid() -> int:
    from runk.linux.rootless import user_bus_owner

    uid = user_bus_owner()
    if uid is None:
        raise CgroupError(f"could not detect the OwnerUID of the user bus (busctl --user status) ({_HINT})")
    return uid


def _connect(address: str, uid: int | None) -> DBusConnection:
    """A connection to `address`; `uid`: the identity claimed by EXTERNAL authentication (the
    owner uid when it is not this process's euid, as inside a user namespace, where the bus sees
    the uid outside it)."""
    from jeepney.io.blocking import DBusConnection, open_dbus_connection

    if uid is None or uid == os.geteuid():
        return open_dbus_connection(address, auth_timeout=5.0)
    import socket

    from jeepney.bus import get_bus

    path = get_bus(address)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(5.0)
        sock.connect(path)
        sock.sendall(b"\0AUTH EXTERNAL " + str(uid).encode().hex().encode() + b"\r\n")
        reply = b""
        while b"\r\n" not in reply:
            chunk = sock.recv(512)
            if not chunk:
                break
            reply += chunk
        if not reply.startswith(b"OK "):
            raise ValueError(f"authentication as uid {uid} refused: {reply.decode(errors='replace').strip()}")
        sock.sendall(b"BEGIN\r\n")
        sock.settimeout(None)
        return DBusConnection(sock)
    except BaseException:
        sock.close()
        raise


def system_bus_address() -> str:
    return os.environ.get("DBUS_SYSTEM_BUS_ADDRESS", "") or SYSTEM_BUS


class DBusError(CgroupError):
    """An error reply of systemd: `name` is the D-Bus error name."""

    def __init__(self, msg: str, name: str = "") -> None:
        super().__init__(msg)
        self.name = name


class Systemd:
    """One connection to a systemd manager (system or user instance)."""

    __slots__ = ("_jobs", "_version", "address", "conn")

    def __init__(self, user: bool = False) -> None:
        self.address = user_bus_address() if user else system_bus_address()
        self._version = -1
        try:
            self.conn: DBusConnection = _connect(self.address, _owner_uid() if user else None)
        except (OSError, RuntimeError, ValueError, KeyError) as e:
            why = os.strerror(e.errno).lower() if isinstance(e, OSError) and e.errno else str(e)
            hint = f" ({_HINT})" if user else ""
            raise CgroupError(f"failed to connect to dbus{hint}: {self.address}: {why}") from None
        self._jobs: deque[Any] | None = None

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Systemd:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- calls ----------------------------------------------------------------------------------
    def call(self, method: str, signature: str | None = None, body: tuple[Any, ...] = (), iface: str = MANAGER) -> Any:
        """A method call on systemd's manager object; its reply body, or DBusError."""
        from jeepney import DBusAddress, MessageType, new_method_call
        from jeepney.wrappers import DBusErrorResponse

        obj = DBusAddress(PATH, bus_name=SYSTEMD, interface=iface)
        try:
            reply = self.conn.send_and_get_reply(new_method_call(obj, method, signature, body), timeout=CALL_TIMEOUT)
        except TimeoutError:
            raise CgroupError(f"systemd did not answer {method} within {CALL_TIMEOUT:g}s") from None
        except OSError as e:
            raise CgroupError(f"dbus: {method}: {os.strerror(e.errno or 0).lower()}") from None
        if reply.header.message_type == MessageType.error:
            err = DBusErrorResponse(reply)
            text = err.data[0] if err.data and isinstance(err.data[0], str) else str(err.name)
            raise DBusError(text, str(err.name or ""))
        return reply.body

    def manager_property(self, name: str, signature_of: str = "s") -> Any:
        body = self.call("Get", "ss", (MANAGER, name), iface="org.freedesktop.DBus.Properties")
        return body[0][1]

    def version(self) -> int:
        """systemd's major version ("252.6-1" → 252); 0 when unknown."""
        if self._version < 0:
            self._version = 0
            try:
                text = str(self.manager_property("Version")).lstrip("v")
            except CgroupError:
                text = ""
            digits = ""
            for ch in text:
                if not ch.isdigit():
                    break
                digits += ch
            self._version = int(digits or 0)
        return self._version

    # -- jobs -----------------------------------------------------------------------------------
    def _subscribe(self) -> deque[Any]:
        """Receive JobRemoved signals from here on (a match rule on a message bus)."""
        if self._jobs is not None:
            return self._jobs
        from collections import deque

        from jeepney import MatchRule, message_bus
        from jeepney.wrappers import unwrap_msg

        # the bus delivers systemd's signals only (sender: its well-known name); the local filter
        # sees the sender's unique name, so it matches on the rest
        local = MatchRule(type="signal", interface=MANAGER, member="JobRemoved", path=PATH)
        on_bus = MatchRule(type="signal", sender=SYSTEMD, interface=MANAGER, member="JobRemoved", path=PATH)
        self._jobs = deque()
        self.conn.filter(local, queue=self._jobs)
        unwrap_msg(self.conn.send_and_get_reply(message_bus.AddMatch(on_bus), timeout=CALL_TIMEOUT))
        return self._jobs

    def _wait_job(self, job: str, timeout: float) -> str | None:
        """The result of `job` ("done", "failed", "canceled", ...), None on timeout."""
        import time

        jobs = self._subscribe()
        deadline = time.monotonic() + timeout
        while True:
            while jobs:
                msg = jobs.popleft()
                if len(msg.body) >= 4 and msg.body[1] == job:
                    return str(msg.body[3])
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            try:
                self.conn.recv_messages(timeout=left)
            except TimeoutError:
                return None

    def start_transient(self, unit: str, props: list[Prop], timeout: float = JOB_TIMEOUT) -> None:
        """StartTransientUnit in "replace" mode and wait for its job; a failed or timed-out
        start is reset (ResetFailedUnit) and reported with runc's words."""
        self._subscribe()
        try:
            (job,) = self.call("StartTransientUnit", "ssa(sv)a(sa(sv))", (unit, "replace", props, []))
        except DBusError as e:
            if e.name == UNIT_EXISTS:
                raise CgroupError(f'unable to start unit "{unit}": the unit already exists') from None
            raise CgroupError(f'unable to start unit "{unit}": {e}') from None
        result = self._wait_job(str(job), timeout)
        if result == "done":
            return
        self.reset_failed(unit)
        if result is None:
            raise CgroupError(f"Timeout waiting for systemd to create {unit}")
        raise CgroupError(f"error creating systemd unit `{unit}`: got `{result}`")

    def stop(self, unit: str, timeout: float = JOB_TIMEOUT) -> str:
        """StopUnit and wait for the job: "done", "gone" (no such unit), or the job's result."""
        self._subscribe()
        try:
            (job,) = self.call("StopUnit", "ss", (unit, "replace"))
        except DBusError as e:
            if e.name == NO_SUCH_UNIT:
                return "gone"
            raise CgroupError(f'unable to stop unit "{unit}": {e}') from None
        result = self._wait_job(str(job), timeout)
        if result is None:
            raise CgroupError(f"Timed out while waiting for systemd to remove {unit}")
        return result

    def reset_failed(self, unit: str) -> None:
        """Forget a failed unit's state; errors (no such unit, not failed) are of no interest."""
        try:
            self.call("ResetFailedUnit", "s", (unit,))
        except CgroupError:
            pass

    def set_properties(self, unit: str, props: list[Prop]) -> None:
        """SetUnitProperties at run time (not persisted across a reboot), as runc updates."""
        if not props:
            return
        try:
            self.call("SetUnitProperties", "sba(sv)", (unit, True, props))
        except DBusError as e:
            raise CgroupError(f"unable to set unit properties: {e}") from None

    def unit_state(self, unit: str) -> str:
        """The unit's ActiveState, or "" when systemd does not know it."""
        try:
            (path,) = self.call("GetUnit", "s", (unit,))
        except DBusError as e:
            if e.name == NO_SUCH_UNIT:
                return ""
            raise
        from jeepney import DBusAddress, new_method_call
        from jeepney.wrappers import unwrap_msg

        obj = DBusAddress(str(path), bus_name=SYSTEMD, interface="org.freedesktop.DBus.Properties")
        msg = new_method_call(obj, "Get", "ss", ("org.freedesktop.systemd1.Unit", "ActiveState"))
        return str(unwrap_msg(self.conn.send_and_get_reply(msg, timeout=CALL_TIMEOUT))[0][1])
