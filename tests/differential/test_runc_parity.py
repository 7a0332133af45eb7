"""The same bundle under runc (Debian's 1.1.5, the reference) and runk: what the container sees,
the state document, exit codes and error messages must match.

Configs are runc's default spec (namespaces, masked and readonly paths, capabilities, rlimits)
without cgroup resources, the cgroup mount and seccomp (those land with their own issues).
Where the two must differ, the test says why.
"""

from __future__ import annotations

import os
import re
import shutil

import pytest

from tests.helpers import drop_ns, exposed_pseudo_fs, ns_mounts, status_fields, wait_status

STATUS_KEYS = (
    "CapInh",
    "CapPrm",
    "CapEff",
    "CapBnd",
    "CapAmb",
    "NoNewPrivs",
    "Seccomp",
    "SigIgn",
    "SigBlk",
    "Uid",
    "Gid",
    "Groups",
)


@pytest.fixture
def cfg(bundle):
    """The bundle's config, made runtime-neutral."""
    c = bundle.config
    c["linux"].pop("resources", None)
    c["mounts"] = [m for m in c["mounts"] if m["type"] != "cgroup"]
    c["hostname"] = "parity"
    return c


class Pair:
    def __init__(self, runc, runk, bundle, cid):
        self.rts = {"runc": runc, "runk": runk}
        self.bundle = bundle
        self.cid = cid

    def run(self, *args, script: str | None = None, extra=()):
        """Run the container to completion under both; {name: Result}."""
        if script is not None:
            self.bundle.sh(script)
        elif args:
            self.bundle.args(*args)
        self.bundle.write()
        return {n: rt("run", *extra, "--bundle", self.bundle.path, f"{self.cid}-{n[-1]}") for n, rt in self.rts.items()}

    def same_output(self, *args, script: str | None = None, norm=lambda s: s):
        res = self.run(*args, script=script)
        for n, r in res.items():
            assert r.rc == 0, (n, r)
        got = {n: norm(r.out) for n, r in res.items()}
        assert got["runk"] == got["runc"]
        return got["runk"]


@pytest.fixture
def pair(runc, runk, bundle, cid, cfg):
    return Pair(runc, runk, bundle, cid)


def _status(out: str) -> dict:
    st = status_fields(out)
    return {k: st.get(k) for k in STATUS_KEYS}


def _mountinfo(out: str) -> list[tuple]:
    """Mount point, root, per-mount options, propagation tags, fstype, source, super options;
    no mount ids, parent ids or device numbers."""
    rows = []
    for line in out.splitlines():
        f = line.split()
        sep = f.index("-")
        tags = tuple(sorted(re.sub(r":\d+", "", t) for t in f[6:sep]))
        rows.append(
            (
                f[4],
                f[3],
                tuple(sorted(f[5].split(","))),
                tags,
                f[sep + 1],
                f[sep + 2],
                tuple(sorted(f[sep + 3].split(","))),
            )
        )
    return rows


def _ls_l(out: str) -> list[str]:
    """`ls -l` without dates."""
    return [re.sub(r" +\w{3} +\d+ +[\d:]+ ", " <date> ", " ".join(l.split(" ")) if l else l) for l in out.splitlines()]


VARIANTS = {
    "default": lambda c: None,
    "non-root-ambient": lambda c: (
        c["process"].update(user={"uid": 1000, "gid": 1001, "additionalGids": [5, 2000], "umask": 0o077}),
        c["process"]["capabilities"].update(
            bounding=["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
            effective=["CAP_NET_BIND_SERVICE"],
            permitted=["CAP_NET_BIND_SERVICE", "CAP_KILL"],
            inheritable=["CAP_NET_BIND_SERVICE", "CAP_KILL"],
            ambient=["CAP_NET_BIND_SERVICE"],
        ),
    ),
    "no-nnp-rlimits": lambda c: (
        c["process"].update(noNewPrivileges=False, oomScoreAdj=300),
        c["process"].update(
            rlimits=[
                {"type": "RLIMIT_NOFILE", "soft": 100, "hard": 200},
                {"type": "RLIMIT_CORE", "soft": 0, "hard": 0},
                {"type": "RLIMIT_NPROC", "soft": 300, "hard": 400},
            ]
        ),
    ),
    "no-caps-field": lambda c: c["process"].pop("capabilities"),
    "daemon-user": lambda c: c["process"].update(user={"uid": 1, "gid": 1}),
}


@pytest.mark.parametrize("variant", VARIANTS)
def test_identity_caps_signals_limits(pair, cfg, variant):
    VARIANTS[variant](cfg)
    pair.same_output(script="id; hostname; umask; cat /proc/self/oom_score_adj; echo $HOME; pwd")
    pair.same_output("cat", "/proc/self/status", norm=_status)
    pair.same_output(script="ulimit -a")
    pair.same_output("env")


def test_mountinfo(pair, cfg, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    cfg["mounts"] += [
        {"destination": "/home", "type": "bind", "source": str(src), "options": ["rbind", "ro", "nosuid", "nodev"]},
        {"destination": "/run", "type": "tmpfs", "source": "tmpfs", "options": ["noexec", "size=1m", "mode=0710"]},
        {"destination": "/run/inner", "type": "tmpfs", "source": "inner", "options": ["nodev", "strictatime"]},
    ]
    rows = pair.same_output("cat", "/proc/self/mountinfo", norm=_mountinfo)
    assert ("/home", str(src)) in {r[:2] for r in rows}


def test_mountinfo_writable_root_no_masks(pair, cfg):
    cfg["root"]["readonly"] = False
    cfg["linux"]["maskedPaths"] = []
    cfg["linux"]["readonlyPaths"] = ["/proc/sys"]
    pair.same_output("cat", "/proc/self/mountinfo", norm=_mountinfo)


def test_dev_listing(pair, cfg):
    cfg["linux"]["devices"] = [
        {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 0o640, "uid": 1000, "gid": 5},
        {"path": "/dev/loop-x", "type": "b", "major": 7, "minor": 0, "fileMode": 0o600},
    ]
    pair.same_output(script="ls -l /dev /dev/pts /dev/shm /dev/mqueue", norm=_ls_l)


def test_read_only_dev_and_tmpfs(pair, cfg):
    """Read-only /dev and tmpfs mounts: filled (nodes, links, a later mount point, tmpcopyup's
    copy), then read-only."""
    for m in cfg["mounts"]:
        if m["destination"] == "/dev":
            m["options"].append("ro")
    cfg["mounts"] += [
        {"destination": "/run", "type": "tmpfs", "source": "tmpfs", "options": ["ro", "nosuid"]},
        {"destination": "/run/lock", "type": "tmpfs", "source": "lock", "options": ["ro"]},
        {"destination": "/etc", "type": "tmpfs", "source": "etc", "options": ["ro", "tmpcopyup"]},
    ]
    rows = pair.same_output("cat", "/proc/self/mountinfo", norm=_mountinfo)
    assert {r[0] for r in rows if "ro" in r[2]} >= {"/dev", "/run", "/run/lock", "/etc"}
    out = pair.same_output(
        script="ls -l /dev /run /etc; for d in dev run run/lock etc; do touch /$d/x 2>/dev/null; echo $d=$?; done",
        norm=_ls_l,
    )
    assert {"dev=1", "run=1", "run/lock=1", "etc=1"} <= set(out)


@pytest.mark.parametrize("userns", [False, True])
def test_no_pivot_host_procfs_and_sysfs(runc, runk, bundle, cfg, cid, userns):
    """--no-pivot: the host's procfs and sysfs are detached from the container's mount
    namespace (covered by a tmpfs where a user namespace locked them)."""
    if userns:
        cfg["linux"]["namespaces"].append({"type": "user"})
        cfg["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
        cfg["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    bundle.args("sleep", "1000").write()
    got = {}
    for name, rt in (("runc", runc), ("runk", runk)):
        c = f"{cid}-{name[-1]}"
        r = rt("run", "-d", "--no-pivot", "--bundle", bundle.path, c)
        assert r.rc == 0, (name, r)
        try:
            mounts = ns_mounts(rt.state(c)["pid"])
        finally:
            rt("delete", "--force", c)
        full = sorted((m["mp"], m["fstype"]) for m in mounts if m["fstype"] in ("proc", "sysfs") and m["root"] == "/")
        got[name] = (exposed_pseudo_fs(mounts), full)
    assert got["runk"] == got["runc"]
    assert got["runk"][0] == [("/proc", "proc"), ("/sys", "sysfs")]


def test_bind_onto_root_first(pair, cfg, tmp_path):
    """A bind on / ahead of the other mounts becomes the container's root under both."""
    other = tmp_path / "other"
    shutil.copytree(cfg["root"]["path"], other, symlinks=True)
    (other / "marker").write_text("bound\n")
    cfg["mounts"].insert(0, {"destination": "/", "type": "bind", "source": str(other), "options": ["rbind"]})
    pair.same_output(script="cat /marker; ls / /dev")
    rows = pair.same_output("cat", "/proc/self/mountinfo", norm=_mountinfo)
    assert ("/", str(other)) in {r[:2] for r in rows}


def test_namespaces_shared_and_new(pair, cfg):
    """Which namespaces are the host's: the same under both."""
    drop_ns(pair.bundle, "network")
    host = {n: os.readlink(f"/proc/self/ns/{n}") for n in ("net", "ipc", "uts", "mnt", "pid", "user", "cgroup")}
    script = "for n in net ipc uts mnt pid user cgroup; do readlink /proc/self/ns/$n; done"
    res = pair.run(script=script)
    seen = {}
    for name, r in res.items():
        assert r.rc == 0, r
        seen[name] = tuple(v == host[n] for n, v in zip(host, r.out.split()))
    assert seen["runk"] == seen["runc"] == (True, False, False, False, False, True, True)


def test_masked_and_readonly_paths_behave_alike(pair, cfg):
    script = (
        "for p in /proc/keys /proc/timer_list /proc/kcore; do [ -e $p ] && wc -c <$p; done; "
        "ls -A /sys/firmware /proc/acpi 2>&1 | wc -l; "
        "echo 1 >/proc/sys/kernel/domainname 2>/dev/null; echo sys=$?; "
        "echo 1 >/proc/sysrq-trigger 2>/dev/null; echo sysrq=$?; touch /x 2>/dev/null; echo root=$?"
    )
    pair.same_output(script=script)


@pytest.mark.parametrize("annotations", [None, {"org.example/a": "1", "b": "x y"}])
def test_state_document_and_transitions(runc, runk, bundle, cfg, cid, annotations):
    if annotations:
        cfg["annotations"] = annotations
    bundle.args("sleep", "100").write()
    docs = {}
    for name, rt in (("runc", runc), ("runk", runk)):
        c = f"{cid}-{name[-1]}"
        assert rt("create", "--bundle", bundle.path, c).rc == 0
        created = rt.state(c)
        assert rt("start", c).rc == 0
        running = rt.state(c)
        assert rt("kill", c, "KILL").rc == 0
        assert wait_status(rt, c, "stopped") == "stopped"
        stopped = rt.state(c)
        assert rt("delete", c).rc == 0
        docs[name] = (created, running, stopped)
    for a, b in zip(docs["runc"], docs["runk"]):
        assert list(a) == list(b)  # same keys, same order
        for k in ("status", "bundle", "rootfs", "owner"):
            assert a[k] == b[k], k
        assert a.get("annotations") == b.get("annotations")
        assert (a["pid"] == 0) == (b["pid"] == 0)
    assert [d["status"] for d in docs["runk"]] == ["created", "running", "stopped"]


@pytest.mark.parametrize(
    "script,pidns,want",
    [
        ("exit 0", True, 0),
        ("exit 3", True, 3),
        ("exit 255", True, 255),
        ("kill -USR1 $$", False, 128 + 10),
        ("kill -TERM $$", False, 128 + 15),
        ("kill -KILL $$; exit 4", True, 4),  # pid 1 of a pid namespace cannot kill itself
        ("kill -KILL $$", False, 128 + 9),
    ],
)
def test_run_exit_codes(pair, script, pidns, want):
    if not pidns:
        drop_ns(pair.bundle, "pid")
    res = pair.run(script=script)
    assert res["runc"].rc == want
    assert res["runk"].rc == want


def _msg(err: str) -> str:
    """The msg of the last error log line, unescaped."""
    found = re.findall(r'level=error msg="((?:[^"\\]|\\.)*)"', err)
    assert found, err
    return found[-1].replace('\\"', '"').replace("\\\\", "\\")


EXACT = {  # bad config -> same exit code and the very same message (runc -> runk)
    "no-such-command": lambda c: c["process"].update(args=["nosuchcmd"]),
    "no-such-path": lambda c: c["process"].update(args=["/no/such/binary"]),
    "not-executable": lambda c: c["process"].update(args=["/etc/passwd"]),
    "directory": lambda c: c["process"].update(args=["/etc"]),
}
CONTAINED = {  # runk names the JSON field or the step first; runc's words must follow
    "sysctl-not-namespaced": (lambda c: c["linux"].update(sysctl={"kernel.printk": "1"}), None),
    "hostname-without-uts": (
        lambda c: c["linux"].update(namespaces=[n for n in c["linux"]["namespaces"] if n["type"] != "uts"]),
        None,
    ),
    "sysctl-net-in-host-ns": (
        lambda c: (
            c["linux"].update(sysctl={"net.ipv4.ip_forward": "1"}),
            c["linux"].update(namespaces=[n for n in c["linux"]["namespaces"] if n["type"] != "network"]),
        ),
        None,
    ),
    "rlimit-over-hard": (
        lambda c: c["process"].update(rlimits=[{"type": "RLIMIT_NOFILE", "soft": 1 << 30, "hard": 1 << 30}]),
        "error setting rlimit type 7: operation not permitted",
    ),
    "bad-bind-source": (
        lambda c: c["mounts"].append(
            {"destination": "/home", "type": "bind", "source": "/no/such/src", "options": ["rbind"]}
        ),
        "stat /no/such/src: no such file or directory",
    ),
}


@pytest.mark.parametrize("case", EXACT)
def test_bad_program_same_message(pair, cfg, case):
    """runc refuses a program it cannot find or run at create; runk creates the container and
    the process reports runc's very message at start, exiting 127 (not found) or 126 (not
    runnable): runtime.md says process.args are not applied before start, and runtime-tools'
    misc_props needs create to succeed. podman gets the same exit codes either way."""
    EXACT[case](cfg)
    res = pair.run()
    assert res["runc"].rc == 1
    runc_msg = _msg(res["runc"].err).split("unable to start container process: ", 1)[1]
    want = 126 if runc_msg.endswith("permission denied") else 127
    assert res["runk"].rc == want, res["runk"]
    assert res["runk"].err.strip().splitlines()[-1] == runc_msg


@pytest.mark.parametrize("case", CONTAINED)
def test_bad_config_runc_words(pair, cfg, case):
    mutate, core = CONTAINED[case]
    mutate(cfg)
    res = pair.run()
    assert res["runc"].rc == res["runk"].rc == 1
    runc_msg = _msg(res["runc"].err)
    if core is None:
        core = runc_msg.split(": ", 1)[1]  # drop "runc run failed"
    assert core in runc_msg
    assert core in _msg(res["runk"].err)


def test_missing_config_same_message(runc, runk, tmp_path, cid):
    d = tmp_path / "empty"
    d.mkdir()
    msgs = {}
    for name, rt in (("runc", runc), ("runk", runk)):
        r = rt("run", "--bundle", str(d), cid)
        assert r.rc == 1
        msgs[name] = _msg(r.err)
    assert msgs["runk"] == msgs["runc"].replace("runc", "runk")


def test_lifecycle_errors_same_messages(runc, runk, bundle, cfg, cid):
    """Exit codes and texts of refused commands, which tools (podman, containerd) match on."""
    bundle.args("sleep", "100").write()
    seen = {}
    for name, rt in (("runc", runc), ("runk", runk)):
        c = f"{cid}-{name[-1]}"
        out = []

        def note(*args):
            r = rt(*args)
            out.append((args[0], r.rc, _msg(r.err).replace(c, "<id>") if r.rc else ""))

        note("state", "nope")
        note("delete", "nope")
        note("start", "nope")
        note("kill", "nope", "KILL")
        note("create", "--bundle", bundle.path, "bad/id")
        note("create", "--bundle", bundle.path, c)
        note("create", "--bundle", bundle.path, c)  # duplicate
        note("start", c)
        note("start", c)  # already running
        note("delete", c)  # running
        note("kill", c, "NOSUCHSIG")
        note("kill", c, "KILL")
        wait_status(rt, c, "stopped")
        note("kill", c, "KILL")  # not running
        note("kill", "-a", c, "0")  # --all: nothing left to signal is no error
        note("kill", "--all", c, "KILL")
        note("start", c)  # stopped
        note("delete", c)
        note("delete", "--force", "nope")
        seen[name] = [(v, rc, m.replace("runc", "runk")) for v, rc, m in out]
    assert seen["runk"] == seen["runc"]


@pytest.mark.parametrize(
    "env",
    [
        ["PATH=/bin:/usr/bin", "HOME="],
        ["PATH=/bin:/usr/bin", "HOME=/override", "HOME="],
        ["PATH=/bin:/usr/bin", "HOME=", "ONE=two", "ONE=", "HOME=/x"],
        ["HOME=", "PATH=/bin:/usr/bin", "ONE=a", "TWO=b", "ONE=c"],
    ],
)
def test_environment_duplicates_and_empty_home(pair, cfg, env):
    """runc sets the variables in order (the last value wins, each once) and replaces an empty
    HOME with the user's home from the container's passwd."""
    cfg["process"]["env"] = env
    out = pair.same_output("env")
    assert out.count("HOME=") == 1 and "HOME=\n" not in out


@pytest.mark.parametrize("access,want", [("wa", "w=0 r=1"), ("rwa", "w=0 r=0"), ("wx", "w=0 r=1")])
def test_device_access_letters_beyond_rwm(pair, cfg, access, want):
    """runc takes the r, w and m of a device rule's access and ignores other letters (runc's
    update.bats sends "rwa"): /dev/kmsg opens for writing, and for reading only with r."""
    cfg["linux"]["devices"] = [{"path": "/dev/kmsg", "type": "c", "major": 1, "minor": 11, "fileMode": 0o600}]
    cfg["linux"]["resources"] = {
        "devices": [
            {"allow": False, "access": "rwm"},
            {"allow": True, "type": "c", "major": 1, "minor": 11, "access": access},
        ]
    }
    cfg["process"]["capabilities"] = {k: v + ["CAP_SYSLOG"] for k, v in cfg["process"]["capabilities"].items()}
    out = pair.same_output(script="(: >/dev/kmsg) 2>/dev/null; w=$?; (: </dev/kmsg) 2>/dev/null; echo w=$w r=$?")
    assert out.strip() == want


def test_device_access_without_rwm_fails(pair, cfg):
    cfg["linux"]["resources"] = {"devices": [{"allow": True, "type": "c", "major": 1, "minor": 11, "access": "a"}]}
    res = pair.run("true")
    assert res["runc"].rc != 0 and res["runk"].rc != 0
    assert 'linux.resources.devices[0]: invalid device access \\"a\\"' in res["runk"].err


def _pids_of(cmdline: bytes) -> list[int]:
    found = []
    for p in os.listdir("/proc"):
        try:
            with open(f"/proc/{p}/cmdline", "rb") as f:
                if f.read() == cmdline:
                    found.append(int(p))
        except (OSError, ValueError):
            pass
    return found


def test_kill_all_of_stopped_host_pidns_container_reaches_its_cgroup(runc, runk, bundle, cfg, cid):
    """Without a pid namespace a child outlives the init: the container is stopped, and
    kill --all signals what its cgroup still holds (runc 1.1.5), exit 0."""
    import time

    drop_ns(bundle, "pid")
    for n, (name, rt) in enumerate((("runc", runc), ("runk", runk))):
        marker = str(86400 + n + int(cid[-4:], 16) % 1000 * 2)
        bundle.sh(f"sleep {marker} & exit 0").write()
        c = f"{cid}-{name[-1]}"
        try:
            assert rt("create", "--bundle", bundle.path, c).rc == 0
            assert rt("start", c).rc == 0
            wait_status(rt, c, "stopped")
            left = _pids_of(f"sleep\0{marker}\0".encode())
            assert len(left) == 1, name
            r = rt("kill", "--all", c, "KILL")
            assert r.rc == 0, (name, r)
            deadline = time.monotonic() + 10
            while _pids_of(f"sleep\0{marker}\0".encode()) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert _pids_of(f"sleep\0{marker}\0".encode()) == [], name
            assert rt("delete", c).rc == 0
        finally:
            for pid in _pids_of(f"sleep\0{marker}\0".encode()):
                os.kill(pid, 9)
