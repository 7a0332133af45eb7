"""config.process as the workload sees it: args, env, cwd, user and groups, umask, rlimits,
oom_score_adj, no_new_privs, the five capability sets, signal masks, and the exec errors."""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile

import pytest

from tests.helpers import run_out, run_sh, status_fields


def test_args_reach_the_program_verbatim(runk, bundle, cid, leak_audit):
    bundle.args("printf", "[%s]", "a b", "", "$HOME", "*", "ü").write()
    r = runk("run", "--bundle", bundle.path, cid)
    assert r.rc == 0 and r.out == "[a b][][$HOME][*][ü]", r


def test_env_is_exactly_the_config_plus_home(runk, bundle, cid, leak_audit):
    bundle.config["process"]["env"] = ["PATH=/bin:/usr/bin", "A=1", "SPACED=x y", "EMPTY="]
    bundle.args("env").write()
    r = runk("run", "--bundle", bundle.path, cid)
    assert r.rc == 0, r
    assert r.out.splitlines() == ["PATH=/bin:/usr/bin", "A=1", "SPACED=x y", "EMPTY=", "HOME=/root"]


def test_home_comes_from_the_containers_passwd(runk, bundle, cid, leak_audit):
    bundle.config["process"]["user"] = {"uid": 1, "gid": 1}
    bundle.config["process"]["env"] = ["PATH=/usr/bin"]
    bundle.args("env").write()
    assert runk("run", "--bundle", bundle.path, cid).out.splitlines() == ["PATH=/usr/bin", "HOME=/usr/sbin"]


def test_home_in_config_wins(runk, bundle, cid, leak_audit):
    bundle.config["process"]["env"] = ["HOME=/elsewhere"]
    bundle.args("/usr/bin/env").write()
    assert runk("run", "--bundle", bundle.path, cid).out == "HOME=/elsewhere\n"


def test_cwd(runk, bundle, cid, leak_audit):
    bundle.config["process"]["cwd"] = "/etc"
    assert run_out(runk, bundle, cid, "pwd; ls passwd") == "/etc\npasswd\n"


def test_missing_cwd_is_created(runk, bundle, cid, leak_audit):
    rootfs = bundle.own_rootfs()
    bundle.config["process"]["cwd"] = "/work/dir"
    assert run_out(runk, bundle, cid, "pwd") == "/work/dir\n"
    assert os.path.isdir(os.path.join(rootfs, "work", "dir"))


def test_user_group_and_additional_groups(runk, bundle, cid, leak_audit):
    bundle.config["process"]["user"] = {"uid": 1000, "gid": 1001, "additionalGids": [5, 2000]}
    out = run_out(runk, bundle, cid, "id; grep -E '^(Uid|Gid|Groups):' /proc/self/status")
    lines = out.splitlines()
    assert lines[0] == "uid=1000 gid=1001 groups=5(tty),2000"
    st = status_fields("\n".join(lines[1:]))
    assert st["Uid"] == "1000 1000 1000 1000" and st["Gid"] == "1001 1001 1001 1001"
    assert st["Groups"] == "5 2000"


def test_root_has_no_supplementary_groups(runk, bundle, cid, leak_audit):
    out = run_out(runk, bundle, cid, "grep -E '^(Uid|Gid|Groups):' /proc/self/status")
    st = status_fields(out)
    assert st["Uid"] == "0 0 0 0" and st["Gid"] == "0 0 0 0" and st["Groups"] == ""


def test_non_root_user_cannot_write_root_owned_files(runk, bundle, cid, leak_audit):
    bundle.config["process"]["user"] = {"uid": 1000, "gid": 1000}
    r = run_sh(runk, bundle, cid, "echo x >/dev/shm/mine && echo x >>/etc/passwd")
    assert (r.rc == 1 and "Permission denied" in r.err) or "Read-only" in r.err, r


@pytest.mark.parametrize("umask,mode", [(None, "644"), (0o077, "600"), (0o002, "664")])
def test_umask(runk, bundle, cid, umask, mode, leak_audit):
    if umask is not None:
        bundle.config["process"]["user"]["umask"] = umask
    out = run_out(runk, bundle, cid, "umask; touch /dev/shm/f; stat -c %a /dev/shm/f")
    assert out.split() == ["%04o" % (0o022 if umask is None else umask), mode]


def test_rlimits(runk, bundle, cid, leak_audit):
    bundle.config["process"]["rlimits"] = [
        {"type": "RLIMIT_NOFILE", "soft": 100, "hard": 200},
        {"type": "RLIMIT_CORE", "soft": 0, "hard": 4096},
        {"type": "RLIMIT_NPROC", "soft": 500, "hard": 600},
    ]
    out = run_out(
        runk,
        bundle,
        cid,
        "ulimit -n; ulimit -Hn; ulimit -c; ulimit -Hc; ulimit -u; ulimit -Hu; "
        "grep -E '^Max (open files|core file size|processes)' /proc/self/limits",
    )
    lines = out.splitlines()
    assert lines[:6] == ["100", "200", "0", "8", "500", "600"]  # ulimit -c counts 512-byte blocks
    limits = {l[:26].strip(): l[26:].split()[:2] for l in lines[6:]}
    assert limits == {
        "Max core file size": ["0", "4096"],
        "Max processes": ["500", "600"],
        "Max open files": ["100", "200"],
    }


def test_rlimit_above_the_hosts_hard_limit_fails(runk, bundle, cid, leak_audit):
    import resource

    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    caps = status_fields(open("/proc/self/status").read())["CapEff"]
    if int(caps, 16) & (1 << 24) or hard == resource.RLIM_INFINITY:
        pytest.skip("the runtime has CAP_SYS_RESOURCE or no hard nofile limit: it can raise any limit")
    bundle.config["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": hard + 10, "hard": hard + 10}]
    r = run_sh(runk, bundle, cid, "echo should-not-run")
    assert r.rc == 1 and "should-not-run" not in r.out, r
    assert "error setting rlimit type 7: operation not permitted" in r.err, r
    assert not os.path.exists(os.path.join(runk.root, cid))


@pytest.mark.parametrize("adj", [0, 500, 1000])
def test_oom_score_adj(runk, bundle, cid, adj, leak_audit):
    bundle.config["process"]["oomScoreAdj"] = adj
    assert run_out(runk, bundle, cid, "cat /proc/self/oom_score_adj") == f"{adj}\n"


@pytest.mark.parametrize("nnp", [True, False])
def test_no_new_privileges(runk, bundle, cid, nnp, leak_audit):
    bundle.config["process"]["noNewPrivileges"] = nnp
    out = run_out(runk, bundle, cid, "grep NoNewPrivs /proc/self/status")
    assert status_fields(out)["NoNewPrivs"] == ("1" if nnp else "0")


def _mask(*bits: int) -> str:
    return f"{sum(1 << b for b in set(bits)):016x}"


CHOWN, KILL, NET_BIND, NET_RAW, AUDIT_WRITE = 0, 5, 10, 13, 29


def _caps(bundle, **sets) -> None:
    names = {
        CHOWN: "CAP_CHOWN",
        KILL: "CAP_KILL",
        NET_BIND: "CAP_NET_BIND_SERVICE",
        NET_RAW: "CAP_NET_RAW",
        AUDIT_WRITE: "CAP_AUDIT_WRITE",
    }
    bundle.config["process"]["capabilities"] = {k: [names[b] for b in v] for k, v in sets.items()}


def _cap_lines(out: str) -> dict[str, str]:
    st = status_fields(out)
    return {k: st[k] for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")}


def test_capabilities_of_root_default_spec(runk, bundle, cid, leak_audit):
    out = run_out(runk, bundle, cid, "cat /proc/self/status")
    m = _mask(KILL, NET_BIND, AUDIT_WRITE)
    assert _cap_lines(out) == {"CapInh": _mask(), "CapPrm": m, "CapEff": m, "CapBnd": m, "CapAmb": _mask()}


def test_capabilities_all_five_sets_for_a_non_root_user(runk, bundle, cid, leak_audit):
    bundle.config["process"]["user"] = {"uid": 1000, "gid": 1000}
    _caps(
        bundle,
        bounding=[CHOWN, KILL, NET_BIND, NET_RAW],
        effective=[NET_BIND, KILL],
        permitted=[NET_BIND, KILL],
        inheritable=[NET_BIND, KILL, NET_RAW],
        ambient=[NET_BIND],
    )
    out = run_out(runk, bundle, cid, "cat /proc/self/status")
    # after execve, a non-root user without file caps keeps only the ambient caps (capabilities(7))
    assert _cap_lines(out) == {
        "CapInh": _mask(NET_BIND, KILL, NET_RAW),
        "CapPrm": _mask(NET_BIND),
        "CapEff": _mask(NET_BIND),
        "CapBnd": _mask(CHOWN, KILL, NET_BIND, NET_RAW),
        "CapAmb": _mask(NET_BIND),
    }


def test_non_root_without_ambient_has_no_effective_caps(runk, bundle, cid, leak_audit):
    bundle.config["process"]["user"] = {"uid": 1000, "gid": 1000}
    _caps(bundle, bounding=[CHOWN, KILL], effective=[CHOWN, KILL], permitted=[CHOWN, KILL])
    out = run_out(runk, bundle, cid, "cat /proc/self/status; chown 1 /dev/shm || echo chown-refused")
    caps = _cap_lines(out)
    assert caps["CapEff"] == caps["CapPrm"] == caps["CapAmb"] == caps["CapInh"] == _mask()
    assert caps["CapBnd"] == _mask(CHOWN, KILL)
    assert out.splitlines()[-1] == "chown-refused"


def test_capabilities_take_effect(runk, bundle, cid, leak_audit):
    """root without CAP_CHOWN cannot chown; with it, it can."""
    _caps(bundle, bounding=[KILL], effective=[KILL], permitted=[KILL])
    r = run_sh(runk, bundle, cid, "touch /dev/shm/f && chown 1 /dev/shm/f")
    assert r.rc == 1 and "Operation not permitted" in r.err, r
    _caps(bundle, bounding=[CHOWN], effective=[CHOWN], permitted=[CHOWN])
    assert run_out(runk, bundle, cid + "b", "touch /dev/shm/f && chown 1 /dev/shm/f && stat -c %u /dev/shm/f") == "1\n"


def test_unavailable_capability_warns_and_runs(runk, bundle, cid, leak_audit):
    """CAP_SYS_RESOURCE is not in this host's bounding set: the spec says log a warning, do not fail."""
    if int(status_fields(open("/proc/self/status").read())["CapBnd"], 16) & (1 << 24):
        pytest.skip("the host can grant CAP_SYS_RESOURCE")
    bundle.config["process"]["capabilities"]["bounding"].append("CAP_SYS_RESOURCE")
    r = run_sh(runk, bundle, cid, "grep CapBnd /proc/self/status")
    assert r.rc == 0, r
    assert "level=warning" in r.err and "CAP_SYS_RESOURCE" in r.err
    assert status_fields(r.out)["CapBnd"] == _mask(KILL, NET_BIND, AUDIT_WRITE)


def test_signal_dispositions_and_mask_are_clean(runk, bundle, cid, leak_audit):
    """Even when runk itself is started with signals ignored and blocked (as from a shell that
    traps them), the workload starts with nothing ignored or blocked, like runc."""
    # no shell: busybox sh itself ignores SIGQUIT
    bundle.args("grep", "-E", "^Sig(Ign|Blk):", "/proc/self/status").write()

    def hostile() -> None:
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)
        signal.signal(signal.SIGUSR2, signal.SIG_IGN)
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1, signal.SIGTERM})

    with tempfile.TemporaryFile() as out:
        rc = subprocess.run(
            [runk.binary, "--root", runk.root, "run", "--bundle", bundle.path, cid],
            stdout=out,
            stderr=subprocess.PIPE,
            preexec_fn=hostile,
            timeout=30,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "RUNK_TEST_ROOT": runk.root},
        ).returncode
        out.seek(0)
        st = status_fields(out.read().decode())
    assert rc == 0
    assert st == {"SigIgn": "0000000000000000", "SigBlk": "0000000000000000"}


@pytest.mark.parametrize(
    "arg0,msg,code",
    [
        ("nosuchcmd", 'exec: "nosuchcmd": executable file not found in $PATH', 127),
        ("/no/such/binary", 'exec: "/no/such/binary": stat /no/such/binary: no such file or directory', 127),
        ("/etc/passwd", 'exec: "/etc/passwd": permission denied', 126),
        ("/etc", 'exec: "/etc": permission denied', 126),
    ],
)
def test_unrunnable_program_reports_runc_message_at_start(runk, bundle, cid, arg0, msg, code, leak_audit):
    """The message is runc's; it comes when the process would start (runtime.md: process.args are
    not applied before start), with podman's exit codes for it: 127 not found, 126 not runnable."""
    bundle.args(arg0).write()
    r = runk("run", "--bundle", bundle.path, cid)
    assert r.rc == code, r
    assert r.err.strip().splitlines()[-1] == msg, r
    assert not os.path.exists(os.path.join(runk.root, cid))


@pytest.mark.parametrize(
    "arg0,msg",
    [
        ("nosuchcmd", 'exec: \\"nosuchcmd\\": executable file not found in $PATH'),
        ("/etc/passwd", 'exec: \\"/etc/passwd\\": permission denied'),
    ],
)
def test_exec_of_unrunnable_program_fails_at_once_with_255(runk, bundle, cid, arg0, msg, leak_audit):
    bundle.args("sleep", "100").write()
    runk("run", "-d", "--bundle", bundle.path, cid, check=True)
    r = runk("exec", cid, arg0)
    assert r.rc == 255, r
    assert f"exec failed: unable to start container process: {msg}" in r.err, r
    runk("delete", "--force", cid, check=True)


def test_exit_status_and_output_streams(runk, bundle, cid, leak_audit):
    r = run_sh(runk, bundle, cid, "echo out; echo err >&2; exit 42")
    assert (r.rc, r.out) == (42, "out\n") and r.err.endswith("err\n"), r
