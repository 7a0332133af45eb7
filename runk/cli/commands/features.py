"""runk features: the OCI features document of the selected backend, 4-space indent (runc)."""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from runk.cli.globals import Globals


def run(g: Globals, opts: dict[str, Any]) -> int:
    from runk.backend import backend_for, default_name
    from runk.oci.state_doc import dumps_indent

    doc = backend_for(default_name(g.backend)).features_document()
    os.write(1, (dumps_indent(doc, "    ") + "\n").encode())
    return 0
