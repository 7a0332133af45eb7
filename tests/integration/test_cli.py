"""runc's command-line surface as a user meets it: error lines and exit codes, --log and
--log-format, --version, spec and features."""

from __future__ import annotations

import json
import os
import re
import subprocess

import pytest

from tests.conftest import RUNK, requires

LOGLINE = re.compile(r'^time="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ" level=error msg="(.*)"$')


def runk_raw(*args: str, cwd: str | None = None) -> subprocess.CompletedProcess:
    requires("runk")
    return subprocess.run([RUNK, *args], capture_output=True, text=True, cwd=cwd, timeout=60, stdin=subprocess.DEVNULL)


def test_errors_are_logrus_lines_with_runc_exit_codes(tmp_path):
    root = str(tmp_path / "root")
    r = runk_raw("--root", root, "state", "nonexistent")
    assert r.returncode == 1 and r.stdout == ""
    assert LOGLINE.match(r.stderr.strip()).group(1) == "container does not exist"
    r = runk_raw("--root", root, "state", "bad/id")
    assert r.returncode == 1 and 'msg="invalid container ID format"' in r.stderr
    r = runk_raw("--root", root, "state")
    assert r.returncode == 1
    assert 'msg="runk: \\"state\\" requires exactly 1 argument(s)"' in r.stderr
    assert r.stdout.startswith("Incorrect Usage.")
    r = runk_raw("--root", root, "bogus")
    assert r.returncode == 3 and "msg=\"No help topic for 'bogus'\"" in r.stderr
    r = runk_raw("--root", root, "state", "--bogus", "x")
    assert r.returncode == 1 and 'msg="flag provided but not defined: -bogus"' in r.stderr
    r = runk_raw("--root", root, "--log-format", "xml", "state", "x")
    assert r.returncode == 1 and 'msg="invalid log-format: xml"' in r.stderr
    # --rootless is taken (runc parses its value at create only: tests/rootless); a --root that
    # does not exist is an error for list, as in runc main
    os.makedirs(root)
    r = runk_raw("--root", root, "--rootless", "true", "list")
    assert r.returncode == 0 and r.stderr == "", r


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_log_file_gets_one_line_and_stderr_the_bare_message(tmp_path, fmt):
    """podman parses the --log file of a failed create as one JSON object (CONTRACT.md 6)."""
    log = tmp_path / "log"
    r = runk_raw("--root", str(tmp_path / "root"), "--log", str(log), "--log-format", fmt, "state", "nonexistent")
    assert r.returncode == 1
    assert r.stderr == "container does not exist\n"
    lines = log.read_text().splitlines()
    assert len(lines) == 1
    if fmt == "json":
        doc = json.loads(lines[0])
        assert list(doc) == ["level", "msg", "time"]
        assert doc["level"] == "error" and doc["msg"] == "container does not exist"
    else:
        assert LOGLINE.match(lines[0]).group(1) == "container does not exist"


def test_create_failure_in_json_log_is_one_object(tmp_path, bundle, cid):
    log = tmp_path / "oci-log"
    bundle.config["mounts"].append({"destination": "/x", "type": "bind", "source": "/no/such/src", "options": ["bind"]})
    bundle.write()
    r = runk_raw(
        "--root", str(tmp_path / "root"), "--log-format=json", "--log", str(log), "create", "--bundle", bundle.path, cid
    )
    assert r.returncode == 1
    doc = json.loads(log.read_text())
    assert doc["msg"].startswith("runk create failed: ")
    assert "no such file or directory" in doc["msg"]


@pytest.mark.parametrize("flag", ["--version", "-v"])
def test_version_has_runcs_lines(flag):
    """runc's shape (version.bats reads lines 0-2): name and version, commit, spec, then the
    language and libseccomp; the facts are runk's own."""
    import platform
    import shutil

    from tests.conftest import TOP

    r = runk_raw(flag)
    assert r.returncode == 0 and r.stderr == ""
    lines = r.stdout.splitlines()
    assert re.fullmatch(r"runk version \d+\.\d+\.\d+", lines[0])
    head = subprocess.run(["git", "-C", TOP, "rev-parse", "HEAD"], capture_output=True, text=True)
    want = head.stdout.strip() if head.returncode == 0 else "unknown"
    assert lines[1:] == [
        f"commit: {want}",
        "spec: 1.3.0",
        f"python: {platform.python_version()}",
        f"libseccomp: {lines[4].split(': ')[1]}",
    ]
    runc = shutil.which("runc")
    if runc:
        ref = subprocess.run([runc, flag], capture_output=True, text=True).stdout.splitlines()
        assert [l.split(" ")[0] for l in ref[1:3]] == [l.split(" ")[0] for l in lines[1:3]]
        assert ref[-1] == lines[-1]  # the same libseccomp, as runc reads it


def test_spec_writes_a_config_runk_validates_and_refuses_to_overwrite(tmp_path):
    from runk.oci.validate import validate

    for rootless in (False, True):
        d = tmp_path / ("rootless" if rootless else "normal")
        d.mkdir()
        r = runk_raw("spec", "--bundle", str(d), *(["--rootless"] if rootless else []))
        assert r.returncode == 0, r.stderr
        cfg = json.loads((d / "config.json").read_text())
        validate(cfg)
        types = [n["type"] for n in cfg["linux"]["namespaces"]]
        assert ("user" in types) == rootless and ("network" in types) != rootless
        assert cfg["process"]["args"] == ["sh"] and cfg["root"]["path"] == "rootfs"
        r = runk_raw("spec", "--bundle", str(d))
        assert r.returncode == 1 and "File config.json exists. Remove it first" in r.stderr
    r = runk_raw("spec", "--bundle", str(tmp_path / "nope"))
    assert r.returncode == 1 and "chdir" in r.stderr and "no such file or directory" in r.stderr


def test_features_document_lists_what_runk_does():
    from tests.unit.test_schema_validator import reference

    r = runk_raw("features")
    assert r.returncode == 0
    doc = json.loads(r.stdout)
    errors = [e.message for e in reference("features-schema.json").iter_errors(doc)]
    assert errors == []
    assert doc["ociVersionMin"] == "1.0.0"
    assert set(doc["hooks"]) == {
        "prestart",
        "createRuntime",
        "createContainer",
        "startContainer",
        "poststart",
        "poststop",
    }
    linux = doc["linux"]
    assert set(linux["namespaces"]) == {"cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"}
    assert "SCMP_ACT_NOTIFY" in linux["seccomp"]["actions"]
    assert "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV" in linux["seccomp"]["supportedFlags"]
    assert linux["seccomp"]["enabled"] and "SCMP_ARCH_X86_64" in linux["seccomp"]["archs"]
    assert linux["cgroup"]["systemd"] is False
    assert {"rbind", "rro", "tmpcopyup", "nosuid"} <= set(doc["mountOptions"])
    # runtime-spec 1.3, and every memoryPolicy mode and flag it lists is one runk takes
    assert doc["ociVersionMax"] == "1.3.0"
    assert "MPOL_BIND" in linux["memoryPolicy"]["modes"] and "MPOL_F_STATIC_NODES" in linux["memoryPolicy"]["flags"]


def _help_sections(text: str) -> tuple[list[str], dict[str, str]]:
    """(section headings, {option name: the option's left column}) of a runc-style --help."""
    lines = text.splitlines()
    heads = [l for l in lines if re.fullmatch(r"[A-Z][A-Z 0-9]*:", l)]
    opts = {}
    section = ""
    for l in lines:
        if l in heads:
            section = l
        elif section.endswith("OPTIONS:") and l.startswith("   --"):
            left = re.split(r"\s{2,}", l.strip())[0]
            opts[left.split(" ")[0].rstrip(",")] = left
    return heads, opts


RUNC_COMMANDS = (
    "create",
    "delete",
    "events",
    "exec",
    "kill",
    "list",
    "pause",
    "ps",
    "resume",
    "run",
    "spec",
    "start",
    "state",
    "update",
    "features",
    "checkpoint",
    "restore",
)


@pytest.mark.parametrize("command", ["", *RUNC_COMMANDS])
def test_help_is_laid_out_as_runcs(command):
    """help.bats reads `NAME:` on the first line and "<prog> <command>" on the second; the
    sections and each option's `--name value, -n value` column are runc's."""
    import shutil

    words = [command] if command else []
    for flag in ("-h", "--help"):
        r = runk_raw(*words, flag)
        assert r.returncode == 0 and r.stderr == "", r
        lines = r.stdout.splitlines()
        assert lines[0] == "NAME:"
        assert lines[1].startswith(f"   runk {command} - " if command else "   runk - ")
        heads, opts = _help_sections(r.stdout)
        assert "USAGE:" in heads
        runc = shutil.which("runc")
        if runc is None:
            continue
        ref = subprocess.run([runc, *words, flag], capture_output=True, text=True)
        if ref.returncode != 0:
            continue  # a command this runc lacks
        ref_heads, ref_opts = _help_sections(ref.stdout)
        want = [h for h in ref_heads if h in ("NAME:", "USAGE:", "COMMANDS:", "OPTIONS:", "GLOBAL OPTIONS:")]
        assert [h for h in heads if h in want] == want
        for name, left in opts.items():
            if name in ref_opts:
                # runk may have more aliases (update --cpu-shares)
                assert set(ref_opts[name].split(", ")) <= set(left.split(", ")), (name, left, ref_opts[name])
