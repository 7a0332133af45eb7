"""stdio that is the host's /dev/null becomes the container's own /dev/null (runc's init does
the same): every descriptor the workload starts with then lies on a mount of its own mount
namespace, which CRIU needs to checkpoint it (podman's conmon gives the host's /dev/null as
stdin). runc 1.1.5 reopens them too, but here its descriptors then name a mount that is not in the
container's table (its /dev/null is opened before the mount tree is final), so this holds runk
alone to the rule."""

from __future__ import annotations

import subprocess

SCRIPT = (
    "for fd in 0 1 2; do m=$(sed -n 's/^mnt_id:[[:space:]]*//p' /proc/$$/fdinfo/$fd); "
    'grep -q "^$m " /proc/self/mountinfo && echo "$fd ours" >>/report || echo "$fd foreign $m" >>/report; done'
)


def test_host_dev_null_stdio_is_reopened_inside(runk, bundle, cid, tmp_path):
    rt = runk
    # the report goes to a file of a rootfs copy: stdout itself is /dev/null here
    bundle.config["root"]["readonly"] = False
    rootfs = tmp_path / "rootfs"
    subprocess.run(["cp", "-a", bundle.rootfs + "/.", str(rootfs)], check=True)
    bundle.config["root"]["path"] = str(rootfs)
    bundle.config["process"]["args"] = ["sh", "-c", SCRIPT]
    with open("/dev/null", "r+b") as null:
        r = subprocess.run(
            [rt.binary, "--root", rt.root, "run", "--bundle", bundle.write(), cid],
            stdin=null,
            stdout=null,
            stderr=null,
            timeout=60,
        )
    assert r.returncode == 0
    report = (rootfs / "report").read_text().splitlines()
    assert report == ["0 ours", "1 ours", "2 ours"], report
