"""CRIU works on the lab's 6.1 kernel (this host's own kernel fails `criu check`)."""

from __future__ import annotations

from conftest import sh


def test_criu_check_passes():
    p = sh("criu", "check")
    assert p.rc == 0, p
    assert "Looks good." in p.out + p.err, p
