"""Id-mapped bind mounts (runtime-spec 1.2: mounts[].uidMappings/gidMappings, the idmap and
ridmap options), and bind sources inside the rootfs taken from the container's tree as the
earlier mounts left it.

Checked as a user would: stat of files inside the container (an id-mapped mount shows a file
owned on disk by containerID as hostID, seen through the container's user namespace if it has
one), the owner on the host of a file written through the mount, and /proc/self/mountinfo
("idmapped"). runc 1.1.5 has no id-mapped mounts (it ignores the mappings); runc's main suite
(idmap.bats) is the reference for the semantics.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile

import pytest

from tests.helpers import add_mount, mount_at, run_out, run_sh, set_ns

USERNS = [{"containerID": 0, "hostID": 100000, "size": 65536}]
MAP = [{"containerID": 0, "hostID": 100000, "size": 65536}]


def _idmap(bundle, dest: str, source: str, options=("bind",), uid=MAP, gid=MAP) -> None:
    add_mount(bundle, dest, "bind", source, options)
    m = bundle.config["mounts"][-1]
    if uid is not None:
        m["uidMappings"] = [dict(e) for e in uid]
    if gid is not None:
        m["gidMappings"] = [dict(e) for e in gid]


def _userns(bundle) -> None:
    set_ns(bundle, "user")
    bundle.config["linux"]["uidMappings"] = USERNS
    bundle.config["linux"]["gidMappings"] = USERNS


@pytest.fixture
def src(tmp_path):
    """A host directory with files of several owners: own (0:0), a (100:211), b (101:222)."""
    d = tmp_path / "src"
    d.mkdir()
    for name, uid, gid in (("own", 0, 0), ("a", 100, 211), ("b", 101, 222)):
        (d / name).write_text(name + "\n")
        os.chown(d / name, uid, gid)
    os.chmod(tmp_path, 0o755)
    return d


@pytest.fixture
def host_mounts():
    made = []

    def mount(*args: str) -> None:
        subprocess.run(["mount", *args], check=True)
        made.append(args[-1])

    yield mount
    for target in reversed(made):
        subprocess.run(["umount", "-l", target], check=False)


def test_idmapped_mount_without_userns(runk, bundle, cid, src, leak_audit):
    """0 on disk shows as 100000 through the mapping; a plain bind of the same directory is
    unchanged; the kernel reports the mount idmapped."""
    _idmap(bundle, "/mnt", str(src))
    add_mount(bundle, "/home", "bind", str(src), ["bind"])
    out = run_out(runk, bundle, cid, "stat -c '%n %u %g' /mnt/own /mnt/a /home/own; grep ' /mnt ' /proc/self/mountinfo")
    lines = out.splitlines()
    assert lines[:3] == ["/mnt/own 100000 100000", "/mnt/a 100100 100211", "/home/own 0 0"], out
    assert "idmapped" in mount_at(out, "/mnt")["opts"], out


def test_idmapped_mount_in_a_user_namespace(runk, bundle, cid, src, leak_audit):
    """In a container mapping 0 to 100000, the id-mapped mount shows the disk's owners (0 as
    root) and a file written through it belongs to root on the host, while a plain bind shows
    the overflow id. The owner on disk of the written file is the proof the write went through
    the mapping."""
    _userns(bundle)
    _idmap(bundle, "/mnt", str(src))
    add_mount(bundle, "/home", "bind", str(src), ["bind"])
    out = run_out(runk, bundle, cid, "stat -c '%n %u %g' /mnt/own /mnt/b /home/own; touch /mnt/new")
    overflow = open("/proc/sys/kernel/overflowuid").read().strip()
    assert out.splitlines() == ["/mnt/own 0 0", "/mnt/b 101 222", f"/home/own {overflow} {overflow}"], out
    st = os.stat(src / "new")
    assert (st.st_uid, st.st_gid) == (0, 0)


def test_idmapped_write_of_an_unmapped_user_fails(runk, bundle, cid, src, leak_audit):
    """Without a user namespace the container's root (0) has no id in the mount's mapping (it
    maps 0..65535 on disk to 100000..): creating a file there fails with EOVERFLOW."""
    _idmap(bundle, "/mnt", str(src))
    r = run_sh(runk, bundle, cid, "touch /mnt/new")
    assert r.rc != 0 and "Value too large for defined data type" in r.out + r.err, r
    assert not (src / "new").exists()


@pytest.mark.parametrize("opt", ["idmap", "ridmap"])
def test_idmap_maps_the_top_mount_ridmap_the_whole_tree(runk, bundle, cid, src, tmp_path, opt, leak_audit, host_mounts):
    """rbind with "idmap": only the bind's own mount is mapped, a submount keeps the disk's
    ids; "ridmap" maps every mount of the tree."""
    sub = src / "sub"
    sub.mkdir()
    host_mounts("-t", "tmpfs", "-o", "size=1m", "idmapsub", str(sub))
    (sub / "f").write_text("x")
    os.chown(sub / "f", 100, 211)
    _idmap(bundle, "/mnt", str(src), ["rbind", opt], uid=[{"containerID": 100, "hostID": 1000, "size": 5}])
    bundle.config["mounts"][-1]["gidMappings"] = [{"containerID": 211, "hostID": 2000, "size": 1}]
    out = run_out(runk, bundle, cid, "stat -c '%u %g' /mnt/a /mnt/sub/f")
    top, below = out.splitlines()
    assert top == "1000 2000"
    assert below == ("1000 2000" if opt == "ridmap" else "100 211")


def test_idmap_option_takes_the_containers_user_namespace(runk, bundle, cid, src, leak_audit):
    """ "idmap" without mappings: the container's own user namespace maps the mount (0 on disk
    is the container's root)."""
    _userns(bundle)
    _idmap(bundle, "/mnt", str(src), ["bind", "idmap"], uid=None, gid=None)
    assert run_out(runk, bundle, cid, "stat -c '%u %g' /mnt/own /mnt/a") == "0 0\n100 211\n"


def test_idmap_option_takes_a_joined_user_namespace(runk, bundle, cid, src, tmp_path, leak_audit):
    """Joining a user namespace by path (no mappings in the config): "idmap" maps through it."""
    holder = subprocess.Popen(["unshare", "--user", "sleep", "100"])
    try:
        ns = f"/proc/{holder.pid}/ns/user"
        for _ in range(200):  # until unshare has exec'd sleep in its new user namespace
            if os.readlink(ns) != os.readlink("/proc/self/ns/user"):
                break
            subprocess.run(["sleep", "0.05"])
        for f in ("uid_map", "gid_map"):
            with open(f"/proc/{holder.pid}/{f}", "w") as m:
                m.write("0 200000 65536\n")
        set_ns(bundle, "user", ns)
        _idmap(bundle, "/mnt", str(src), ["bind", "idmap"], uid=None, gid=None)
        assert run_out(runk, bundle, cid, "stat -c '%u %g' /mnt/own /mnt/b") == "0 0\n101 222\n"
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.parametrize(
    ("change", "text"),
    [
        (lambda m: m.update(type="tmpfs", source="tmpfs", options=[]), "only supported for bind-mounts"),
        (lambda m: m.pop("gidMappings"), "must have both uid and gid mappings specified"),
        (lambda m: (m.pop("gidMappings"), m.pop("uidMappings"), m["options"].append("idmap")), "must have both"),
        (lambda m: m["uidMappings"][0].update(size=0), "].uidMappings[0].size: must be at least 1"),
        (lambda m: m["gidMappings"][0].update(hostID=4294967295), "].gidMappings[0].hostID: ids 4294967295-"),
    ],
)
def test_bad_idmapped_mounts_refused(runk, bundle, cid, src, change, text, leak_audit):
    _idmap(bundle, "/mnt", str(src))
    change(bundle.config["mounts"][-1])
    where = f"mounts[{len(bundle.config['mounts']) - 1}]"
    r = run_sh(runk, bundle, cid, "echo should-not-run")
    assert r.rc == 1 and "should-not-run" not in r.out, r
    assert text in r.err and where in r.err, r
    assert not os.path.exists(os.path.join(runk.root, cid))


def test_features_claim_idmap(runk):
    doc = json.loads(runk("features", check=True).out)
    assert doc["linux"]["mountExtensions"]["idmap"]["enabled"] is True
    assert {"idmap", "ridmap"} <= set(doc["mountOptions"])


def _tree(bundle, tmp_path, rootfs: str, opts: str) -> None:
    """runc's mount-order case: a tree of binds at /mnt, then binds whose sources are paths of
    that tree inside the rootfs (host paths, as the config names them) and whose destinations
    are host paths inside the rootfs too."""
    for sub in ("a/x", "b/y", "c/z"):
        d = tmp_path / "bind-src" / sub
        d.mkdir(parents=True)
        (d / "file").write_text(sub + "\n")
    os.chmod(tmp_path / "bind-src", 0o750)  # no way in for a container's mapped root
    os.makedirs(os.path.join(rootfs, "final"), exist_ok=True)
    add_mount(bundle, "/mnt", "bind", str(tmp_path / "bind-src/a"), ["bind"])
    add_mount(bundle, "/mnt/x", "bind", str(tmp_path / "bind-src/b"), ["bind"])
    add_mount(bundle, "/mnt/x/y", "bind", str(tmp_path / "bind-src/c"), ["bind"])
    add_mount(bundle, "/mnt/x/y/z", "bind", str(tmp_path / "bind-src/a"), ["bind"])
    add_mount(bundle, f"{rootfs}/mnt/x/y/z/x", "bind", f"{rootfs}/mnt/x", opts)
    add_mount(bundle, f"{rootfs}/mnt/x/y/z", "bind", f"{rootfs}/mnt/x/y", opts)
    add_mount(bundle, f"{rootfs}/final", "bind", f"{rootfs}/mnt", opts)


@pytest.mark.parametrize("userns", [False, True])
def test_bind_source_inside_the_rootfs_comes_from_earlier_mounts(
    runk, bundle, cid, tmp_path, userns, request, leak_audit
):
    """A bind source inside the rootfs is what the earlier mounts put there, and a destination
    spelled as a host path inside the rootfs is that path in the container (runc)."""
    if userns:
        # a rootfs the container's root (host uid 100000) owns, where it can reach it
        top = tempfile.mkdtemp(prefix="runk-test-idmap-", dir="/var/tmp")
        request.addfinalizer(lambda: shutil.rmtree(top, ignore_errors=True))
        os.chmod(top, 0o755)
        rootfs = os.path.join(top, "rootfs")
        subprocess.run(["cp", "-a", bundle.rootfs, rootfs], check=True)
        subprocess.run(["chown", "-R", "100000:100000", rootfs], check=True)
        bundle.config["root"]["path"] = rootfs
        _userns(bundle)
    else:
        rootfs = bundle.own_rootfs()
    _tree(bundle, tmp_path, rootfs, ["rbind"])
    out = run_out(runk, bundle, cid, "cat /final/x/y/z/z/x/y/z/x/file; grep -c ' /final' /proc/self/mountinfo")
    assert out.splitlines() == ["a/x", "12"], out
    assert not os.path.exists(os.path.join(rootfs, rootfs.lstrip("/")))


def test_idmapped_bind_of_a_source_inside_the_rootfs(runk, bundle, cid, tmp_path, src, leak_audit):
    """An id-mapped bind whose source is an earlier mount of the container."""
    rootfs = bundle.own_rootfs()
    add_mount(bundle, "/mnt", "bind", str(src), ["bind"])
    _idmap(bundle, "/srv", f"{rootfs}/mnt", ["rbind", "idmap"])
    assert run_out(runk, bundle, cid, "stat -c '%u %g' /srv/own /srv/a") == "100000 100000\n100100 100211\n"


def test_bind_source_inside_the_rootfs_never_leaves_it(runk, bundle, cid, tmp_path, leak_audit):
    """A symlink in the image at the source path is followed inside the rootfs, never to the
    host (runk takes such a source from the container's tree): the host's directory of the
    same name stays out of the container."""
    rootfs = bundle.own_rootfs()
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "key").write_text("host secret\n")
    os.symlink(str(secret), os.path.join(rootfs, "peek"))
    add_mount(bundle, "/mnt", "bind", f"{rootfs}/peek", ["bind"])
    r = run_sh(runk, bundle, cid, "cat /mnt/key")
    assert "host secret" not in r.out, r
    assert r.rc == 1 and "no such file or directory" in r.err, r
    # inside the rootfs the same absolute path is what the bind shows
    os.makedirs(os.path.join(rootfs, str(secret).lstrip("/")))
    with open(os.path.join(rootfs, str(secret).lstrip("/"), "key"), "w") as f:
        f.write("image file\n")
    assert run_out(runk, bundle, cid + "b", "cat /mnt/key") == "image file\n"
