"""runk spec [--bundle B] [--rootless]: write a default config.json (runc's template)."""

from __future__ import annotations

import os

from runk.errors import RunkError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from runk.cli.globals import Globals


def run(g: Globals, opts: dict[str, Any]) -> int:
    from runk.oci.defaults import spec_document
    from runk.oci.state_doc import dumps_indent

    bundle = opts.get("bundle")
    if bundle:
        try:
            os.chdir(bundle)
        except OSError as e:
            raise RunkError(f"chdir {bundle}: {os.strerror(e.errno or 0).lower()}") from None
    if os.path.exists("config.json"):
        raise RunkError("File config.json exists. Remove it first")
    doc = spec_document(rootless=bool(opts.get("rootless")))
    with open("config.json", "w") as f:
        f.write(dumps_indent(doc, "\t"))
    return 0
