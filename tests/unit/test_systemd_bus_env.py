"""Where the systemd driver's user bus and owner uid come from (runc's rules), without a bus:
the helper commands are stand-in scripts on PATH."""

from __future__ import annotations

import os
import socket
import threading

import pytest

from runk.errors import CgroupError
from runk.linux import rootless
from runk.linux.cgroups import systemd_bus


def _tool(env, name: str, script: str) -> None:
    p = env / name
    p.write_text("#!/bin/sh\n" + script + "\n")
    p.chmod(0o755)


class _Env:
    """runk's environment (runk._os.environ, a snapshot) and the helpers' PATH."""

    def __init__(self, monkeypatch, tmp_path) -> None:
        from runk import _os

        self.path = tmp_path
        self.vars = {"XDG_RUNTIME_DIR": str(tmp_path / "nobus"), "PATH": str(tmp_path)}
        monkeypatch.setattr(_os, "environ", self.vars, raising=False)
        monkeypatch.setenv("PATH", str(tmp_path))

    def __truediv__(self, name: str):
        return self.path / name


@pytest.fixture
def bare_env(monkeypatch, tmp_path):
    return _Env(monkeypatch, tmp_path)


def test_user_bus_from_the_environment_first(bare_env):
    (bare_env / "xdg").mkdir()
    (bare_env / "xdg" / "bus").write_text("")
    bare_env.vars["XDG_RUNTIME_DIR"] = str(bare_env / "xdg")
    assert systemd_bus.user_bus_address() == f"unix:path={bare_env / 'xdg'}/bus"
    bare_env.vars["DBUS_SESSION_BUS_ADDRESS"] = "unix:path=/elsewhere"
    assert systemd_bus.user_bus_address() == "unix:path=/elsewhere"


def test_user_bus_from_systemctl_show_environment(bare_env):
    _tool(bare_env, "systemctl", 'echo HOME=/h; echo "DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/7/bus"')
    assert systemd_bus.user_bus_address() == "unix:path=/run/user/7/bus"


def test_user_bus_not_found_says_what_to_set(bare_env):
    _tool(bare_env, "systemctl", "echo HOME=/h")
    with pytest.raises(CgroupError, match="could not detect DBUS_SESSION_BUS_ADDRESS"):
        systemd_bus.user_bus_address()
    _tool(bare_env, "systemctl", "echo Failed to connect to bus >&2; exit 1")
    with pytest.raises(CgroupError, match="could not execute `systemctl --user --no-pager show-environment`"):
        systemd_bus.user_bus_address()


def test_owner_uid_in_a_user_namespace_from_busctl(bare_env, monkeypatch):
    monkeypatch.setattr(rootless, "in_user_namespace", lambda: True)
    monkeypatch.setattr(rootless.os, "geteuid", lambda: 0)
    _tool(bare_env, "busctl", 'echo "PID=12"; echo "  OwnerUID=1234"; echo "EUID=0"')
    assert rootless.user_bus_owner() == 1234
    assert rootless.is_rootless(None, systemd=True) is True
    assert rootless.is_rootless("false", systemd=True) is False
    _tool(bare_env, "busctl", 'echo "OwnerUID=0"')
    assert rootless.is_rootless(None, systemd=True) is False  # a root systemd in that namespace
    assert rootless.is_rootless(None) is True  # cgroupfs: always, in a user namespace
    _tool(bare_env, "busctl", "exit 1")
    assert rootless.user_bus_owner() is None
    assert rootless.is_rootless(None, systemd=True) is False  # no answer: 0, as runc assumes


def test_owner_uid_outside_a_user_namespace_is_the_uid(monkeypatch):
    monkeypatch.setattr(rootless, "in_user_namespace", lambda: False)
    assert rootless.user_bus_owner() == os.getuid()


def test_external_auth_claims_the_owner_uid(tmp_path):
    """The connection authenticates as the uid given (the bus sees the uid outside a user
    namespace), not as this process's euid."""
    path = str(tmp_path / "bus")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(1)
    got: list[bytes] = []

    def serve() -> None:
        conn, _ = srv.accept()
        with conn:
            data = b""
            while b"\r\n" not in data:
                data += conn.recv(512)
            got.append(data)
            conn.sendall(b"REJECTED EXTERNAL\r\n")

    t = threading.Thread(target=serve)
    t.start()
    with pytest.raises(ValueError, match="authentication as uid 4321 refused"):
        systemd_bus._connect(f"unix:path={path}", 4321)
    t.join(5)
    srv.close()
    assert got == [b"\0AUTH EXTERNAL " + b"4321".hex().encode() + b"\r\n"]
