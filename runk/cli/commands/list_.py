"""runk list [--format table|json] [--quiet]: runc's table (tabwriter 12,1,3) or JSON."""
from __future__ import annotations

import os

from runk.errors import UsageError


def run(g: object, opts: dict) -> int:
    from runk.container.container import list_all
    fmt = opts.get("format") or "table"
    if fmt not in ("table", "json"):
        raise UsageError(f"invalid format option: {fmt}")
    items = list_all(g.root)
    if opts.get("quiet"):
        out = "".join(rec.id + "\n" for rec, _ in items)
    elif fmt == "json":
        from runk import _json
        from runk.oci.state_doc import state_dict
        out = (_json.dumps([state_dict(rec, s) for rec, s in items]) if items else "null") + "\n"
    else:
        from runk.cli.render import table
        rows = [["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]]
        for rec, s in items:
            rows.append([rec.id, str(rec.pid if s != "stopped" else 0), s, rec.bundle, rec.created, rec.owner or ""])
        out = table(rows)
    os.write(1, out.encode())
    return 0
