"""CreateRequest and ExecRequest: validated inputs for a new container (init) and for a process
joining one (tenant). The backend never branches on "is this an exec?" (DESIGN 4, example 6).

Runs in the parent.
"""
from __future__ import annotations

import os

from runk.errors import RunkError


class CreateRequest:
    __slots__ = ("bundle", "pid_file", "console_socket", "no_pivot", "no_new_keyring",
                 "preserve_fds", "detach", "systemd_cgroup", "backend", "foreground", "console_fd")

    def __init__(self, bundle: str | None = None, pid_file: str | None = None,
                 console_socket: str | None = None, no_pivot: bool = False,
                 no_new_keyring: bool = False, preserve_fds: int = 0, detach: bool = True,
                 systemd_cgroup: bool = False, backend: str | None = None,
                 foreground: bool = False) -> None:
        self.bundle = os.path.abspath(bundle or os.getcwd())
        self.pid_file = os.path.abspath(pid_file) if pid_file else None
        self.console_socket = os.path.abspath(console_socket) if console_socket else None
        self.no_pivot = no_pivot
        self.no_new_keyring = no_new_keyring
        if preserve_fds < 0:
            raise RunkError("--preserve-fds must be a non-negative number")
        # runc: stdio + $LISTEN_FDS + N are passed in total (systemd socket activation)
        listen = os.environ.get("LISTEN_FDS", "")
        self.preserve_fds = preserve_fds + (int(listen) if listen.isdigit() else 0)
        self.detach = detach
        self.systemd_cgroup = systemd_cgroup
        self.backend = backend
        self.foreground = foreground
        self.console_fd: int | None = None      # run: our own socketpair instead of a path
