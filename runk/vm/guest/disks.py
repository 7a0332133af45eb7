"""Direct-assigned volumes in the guest (agent): each virtio-blk disk the host attached for one
(runk.vm.host.volumes) carries a serial; /dev/runk-volumes/<serial> becomes a link to its
/dev/vdX, the source of the container's mount. The guest kernel mounts the file system; the host
never does."""

from __future__ import annotations

import os
import time

from runk.errors import RunkError

GUEST_DIR = "/dev/runk-volumes"  # runk.vm.host.volumes.GUEST_DIR (no import across host/guest)
FIND_SECONDS = 10.0


def serials() -> dict[str, str]:
    """{serial: /dev/vdX} of the guest's virtio disks."""
    out = {}
    for name in os.listdir("/sys/block"):
        try:
            with open(f"/sys/block/{name}/serial") as f:
                serial = f.read().strip()
        except OSError:
            continue
        if serial:
            out[serial] = f"/dev/{name}"
    return out


def link(wanted: list[str]) -> None:
    deadline = time.monotonic() + FIND_SECONDS
    while True:
        found = serials()
        missing = [s for s in wanted if s not in found]
        if not missing:
            break
        if time.monotonic() > deadline:
            raise RunkError(f"direct-assigned volume: no disk with serial {', '.join(missing)} in the guest")
        time.sleep(0.05)
    os.makedirs(GUEST_DIR, exist_ok=True)
    for s in wanted:
        os.symlink(found[s], f"{GUEST_DIR}/{s}")
