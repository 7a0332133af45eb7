"""maskedPaths, readonlyPaths, hostname, domainname and sysctl, as seen from inside; refused
sysctls with runc's reasons."""

from __future__ import annotations

import os

import pytest

from tests.helpers import drop_ns, mount_at, run_out, run_sh, set_ns


def _host(path: str) -> str:
    with open(path) as f:
        return f.read().strip()


def test_masked_file_reads_empty_and_masked_dir_is_empty(runk, bundle, cid, leak_audit):
    rootfs = bundle.own_rootfs()
    os.makedirs(os.path.join(rootfs, "secret-dir"))
    with open(os.path.join(rootfs, "secret-dir", "key"), "w") as f:
        f.write("hidden\n")
    with open(os.path.join(rootfs, "etc", "secret"), "w") as f:
        f.write("hidden\n")
    bundle.config["linux"]["maskedPaths"] = ["/etc/secret", "/secret-dir", "/does/not/exist"]
    r = run_sh(
        runk,
        bundle,
        cid,
        "wc -c </etc/secret; ls -A /secret-dir | wc -l; echo x >/etc/secret; "
        "touch /secret-dir/new; cat /proc/self/mountinfo",
    )
    assert r.out.split()[:2] == ["0", "0"], r
    assert r.err.count("Read-only file system") == 1, r  # the dir; writes to /dev/null vanish
    assert mount_at(r.out, "/secret-dir")["fstype"] == "tmpfs"
    assert "ro" in mount_at(r.out, "/secret-dir")["opts"]
    with open(os.path.join(rootfs, "etc", "secret")) as f:
        assert f.read() == "hidden\n"


@pytest.mark.parametrize("userns", [False, True])
def test_masked_paths_listed_twice_are_masked_once_and_directories_share_one_tmpfs(
    runk, bundle, cid, userns, leak_audit
):
    """runc: a path listed twice (however spelled) gets one mask mount, and every masked
    directory shows the same read-only tmpfs (one device)."""
    rootfs = bundle.own_rootfs()
    for d in ("m1", "m2", "m3"):
        os.makedirs(os.path.join(rootfs, d, "inside"))
    open(os.path.join(rootfs, "mf"), "w").close()
    if userns:
        set_ns(bundle, "user")
        bundle.config["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 0, "size": 65536}]
        bundle.config["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 0, "size": 65536}]
    bundle.config["linux"]["maskedPaths"] = ["/m1", "/m2", "/mf", "/m1/", "//mf", "/m3", "/m2/."]
    r = run_sh(
        runk,
        bundle,
        cid,
        "stat -c %d /m1 /m2 /m3; ls -A /m2 | wc -l; touch /m3/x; grep -cE ' /(m1|m2|m3|mf) ' /proc/self/mountinfo",
    )
    lines = r.out.split()
    assert len(set(lines[:3])) == 1, r  # one device
    assert lines[3:] == ["0", "4"], r
    assert "Read-only file system" in r.err, r


def test_default_masked_proc_paths(runk, bundle, cid, leak_audit):
    files = [
        p for p in ("/proc/keys", "/proc/timer_list", "/proc/sched_debug") if os.path.exists(p) and _host(p) != ""
    ]  # not empty on the host
    dirs = [p for p in ("/proc/acpi", "/sys/firmware", "/proc/scsi") if os.path.isdir(p) and os.listdir(p)]
    if not files and not dirs:
        pytest.skip("the host has none of the default masked paths with content")
    out = run_out(runk, bundle, cid, "; ".join([f"wc -c <{p}" for p in files] + [f"ls -A {d} | wc -l" for d in dirs]))
    assert out.split() == ["0"] * (len(files) + len(dirs))


def test_readonly_paths(runk, bundle, cid, leak_audit):
    rootfs = bundle.own_rootfs()
    bundle.config["root"]["readonly"] = False
    os.makedirs(os.path.join(rootfs, "data", "sub"))
    bundle.config["linux"]["readonlyPaths"] = ["/proc/sys", "/data", "/no/such/path"]
    r = run_sh(
        runk,
        bundle,
        cid,
        "touch /data/x; echo data=$?; touch /data/sub/x; echo sub=$?; "
        "echo 1 >/proc/sys/kernel/domainname; echo sys=$?; touch /ok; echo root=$?; "
        "cat /proc/self/mountinfo",
    )
    assert r.rc == 0, r
    for k in ("data=1", "sub=1", "sys=1", "root=0"):
        assert k in r.out.split(), r
    assert r.err.count("Read-only file system") == 3, r
    assert "ro" in mount_at(r.out, "/data")["opts"] and "ro" in mount_at(r.out, "/proc/sys")["opts"]
    assert not os.path.exists(os.path.join(rootfs, "data", "x"))


def test_hostname_and_domainname(runk, bundle, cid, leak_audit):
    host = (_host("/proc/sys/kernel/hostname"), _host("/proc/sys/kernel/domainname"))
    bundle.config["hostname"] = "box-1"
    bundle.config["domainname"] = "example.org"
    out = run_out(runk, bundle, cid, "hostname; cat /proc/sys/kernel/domainname; uname -n")
    assert out.split() == ["box-1", "example.org", "box-1"]
    assert (_host("/proc/sys/kernel/hostname"), _host("/proc/sys/kernel/domainname")) == host


def test_hostname_without_uts_namespace_refused(runk, bundle, cid, leak_audit):
    drop_ns(bundle, "uts")
    r = run_sh(runk, bundle, cid, "echo should-not-run")
    assert r.rc == 1 and "unable to set hostname without a private UTS namespace" in r.err, r


def test_namespaced_sysctls_set_inside_only(runk, bundle, cid, leak_audit):
    host = (_host("/proc/sys/net/ipv4/ip_forward"), _host("/proc/sys/kernel/shmmax"))
    want_fwd = "0" if host[0] == "1" else "1"
    bundle.config["linux"]["sysctl"] = {
        "net.ipv4.ip_forward": want_fwd,
        "kernel.shmmax": "4096000",
        "fs.mqueue.msg_max": "20",
    }
    out = run_out(
        runk, bundle, cid, "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmax /proc/sys/fs/mqueue/msg_max"
    )
    assert out.split() == [want_fwd, "4096000", "20"]
    assert (_host("/proc/sys/net/ipv4/ip_forward"), _host("/proc/sys/kernel/shmmax")) == host


@pytest.mark.parametrize(
    "key,drop,why",
    [
        ("kernel.printk", None, 'sysctl "kernel.printk" is not in a separate kernel namespace'),
        ("vm.swappiness", None, 'sysctl "vm.swappiness" is not in a separate kernel namespace'),
        ("net.ipv4.ip_forward", "network", 'sysctl "net.ipv4.ip_forward" not allowed in host network namespace'),
        ("kernel.shmmax", "ipc", 'sysctl "kernel.shmmax" is not allowed in the hosts ipc namespace'),
        ("kernel.domainname", "uts", 'sysctl "kernel.domainname" is not in a separate kernel namespace'),
        (
            "kernel.hostname",
            None,
            'sysctl "kernel.hostname" is not allowed as it conflicts with the OCI "hostname" field',
        ),
    ],
)
def test_refused_sysctls(runk, bundle, cid, key, drop, why, leak_audit):
    before = _host("/proc/sys/" + key.replace(".", "/"))
    if drop:
        drop_ns(bundle, drop)
    if drop == "uts":
        bundle.config.pop("hostname")
    bundle.config["linux"]["sysctl"] = {key: "1"}
    r = run_sh(runk, bundle, cid, "echo should-not-run")
    assert r.rc == 1 and "should-not-run" not in r.out, r
    assert why.replace('"', '\\"') in r.err, r  # runc's words (quotes escaped in the log)
    assert _host("/proc/sys/" + key.replace(".", "/")) == before
