"""Renderers other tools parse: Go's text/tabwriter as runc configures it for `list` and `ps`.

Runs in the parent; imports nothing.
"""

from __future__ import annotations


def table(rows: list[list[str]], minwidth: int = 12, padding: int = 3) -> str:
    """tabwriter.NewWriter(out, 12, 1, 3, ' ', 0): every cell but the last of a row is padded to
    max(width of the column + padding, minwidth)."""
    ncols = max(len(r) for r in rows)
    widths = [0] * ncols
    for r in rows:
        for i, cell in enumerate(r[:-1]):
            widths[i] = max(widths[i], len(cell))
    out = []
    for r in rows:
        cells = [cell.ljust(max(widths[i] + padding, minwidth)) for i, cell in enumerate(r[:-1])]
        out.append("".join(cells) + (r[-1] if r else ""))
    return "\n".join(out) + "\n"
