"""The README's copy-paste snippets, as the tests use them: the fenced block after a
`<!-- snippet: NAME -->` line, with only the example install path of runk replaced."""

from __future__ import annotations

import os

from tests.conftest import RUNK, TOP

EXAMPLE_RUNK = "/opt/runk/.venv/bin/runk"
EXAMPLE_VENV = "/opt/runk/.venv"


def snippet(name: str, runk: str = RUNK) -> str:
    with open(os.path.join(TOP, "README.md")) as f:
        text = f.read()
    marker = f"<!-- snippet: {name} -->\n"
    assert text.count(marker) == 1, f"README has no single snippet {name!r}"
    rest = text.split(marker, 1)[1]
    assert rest.startswith("```"), f"snippet {name!r}: no fenced block right after its marker"
    body = rest.split("\n", 1)[1].split("\n```\n", 1)[0] + "\n"
    return body.replace(EXAMPLE_RUNK, runk)
