"""config.mounts, rootfs propagation, read-only root and --no-pivot, checked through the
container's /proc/self/mountinfo and by using the mounts; symlinks in the rootfs never lead a
mount or a mkdir outside it."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.helpers import (
    add_mount,
    exposed_pseudo_fs,
    mount_at,
    mountinfo,
    ns_mounts,
    run_out,
    run_sh,
    running,
    set_ns,
    wait_for,
)


@pytest.fixture
def hostdir(tmp_path):
    """A host directory with a file in it, usable as a bind source."""
    d = tmp_path / "src"
    d.mkdir()
    (d / "hello").write_text("from the host\n")
    os.chmod(tmp_path, 0o755)
    return d


@pytest.fixture
def host_mounts():
    """Mounts the test makes on the host; lazily unmounted at teardown (reverse order)."""
    made = []

    def mount(*args: str) -> None:
        subprocess.run(["mount", *args], check=True)
        made.append(args[-1])

    yield mount
    for target in reversed(made):
        subprocess.run(["umount", "-l", target], check=False)


def test_bind_mount_shows_host_content_and_writes_through(runk, bundle, cid, hostdir, leak_audit):
    add_mount(bundle, "/home", "bind", str(hostdir), ["bind"])
    out = run_out(runk, bundle, cid, "cat /home/hello; echo written >/home/new; grep ' /home ' /proc/self/mountinfo")
    assert out.splitlines()[0] == "from the host"
    assert (hostdir / "new").read_text() == "written\n"
    m = mount_at(out, "/home")
    assert m["root"].endswith(str(hostdir)) and "rw" in m["opts"]


def test_bind_file_onto_missing_destination_is_created_in_rootfs(runk, bundle, cid, hostdir, leak_audit):
    rootfs = bundle.own_rootfs()
    add_mount(bundle, "/etc/app/config.txt", "bind", str(hostdir / "hello"), ["bind", "ro"])
    out = run_out(runk, bundle, cid, "cat /etc/app/config.txt; stat -c %F /etc/app/config.txt")
    assert out.splitlines() == ["from the host", "regular file"]
    assert os.path.isfile(os.path.join(rootfs, "etc/app/config.txt"))  # the mount point


def test_bind_vs_rbind_with_a_submount(runk, bundle, cid, hostdir, leak_audit, host_mounts):
    (hostdir / "sub").mkdir()
    host_mounts("-t", "tmpfs", "-o", "size=1m", "subtmp", str(hostdir / "sub"))
    (hostdir / "sub" / "deep").write_text("below a submount\n")
    add_mount(bundle, "/home", "bind", str(hostdir), ["bind"])
    add_mount(bundle, "/root", "bind", str(hostdir), ["rbind"])
    out = run_out(
        runk,
        bundle,
        cid,
        "ls /home/sub | wc -l; cat /root/sub/deep; "
        "grep -c ' /root/sub ' /proc/self/mountinfo; "
        "grep -c ' /home/sub ' /proc/self/mountinfo || true",
    )
    assert out.split() == ["0", "below", "a", "submount", "1", "0"]


def test_bind_options_ro_nosuid_nodev_noexec(runk, bundle, cid, hostdir, leak_audit):
    script = hostdir / "run.sh"
    script.write_text("#!/bin/sh\necho ran\n")
    script.chmod(0o755)
    add_mount(bundle, "/home", "bind", str(hostdir), ["rbind", "ro", "nosuid", "nodev", "noexec"])
    add_mount(bundle, "/root", "bind", str(hostdir), ["rbind"])
    r = run_sh(
        runk,
        bundle,
        cid,
        "grep -E ' /(home|root) ' /proc/self/mountinfo; /root/run.sh; "
        "touch /home/x; echo touch=$?; /home/run.sh; echo exec=$?",
    )
    assert r.rc == 0, r
    home, root = mount_at(r.out, "/home"), mount_at(r.out, "/root")
    assert {"ro", "nosuid", "nodev", "noexec"} <= home["opts"]
    assert "rw" in root["opts"] and not {"nosuid", "nodev", "noexec"} & root["opts"]
    assert "ran" in r.out.splitlines()
    assert "touch=1" in r.out and "Read-only file system" in r.err
    assert "exec=126" in r.out and "Permission denied" in r.err
    assert not (hostdir / "x").exists()


def test_tmpfs_size_mode_and_flags(runk, bundle, cid, leak_audit):
    add_mount(bundle, "/run", "tmpfs", "tmpfs", ["nosuid", "nodev", "noexec", "size=1m", "mode=0710"])
    out = run_out(runk, bundle, cid, "grep ' /run ' /proc/self/mountinfo; stat -c %a /run; df -k /run | tail -1")
    m = mount_at(out, "/run")
    assert m["fstype"] == "tmpfs" and {"nosuid", "nodev", "noexec", "rw"} <= m["opts"]
    assert {"size=1024k", "mode=710"} <= m["super"]
    lines = out.splitlines()
    assert lines[1] == "710"
    assert lines[2].split()[1] == "1024"


def test_tmpfs_size_is_enforced(runk, bundle, cid, leak_audit):
    add_mount(bundle, "/run", "tmpfs", "tmpfs", ["size=64k"])
    r = run_sh(runk, bundle, cid, "dd if=/dev/zero of=/run/big bs=1k count=200")
    assert r.rc == 1 and "No space left on device" in r.err, r


def test_mounts_applied_in_config_order(runk, bundle, cid, tmp_path, leak_audit):
    a, b = tmp_path / "a", tmp_path / "b"
    for d in (a, b):
        d.mkdir()
        (d / "who").write_text(d.name + "\n")
    os.chmod(tmp_path, 0o755)
    add_mount(bundle, "/home", "bind", str(a), ["bind"])
    add_mount(bundle, "/home", "bind", str(b), ["bind"])  # the later one wins
    add_mount(bundle, "/run", "tmpfs", "tmpfs", [])
    add_mount(bundle, "/run/inner", "bind", str(a), ["bind"])  # needs /run mounted first
    out = run_out(
        runk, bundle, cid, "cat /home/who /run/inner/who; grep -E ' /(home|run|run/inner) ' /proc/self/mountinfo"
    )
    lines = out.splitlines()
    assert lines[:2] == ["b", "a"]
    assert [m["mp"] for m in mountinfo("\n".join(lines[2:]))] == ["/home", "/home", "/run", "/run/inner"]


def test_tmpcopyup_keeps_the_directory_content(runk, bundle, cid, leak_audit):
    add_mount(bundle, "/etc", "tmpfs", "tmpfs", ["tmpcopyup", "mode=755"])
    out = run_out(
        runk,
        bundle,
        cid,
        "grep ' /etc ' /proc/self/mountinfo; head -1 /etc/passwd; echo new >/etc/added && cat /etc/added",
    )
    assert mount_at(out, "/etc")["fstype"] == "tmpfs"
    assert out.splitlines()[1:] == ["root:x:0:0:root:/root:/bin/sh", "new"]
    assert not os.path.exists(os.path.join(bundle.rootfs, "etc", "added"))


def test_readonly_root(runk, bundle, cid, leak_audit):
    r = run_sh(runk, bundle, cid, "cat /proc/self/mountinfo; touch /x")
    assert r.rc == 1 and "Read-only file system" in r.err, r
    assert "ro" in mount_at(r.out, "/")["opts"]
    # mounts on top of a read-only root stay writable
    assert run_out(runk, bundle, cid + "b", "echo ok >/dev/shm/f && cat /dev/shm/f") == "ok\n"


def test_writable_root(runk, bundle, cid, leak_audit):
    rootfs = bundle.own_rootfs()
    bundle.config["root"]["readonly"] = False
    out = run_out(runk, bundle, cid, "cat /proc/self/mountinfo; echo hi >/written-by-test")
    assert "rw" in mount_at(out, "/")["opts"]
    with open(os.path.join(rootfs, "written-by-test")) as f:
        assert f.read() == "hi\n"


def test_no_pivot(runk, bundle, cid, leak_audit):
    out = run_out(runk, bundle, cid, "ls /; grep -c . /proc/self/mountinfo; cat /proc/self/mountinfo", "--no-pivot")
    lines = out.splitlines()
    assert sorted(set(lines) & {"bin", "etc", "proc", "work", "usr", "dev"}) == ["bin", "dev", "etc", "proc", "usr"]
    mounts = mountinfo(out)
    assert mount_at(out, "/")["root"] == os.path.realpath(bundle.rootfs)
    assert {"/proc", "/dev", "/dev/pts", "/sys"} <= {m["mp"] for m in mounts}


@pytest.mark.parametrize("userns", [False, True])
def test_no_pivot_keeps_no_host_procfs_or_sysfs_in_the_namespace(runk, bundle, cid, userns, leak_audit):
    """--no-pivot moves the rootfs over the host's / rather than detaching it: the host's procfs
    and sysfs stay in the container's mount namespace, where the kernel counts them as visible
    when the container asks for a fresh procfs or sysfs. runk detaches them first (runc), or, in
    a user namespace where the kernel locked them, covers them with a tmpfs."""
    if userns:
        set_ns(bundle, "user")
        bundle.config["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
        bundle.config["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    bundle.args("sleep", "1000").write()
    r = runk("run", "-d", "--no-pivot", "--bundle", bundle.path, cid)
    assert r.rc == 0, r
    try:
        pid = runk.state(cid)["pid"]
        mounts = ns_mounts(pid)
        # the container's own /proc and /sys, nothing of the host's
        assert exposed_pseudo_fs(mounts) == [("/proc", "proc"), ("/sys", "sysfs")], mounts
        # and the host's mounts are untouched
        with open("/proc/self/mountinfo") as f:
            host = mountinfo(f.read())
        assert {"/proc", "/sys"} <= {m["mp"] for m in host}
    finally:
        runk("delete", "--force", cid)


def test_read_only_dev_and_tmpfs_are_filled_then_made_read_only(runk, bundle, cid, leak_audit):
    """A read-only /dev or tmpfs is mounted writable, gets what runk puts in it (device nodes,
    /dev/pts, symlinks, the mount point of a later mount, tmpcopyup's copy) and is remounted
    read-only at the end, as runc does."""
    for m in bundle.config["mounts"]:
        if m["destination"] == "/dev":
            m["options"].append("ro")
    add_mount(bundle, "/run", "tmpfs", "tmpfs", ["ro", "nosuid"])
    add_mount(bundle, "/run/lock", "tmpfs", "tmpfs", ["ro"])  # its mount point is made in /run
    add_mount(bundle, "/etc", "tmpfs", "tmpfs", ["ro", "tmpcopyup"])
    r = run_sh(
        runk,
        bundle,
        cid,
        "cat /proc/self/mountinfo; ls /dev; head -1 /etc/passwd; "
        "echo x >/dev/null && echo null=ok; touch /dev/x; echo dev=$?; "
        "touch /run/x; echo run=$?; touch /etc/x; echo etc=$?",
    )
    assert r.rc == 0, r
    for mp in ("/dev", "/run", "/run/lock", "/etc"):
        assert "ro" in mount_at(r.out, mp)["opts"], (mp, r.out)
    assert "nosuid" in mount_at(r.out, "/dev")["opts"] and "nosuid" in mount_at(r.out, "/run")["opts"]
    assert "rw" in mount_at(r.out, "/dev/pts")["opts"] and "rw" in mount_at(r.out, "/dev/shm")["opts"]
    lines = r.out.splitlines()
    assert {"null", "zero", "urandom", "tty", "pts", "ptmx", "fd", "stdin", "shm"} <= set(lines)
    assert "root:x:0:0:root:/root:/bin/sh" in lines
    assert {"null=ok", "dev=1", "run=1", "etc=1"} <= set(lines)
    assert r.err.count("Read-only file system") == 3, r


def test_bind_onto_root_first_becomes_the_root(runk, bundle, cid, tmp_path, leak_audit):
    """A bind mount on / ahead of the others covers the rootfs: the later mounts, pivot_root and
    the exec fifo's /proc go to it (runc takes it as the new root the same way)."""
    other = str(tmp_path / "other")
    subprocess.run(["cp", "-a", bundle.rootfs, other], check=True)
    with open(os.path.join(other, "marker"), "w") as f:
        f.write("the bound root\n")
    bundle.config["mounts"].insert(0, {"destination": "/", "type": "bind", "source": other, "options": ["rbind"]})
    out = run_out(runk, bundle, cid, "cat /marker; cat /proc/self/mountinfo; ls /dev/null /dev/pts")
    assert out.splitlines()[0] == "the bound root"
    root = mount_at(out, "/")
    assert root["root"] == other and "ro" in root["opts"]  # root.readonly applies to it
    assert {"/proc", "/dev", "/dev/pts", "/sys"} <= {m["mp"] for m in mountinfo(out)}
    assert os.listdir(os.path.join(other, "dev")) == []  # /dev's nodes went to its tmpfs


def test_bind_onto_root_after_proc_is_refused(runk, bundle, cid, tmp_path, leak_audit):
    """Behind the /proc mount, a mount on / would hide it (runc then fails at exec, after
    writing /dev's nodes into the bound directory): refused naming the field, nothing written."""
    other = tmp_path / "other"
    (other / "dev").mkdir(parents=True)
    add_mount(bundle, "/", "bind", str(other), ["rbind"])
    bundle.write()
    r = runk("run", "--bundle", bundle.path, cid)
    n = len(bundle.config["mounts"]) - 1
    assert r.rc == 1, r
    assert f'mounts[{n}].destination: \\"/\\" would cover the /proc mount before it' in r.err, r
    assert os.listdir(other / "dev") == []
    assert runk("state", cid).rc == 1


@pytest.mark.parametrize("prop,optional", [("rshared", "shared:"), ("rslave", None), ("rprivate", None)])
def test_rootfs_propagation_on_private_host_mount(runk, bundle, cid, prop, optional, leak_audit):
    bundle.config["linux"]["rootfsPropagation"] = prop
    out = run_out(runk, bundle, cid, "cat /proc/self/mountinfo")
    for m in mountinfo(out):
        tags = [t.split(":")[0] + ":" for t in m["optional"]]
        if optional:
            assert optional in tags, (m, out)  # the spec: the whole tree gets it
        else:
            assert tags == [], (m, out)


@pytest.mark.parametrize("prop", ["rslave", "rprivate", "rshared"])
def test_rootfs_propagation_from_a_shared_host_mount(runk, bundle, cid, prop, leak_audit, host_mounts):
    """The rootfs is a shared mount on the host. rslave: host mounts below it appear in the
    container; rprivate: they do not. Nothing the container mounts comes back to the host."""
    rootfs = bundle.own_rootfs()
    host_mounts("--bind", rootfs, rootfs)
    subprocess.run(["mount", "--make-shared", rootfs], check=True)
    bundle.config["linux"]["rootfsPropagation"] = prop
    with open("/proc/self/mountinfo") as f:
        group = [l.split()[6] for l in f if l.split()[4] == rootfs][-1]
    assert group.startswith("shared:")
    with running(runk, bundle, cid) as pid:
        root = mount_at(open(f"/proc/{pid}/mountinfo").read(), "/")
        if prop == "rslave":
            assert "master:" + group.split(":")[1] in root["optional"]
        elif prop == "rprivate":
            assert root["optional"] == []
        else:
            assert [t for t in root["optional"] if t.startswith("shared:")]
        host_mounts("-t", "tmpfs", "-o", "size=1m", "late", os.path.join(rootfs, "home"))
        seen = wait_for(lambda: " /home " in open(f"/proc/{pid}/mountinfo").read(), timeout=0.5)
        assert bool(seen) == (prop == "rslave")
        with open("/proc/self/mountinfo") as f:
            host_mps = [l.split()[4] for l in f]
        assert os.path.join(rootfs, "proc") not in host_mps and os.path.join(rootfs, "dev") not in host_mps


@pytest.mark.parametrize("opt,tag", [("shared", "shared:"), ("private", None), ("unbindable", "unbindable")])
def test_mount_propagation_option(runk, bundle, cid, opt, tag, leak_audit):
    add_mount(bundle, "/run", "tmpfs", "tmpfs", [opt])
    out = run_out(runk, bundle, cid, "grep ' /run ' /proc/self/mountinfo")
    tags = [t.split(":")[0] + (":" if ":" in t else "") for t in mount_at(out, "/run")["optional"]]
    assert tags == ([tag] if tag else [])


def test_symlink_destinations_cannot_leave_the_rootfs(runk, bundle, cid, tmp_path, leak_audit):
    rootfs = bundle.own_rootfs()
    outside_abs = tmp_path / "outside-abs"
    outside_rel = f"/tmp/runk-escape-{cid}"
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep").write_text("host data\n")
    os.symlink(str(outside_abs), os.path.join(rootfs, "esc-abs"))
    os.symlink("../../../../../../../../.." + outside_rel, os.path.join(rootfs, "esc-rel"))
    os.symlink(str(victim), os.path.join(rootfs, "esc-victim"))
    add_mount(bundle, "/esc-abs/sub", "tmpfs", "tmpfs", [])
    add_mount(bundle, "/esc-rel", "tmpfs", "tmpfs", [])
    add_mount(bundle, "/esc-victim", "tmpfs", "tmpfs", [])
    add_mount(bundle, "/esc-victim/new", "bind", str(victim), ["bind"])
    out = run_out(runk, bundle, cid, "cat /proc/self/mountinfo; ls /esc-victim")
    # nothing created, mounted or hidden on the host
    assert not outside_abs.exists() and not os.path.lexists(outside_rel)
    assert sorted(os.listdir(victim)) == ["keep"] and (victim / "keep").read_text() == "host data\n"
    # the mounts landed inside the rootfs, where the links resolve when the rootfs is /
    mps = {m["mp"] for m in mountinfo(out)}
    assert {str(outside_abs / "sub"), outside_rel, str(victim), str(victim / "new")} <= mps
    assert os.path.isdir(os.path.join(rootfs, str(outside_abs / "sub").lstrip("/")))
    assert os.path.isdir(os.path.join(rootfs, outside_rel.lstrip("/")))


def test_symlink_parent_of_bind_file_cannot_leave_the_rootfs(runk, bundle, cid, hostdir, tmp_path, leak_audit):
    rootfs = bundle.own_rootfs()
    os.symlink("/../" + str(tmp_path / "elsewhere"), os.path.join(rootfs, "etc", "link"))
    add_mount(bundle, "/etc/link/deep/file", "bind", str(hostdir / "hello"), ["bind"])
    assert run_out(runk, bundle, cid, "cat /etc/link/deep/file") == "from the host\n"
    assert not (tmp_path / "elsewhere").exists()


@pytest.mark.parametrize("what", ["symlink", "file"])
@pytest.mark.parametrize("fstype", ["proc", "sysfs"])
def test_proc_and_sysfs_onto_a_symlink_refused(runk, runc, bundle, cid, fstype, what, tmp_path, leak_audit):
    """A symlink or a file where procfs or sysfs goes is refused, in runc's words (its suite
    greps them: mask.bats and mounts.bats "/proc is a symlink")."""
    rootfs = bundle.own_rootfs()
    dest = "/proc" if fstype == "proc" else "/sys"
    os.rmdir(os.path.join(rootfs, dest[1:]))
    if what == "symlink":
        os.symlink(str(tmp_path), os.path.join(rootfs, dest[1:]))
    else:
        open(os.path.join(rootfs, dest[1:]), "w").close()
    # as logged: the quotes escaped in the msg="..." field
    want = f'filesystem \\"{fstype}\\" must be mounted on ordinary directory'
    r = run_sh(runk, bundle, cid, "echo should-not-run")
    assert r.rc == 1 and "should-not-run" not in r.out, r
    assert want in r.err, r
    assert not os.path.exists(os.path.join(runk.root, cid))
    assert os.listdir(tmp_path) == ["bundle"]
    rc = run_sh(runc, bundle, cid, "echo should-not-run")
    assert rc.rc == 1 and want in rc.err, rc


def test_bad_mount_source_refused(runk, bundle, cid, leak_audit):
    add_mount(bundle, "/home", "bind", "/no/such/source", ["rbind"])
    r = run_sh(runk, bundle, cid, "echo should-not-run")
    assert r.rc == 1 and "should-not-run" not in r.out
    assert "stat /no/such/source: no such file or directory" in r.err, r


def _bind_flags(runk, bundle, cid, src: str, options: list[str]):
    bundle.config["mounts"] = [m for m in bundle.config["mounts"] if m["destination"] != "/mnt"]
    add_mount(bundle, "/mnt", "bind", src, options)
    r = run_sh(runk, bundle, cid, "awk '$2 == \"/mnt\" { print $4 }' /proc/self/mounts")
    return r, set(r.out.strip().split(","))


@pytest.mark.parametrize("userns", [False, True])
def test_bind_options_against_the_source_flags(runk, bundle, cid, tmp_path, userns, leak_audit, host_mounts):
    """runc's rules for a bind's options over its source's flags: bare "bind" keeps them all;
    with options the mount gets exactly those (unnamed flags cleared, atime kept), except that
    in a user namespace the source's lockable flags (ro, nosuid, nodev, noexec, atime) are kept
    unless cleared explicitly, which is refused (EPERM), as the kernel locks them there."""
    src = str(tmp_path / "src")
    os.mkdir(src)
    os.chmod(tmp_path, 0o755)
    host_mounts("-t", "tmpfs", "-o", "size=1m", "bindflags", src)
    if userns:
        set_ns(bundle, "user")
        bundle.config["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
        bundle.config["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]

    def source(flags: str) -> None:
        subprocess.run(["mount", "--bind", "-o", "remount,diratime,atime,strictatime", src], check=True)
        subprocess.run(["mount", "--bind", "-o", f"remount,{flags}", src], check=True)

    source("ro,noexec,nodiratime")
    r, got = _bind_flags(runk, bundle, cid, src, ["bind"])
    assert r.rc == 0 and {"ro", "noexec", "nodiratime"} <= got, r
    r, got = _bind_flags(runk, bundle, cid + "a", src, ["bind", "dev"])
    assert r.rc == 0 and "nodiratime" in got, r
    if userns:
        assert {"ro", "noexec"} <= got, r
    else:
        assert "rw" in got and "noexec" not in got, r
    source("ro")
    r, got = _bind_flags(runk, bundle, cid + "b", src, ["bind", "nosuid", "nodev"])
    assert r.rc == 0 and {"nosuid", "nodev", "ro" if userns else "rw"} <= got, r
    r, got = _bind_flags(runk, bundle, cid + "c", src, ["bind", "rw", "nosuid"])
    if userns:
        assert r.rc == 1 and "cannot clear locked flags): operation not permitted" in r.err, r
    else:
        assert r.rc == 0 and {"rw", "nosuid"} <= got, r
    source("nodiratime")
    r, got = _bind_flags(runk, bundle, cid + "d", src, ["bind", "strictatime"])
    if userns:
        assert r.rc == 1 and "cannot change locked atime flags): operation not permitted" in r.err, r
    else:
        assert r.rc == 0 and "nodiratime" not in got and "relatime" not in got, r
