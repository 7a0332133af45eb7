"""How the lab's guest results become host results, without booting: real pytest JUnit XML
(from a pytest run here on a small suite that passes, fails, errors and skips) goes through
LabRun and LabReport as the guest's would, and test_in_guest's verdicts are checked."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from runk.vm import testing
from tests.lab import machine, test_lab
from tests.lab.conftest import LabReport, guest_tests

SUITE = """
import pytest

def test_ok():
    pass

def test_bad():
    assert 1 + 1 == 3, "the guest's own message"

@pytest.mark.parametrize("n", [1, 2])
def test_param(n):
    assert n == 1

@pytest.fixture
def broken():
    raise RuntimeError("fixture broke")

def test_error(broken):
    pass

def test_skip():
    pytest.skip("not on this kernel")
"""


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> LabReport:
    d = tmp_path_factory.mktemp("labreport")
    (d / "test_fake.py").write_text(SUITE)
    out = d / "out"
    out.mkdir()
    cp = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(d),
            "-o",
            "junit_family=xunit1",
            f"--junitxml={out}/junit.xml",
            str(d / "test_fake.py"),
        ],
        capture_output=True,
        text=True,
        cwd=d,
        timeout=120,
    )
    result = {
        "name": "guest-root",
        "rc": cp.returncode,
        "seconds": 1.0,
        "stdout": cp.stdout,
        "stderr": cp.stderr,
        "files": {"junit.xml": (out / "junit.xml").read_text()},
    }
    lines = [json.dumps({"boot": {"state": "running"}}), json.dumps({"result": result})]
    guest = testing.GuestResult(stdout="\n".join(lines) + "\n", boot_seconds=1.0)
    cmd = machine.Command("guest-root", ["pytest"])
    return LabReport(machine.LabRun(guest, 2.0), [cmd])


def verdict(report: LabReport, test: str) -> tuple[str, str]:
    try:
        test_lab.test_in_guest(report, f"test_fake.py::{test}")
    except pytest.fail.Exception as e:
        return "failed", str(e)
    except pytest.skip.Exception as e:
        return "skipped", str(e)
    return "passed", ""


def test_each_outcome_reaches_the_host(report):
    assert report.problems == []
    assert verdict(report, "test_ok") == ("passed", "")
    outcome, text = verdict(report, "test_bad")
    assert outcome == "failed" and "the guest's own message" in text and "assert (1 + 1) == 3" in text
    outcome, text = verdict(report, "test_param")  # one of two parametrized cases fails
    assert outcome == "failed" and "test_param[2]" in text and "test_param[1]" not in text
    outcome, text = verdict(report, "test_error")
    assert outcome == "failed" and "fixture broke" in text
    assert verdict(report, "test_skip") == ("skipped", "not on this kernel")
    outcome, text = verdict(report, "test_missing")
    assert outcome == "failed" and "did not run in the guest" in text


def test_a_broken_session_is_a_problem():
    guest = testing.GuestResult(
        stdout=json.dumps(
            {"result": {"name": "guest-root", "rc": 4, "stdout": "ERROR: usage", "stderr": "", "files": {}}}
        )
        + "\n"
    )
    rep = LabReport(machine.LabRun(guest, 1.0), [machine.Command("guest-root", ["pytest"])])
    assert len(rep.problems) == 2 and "pytest exited 4" in rep.problems[0]
    assert "no JUnit XML" in rep.problems[1]


def test_every_guest_test_file_is_listed():
    files = {t.split("::")[0] for t in guest_tests()}
    on_disk = {n for n in os.listdir(os.path.join(machine.HERE, "guest")) if n.startswith("test_")}
    assert files == on_disk
