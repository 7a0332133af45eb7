"""runk state ID: the OCI state JSON, runc's field order, 2-space indent, no final newline."""

from __future__ import annotations

from runk import _os as os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from runk.cli.globals import Globals


def run(g: Globals, opts: dict[str, Any]) -> int:
    from runk.container.container import load
    from runk.oci.state_doc import dumps_indent

    c = load(g.root, opts["id"])
    try:
        os.write(1, dumps_indent(c.oci_state()).encode())
    finally:
        c.close()
    return 0
