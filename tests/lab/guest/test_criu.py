"""CRIU works on the lab's 6.1 kernel (this host's own kernel fails `criu check`)."""

from __future__ import annotations

import pytest
from conftest import sh

pytestmark = pytest.mark.second_root  # CRIU and podman: the second root session (tests/lab/conftest.py)


def test_criu_check_passes(tmp_path):
    # cwd and log in a writable place: the guest's /etc overlays the host's, and a host
    # /etc/criu/default.conf (runc's own test suite leaves one) may name a relative log file
    p = sh("criu", "check", "--log-file", str(tmp_path / "criu-check.log"), cwd=str(tmp_path))
    assert p.rc == 0, p
    assert "Looks good." in p.out + p.err, p
