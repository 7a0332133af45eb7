"""runk restore [--image-path P] [--bundle B] [--detach] [--pid-file F] [--console-socket S]
[CRIU's flags] ID: a new container whose processes come from a checkpoint; without --detach it
stays in the foreground as `run` does and exits with the container's status."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from runk.cli.globals import Globals


def rootless_warning() -> None:
    """runc warns (with this text for both commands) when not root or inside a user namespace."""
    from runk import _os as os
    from runk import log

    if os.getuid() != 0:
        log.warn("runk checkpoint is untested with rootless containers")


def run(g: Globals, opts: dict[str, Any]) -> int:
    from runk.backend.requests import RestoreRequest
    from runk.cli.commands.create import request
    from runk.linux.criu import options
    from runk.state.store import validate_id

    rootless_warning()
    o = options.from_flags(opts)
    o.empty_ns = options.empty_ns_mask(list(opts.get("empty_ns") or ()))
    o.manage_cgroups_mode = options.cgroups_mode(opts.get("manage_cgroups_mode"))
    validate_id(opts["id"])
    creq = request(g, opts)
    creq.detach = bool(opts.get("detach"))
    req = RestoreRequest(creq, o, g.criu, bool(opts.get("no_subreaper")))
    if not creq.detach:
        from runk.container.foreground import restore as foreground

        return foreground(g.root, opts["id"], req)
    from runk.container.container import restore

    c = restore(g.root, opts["id"], req)
    c.close()
    return 0
