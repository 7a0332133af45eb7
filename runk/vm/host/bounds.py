"""How long the host side of a VM container waits for the other side (ARCHITECTURE.md, Waits).

Runs in the runk commands, the exec proxy and the supervisor (host); imports runk._os only (the
control client is on the kill/start hot path). Each bound is in seconds; the environment
variables exist for the tests, which make a silent peer fail in seconds instead of minutes.
- BOOT: from qemu's start to the guest agent's hello. A TCG guest boots in 5-10 s on an idle
  host, much more on a loaded one: 180 s (RUNK_VM_BOOT_TIMEOUT).
- CONTROL: one request on the control socket (connect, send, the reply), and the supervisor's
  wait for the agent's reply to CreateContainer. The guest serves every request with runk's own
  core, whose setup waits are bounded by 60 s (RUNK_SETUP_TIMEOUT): 120 s (RUNK_VM_CONTROL_TIMEOUT).
- ready(): runk create's wait for the supervisor's ready line: BOOT + CONTROL + 30 s for the
  supervisor's own start (an interpreter, virtiofsd, qemu), plus 300 s when the rootfs is an
  ext4 image (mkfs.ext4 -d, bounded by that in runk.vm.host.machine).
"""

from __future__ import annotations

from runk import _os as os

BOOT_ENV, CONTROL_ENV = "RUNK_VM_BOOT_TIMEOUT", "RUNK_VM_CONTROL_TIMEOUT"
BOOT_SECONDS, CONTROL_SECONDS = 180.0, 120.0
START_SECONDS = 30.0  # the supervisor's own start, before qemu runs
MKFS_SECONDS = 300.0  # the block image (runk.vm.host.machine.build_image)


def _env(name: str, default: float) -> float:
    try:
        value = float(os.environ.get(name) or default)
    except ValueError:
        return default
    return value if value > 0 else default


def boot() -> float:
    return _env(BOOT_ENV, BOOT_SECONDS)


def control() -> float:
    return _env(CONTROL_ENV, CONTROL_SECONDS)


def ready(block: bool = False) -> float:
    return boot() + control() + START_SECONDS + (MKFS_SECONDS if block else 0.0)
