"""exec and the process's start against runc: `exec --cap` raises ambient capabilities as
runc's does, the message of a program that cannot be executed is runc's, and a user with
CAP_DAC_OVERRIDE runs a program only its owner may execute (the check uses the effective ids).
"""

from __future__ import annotations

import json
import os

import pytest

from tests.helpers import status_fields

DATA = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data", "configs")
CAPS = ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")


@pytest.fixture
def some_caps(bundle):
    bundle.config["process"]["capabilities"] = {
        "inheritable": ["CAP_CHOWN", "CAP_SYSLOG"],
        "permitted": ["CAP_KILL", "CAP_CHOWN"],
        "effective": ["CAP_KILL"],
        "bounding": ["CAP_KILL", "CAP_CHOWN", "CAP_SYSLOG"],
        "ambient": ["CAP_CHOWN"],
    }
    bundle.args("sleep", "1000").write()
    return bundle


def test_exec_cap_raises_ambient_as_runcs(runc, runk, some_caps, cid):
    got = {}
    for name, rt in (("runc", runc), ("runk", runk)):
        rt("run", "-d", "--bundle", some_caps.path, f"{cid}-{name}", check=True)
        plain = rt("exec", f"{cid}-{name}", "cat", "/proc/self/status", check=True)
        added = rt("exec", "--cap", "CAP_SYSLOG", f"{cid}-{name}", "cat", "/proc/self/status", check=True)
        got[name] = [{k: status_fields(r.out)[k] for k in CAPS} for r in (plain, added)]
    assert got["runk"] == got["runc"]
    # CAP_CHOWN 0, CAP_KILL 5, CAP_SYSLOG 34: --cap adds to the ambient set what inheritable has
    assert got["runk"][1]["CapAmb"] == "0000000400000001"
    assert got["runk"][1]["CapEff"] == "0000000400000021"


def test_exec_cap_without_inheritable_raises_no_ambient(runc, runk, some_caps, cid):
    some_caps.config["process"]["capabilities"]["inheritable"] = []
    some_caps.config["process"]["capabilities"]["ambient"] = []
    some_caps.write()
    got = {}
    for name, rt in (("runc", runc), ("runk", runk)):
        rt("run", "-d", "--bundle", some_caps.path, f"{cid}-{name}", check=True)
        r = rt("exec", "--cap", "CAP_SYSLOG", f"{cid}-{name}", "cat", "/proc/self/status", check=True)
        got[name] = {k: status_fields(r.out)[k] for k in CAPS}
    assert got["runk"] == got["runc"]
    assert got["runk"]["CapAmb"] == "0000000000000000"


@pytest.fixture
def bad_interpreter(bundle):
    rootfs = bundle.own_rootfs()
    with open(os.path.join(rootfs, "run.sh"), "w") as f:
        f.write("#!/mmnnttbb foo bar\nsh\n")
    os.chmod(os.path.join(rootfs, "run.sh"), 0o755)
    return bundle


def test_execve_error_is_runcs_message(runc, runk, bad_interpreter, cid):
    """The exit codes differ: runc's run exits 1, runk 127 (podman's code for "no such file")."""
    bad_interpreter.args("/run.sh").write()
    got = {n: rt("run", "--bundle", bad_interpreter.path, f"{cid}-{n}") for n, rt in (("runc", runc), ("runk", runk))}
    assert got["runc"].err == got["runk"].err == "exec /run.sh: no such file or directory\n", got
    assert got["runc"].rc != 0 and got["runk"].rc == 127

    bad_interpreter.args("sleep", "1000").write()
    for name, rt in (("runc", runc), ("runk", runk)):
        rt("run", "-d", "--bundle", bad_interpreter.path, f"{cid}-d{name}", check=True)
        r = rt("exec", f"{cid}-d{name}", "/run.sh")
        assert r.rc != 0 and r.err.splitlines() == ["exec /run.sh: no such file or directory"], (name, r)


def test_cap_dac_override_runs_a_program_only_its_owner_may(runk, bundle, cid):
    """The executable check uses the effective ids and capabilities, as execve does (runc main;
    runc 1.1.5 checks with the real ids and refuses)."""
    rootfs = bundle.own_rootfs()
    prog = os.path.join(rootfs, "bin", "hello")
    with open(prog, "w") as f:
        f.write("#!/bin/sh\necho hello\n")
    os.chown(prog, 0, 0)
    os.chmod(prog, 0o744)
    bundle.config["process"]["user"] = {"uid": 1000, "gid": 100}
    bundle.args("/bin/hello").write()
    r = runk("run", "--bundle", bundle.path, f"{cid}-a")
    assert r.rc == 126 and "exec /bin/hello: permission denied" in r.err, r
    caps = bundle.config["process"]["capabilities"]
    for s in ("bounding", "effective", "inheritable", "ambient", "permitted"):
        caps[s] = [*caps.get(s, []), "CAP_DAC_OVERRIDE"]
    bundle.write()
    r = runk("run", "--bundle", bundle.path, f"{cid}-b")
    assert (r.rc, r.out) == (0, "hello\n"), r


def test_unknown_capability_names_are_warned_about_and_skipped(runc, runk, bundle, cid):
    """runc's capabilities.bats: names that are no capability are ignored with a warning (the
    spec: "MUST be logged as a warning ... SHOULD NOT fail")."""
    bundle.config["process"]["capabilities"]["bounding"] = ["CAP_UNKNOWN", "UNKNOWN_CAP", "CAP_KILL"]
    bundle.args("cat", "/proc/self/status").write()
    got = {n: rt("run", "--bundle", bundle.path, f"{cid}-{n}") for n, rt in (("runc", runc), ("runk", runk))}
    for name, r in got.items():
        assert r.rc == 0, (name, r)
        assert "level=warning" in r.err and "CAP_UNKNOWN" in r.err and "UNKNOWN_CAP" in r.err, (name, r)
    fields = {n: {k: status_fields(r.out)[k] for k in CAPS} for n, r in got.items()}
    assert fields["runk"] == fields["runc"]
    assert fields["runk"]["CapBnd"] == "0000000000000020"


def _profile_without_faccessat2(bundle) -> None:
    """podman's default profile (tests/data/configs) as an older one: faccessat2 not listed,
    the default action's errno EPERM (runtime-tools' default profile is such a one), and no
    noNewPrivileges, so the filter is in force before the executable check."""
    with open(os.path.join(DATA, "config.net-none.json")) as f:
        seccomp = json.load(f)["linux"]["seccomp"]
    seccomp.pop("defaultErrnoRet")
    for rule in seccomp["syscalls"]:
        rule["names"] = [n for n in rule["names"] if n != "faccessat2"]
    bundle.config["process"]["noNewPrivileges"] = False
    bundle.config["linux"]["seccomp"] = seccomp


def test_exec_check_under_a_profile_without_faccessat2(runc, runk, bundle, cid):
    """The executable check runs under the filter when noNewPrivileges is off. A profile that
    does not list faccessat2 refuses it with EPERM; runc runs the program (Go falls back to the
    mode bits), and so must runk (runtime-tools' default profile hit this). A file that really
    is not executable is still refused at the same point."""
    _profile_without_faccessat2(bundle)
    bundle.args("/bin/sh", "-c", "echo ran").write()
    got = {n: rt("run", "--bundle", bundle.path, f"{cid}-{n}") for n, rt in (("runc", runc), ("runk", runk))}
    assert (got["runc"].rc, got["runc"].out) == (0, "ran\n"), got["runc"]
    assert (got["runk"].rc, got["runk"].out) == (0, "ran\n"), got["runk"]

    rootfs = bundle.own_rootfs()
    with open(os.path.join(rootfs, "notexec"), "w") as f:
        f.write("#!/bin/sh\necho no\n")
    os.chmod(os.path.join(rootfs, "notexec"), 0o644)
    bundle.args("/notexec").write()
    r = runk("run", "--bundle", bundle.path, f"{cid}-x")
    assert r.rc == 126 and "permission denied" in r.err and "no" not in r.out.split(), r
