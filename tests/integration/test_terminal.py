"""The container's terminal (process.terminal) where runk's own tests need no runc: a container
sharing the host's mount namespace, whose rootfs has no devpts of its own.
"""

from __future__ import annotations

from tests.helpers import drop_ns, on_pty


def test_terminal_with_the_host_mount_namespace(runk, bundle, cid):
    """runk mounts nothing in the host's namespace: the pty comes from the host's devpts (the
    namespace's own), opened before the chroot into the rootfs; run and exec -t both work."""
    drop_ns(bundle, "mount")
    bundle.config["linux"]["maskedPaths"] = []
    bundle.config["linux"]["readonlyPaths"] = []
    bundle.config["process"]["terminal"] = True
    bundle.sh("echo in; test -t 0 && test -t 1 && echo tty; ls /bin/busybox")
    bundle.write()
    rc, out, err = on_pty(runk, "run", "--bundle", bundle.path, cid)
    assert (rc, out, err) == (0, b"in\ntty\n/bin/busybox\n", b"")

    bundle.config["process"]["terminal"] = False
    bundle.args("sleep", "1000")
    bundle.write()
    runk("run", "-d", "--bundle", bundle.path, f"{cid}-d", check=True)
    rc, out, err = on_pty(runk, "exec", "-t", f"{cid}-d", "sh", "-c", "test -t 0 && echo tty; ls /bin/busybox")
    assert (rc, out, err) == (0, b"tty\n/bin/busybox\n", b"")
