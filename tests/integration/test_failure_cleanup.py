"""A create that fails at any step leaves nothing: no state directory, no mount, no process,
and the id is free again (checked by leak_audit and by creating the same id afterwards)."""

from __future__ import annotations

import os

import pytest

HOOK_FAIL = {"path": "/bin/sh", "args": ["sh", "-c", "exit 1"]}


def _bad_mount_source(c, d):
    c["mounts"].append({"destination": "/home", "type": "bind", "source": "/no/such/source", "options": ["rbind"]})
    return "stat /no/such/source: no such file or directory"


def _unknown_fstype(c, d):
    c["mounts"].append({"destination": "/home", "type": "nosuchfs", "source": "x"})
    return "no such device"


def _missing_executable(c, d):
    c["process"]["args"] = ["nosuchcmd"]
    return 'exec: \\"nosuchcmd\\": executable file not found in $PATH'


def _not_executable(c, d):
    c["process"]["args"] = ["/etc/passwd"]
    return 'exec: \\"/etc/passwd\\": permission denied'


def _user_ns_path(c, d):
    c["linux"]["namespaces"].append({"type": "user", "path": "/run/no-such/userns"})
    return "/run/no-such/userns: no such file or directory"


def _net_ns_wrong_type(c, d):
    c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != "network"]
    c["linux"]["namespaces"].append({"type": "network", "path": f"/proc/{os.getpid()}/ns/ipc"})
    return "not a network namespace"


def _rlimit_over_hard(c, d):
    c["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 1 << 30, "hard": 1 << 30}]
    return "error setting rlimit type 7: operation not permitted"


def _hook(phase):
    def mut(c, d):
        c["hooks"] = {phase: [HOOK_FAIL]}
        return f"error running {phase} hook"

    mut.__name__ = f"_{phase}_hook_fails"
    return mut


def _bad_oci_version(c, d):
    c["ociVersion"] = "9.0.0"
    return "9.0.0"


def _bad_json(c, d):
    with open(os.path.join(d, "config.json"), "w") as f:
        f.write('{"ociVersion": "1.0.2", "process": ')
    return "json"


def _missing_config(c, d):
    os.unlink(os.path.join(d, "config.json"))
    return "JSON specification file config.json not found"


def _missing_rootfs(c, d):
    c["root"]["path"] = "/no/such/rootfs"
    return "/no/such/rootfs"


def _refused_sysctl(c, d):
    c["linux"]["sysctl"] = {"kernel.printk": "1"}
    return "kernel.printk"


def _proc_on_symlink(c, d):
    # a second procfs, on a symlink to /bin/busybox in the rootfs (the container keeps its /proc:
    # without one, create is refused before the symlink is looked at)
    c["mounts"].append({"destination": "/bin/sh", "type": "proc", "source": "proc"})
    return "/bin/sh"


CASES = [
    _bad_mount_source,
    _unknown_fstype,
    _user_ns_path,
    _net_ns_wrong_type,
    _rlimit_over_hard,
    _hook("prestart"),
    _hook("createRuntime"),
    _hook("createContainer"),
    _bad_oci_version,
    _bad_json,
    _missing_config,
    _missing_rootfs,
    _refused_sysctl,
    _proc_on_symlink,
]


@pytest.mark.parametrize("verb", ["create", "run"])
@pytest.mark.parametrize("mutate", CASES, ids=[m.__name__.strip("_") for m in CASES])
def test_failed_create_leaves_nothing(runk, bundle, cid, mutate, verb, leak_audit):
    good = bundle.copy()
    bundle.args("sh", "-c", "echo should-not-run")
    bundle.write()
    wrote_own = mutate(bundle.config, bundle.path)
    if mutate not in (_bad_json, _missing_config):
        bundle.write()
    r = runk(verb, "--bundle", bundle.path, cid)
    assert r.rc == 1, r
    assert "should-not-run" not in r.out
    assert "level=error" in r.err and wrote_own.lower() in r.err.lower(), r
    assert runk("state", cid).rc == 1
    assert runk("list", "-q").out == ""
    # the id is free again
    bundle.config = good
    bundle.args("true").write()
    assert runk("run", "--bundle", bundle.path, cid).rc == 0


@pytest.mark.parametrize(
    "mutate,code", [(_missing_executable, 127), (_not_executable, 126)], ids=["missing_executable", "not_executable"]
)
def test_unrunnable_program_fails_at_start_and_leaves_nothing(runk, bundle, cid, mutate, code, leak_audit):
    """create succeeds (process.args are applied at start: runtime.md, runtime-tools
    misc_props); the process exits 127/126 with runc's message, and delete leaves nothing."""
    want = mutate(bundle.config, bundle.path).replace('\\"', '"')
    bundle.write()
    r = runk("run", "--bundle", bundle.path, cid)
    assert r.rc == code, r
    assert want in r.err
    assert runk("state", cid).rc == 1
