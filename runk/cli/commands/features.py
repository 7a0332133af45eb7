"""runk features: the OCI features document of the selected backend, 4-space indent (runc)."""
from __future__ import annotations

import os


def run(g: object, opts: dict) -> int:
    from runk.backend import backend_for, default_name
    from runk.oci.state_doc import dumps_indent
    doc = backend_for(default_name(g.backend)).features_document()
    os.write(1, (dumps_indent(doc, "    ") + "\n").encode())
    return 0
