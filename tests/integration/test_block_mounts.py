"""A config mount of a file system on a block device (a loop device here) works as with runc:
the device rules of the cgroup apply once the init has made its mounts (runc's Set at
procReady), so a device the container may not open can still back one of its mounts; the
container itself is then denied the device node, as under runc."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.conftest import requires


@pytest.fixture
def loopdev(tmp_path):
    requires("root")
    img = tmp_path / "fs.img"
    subprocess.run(["truncate", "-s", "16M", str(img)], check=True)
    subprocess.run(["mkfs.ext4", "-q", "-F", "-L", "rkblk", str(img)], check=True)
    r = subprocess.run(["losetup", "-f", "--show", str(img)], capture_output=True, text=True)
    if r.returncode != 0 or not r.stdout.startswith("/dev/loop"):
        pytest.skip(f"no loop device here: {r.stderr.strip()}")
    dev = r.stdout.strip()
    yield dev
    subprocess.run(["losetup", "-d", dev], capture_output=True)


@pytest.mark.parametrize("which", ["runk", "runc"])
def test_a_block_device_mount_is_made_and_its_node_stays_denied(which, runk, runc, bundle, loopdev, cid):
    rt = {"runk": runk, "runc": runc}[which]
    st = os.stat(loopdev)
    bundle.config["mounts"].append({"destination": "/data", "type": "ext4", "source": loopdev, "options": ["rw"]})
    bundle.config["linux"]["devices"] = [
        {"path": "/dev/blk", "type": "b", "major": os.major(st.st_rdev), "minor": os.minor(st.st_rdev)}
    ]
    bundle.sh("grep ' /data ' /proc/self/mounts | cut -d' ' -f2,3; echo hi > /data/f && cat /data/f; head -c1 /dev/blk")
    r = rt("run", "--bundle", bundle.write(), cid)
    assert r.out.splitlines()[:2] == ["/data ext4", "hi"], r
    assert r.rc != 0 and "Operation not permitted" in r.err, r  # the cgroup denies the node itself
