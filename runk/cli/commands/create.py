"""runk create [--bundle B] [--pid-file P] [--console-socket S] [--no-pivot] [--no-new-keyring]
[--preserve-fds N] ID: set everything up and leave the process waiting for `start`."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from runk.backend.requests import CreateRequest
    from runk.cli.globals import Globals


def request(g: Globals, opts: dict[str, Any]) -> CreateRequest:
    from runk.backend.requests import CreateRequest
    from runk.linux.rootless import is_rootless

    return CreateRequest(
        bundle=opts.get("bundle"),
        pid_file=opts.get("pid_file"),
        console_socket=opts.get("console_socket"),
        pidfd_socket=opts.get("pidfd_socket"),
        no_pivot=bool(opts.get("no_pivot")),
        no_new_keyring=bool(opts.get("no_new_keyring")),
        preserve_fds=int(opts.get("preserve_fds") or 0),
        systemd_cgroup=g.systemd_cgroup,
        backend=g.backend,
        rootless=is_rootless(g.rootless, systemd=g.systemd_cgroup),
    )


def run(g: Globals, opts: dict[str, Any]) -> int:
    from runk.container.container import create
    from runk.state.store import validate_id

    validate_id(opts["id"])
    c = create(g.root, opts["id"], request(g, opts))
    c.close()
    return 0
