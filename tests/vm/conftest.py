"""Guards for tests that boot micro-VMs: skip with the reason when this host cannot boot one.

`guest` is a session fixture: the kernel (fetched once by scripts/mkguest, or here) and the
initramfs are prepared once; the accelerator decision and the kernel version go to the log.
"""
from __future__ import annotations

import os

import pytest

from runk.vm import harness

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="session")
def guest(request) -> harness.Guest:
    if os.environ.get("RUNK_VM_ACCEL") == "none":
        pytest.skip("RUNK_VM_ACCEL=none")
    try:
        g = harness.default_guest()
    except harness.GuestUnavailable as e:
        pytest.skip(str(e))
    tr = request.config.pluginmanager.get_plugin("terminalreporter")
    if tr is not None:
        tr.write_line(f"\nguest: {g.kernel.package} {g.kernel.version} on {g.machine}, "
                      f"{g.accel_reason}")
    return g


@pytest.fixture(scope="session")
def guest_shares(guest) -> dict:
    """The host /usr (the guest's python3) and this checkout (runk's own code, its .venv),
    mounted in the guest at the same paths; virtiofsd needs root."""
    if os.geteuid() != 0:
        pytest.skip("sharing directories with the guest (virtiofsd) needs root")
    if guest.virtiofsd is None:
        pytest.skip("needs virtiofsd (qemu-system-common)")
    return {"hostusr": "/usr", "runk": TOP}
