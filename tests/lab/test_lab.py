"""The lab (systemd as PID 1, cgroup v2 only, in a micro-VM; see machine.py): one boot per
session runs the guest-side suite, and each guest test is reported here as its own test, with
the guest's failure text. Select with -m lab (also marked vm: -m 'not vm' leaves it out)."""

from __future__ import annotations

import pytest

from tests.lab.conftest import guest_tests

pytestmark = [pytest.mark.lab, pytest.mark.vm]


def test_lab_boots_and_runs_the_guest_suite(lab):
    boot = lab.run.boot
    assert boot["state"] == "running", boot
    assert boot["failed_units"] == [], boot
    assert boot["user"]["state"] == "active", boot["user"]
    assert lab.problems == [], "\n".join(lab.problems)
    known = set(guest_tests())
    unknown = [c.id for c in lab.cases if f"{c.file}::{c.function}" not in known]
    assert unknown == [], f"guest tests the host does not list (not a plain function?): {unknown}"


@pytest.mark.parametrize("guest_test", guest_tests())
def test_in_guest(lab, guest_test):
    cases = lab.of(guest_test)
    only = lab.only
    if only and not any(guest_test == s or guest_test.startswith(s + "::") for s in only):
        pytest.skip(f"not in RUNK_LAB_ONLY={','.join(only)}")
    if not cases:
        pytest.fail(f"{guest_test} did not run in the guest", pytrace=False)
    bad = [c for c in cases if c.outcome in ("failed", "error")]
    if bad:
        pytest.fail("\n\n".join(f"[{c.session}] {c.id} {c.outcome}:\n{c.text}" for c in bad), pytrace=False)
    if all(c.outcome == "skipped" for c in cases):
        pytest.skip("; ".join(c.text.strip().splitlines()[0] for c in cases if c.text.strip()))
