"""OCI hooks: every phase gets the state on stdin with the status and pid the spec names, in
order, with its args and env, in the namespace the spec says; timeouts kill; poststart and
poststop failures only warn."""

from __future__ import annotations

import json
import os
import socket

import pytest

from tests.helpers import ns_link, wait_file, wait_status

PHASES = ("prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop")
# runtime.md: "creating" is step 2 of the lifecycle; the create-time hooks are steps 3-5, after
# it (runtime-tools hooks_stdin checks prestart for "created"; runc passes "creating")
STATUS = {
    "prestart": "created",
    "createRuntime": "created",
    "createContainer": "created",
    "startContainer": "created",
    "poststart": "running",
    "poststop": "stopped",
}
IN_CONTAINER = {"createContainer", "startContainer"}

RECORD = (
    'cat >"$D/$P.json"; echo "$P" >>"$D/order"; readlink /proc/self/ns/mnt >"$D/$P.mnt"; '
    'readlink /proc/self/ns/uts >"$D/$P.uts"; hostname >"$D/$P.host"; env >"$D/$P.env"; '
    'echo "$0 $*" >"$D/$P.args"'
)


def _hook(phase: str, d: str, script: str = RECORD, **extra) -> dict:
    return {
        "path": "/bin/sh",
        "args": ["sh", "-c", script, "hook-argv0", "a1", "a 2"],
        "env": [f"D={d}", f"P={phase}", "HOOKVAR=yes", "PATH=/usr/sbin:/usr/bin:/sbin:/bin"],
        **extra,
    }


@pytest.fixture
def hookdir(bundle, tmp_path):
    """A host directory, bind-mounted at /hooks for hooks that run after pivot_root."""
    d = tmp_path / "hooks"
    d.mkdir()
    bundle.config["mounts"].append(
        {"destination": "/hooks", "type": "bind", "source": str(d), "options": ["rbind", "rw"]}
    )
    return d


def _all_phases(bundle, hookdir) -> None:
    bundle.config["hooks"] = {p: [_hook(p, "/hooks" if p == "startContainer" else str(hookdir))] for p in PHASES}


def test_every_phase_gets_the_state_in_order(runk, bundle, cid, hookdir, leak_audit):
    _all_phases(bundle, hookdir)
    bundle.args("sleep", "100").write()
    assert runk("create", "--bundle", bundle.path, cid).rc == 0
    order = lambda: (hookdir / "order").read_text().split()
    assert order() == ["prestart", "createRuntime", "createContainer"]
    pid = runk.state(cid)["pid"]
    assert runk("start", cid).rc == 0
    assert wait_file(str(hookdir / "poststart.json"))
    assert order() == ["prestart", "createRuntime", "createContainer", "startContainer", "poststart"]
    runk("kill", cid, "KILL", check=True)
    assert wait_status(runk, cid, "stopped") == "stopped"
    assert runk("delete", cid).rc == 0
    assert order() == list(PHASES)
    for p in PHASES:
        st = json.loads((hookdir / f"{p}.json").read_text())
        assert st["status"] == STATUS[p], p
        assert st["id"] == cid and st["bundle"] == bundle.path and st["ociVersion"], p
        # "for hooks executed in the container namespace, the pid as seen by the container"
        if p in IN_CONTAINER:
            assert st["pid"] == 1, p
        elif p != "poststop":
            assert st["pid"] == pid, p


def test_hooks_run_in_the_namespaces_the_spec_says(runk, bundle, cid, hookdir, leak_audit):
    _all_phases(bundle, hookdir)
    bundle.args("sleep", "100").write()
    runk("create", "--bundle", bundle.path, cid, check=True)
    pid = runk.state(cid)["pid"]
    runk("start", cid, check=True)
    assert wait_file(str(hookdir / "poststart.mnt"))
    container_ns = (ns_link(pid, "mnt"), ns_link(pid, "uts"))
    runk("delete", "--force", cid, check=True)
    for p in PHASES:
        ns = tuple((hookdir / f"{p}.{n}").read_text().strip() for n in ("mnt", "uts"))
        if p in IN_CONTAINER:
            assert ns == container_ns, p
        else:
            assert ns == (ns_link("self", "mnt"), ns_link("self", "uts")), p
            assert (hookdir / f"{p}.host").read_text().strip() == socket.gethostname()
    # the hostname is set after pivot_root: startContainer sees it, createContainer not yet (runc)
    assert (hookdir / "startContainer.host").read_text() == "runk\n"


def test_hook_args_and_env(runk, bundle, cid, hookdir, leak_audit):
    bundle.config["hooks"] = {
        "createRuntime": [_hook("createRuntime", str(hookdir))],
        "startContainer": [_hook("startContainer", "/hooks")],
    }
    bundle.args("true").write()
    assert runk("run", "--bundle", bundle.path, cid).rc == 0
    for p in ("createRuntime", "startContainer"):
        assert (hookdir / f"{p}.args").read_text() == "hook-argv0 a1 a 2\n"
        env = set((hookdir / f"{p}.env").read_text().split("\n"))
        assert {f"P={p}", "HOOKVAR=yes"} <= env
        assert not any(e.startswith("RUNK_TEST_ROOT=") for e in env)  # only the hook's env


def test_several_hooks_of_a_phase_run_in_config_order(runk, bundle, cid, hookdir, leak_audit):
    d = str(hookdir)
    bundle.config["hooks"] = {
        "prestart": [{"path": "/bin/sh", "args": ["sh", "-c", f"echo {i} >>{d}/seq"]} for i in range(4)]
    }
    bundle.args("true").write()
    assert runk("run", "--bundle", bundle.path, cid).rc == 0
    assert (hookdir / "seq").read_text().split() == ["0", "1", "2", "3"]


def test_hook_timeout_kills_it_and_create_fails(runk, bundle, cid, hookdir, leak_audit):
    marker = f"29.{int(cid[2:], 16) % 10**9:09d}"  # a sleep only this test runs
    bundle.config["hooks"] = {
        "createRuntime": [{"path": "/bin/sh", "args": ["sh", "-c", f"sleep {marker}"], "timeout": 1}]
    }
    bundle.args("true").write()
    r = runk("create", "--bundle", bundle.path, cid, timeout=20)
    assert r.rc == 1 and "error running createRuntime hook #0: hook ran past specified timeout of 1.0s" in r.err, r
    assert runk("state", cid).rc == 1
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                assert marker.encode() not in f.read(), "the timed-out hook still runs"
        except OSError:
            pass


@pytest.mark.parametrize("phase", ["prestart", "createRuntime", "createContainer"])
def test_failing_create_time_hook_aborts_create(runk, bundle, cid, hookdir, phase, leak_audit):
    bundle.config["hooks"] = {
        phase: [
            {"path": "/bin/true"},
            {"path": "/bin/sh", "args": ["sh", "-c", "echo out; echo hook-said-no >&2; exit 1"]},
        ],
        "poststart": [_hook("poststart", str(hookdir))],
    }
    bundle.args("true").write()
    r = runk("create", "--bundle", bundle.path, cid)
    # runc's form: the phase, the hook's index, Go's exit status, its stdout and stderr
    assert (
        r.rc == 1 and f"error running {phase} hook #1: exit status 1, stdout: out\\n, stderr: hook-said-no\\n" in r.err
    ), r
    assert runk("state", cid).rc == 1
    assert list(hookdir.iterdir()) == []


def test_failing_start_container_hook_fails_run_and_leaves_nothing(runk, bundle, cid, hookdir, leak_audit):
    """run reports the hook's own failure (argv as given: busybox's applet from args[0]) and,
    as runc's run, destroys the container it could not start."""
    bundle.config["hooks"] = {
        "startContainer": [{"path": "/bin/true"}, {"path": "/bin/busybox", "args": ["cat", "/nosuchfile"]}]
    }
    bundle.args("sh", "-c", "echo workload-ran >/hooks/ran").write()
    r = runk("run", "--bundle", bundle.path, cid)
    assert r.rc == 1, r
    assert (
        "error running startContainer hook #1: exit status 1, stdout: , stderr: cat: can't open '/nosuchfile'" in r.err
    )
    assert not (hookdir / "ran").exists()  # the user process never runs
    assert runk("state", cid).rc == 1 and runk("list", "-q").out == ""


def test_failing_start_container_hook_fails_start(runk, bundle, cid, hookdir, leak_audit):
    bundle.config["hooks"] = {"startContainer": [{"path": "/bin/sh", "args": ["sh", "-c", "echo no >&2; exit 2"]}]}
    bundle.args("sh", "-c", "echo workload-ran >/hooks/ran").write()
    runk("create", "--bundle", bundle.path, cid, check=True)
    r = runk("start", cid)
    assert r.rc == 1 and "error running startContainer hook #0: exit status 2, stdout: , stderr: no" in r.err, r
    assert not (hookdir / "ran").exists()
    assert wait_status(runk, cid, "stopped") == "stopped"
    assert runk("delete", cid).rc == 0


def test_hooks_without_env_inherit_as_runcs(runk, bundle, cid, hookdir, leak_audit):
    """A hook without `env` gets runk's environment (the runtime's hooks) or the process's
    (createContainer, startContainer: runc's init has the process's, HOME resolved by then);
    `"env": []` is an empty one."""
    rec = 'env >"$D/$P.env"'
    bundle.config["hooks"] = {
        p: [{"path": "/bin/sh", "args": ["sh", "-c", rec.replace("$D", d).replace("$P", p)]}]
        for p, d in (
            ("createRuntime", str(hookdir)),
            ("createContainer", str(hookdir)),
            ("startContainer", "/hooks"),
            ("poststop", str(hookdir)),
        )
    }
    bundle.config["hooks"]["prestart"] = [
        {"path": "/bin/sh", "args": ["sh", "-c", f"env >{hookdir}/prestart.env"], "env": []}
    ]
    bundle.config["process"]["env"] = ["ONE=two", "PATH=/bin:/usr/bin"]
    bundle.args("true").write()
    r = runk("run", "--bundle", bundle.path, cid, env={**os.environ, "FROM_THE_CALLER": "yes"})
    assert r.rc == 0, r
    env = {p.name[: -len(".env")]: set(p.read_text().split("\n")) - {""} for p in hookdir.glob("*.env")}
    for p in ("createRuntime", "poststop"):
        assert "FROM_THE_CALLER=yes" in env[p], p
    assert {"ONE=two", "PATH=/bin:/usr/bin"} <= env["createContainer"]
    assert {"ONE=two", "PATH=/bin:/usr/bin", "HOME=/root"} <= env["startContainer"]
    for p in ("createContainer", "startContainer"):
        assert not any(e.startswith("FROM_THE_CALLER=") for e in env[p]), p
    assert not any(e.startswith(("FROM_THE_CALLER=", "ONE=")) for e in env["prestart"])


def test_create_container_hooks_run_in_the_rootfs(runk, bundle, cid, hookdir, leak_audit):
    """runc runs createContainer hooks with the rootfs as working directory (a relative path
    names the container's files: runc's hooks library test binds its libraries so)."""
    rootfs = bundle.own_rootfs()
    bundle.config["root"]["readonly"] = False
    script = f"pwd >{hookdir}/cwd; touch ./made-by-hook"
    bundle.config["hooks"] = {"createContainer": [{"path": "/bin/sh", "args": ["sh", "-c", script]}]}
    bundle.args("ls", "/made-by-hook").write()
    r = runk("run", "--bundle", bundle.path, cid)
    assert (r.rc, r.out) == (0, "/made-by-hook\n"), r
    assert (hookdir / "cwd").read_text() == rootfs + "\n"


def test_missing_hook_binary_aborts_create(runk, bundle, cid, leak_audit):
    bundle.config["hooks"] = {"prestart": [{"path": "/no/such/hook"}]}
    bundle.args("true").write()
    r = runk("run", "--bundle", bundle.path, cid)
    assert (
        r.rc == 1 and "error running prestart hook #0: fork/exec /no/such/hook: no such file or directory" in r.err
    ), r


@pytest.mark.parametrize("phase", ["poststart", "poststop"])
def test_failing_poststart_and_poststop_only_warn(runk, bundle, cid, hookdir, phase, leak_audit):
    """A 1.0-1.2 config (podman's, runc spec's 1.0.2): a failing poststart or poststop hook is a
    warning, as runc does. The test states the config's version: the behaviour follows it."""
    bundle.config["ociVersion"] = "1.0.2"
    bundle.config["hooks"] = {phase: [{"path": "/bin/sh", "args": ["sh", "-c", "exit 3"]}, _hook(phase, str(hookdir))]}
    bundle.args("sleep", "100").write()
    runk("create", "--bundle", bundle.path, cid, check=True)
    r = runk("start", cid)
    if phase == "poststart":
        assert r.rc == 0 and "level=warning" in r.err and "exit status 3" in r.err, r
        assert runk.state(cid)["status"] == "running"
    r = runk("delete", "--force", cid)
    assert r.rc == 0, r
    if phase == "poststop":
        assert "level=warning" in r.err and "exit status 3" in r.err, r
    assert runk("state", cid).rc == 1
    # the remaining hooks of the phase still ran (spec: "the remaining hooks ... continue")
    assert (hookdir / f"{phase}.json").exists()


def test_a_failing_poststart_hook_of_a_1_3_config_stops_the_container(runk, bundle, cid, leak_audit):
    """runtime-spec 1.3, runtime.md step 9: "If any poststart hook fails, the runtime MUST
    generate an error, stop the container". start fails with the hook's error, the container
    is stopped (its init gone), and delete removes it."""
    bundle.config["ociVersion"] = "1.3.0"
    bundle.config["hooks"] = {"poststart": [{"path": "/bin/sh", "args": ["sh", "-c", "exit 3"]}]}
    bundle.args("sleep", "100").write()
    runk("create", "--bundle", bundle.path, cid, check=True)
    pid = runk.state(cid)["pid"]
    r = runk("start", cid)
    assert r.rc == 1 and "error running poststart hook #0: exit status 3" in r.err, r
    st = runk.state(cid)
    assert st["status"] == "stopped", st
    try:
        with open(f"/proc/{pid}/stat") as f:
            assert f.read().rsplit(")", 1)[1].split()[0] == "Z", "the init still runs"
    except FileNotFoundError:
        pass
    runk("delete", cid, check=True)
    assert runk("state", cid).rc == 1
