"""runk list [--format table|json] [--quiet]: runc's table (tabwriter 12,1,3) or JSON."""

from __future__ import annotations

from runk import _os as os
from runk.errors import UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from runk.cli.globals import Globals


def run(g: Globals, opts: dict[str, Any]) -> int:
    from runk.container.container import list_all

    fmt = opts.get("format") or "table"
    if fmt not in ("table", "json"):
        raise UsageError(f"invalid format option: {fmt}")
    _check_root(g.root)
    items = list_all(g.root)
    owners = _owners(g.root, [rec.id for rec, _ in items]) if items and not opts.get("quiet") else {}
    if opts.get("quiet"):
        out = "".join(rec.id + "\n" for rec, _ in items)
    elif fmt == "json":
        from runk import _json
        from runk.oci.state_doc import state_dict

        docs = []
        for rec, s in items:
            doc = state_dict(rec, s)
            doc["owner"] = owners.get(rec.id, "")
            docs.append(doc)
        out = (_json.dumps(docs) if docs else "null") + "\n"
    else:
        from runk.cli.render import table

        rows = [["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]]
        for rec, s in items:
            rows.append(
                [
                    rec.id,
                    str(rec.pid if s != "stopped" else 0),
                    s,
                    rec.bundle or "",
                    rec.created or "",
                    owners.get(rec.id, ""),
                ]
            )
        out = table(rows)
    os.write(1, out.encode())
    return 0


def _check_root(root: str) -> None:
    """runc: a missing default root lists nothing (no container made yet), a missing --root
    given on the command line is an error."""
    from runk.state.store import DEFAULT_ROOT

    if root == DEFAULT_ROOT:
        return
    try:
        os.stat(root)
    except FileNotFoundError:
        from runk.errors import RunkError

        raise RunkError(f"open {root}: no such file or directory") from None


def _owners(root: str, ids: list[str]) -> dict[str, str]:
    """runc list: OWNER is the user owning the container's state directory (its name from the
    host's /etc/passwd, else the number); `state` keeps the config's owner ("")."""
    names: dict[int, str] = {}
    try:
        with open("/etc/passwd", "rb") as f:
            for line in f.read().decode(errors="replace").splitlines():
                parts = line.split(":")
                if len(parts) > 2 and parts[2].isdigit():
                    names.setdefault(int(parts[2]), parts[0])
    except OSError:
        pass
    out = {}
    for cid in ids:
        try:
            uid = os.stat(os.path.join(root, cid)).st_uid
        except OSError:
            continue
        out[cid] = names.get(uid, str(uid))
    return out
