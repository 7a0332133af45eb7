"""The lab's host side: one boot of the systemd cgroup-v2 guest per session (machine.py), which
runs the guest-side suite (guest/*.py, pytest on the checkout's .venv python inside the guest)
and brings back each guest test's outcome as JUnit XML; test_lab.py reports them one by one.

Adding a guest test: a test_*.py in guest/ (its fixtures in guest/conftest.py). Tests marked
`as_user` run in a second session as the lingering non-root user, at the same time as the root
session with the rest.
The host's own collection never enters guest/.
"""

from __future__ import annotations

import ast
import os
import xml.etree.ElementTree as ET

import pytest

from runk.vm import testing
from tests.conftest import SHARED_ROOTFS_DIR, shared_rootfs
from tests.lab import machine

collect_ignore = ["guest"]

GUEST_DIR = os.path.join(machine.HERE, "guest")
PYTHON = os.path.join(machine.TOP, ".venv", "bin", "python")


def guest_files() -> list[str]:
    return sorted(n for n in os.listdir(GUEST_DIR) if n.startswith("test_") and n.endswith(".py"))


def guest_tests() -> list[str]:
    """ "file.py::test_name" of every test function in guest/ (read, not imported)."""
    out = []
    for name in guest_files():
        with open(os.path.join(GUEST_DIR, name)) as f:
            tree = ast.parse(f.read(), name)
        out += [f"{name}::{n.name}" for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")]
    return out


def _files_marked(marker: str) -> list[str]:
    """The guest files (of the selection, or all) that use `marker` (read, not imported)."""
    names = sorted({s.split("::")[0] for s in selected()}) or guest_files()
    out = []
    for name in names:
        with open(os.path.join(GUEST_DIR, name)) as f:
            if f"mark.{marker}" in f.read():
                out.append(name)
    return out


def selected() -> list[str]:
    """RUNK_LAB_ONLY="test_a.py,test_b.py::test_x": run only these guest tests (for work on one
    area; the whole guest suite otherwise). Unselected ones are reported as skipped."""
    return [s.strip() for s in os.environ.get("RUNK_LAB_ONLY", "").split(",") if s.strip()]


def _targets(files: list[str] | None = None) -> list[str]:
    """The selection's paths, or `files` (all of guest/ when None)."""
    sel = selected()
    if files is not None:
        sel = [s for s in sel if s.split("::")[0] in files] or files
    return [os.path.join(GUEST_DIR, s) for s in sel] or [GUEST_DIR]


def sessions() -> list[machine.Command]:
    """pytest sessions that run at the same time in the guest (one vCPU each where the host
    has them): root's tests but CRIU's and podman's; those (marked second_root: they share
    podman's storage and CRIU's config, so they stay in one session); the lingering user's
    (marked as_user). Each session collects only the files it runs."""
    base = [
        PYTHON,
        "-m",
        "pytest",
        "-c",
        os.path.join(GUEST_DIR, "pytest.ini"),
        "--rootdir",
        GUEST_DIR,
        "--confcutdir",
        GUEST_DIR,
        "-q",
        "-rA",
        "--durations=0",
        "--junitxml={out}/junit.xml",
        "-o",
        "junit_family=xunit1",
    ]
    env = {"RUNK_LAB_REFERENCE": "1"} if os.environ.get("RUNK_LAB_REFERENCE") else {}
    second, as_user = _files_marked("second_root"), _files_marked("as_user")
    cmds = [
        machine.Command(
            "guest-root", base + ["-m", "not as_user and not second_root", *_targets()], timeout=1500, env=env
        )
    ]
    if second:
        cmds.append(
            machine.Command(
                "guest-root2", base + ["-m", "second_root and not as_user", *_targets(second)], timeout=1500, env=env
            )
        )
    if as_user:
        cmds.append(
            machine.Command(
                "guest-user", base + ["-m", "as_user", *_targets(as_user)], user=True, timeout=600, cwd="/tmp", env=env
            )
        )
    return cmds


class Case:
    """One guest test's outcome: passed, failed, error or skipped, with the text."""

    def __init__(self, session: str, el: ET.Element) -> None:
        self.session = session
        self.file = el.get("classname", "").split(".")[0] + ".py"
        self.name = el.get("name", "")
        self.id = f"{self.file}::{self.name}"
        self.function = self.name.split("[")[0]
        self.seconds = float(el.get("time") or 0)
        self.outcome, self.text = "passed", ""
        for tag in ("failure", "error", "skipped"):
            child = el.find(tag)
            if child is not None:
                self.outcome = "failed" if tag == "failure" else tag
                self.text = (child.get("message") or "") + "\n" + (child.text or "")
                break
        out = el.find("system-out")
        if out is not None and out.text:
            self.text += "\n--- captured stdout ---\n" + out.text


class LabReport:
    def __init__(self, run: machine.LabRun, commands: list[machine.Command], only: list[str] | None = None) -> None:
        self.run = run
        self.only = only or []  # RUNK_LAB_ONLY's selection, when the run had one
        self.cases: list[Case] = []
        self.problems: list[str] = []
        for cmd in commands:
            r = run.results.get(cmd.name)
            if r is None:
                self.problems.append(f"{cmd.name}: no result")
                continue
            # 2-5: interrupted, internal error, usage, no tests; a RUNK_LAB_ONLY selection of
            # as_user tests alone leaves the root session nothing to run (5)
            if r.rc not in (0, 1) and not (r.rc == 5 and self.only):
                self.problems.append(f"{cmd.name}: pytest exited {r.rc}\n{r.stdout[-4000:]}\n{r.stderr[-4000:]}")
            xml = r.files.get("junit.xml")
            if xml is None:
                self.problems.append(f"{cmd.name}: no JUnit XML\n{r.stdout[-4000:]}\n{r.stderr[-4000:]}")
                continue
            for el in ET.fromstring(xml).iter("testcase"):
                self.cases.append(Case(cmd.name, el))

    def of(self, guest_test: str) -> list[Case]:
        file, function = guest_test.split("::")
        return [c for c in self.cases if c.file == file and c.function == function]


@pytest.fixture(scope="session")
def lab(request) -> LabReport:
    if os.environ.get("RUNK_VM_ACCEL") == "none":
        pytest.skip("RUNK_VM_ACCEL=none")
    if not os.access(PYTHON, os.X_OK):
        pytest.skip("needs .venv (scripts/setup)")
    shared_rootfs()
    commands = sessions()
    try:
        run = machine.boot(commands, shares={"bundle": SHARED_ROOTFS_DIR}, parallel=True)
    except testing.GuestUnavailable as e:
        pytest.skip(str(e))
    rep = LabReport(run, commands, selected())
    _reports.append(rep)
    return rep


_reports: list[LabReport] = []


def pytest_terminal_summary(terminalreporter) -> None:
    """The lab's timings: boot, each session, each guest test (slowest first)."""
    for rep in _reports:
        tr = terminalreporter
        tr.section("lab")
        tr.write_line(rep.run.summary())
        for c in sorted(rep.cases, key=lambda c: -c.seconds):
            tr.write_line(f"  {c.seconds:6.2f} s  {c.outcome:7}  [{c.session}] {c.id}")
