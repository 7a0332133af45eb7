"""Writes into /proc redirected by mounts, and /dev/null or /dev/console swapped (the
CVE-2025-52881, CVE-2025-31133 and CVE-2025-52565 classes), attacked for real.

runc 1.1.5 (the reference) refuses mounts under /proc except its lxcfs files, and a non-proc
/proc; it binds whatever the container's /dev/null is over the masked paths (vulnerable): for
that, only runk's safe behaviour is asserted.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap

import pytest

from tests.conftest import TOP
from tests.helpers import add_mount, run_sh


def _host_net_dir(tmp_path) -> str:
    """A host directory shaped like /proc/sys/net, its ip_forward holding "0"."""
    d = tmp_path / "hostnet"
    (d / "ipv4").mkdir(parents=True)
    (d / "ipv4" / "ip_forward").write_text("0\n")
    return str(d)


def _msg(r) -> str:
    """The error text with the log line's quoting undone."""
    return r.err.replace('\\"', '"')


def _create(rt, bundle, cid: str):
    bundle.write()
    return rt("create", "--bundle", bundle.path, cid)


def test_bind_over_proc_sys_net_is_refused_and_the_host_file_untouched(runk, runc, bundle, cid, tmp_path, leak_audit):
    host = _host_net_dir(tmp_path)
    add_mount(bundle, "/proc/sys/net", "bind", host, ["rbind", "rw"])
    bundle.config["linux"]["sysctl"] = {"net.ipv4.ip_forward": "1"}
    i = len(bundle.config["mounts"]) - 1
    r = _create(runk, bundle, cid)
    assert r.rc == 1, r
    assert f'mounts[{i}]: "/proc/sys/net" cannot be mounted because it is inside /proc' in _msg(r), r
    assert "Traceback" not in r.err and "Error:" not in r.err
    assert open(os.path.join(host, "ipv4", "ip_forward")).read() == "0\n"
    assert runk("state", cid).rc != 0
    # runc refuses it too (during its init), with the same text
    rc = runc("run", "--bundle", bundle.path, cid)
    assert rc.rc != 0 and "cannot be mounted because it is inside /proc" in _msg(rc), rc
    assert open(os.path.join(host, "ipv4", "ip_forward")).read() == "0\n"


def test_a_symlink_in_the_rootfs_cannot_lead_a_mount_under_proc(runk, runc, bundle, cid, tmp_path, leak_audit):
    """The destination as written is outside /proc; resolved in the rootfs it is
    /proc/sys/net: refused by the init's check on the resolved target."""
    rootfs = bundle.own_rootfs()
    os.symlink("/proc/sys", os.path.join(rootfs, "sysdir"))
    host = _host_net_dir(tmp_path)
    add_mount(bundle, "/sysdir/net", "bind", host, ["rbind", "rw"])
    bundle.config["linux"]["sysctl"] = {"net.ipv4.ip_forward": "1"}
    i = len(bundle.config["mounts"]) - 1
    r = _create(runk, bundle, cid)
    assert r.rc == 1, r
    assert f'mounts[{i}]: "/proc/sys/net" cannot be mounted because it is inside /proc' in _msg(r), r
    assert open(os.path.join(host, "ipv4", "ip_forward")).read() == "0\n"
    rc = runc("run", "--bundle", bundle.path, cid)
    assert rc.rc != 0 and "cannot be mounted because it is inside /proc" in _msg(rc), rc
    assert open(os.path.join(host, "ipv4", "ip_forward")).read() == "0\n"


@pytest.mark.parametrize(
    "dest", ["/proc/cpuinfo", "/proc/meminfo", "/proc/uptime", "/proc/loadavg", "/proc/sys/kernel/ns_last_pid"]
)
def test_lxcfs_files_may_be_bound_as_with_runc(runk, runc, bundle, cid, tmp_path, dest, leak_audit):
    fake = tmp_path / "fake"
    fake.write_text("emulated by lxcfs\n")
    add_mount(bundle, dest, "bind", str(fake), ["bind", "ro"])
    got = {}
    for name, rt in (("runk", runk), ("runc", runc)):
        r = run_sh(rt, bundle, f"{cid}-{name[-1]}", f"cat {dest}")
        assert r.rc == 0, (name, r)
        got[name] = r.out
    assert got["runk"] == got["runc"] == "emulated by lxcfs\n"


@pytest.mark.parametrize("dest", ["/proc/version", "/proc/sys/kernel", "/proc/net/dev"])
def test_other_mounts_under_proc_are_refused_as_by_runc(runk, runc, bundle, cid, tmp_path, dest, leak_audit):
    fake = tmp_path / "fake"
    fake.mkdir() if dest == "/proc/sys/kernel" else fake.write_text("x\n")
    add_mount(bundle, dest, "bind", str(fake), ["rbind"])
    i = len(bundle.config["mounts"]) - 1
    r = _create(runk, bundle, cid)
    assert r.rc == 1 and f'mounts[{i}]: "{dest}" cannot be mounted because it is inside /proc' in _msg(r), r
    rc = run_sh(runc, bundle, cid, "true")
    assert rc.rc == 1 and "cannot be mounted because it is inside /proc" in _msg(rc), rc


def test_a_host_directory_bound_onto_proc_is_refused(runk, runc, bundle, cid, tmp_path, leak_audit):
    host = _host_net_dir(tmp_path)
    bundle.config["mounts"][0] = {"destination": "/proc", "type": "bind", "source": host, "options": ["rbind"]}
    r = _create(runk, bundle, cid)
    assert r.rc == 1, r
    assert 'mounts[0]: "/proc" cannot be mounted because it is not of type proc' in _msg(r), r
    rc = run_sh(runc, bundle, cid, "true")
    assert rc.rc == 1 and "cannot be mounted because it is not of type proc" in _msg(rc), rc


def test_a_tmpfs_on_proc_is_refused_at_create(runk, runc, bundle, cid, leak_audit):
    bundle.config["mounts"][0] = {"destination": "/proc", "type": "tmpfs", "source": "tmpfs"}
    r = _create(runk, bundle, cid)
    assert r.rc == 1 and 'mounts[0]: "/proc" cannot be mounted because it is not of type proc' in _msg(r), r
    # runc accepts the config and fails in its init, without a procfs to close fds through
    rc = run_sh(runc, bundle, cid, "true")
    assert rc.rc == 1 and "/proc/self/fd" in _msg(rc), rc


def test_the_real_proc_may_be_bound_onto_proc_as_with_runc(runk, runc, bundle, cid, leak_audit):
    bundle.config["mounts"][0] = {"destination": "/proc", "type": "bind", "source": "/proc", "options": ["rbind"]}
    for name, rt in (("runk", runk), ("runc", runc)):
        r = run_sh(rt, bundle, f"{cid}-{name[-1]}", "test -r /proc/self/status && echo ok")
        assert r.rc == 0 and r.out == "ok\n", (name, r)


def test_no_proc_mount_with_a_mount_namespace_fails_create_as_with_runc(runk, runc, bundle, cid, leak_audit):
    bundle.config["mounts"] = [m for m in bundle.config["mounts"] if m["destination"] != "/proc"]
    r = _create(runk, bundle, cid)
    assert r.rc == 1, r
    assert r.err.count("\n") <= 1 and 'mounts: no "proc" mount at /proc' in _msg(r), r
    assert runk("state", cid).rc != 0
    rc = runc("create", "--bundle", bundle.path, cid)
    assert rc.rc == 1 and "/proc/self/fd" in _msg(rc), rc
    assert runc("state", cid).rc != 0


PROCWRITE_PROBE = textwrap.dedent("""
    import os, subprocess, sys
    sys.path.insert(0, {top!r})
    from runk.linux import procwrite
    tmp = {tmp!r}
    target = "/proc/sys/kernel/domainname"
    # a private mount and UTS namespace (unshare -mu): nothing here reaches the host
    subprocess.run(["mount", "--make-rprivate", "/"], check=True)
    procwrite.write(target, b"before", "probe")            # the real file takes the write
    assert open(target).read() == "before\\n", open(target).read()
    out = []
    open(tmp + "/file", "w").write("untouched\\n")
    subprocess.run(["mount", "--bind", tmp + "/file", target], check=True)
    try:
        procwrite.write(target, b"pwned", "probe")
        out.append("file: written")
    except procwrite.NotProcfs as e:
        out.append("file: " + str(e))
    subprocess.run(["umount", target], check=True)
    os.mkdir(tmp + "/kernel")
    open(tmp + "/kernel/domainname", "w").write("untouched\\n")
    subprocess.run(["mount", "--bind", tmp + "/kernel", "/proc/sys/kernel"], check=True)
    try:
        procwrite.write(target, b"pwned", "probe")
        out.append("dir: written")
    except procwrite.NotProcfs as e:
        out.append("dir: " + str(e))
    subprocess.run(["umount", "/proc/sys/kernel"], check=True)
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", "/proc"], check=True)
    os.makedirs("/proc/sys/kernel")
    open(target, "w").write("untouched\\n")
    try:
        procwrite.write(target, b"pwned", "probe")
        out.append("tmpfs: written")
    except procwrite.NotProcfs as e:
        out.append("tmpfs: " + str(e))
    out.append("tmpfs file: " + open(target).read().strip())
    print("\\n".join(out))
""")


def test_procwrite_refuses_a_target_redirected_by_a_mount(tmp_path):
    from tests.conftest import requires

    requires("root")
    code = PROCWRITE_PROBE.format(top=TOP, tmp=str(tmp_path))
    r = subprocess.run(["unshare", "-mu", sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    why = "probe: /proc/sys/kernel/domainname is not on procfs (a mount over /proc?)"
    assert lines == [
        f"file: {why}",
        f"dir: {why}",
        "tmpfs: probe: /proc is not on procfs (a mount over /proc?)",
        "tmpfs file: untouched",
    ], r.stdout
    assert (tmp_path / "file").read_text() == "untouched\n"
    assert (tmp_path / "kernel" / "domainname").read_text() == "untouched\n"


def _bound_dev(bundle, tmp_path, null: str) -> str:
    """Replace the container's /dev tmpfs by a bind of a prepared directory whose `null` is a
    regular file holding a secret, or a symlink to a file of the container."""
    d = tmp_path / "dev"
    d.mkdir()
    for sub in ("pts", "shm", "mqueue"):
        (d / sub).mkdir()
    if null == "file":
        (d / "null").write_text("SECRET-NOT-NULL\n")
    else:
        os.symlink("/etc/passwd", d / "null")
    mounts = [m for m in bundle.config["mounts"] if m["destination"] != "/dev"]
    mounts.insert(1, {"destination": "/dev", "type": "bind", "source": str(d), "options": ["rbind"]})
    bundle.config["mounts"] = mounts
    return str(d)


@pytest.mark.parametrize("null", ["file", "symlink"])
def test_a_fake_dev_null_is_never_bound_over_masked_paths(runk, bundle, cid, tmp_path, null, leak_audit):
    """runc 1.1.5 binds it: `cat /proc/keys` shows the file (or /etc/passwd) there."""
    _bound_dev(bundle, tmp_path, null)
    assert "/proc/keys" in bundle.config["linux"]["maskedPaths"]
    r = run_sh(runk, bundle, cid, "cat /proc/keys; echo done")
    assert "SECRET-NOT-NULL" not in r.out and "root:" not in r.out, r
    assert r.rc == 1 and "maskedPaths: /dev/null is not the null device (char 1:3)" in _msg(r), r


def test_masked_paths_still_show_nothing(runk, bundle, cid, leak_audit):
    r = run_sh(runk, bundle, cid, "wc -c < /proc/keys; ls /proc/acpi | wc -l; grep ' /proc/keys ' /proc/self/mountinfo")
    assert r.rc == 0, r
    size, entries, mnt = r.out.splitlines()
    assert size.strip() == "0" and entries.strip() == "0"
    assert mnt.split()[3] == "/null" and mnt.split(" - ")[1].startswith("tmpfs "), mnt


def test_a_dev_console_symlink_is_not_followed(runk, bundle, cid, tmp_path, leak_audit):
    """A bind-mounted /dev whose console is a symlink to a file of the container: runk refuses
    to bind the terminal there (runc 1.1.5 follows the symlink and binds over the file)."""
    d = _bound_dev(bundle, tmp_path, "symlink")
    os.unlink(os.path.join(d, "null"))
    os.symlink("/etc/passwd", os.path.join(d, "console"))
    bundle.config["linux"]["maskedPaths"] = []
    bundle.config["process"]["terminal"] = True
    bundle.sh("cat /etc/passwd").write()
    sock_path = str(tmp_path / "console.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(sock_path)
    listener.listen(1)
    try:
        r = runk("create", "--bundle", bundle.path, "--console-socket", sock_path, cid)
    finally:
        listener.close()
    assert r.rc == 1 and "/dev/console is a symlink: refusing to bind the console over it" in _msg(r), r
