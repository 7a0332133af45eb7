"""Namespaces as a user checks them: /proc/self/ns links inside vs the host, joining by path,
user namespaces with id maps, time namespace offsets, and refused paths that leave nothing."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.helpers import drop_ns, ns_link, run_out, run_sh, running, set_ns

ALL = {"pid": "pid", "network": "net", "ipc": "ipc", "uts": "uts", "mount": "mnt", "cgroup": "cgroup", "time": "time"}


def _links(text: str) -> dict[str, str]:
    """`name=link` lines -> {name: link}"""
    return dict(line.split("=", 1) for line in text.split())


def test_every_new_namespace_differs_from_the_host(runk, bundle, cid, leak_audit):
    for t in ALL:
        set_ns(bundle, t)
    names = " ".join(ALL.values())
    out = run_out(runk, bundle, cid, f"for n in {names}; do echo $n=$(readlink /proc/self/ns/$n); done")
    inside = _links(out)
    for name in ALL.values():
        assert inside[name].startswith(f"{name}:["), out
        assert inside[name] != ns_link("self", name), f"{name} namespace is the host's"
    # not asked for: shared with the host
    assert run_out(runk, bundle, cid + "u", "readlink /proc/self/ns/user").strip() == ns_link("self", "user")


@pytest.mark.parametrize("kept", ["network", "ipc", "uts"])
def test_namespace_left_out_is_the_hosts(runk, bundle, cid, kept, leak_audit):
    drop_ns(bundle, kept)
    if kept == "uts":
        bundle.config.pop("hostname", None)
    name = ALL[kept]
    assert run_out(runk, bundle, cid, f"readlink /proc/self/ns/{name}").strip() == ns_link("self", name)


def test_pid_namespace_makes_the_process_pid_1(runk, bundle, cid, leak_audit):
    out = run_out(runk, bundle, cid, "echo $$; ps -o pid,comm")
    lines = out.splitlines()
    assert lines[0] == "1"
    # sh execs its last command: that process is all the container has, and it is pid 1
    assert [l.split() for l in lines[2:]] == [["1", "ps"]], out


@pytest.fixture
def persistent_ns(tmp_path):
    """Namespaces kept alive by a bind mount on a file (what `ip netns add` does), with a
    hostname set in the uts one. Unmounted afterwards."""
    made = []

    def make(kind: str, setup: str = "true") -> str:
        path = str(tmp_path / f"ns-{kind}")
        open(path, "w").close()
        subprocess.run(["unshare", f"--{kind}={path}", "sh", "-c", setup], check=True)
        made.append(path)
        return path

    yield make
    for p in made:
        subprocess.run(["umount", p], check=False)


def test_join_persistent_uts_and_net_namespaces_by_path(runk, bundle, cid, leak_audit, persistent_ns):
    uts = persistent_ns("uts", "hostname joined-uts")
    net = persistent_ns("net")
    set_ns(bundle, "uts", uts)
    set_ns(bundle, "network", net)
    bundle.config.pop("hostname")  # a joined uts namespace keeps its own name
    out = run_out(runk, bundle, cid, "hostname; readlink /proc/self/ns/uts; readlink /proc/self/ns/net")
    host_uts = f"uts:[{os.stat(uts).st_ino}]"
    host_net = f"net:[{os.stat(net).st_ino}]"
    assert out.split() == ["joined-uts", host_uts, host_net]


def test_join_another_containers_namespaces(runk, bundle, cid, leak_audit):
    with running(runk, bundle, cid) as pid:
        bundle.config.pop("hostname")
        for t in ("network", "ipc", "uts"):
            set_ns(bundle, t, f"/proc/{pid}/ns/{ALL[t]}")
        out = run_out(runk, bundle, cid + "b", "hostname; for n in net ipc uts mnt; do readlink /proc/self/ns/$n; done")
        name, net, ipc, uts, mnt = out.split()
        assert name == "runk"  # the first container's
        assert (net, ipc, uts) == tuple(ns_link(pid, n) for n in ("net", "ipc", "uts"))
        assert mnt != ns_link(pid, "mnt") and mnt != ns_link("self", "mnt")  # a new one


USERNS_MAP = [{"containerID": 0, "hostID": 100000, "size": 65536}]


def _userns(bundle) -> None:
    set_ns(bundle, "user")
    bundle.config["linux"]["uidMappings"] = USERNS_MAP
    bundle.config["linux"]["gidMappings"] = USERNS_MAP


def test_user_namespace_maps_root_to_host_id(runk, bundle, cid, tmp_path, leak_audit):
    _userns(bundle)
    data = tmp_path / "data"
    data.mkdir()
    os.chown(data, 100000, 100000)
    # the source sits below root-only (0700) directories the container's root cannot traverse
    # (as runc, runk opens it from outside); /home exists: the rootfs is not the mapped root's
    bundle.config["mounts"].append(
        {"destination": "/home", "type": "bind", "source": str(data), "options": ["rbind", "rw"]}
    )
    out = run_out(
        runk,
        bundle,
        cid,
        "id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map; touch /home/made-inside && mkdir /home/dir",
    )
    lines = out.splitlines()
    assert lines[:2] == ["0", "0"]
    assert [l.split() for l in lines[2:]] == [["0", "100000", "65536"]] * 2
    assert ns_link("self", "user") != ""
    for name in ("made-inside", "dir"):
        st = os.stat(data / name)
        assert (st.st_uid, st.st_gid) == (100000, 100000), name


def test_user_namespace_is_new_and_process_is_unprivileged_outside(runk, bundle, cid, leak_audit):
    _userns(bundle)
    bundle.args("sleep", "1000")
    with running(runk, bundle, cid, "sleep", "1000") as pid:
        assert ns_link(pid, "user") != ns_link("self", "user")
        with open(f"/proc/{pid}/status") as f:
            st = {l.split(":")[0]: l.split()[1:] for l in f}
        assert st["Uid"] == ["100000"] * 4 and st["Gid"] == ["100000"] * 4


def test_user_namespace_unmapped_host_file_shows_as_nobody(runk, bundle, cid, leak_audit):
    _userns(bundle)
    # the rootfs belongs to host root, which is not mapped: it reads as the overflow id
    out = run_out(runk, bundle, cid, "stat -c '%u %g' /bin/busybox")
    assert out.split() == ["65534", "65534"]


def _host_uptime() -> float:
    with open("/proc/uptime") as f:
        return float(f.read().split()[0])


@pytest.mark.parametrize("userns", [False, True])
def test_time_namespace_offsets(runk, bundle, cid, userns, leak_audit):
    """The offsets reach the container's time namespace, also when a new user namespace owns
    it (the parent writes them then: the bootstrap cannot open its own /proc files there)."""
    if not os.path.exists("/proc/self/ns/time"):
        pytest.skip("needs time namespaces (Linux 5.6)")
    set_ns(bundle, "time")
    if userns:
        set_ns(bundle, "user")
        bundle.config["linux"]["uidMappings"] = USERNS_MAP
        bundle.config["linux"]["gidMappings"] = USERNS_MAP
    day = 86400
    bundle.config["linux"]["timeOffsets"] = {
        "boottime": {"secs": 10 * day, "nanosecs": 0},
        "monotonic": {"secs": 3 * day, "nanosecs": 500},
    }
    before = _host_uptime()
    out = run_out(runk, bundle, cid, "cat /proc/uptime; cat /proc/self/timens_offsets; readlink /proc/self/ns/time")
    after = _host_uptime()
    lines = out.splitlines()
    inside = float(lines[0].split()[0])
    assert before + 10 * day - 1 <= inside <= after + 10 * day + 1, (before, inside, after)
    offsets = {l.split()[0]: l.split()[1:] for l in lines[1:3]}
    assert offsets == {"monotonic": [str(3 * day), "500"], "boottime": [str(10 * day), "0"]}
    assert lines[3] != ns_link("self", "time")


def test_time_namespace_with_null_offsets(runk, bundle, cid, leak_audit):
    """timeOffsets null is no offsets (runc; timens.bats "timens with no offsets")."""
    if not os.path.exists("/proc/self/ns/time"):
        pytest.skip("needs time namespaces (Linux 5.6)")
    set_ns(bundle, "time")
    bundle.config["linux"]["timeOffsets"] = None
    out = run_out(runk, bundle, cid, "cat /proc/self/timens_offsets")
    assert out.split() == ["monotonic", "0", "0", "boottime", "0", "0"], out


def test_time_offsets_without_time_namespace_refused(runk, bundle, cid, leak_audit):
    bundle.config["linux"]["timeOffsets"] = {"boottime": {"secs": 10}}
    bundle.write()
    r = runk("run", "--bundle", bundle.path, cid)
    assert r.rc == 1 and "time" in r.err, r


def test_namespace_path_of_wrong_type_refused(runk, bundle, cid, leak_audit):
    set_ns(bundle, "network", f"/proc/{os.getpid()}/ns/uts")
    r = run_sh(runk, bundle, cid, "echo should-not-run")
    assert r.rc == 1 and "should-not-run" not in r.out
    assert "level=error" in r.err and f"/proc/{os.getpid()}/ns/uts" in r.err
    assert "not a network namespace" in r.err, r


def test_namespace_path_that_is_not_a_namespace_refused(runk, bundle, cid, tmp_path, leak_audit):
    plain = tmp_path / "plain"
    plain.write_text("")
    set_ns(bundle, "ipc", str(plain))
    r = run_sh(runk, bundle, cid, "echo should-not-run")
    assert r.rc == 1 and "should-not-run" not in r.out and str(plain) in r.err, r


@pytest.mark.parametrize("nstype", ["network", "user", "mount", "pid"])
def test_nonexistent_namespace_path_refused_and_nothing_left(runk, bundle, cid, nstype, leak_audit):
    set_ns(bundle, nstype, "/run/no-such-dir/ns")
    if nstype == "user":
        bundle.config["linux"]["uidMappings"] = USERNS_MAP
        bundle.config["linux"]["gidMappings"] = USERNS_MAP
    r = run_sh(runk, bundle, cid, "echo should-not-run")
    assert r.rc == 1, r
    assert "/run/no-such-dir/ns: no such file or directory" in r.err
    assert not os.path.exists(os.path.join(runk.root, cid))


def test_user_namespace_read_only_file_bind(runk, bundle, cid, tmp_path, leak_audit):
    _userns(bundle)
    src = tmp_path / "passwd"
    src.write_text("root:x:0:0:from the host:/root:/bin/sh\n")
    os.chmod(src, 0o600)  # readable by host root only, i.e. not by the container
    bundle.config["mounts"].append(
        {"destination": "/etc/passwd", "type": "bind", "source": str(src), "options": ["bind", "ro"]}
    )
    r = run_sh(runk, bundle, cid, "grep ' /etc/passwd ' /proc/self/mountinfo; cat /etc/passwd; echo x >>/etc/passwd")
    assert r.rc == 1, r
    assert " ro," in r.out.splitlines()[0] or " ro " in r.out.splitlines()[0]
    # owned by unmapped host root, mode 0600: the container's root cannot read it, only mount it
    assert "Permission denied" in r.err or "Read-only file system" in r.err
    assert src.read_text() == "root:x:0:0:from the host:/root:/bin/sh\n"
