"""runk features: the OCI features document of the selected backend, 4-space indent (runc)."""
from __future__ import annotations

import os


def run(g: object, opts: dict) -> int:
    from runk.backend import default_name
    if default_name() == "vm":
        from runk.backend.vm import features_document
    else:
        from runk.oci.features import features_document
    from runk.oci.state_doc import dumps_indent
    os.write(1, (dumps_indent(features_document(), "    ") + "\n").encode())
    return 0
