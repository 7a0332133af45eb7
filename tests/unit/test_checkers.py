"""The checkers ARCHITECTURE.md promises, run as tests so that the README's test command (and
so CI) runs them: mypy (strict, on runk/), ruff (lint and format, on runk/, tests/, scripts/)
and the import contract of the layers (import-linter). Their configuration is pyproject.toml's."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)


def _tool(name: str) -> str:
    path = os.path.join(BIN, name)
    if not os.access(path, os.X_OK):
        path = shutil.which(name) or ""
    if not path:
        pytest.skip(f"needs {name} (scripts/setup installs the test extras: pip install -e '.[test]')")
    return path


def _run(*argv: str) -> None:
    r = subprocess.run(argv, cwd=TOP, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, f"{' '.join(argv)} exited {r.returncode}:\n{r.stdout[-6000:]}\n{r.stderr[-2000:]}"


def test_mypy_strict_on_runk():
    _run(_tool("mypy"))  # files, strictness and stubs: [tool.mypy]


def test_ruff_lint():
    _run(_tool("ruff"), "check", "runk", "tests", "scripts")


def test_ruff_format():
    _run(_tool("ruff"), "format", "--check", "runk", "tests", "scripts")


def test_import_contract_of_the_layers():
    _run(_tool("lint-imports"))


def test_no_import_cycle():
    """No module of runk imports (even for types, even inside a function) one that imports it
    back, directly or not: the graph import-linter checks has no cycle at all."""
    grimp = pytest.importorskip("grimp", reason="needs grimp (import-linter's graph builder)")
    graph = grimp.build_graph("runk", include_external_packages=False)
    cycles = [
        (m, i)
        for m in graph.modules
        for i in graph.find_modules_directly_imported_by(m)
        if graph.chain_exists(importer=i, imported=m)
    ]
    assert not cycles, sorted(cycles)[:10]
