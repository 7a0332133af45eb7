"""Direct-assigned volumes of runk-vm (runk.vm.host.volumes, runk.vm.guest.disks): an ext4 image
file given as a mount's source is a virtio-blk disk of the VM, mounted by the guest's kernel
only. One VM container writes a file on it, another reads it back; while the first runs, the
image is mounted nowhere on the host (neither in the host's mount table nor in virtiofsd's
staging namespace)."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from .conftest import vm_processes
from .test_vm_backend import BOOT, create, wait_exit

pytestmark = [pytest.mark.vm, pytest.mark.slow]


@pytest.fixture
def image(tmp_path):
    img = tmp_path / "data.ext4"
    r = subprocess.run(["mkfs.ext4", "-q", "-F", "-L", "rkvol", str(img), "16M"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return str(img)


def _mounted_anywhere(image: str, pids: list[int]) -> list[str]:
    """Lines of the host's and the given processes' mount tables naming the image or an ext4
    file system labelled like it."""
    out = []
    for p in ["self", *map(str, pids)]:
        try:
            with open(f"/proc/{p}/mountinfo") as f:
                out += [f"{p}: {line}" for line in f if image in line or os.path.basename(image) in line]
        except OSError:
            pass
    return out


def test_a_volume_written_in_one_vm_is_read_in_another(vmrt, bundle, cid, image, subreaper):
    bundle.config["mounts"].append({"destination": "/data", "type": "ext4", "source": image, "options": ["rw"]})
    bundle.sh(
        "grep ' /data ' /proc/self/mounts | cut -d' ' -f1,3; echo written-in-the-first-vm > /data/f; sync; sleep 1000"
    )
    out = os.path.join(bundle.path, "out")
    with open(out, "w") as f:
        pid = create(vmrt, bundle, cid, out=f)
    assert vmrt("start", cid).rc == 0
    vm = [int(p.split()[0]) for p in vm_processes(vmrt.root)]
    lines: list[str] = []
    deadline = time.monotonic() + 60
    while not lines and time.monotonic() < deadline:
        time.sleep(0.1)
        with open(out) as f:
            lines = f.read().splitlines()
    assert lines and lines[0].split()[1] == "ext4", lines
    assert lines[0].startswith(("/dev/runk-volumes/", "/dev/vd")), lines
    assert _mounted_anywhere(image, vm) == []
    assert vmrt("kill", cid, "KILL").rc == 0
    wait_exit(pid)
    assert vmrt("delete", cid).rc == 0

    bundle.sh("cat /data/f")
    r = vmrt("run", "--bundle", bundle.write(), cid + "b", timeout=BOOT)
    assert (r.rc, r.out) == (0, "written-in-the-first-vm\n"), r
    # and the host reads the same bytes from the image (debugfs: no mount needed)
    d = subprocess.run(["debugfs", "-R", "cat /f", image], capture_output=True, text=True)
    assert d.stdout == "written-in-the-first-vm\n", d


def test_a_bind_mount_named_by_the_annotation_is_assigned_directly(vmrt, bundle, cid, image):
    bundle.config["mounts"].append({"destination": "/vol", "type": "bind", "source": image, "options": ["rbind"]})
    bundle.config.setdefault("annotations", {})["runk.vm.direct-volumes"] = "/vol:ext4"
    bundle.sh("grep ' /vol ' /proc/self/mounts | cut -d' ' -f3; echo ok > /vol/g && cat /vol/g")
    r = vmrt("run", "--bundle", bundle.write(), cid, timeout=BOOT)
    assert (r.rc, r.out) == (0, "ext4\nok\n"), r


def test_bad_volumes_are_refused_naming_the_field(vmrt, bundle, cid, tmp_path):
    bundle.config.setdefault("annotations", {})["runk.vm.direct-volumes"] = "/nowhere"
    r = vmrt("run", "--bundle", bundle.write(), cid, timeout=BOOT)
    assert r.rc == 1 and "annotations.runk.vm.direct-volumes: no mount at /nowhere" in r.err, r
    assert not os.path.exists(os.path.join(vmrt.root, cid))
