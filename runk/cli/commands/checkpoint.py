"""runk checkpoint [--image-path P] [--work-path W] [--parent-path R] [--leave-running]
[--pre-dump] [CRIU's flags] ID: save the running container's processes with CRIU (runc's flags,
texts and order of checks: the container, its status, then the options)."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from runk.cli.globals import Globals


def run(g: Globals, opts: dict[str, Any]) -> int:
    from runk.backend.requests import CheckpointRequest
    from runk.cli.commands.restore import rootless_warning
    from runk.container.container import load
    from runk.linux.criu import options

    rootless_warning()
    c = load(g.root, opts["id"], lock=True)
    try:
        c.check_checkpoint()
        o = options.finish(options.from_flags(opts), opts)
        c.checkpoint(CheckpointRequest(o, g.criu))
    finally:
        c.close()
    return 0
