"""Hostile input: ids that look like runk's own files, config files that never end or are not
files, configs too deep or holding NUL bytes, seccomp profiles past the kernel's limit. Every
refusal is one line naming what is wrong; nothing is left behind."""

from __future__ import annotations

import json
import os
import re
import time

import pytest

SECCOMP = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mknod"], "action": "SCMP_ACT_ERRNO"}]}


@pytest.mark.parametrize("name", [".cache", ".foo", "x.y", "@cache"])
def test_dot_ids_are_containers_and_runk_files_are_not(runk, bundle, name, leak_audit):
    """runc lists ".foo"; runk's seccomp cache (under --root) must not collide with an id."""
    cid = name
    bundle.config["linux"]["seccomp"] = SECCOMP
    bundle.args("sleep", "100").write()
    # a first container fills runk's cache under --root
    assert runk("create", "-b", bundle.path, "hardnames-first").rc == 0
    r = runk("create", "-b", bundle.path, cid)
    if name.startswith("@"):
        assert r.rc != 0 and "invalid container ID format" in r.err, r
        assert runk("delete", "-f", "hardnames-first").rc == 0
        return
    assert r.rc == 0, r
    listed = [c["id"] for c in json.loads(runk("list", "--format", "json").out)]
    assert sorted(listed) == sorted([cid, "hardnames-first"])
    assert runk("list", "-q").out.split() == sorted([cid, "hardnames-first"])
    # the cache is no container: not listed, not deletable
    assert "@cache" in os.listdir(runk.root)
    r = runk("delete", "-f", "@cache")
    assert r.rc != 0 and "invalid container ID format" in r.err
    for c in (cid, "hardnames-first"):
        r = runk("delete", "-f", c)
        assert r.rc == 0, r
    assert sorted(os.listdir(runk.root)) == ["@cache"]
    assert runk("list", "-q").out == ""


# --- malformed configs and arguments: one line, no Python exception name ---------------------

PY_NAMES = re.compile(
    r"Traceback|\b(?:[A-Z][a-zA-Z]*(?:Error|Exception)|KeyboardInterrupt|"
    r"StopIteration|SystemExit|GeneratorExit)\b"
)
WRONG = [None, 7, -1, 2**70, 1.5, True, "x", "", "\x00", [], [None], {}, {"": None}]
FIELDS = [
    "ociVersion",
    "root",
    "root.path",
    "process",
    "process.args",
    "process.args[0]",
    "process.env",
    "process.env[0]",
    "process.cwd",
    "process.user",
    "process.user.uid",
    "process.user.additionalGids",
    "process.rlimits",
    "process.rlimits[0]",
    "process.rlimits[0].type",
    "process.capabilities",
    "process.capabilities.bounding",
    "process.capabilities.bounding[0]",
    "process.oomScoreAdj",
    "process.consoleSize",
    "hostname",
    "mounts",
    "mounts[0]",
    "mounts[0].destination",
    "mounts[0].options",
    "mounts[0].type",
    "mounts[0].source",
    "linux",
    "linux.namespaces",
    "linux.namespaces[0]",
    "linux.namespaces[0].path",
    "linux.maskedPaths",
    "linux.maskedPaths[0]",
    "linux.readonlyPaths",
    "linux.sysctl",
    "linux.resources",
    "linux.resources.memory",
    "linux.resources.memory.limit",
    "linux.resources.pids",
    "linux.resources.cpu",
    "linux.resources.devices",
    "linux.devices",
    "linux.uidMappings",
    "linux.cgroupsPath",
    "linux.seccomp",
    "linux.seccomp.syscalls",
    "linux.seccomp.syscalls[0].names",
    "linux.seccomp.syscalls[0].args",
    "linux.seccomp.syscalls[0].args[0].value",
    "linux.seccomp.architectures",
    "annotations",
    "hooks",
    "hooks.createRuntime",
    "hooks.createRuntime[0]",
    "hooks.createRuntime[0].path",
    "hooks.createRuntime[0].timeout",
]


def _set(doc: dict, path: str, value: object) -> None:
    steps = re.findall(r"[^.\[\]]+|\[\d+\]", path)
    for s in steps[:-1]:
        doc = doc[int(s[1:-1])] if s.startswith("[") else doc.setdefault(s, {})
    last = steps[-1]
    if last.startswith("["):
        doc[int(last[1:-1])] = value
    else:
        doc[last] = value


def _base(bundle) -> dict:
    c = bundle.copy()
    c["linux"]["seccomp"] = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            {"names": ["mknod"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]}
        ],
    }
    c["linux"]["resources"] = {"memory": {"limit": 1 << 30}, "pids": {"limit": 100}}
    c["hooks"] = {"createRuntime": [{"path": "/bin/true"}]}
    c["linux"]["sysctl"] = {"kernel.domainname": "x"}
    return c


def _cases(bundle) -> list[tuple[str, object]]:
    import random

    rnd = random.Random(1234)
    out: list[tuple[str, object]] = []
    for field in FIELDS:
        for value in rnd.sample(WRONG, 2):
            out.append((field, value))
    return out


def _assert_clean(r, what: str) -> None:
    lines = [ln for ln in r.err.splitlines() if ln.strip()]
    assert not PY_NAMES.search(r.err), f"{what}: {r.err}"
    assert len(lines) <= 1, f"{what}: {r.err}"


def test_malformed_configs_never_show_python(runk, bundle, tmp_path, leak_audit):
    """~110 configs, each with one field of a wrong type or value: runk refuses or runs each,
    and stderr never names a Python exception nor prints a traceback."""
    cases = _cases(bundle)
    assert len(cases) >= 100
    for n, (field, value) in enumerate(cases):
        c = _base(bundle)
        _set(c, field, value)
        with open(os.path.join(bundle.path, "config.json"), "w") as f:
            json.dump(c, f)
        cid = f"hardnames-m{n}"
        r = runk("create", "-b", bundle.path, cid, timeout=30)
        _assert_clean(r, f"{field}={value!r}")
        if r.rc == 0:
            assert runk("delete", "-f", cid).rc == 0
        else:
            assert cid not in os.listdir(runk.root) if os.path.isdir(runk.root) else True


def _raw_config(bundle, text: str) -> None:
    with open(os.path.join(bundle.path, "config.json"), "w") as f:
        f.write(text)


@pytest.mark.parametrize(
    "text,field",
    [
        ("[" * 1000 + "]" * 1000, "nested deeper than"),
        ('{"a":' * 100000 + "1" + "}" * 100000, "nested deeper than"),
        ("\xff\xfe", "config.json is not valid JSON"),
        ('{"ociVersion": "1.0.2", "root": {"path": "r"}, "x": "\\ud800"}', None),
        ("", "config.json is not valid JSON"),
    ],
)
def test_unparsable_configs(runk, bundle, text, field, leak_audit):
    _raw_config(bundle, text)
    r = runk("create", "-b", bundle.path, "hardnames-raw")
    assert r.rc != 0
    _assert_clean(r, text[:40])
    if field:
        assert field in r.err, r


def test_deep_but_valid_json_in_config(runk, bundle, leak_audit):
    """A config nested 1000 deep inside an extension field: refused at load, one line."""
    text = json.dumps(bundle.copy())
    _raw_config(bundle, text[:-1] + ', "x-ext": ' + "[" * 1000 + "]" * 1000 + "}")
    r = runk("create", "-b", bundle.path, "hardnames-deep")
    assert r.rc != 0 and "nested deeper than 128 levels" in r.err, r
    _assert_clean(r, "deep")


@pytest.mark.parametrize(
    "field",
    [
        "mounts[0].destination",
        "process.args[0]",
        "process.env[0]",
        "process.cwd",
        "hostname",
        "root.path",
        "linux.cgroupsPath",
        "mounts[0].options[0]",
        "linux.maskedPaths[0]",
        'annotations["a.b"]',
    ],
)
def test_nul_bytes_are_refused_naming_the_field(runk, bundle, field, leak_audit):
    c = _base(bundle)
    c["hostname"] = "h"
    c["annotations"] = {"a.b": "x"}
    c["linux"]["cgroupsPath"] = "/hardnames-nul"
    c["mounts"][0].setdefault("options", ["nosuid"])
    _set(c, field.replace('["a.b"]', ".a_b"), None)  # make sure the path exists
    if field.startswith("annotations"):
        c["annotations"] = {"a.b": "x\x00y"}
    else:
        _set(c, field, "/x\x00y")
    _raw_config(bundle, json.dumps(c))
    r = runk("create", "-b", bundle.path, "hardnames-nul")
    assert r.rc != 0, r
    assert f"{field}: must not hold a NUL byte".replace('"', '\\"') in r.err, r
    _assert_clean(r, field)
    assert not os.path.isdir(runk.root) or os.listdir(runk.root) in ([], ["@cache"])


PROCESSES = [
    '{"args":5}',
    '{"args":["true"],"env":5}',
    '{"args":["true"],"cwd":5}',
    '{"args":["true"],"rlimits":[5]}',
    '{"args":[5]}',
    '{"args":["true"],"env":[5]}',
    '{"args":["true"],"terminal":"x"}',
    '{"args":["true"],"consoleSize":5}',
    '{"args":["true"],"oomScoreAdj":"x"}',
    '{"args":["true"],"user":5}',
    '{"args":["true"],"capabilities":5}',
    '{"args":["true"],"capabilities":{"bounding":5}}',
    '{"args":["true"],"env":["A=\\u0000"]}',
    '{"args":["/x\\u0000"]}',
    "[1]",
    "5",
    "",
    '{"args":["true"],"noNewPrivileges":"yes"}',
    '{"args":["true"],"user":{"uid":-1}}',
    '{"args":["true"],"rlimits":[{"type":5,"hard":1,"soft":1}]}',
]
RESOURCES = [
    '{"memory":5}',
    '{"cpu":{"cpus":5}}',
    '{"pids":[1]}',
    '{"devices":5}',
    '{"blockIO":{"weightDevice":[5]}}',
    '{"memory":{"limit":"x"}}',
    '{"cpu":{"cpus":"\\u0000"}}',
    '{"hugepageLimits":5}',
    '{"network":5}',
    '{"unified":5}',
    "[]",
    "null",
    '{"rdma":5}',
]
ARGS = [
    ["exec", "--user", "x:y:z", "C", "true"],
    ["exec", "--preserve-fds", "-1", "C", "true"],
    ["exec", "--cgroup", "a:b:c", "C", "true"],
    ["exec", "--cap", "CAP_NOPE", "C", "true"],
    ["exec", "--env", "=", "C", "true"],
    ["exec", "--cwd", "rel", "C", "true"],
    ["kill", "C", "SIGNOPE"],
    ["kill", "C", "99999"],
    ["kill", "C", "-1"],
    ["update", "--memory", "abc", "C"],
    ["update", "--cpu-quota", "1e99", "C"],
    ["update", "--pids-limit", "x", "C"],
    ["update", "--cpuset-cpus", "999999", "C"],
    ["ps", "-f", "json", "C"],
    ["ps", "C", "--", "-o", "nope"],
    ["events", "--interval", "x", "C"],
    ["events", "--interval", "-1s", "--stats", "C"],
    ["list", "--format", "yaml"],
    ["state", "../C"],
    ["state", "a/b"],
    ["state", "x" * 300],
    ["delete", ""],
    ["create", "-b", "/nonexistent", "hardnames-z"],
    ["create", "--pid-file", "/proc/1/x", "C"],
    ["create", "--console-socket", "/nonexistent", "hardnames-z"],
    ["pause", "nope"],
    ["exec", "-p", "/dev/zero", "C"],
    ["exec", "-p", "/nonexistent", "C"],
    ["update", "-r", "/dev/zero", "C"],
    ["exec", "--process-label", "x", "C", "true"],
]


def test_malformed_exec_update_and_args_never_show_python(runk, bundle, tmp_path, leak_audit):
    """exec --process and update -r files are validated like config.json, and ~60 malformed
    files and arguments each give one line without a Python exception name."""
    cid = "hardnames-run"
    bundle.args("sleep", "100").write()
    assert runk("run", "-d", "-b", bundle.path, cid).rc == 0
    try:
        f = tmp_path / "in.json"
        for text in PROCESSES:
            f.write_text(text)
            r = runk("exec", "-p", str(f), cid, timeout=30)
            assert r.rc != 0, text
            _assert_clean(r, text)
        for text in RESOURCES:
            f.write_text(text)
            r = runk("update", "-r", str(f), cid, timeout=30)
            assert r.rc != 0 or text in ("null", "[]"), text
            _assert_clean(r, text)
        for args in ARGS:
            r = runk(*[cid if a == "C" else a for a in args], timeout=30)
            _assert_clean(r, " ".join(args))
        for text, field in (
            ('{"args":5}', "process.args: must be an array"),
            ('{"args":["true"],"env":[5]}', "process.env[0]: must be a string"),
        ):
            f.write_text(text)
            assert field in runk("exec", "-p", str(f), cid).err
        f.write_text('{"pids":[1]}')
        assert "linux.resources.pids: must be an object" in runk("update", "-r", str(f), cid).err
    finally:
        assert runk("delete", "-f", cid).rc == 0


def _runk_limited(runk, *args: str, timeout: float = 15) -> tuple[int, str]:
    """runk with 2 GiB of address space at most: reading /dev/zero must not take the machine."""
    import resource
    import subprocess

    from tests.conftest import RUNK

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))

    p = subprocess.run(
        [RUNK, "--root", runk.root, *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        timeout=timeout,
        preexec_fn=limit,
    )
    return p.returncode, p.stderr


@pytest.mark.parametrize("kind", ["dev-zero", "fifo", "directory", "too-large"])
def test_config_json_must_be_a_regular_file(runk, bundle, tmp_path, kind, leak_audit):
    path = os.path.join(bundle.path, "config.json")
    os.unlink(path)
    if kind == "dev-zero":
        os.symlink("/dev/zero", path)
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "directory":
        os.mkdir(path)
    else:
        with open(path, "w") as f:
            f.write(json.dumps(bundle.config)[:-1] + ', "x": "' + "a" * (17 << 20) + '"}')
    t0 = time.monotonic()
    rc, err = _runk_limited(runk, "create", "-b", bundle.path, "hardnames-cfg")
    assert rc == 1 and time.monotonic() - t0 < 10
    want = "is larger than 16 MiB" if kind == "too-large" else "is not a regular file"
    assert f"config.json: {path} {want}" in err, err
    assert not PY_NAMES.search(err) and len(err.splitlines()) == 1, err
    assert not os.path.isdir(runk.root) or os.listdir(runk.root) == []


def test_a_symlinked_config_json_is_followed_as_runc_does(runk, bundle, tmp_path, leak_audit):
    real = tmp_path / "real.json"
    os.rename(os.path.join(bundle.path, "config.json"), real)
    os.symlink(real, os.path.join(bundle.path, "config.json"))
    assert runk("create", "-b", bundle.path, "hardnames-link").rc == 0
    assert runk("delete", "-f", "hardnames-link").rc == 0


@pytest.mark.parametrize("verb", ["exec", "update"])
def test_process_and_resources_streams_are_bounded(runk, bundle, tmp_path, verb, leak_audit):
    """exec -p and update -r take pipes as runc does, but /dev/zero stops at the cap, a FIFO
    without a writer at its EOF, a writer that never finishes at the deadline, and a directory
    is refused."""
    cid = "hardnames-files"
    bundle.args("sleep", "100").write()
    assert runk("run", "-d", "-b", bundle.path, cid).rc == 0
    try:
        fifo = str(tmp_path / "fifo")
        os.mkfifo(fifo)
        silent = str(tmp_path / "silent")
        os.mkfifo(silent)
        holder = os.open(silent, os.O_RDWR)  # a writer that never writes nor closes
        try:
            for path, want in (
                ("/dev/zero", "/dev/zero: larger than 16 MiB"),
                (fifo, ""),
                (silent, f"{silent}: no end of input within 10 s"),
                (str(tmp_path), "is not a regular file, a pipe or a character device"),
            ):
                args = ["exec", "-p", path, cid] if verb == "exec" else ["update", "-r", path, cid]
                t0 = time.monotonic()
                rc, err = _runk_limited(runk, *args, timeout=30)
                assert rc != 0 and time.monotonic() - t0 < 20, (path, err)
                assert want in err and len(err.splitlines()) == 1, (path, err)
                assert not PY_NAMES.search(err), err
        finally:
            os.close(holder)
    finally:
        assert runk("delete", "-f", cid).rc == 0


def test_exec_process_from_a_pipe_as_runc(runk, runc, bundle, leak_audit):
    """`exec -p /dev/fd/N` (bash's <(...)): runc reads the process from a pipe, and so does runk."""
    import subprocess

    bundle.args("sleep", "100").write()
    proc = json.dumps({"args": ["echo", "from-a-pipe"], "cwd": "/", "env": ["PATH=/bin"], "user": {"uid": 0, "gid": 0}})
    for rt, cid in ((runk, "hardnames-pipe"), (runc, "hardnames-pipe-c")):
        assert rt("run", "-d", "-b", bundle.path, cid).rc == 0
        try:
            r, w = os.pipe()
            os.write(w, proc.encode())
            os.close(w)
            p = subprocess.run(
                [rt.binary, "--root", rt.root, "exec", "-p", f"/dev/fd/{r}", cid],
                pass_fds=(r,),
                capture_output=True,
                text=True,
                timeout=30,
            )
            os.close(r)
            assert (p.returncode, p.stdout) == (0, "from-a-pipe\n"), (rt.binary, p)
        finally:
            assert rt("delete", "-f", cid).rc == 0


def _arg_rules(n: int, syscalls: tuple[str, ...] = ("personality",)) -> dict:
    return {
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            {
                "names": [syscalls[i % len(syscalls)]],
                "action": "SCMP_ACT_ERRNO",
                "args": [{"index": 0, "value": i, "op": "SCMP_CMP_EQ"}],
            }
            for i in range(n)
        ],
    }


@pytest.mark.parametrize(
    "n,want",
    [
        (
            10000,
            "1 syscalls with 10000 distinct argument conditions need at least 10001 BPF "
            "instructions, more than the kernel's limit of 4096",
        ),
        (4090, "BPF instructions, more than the kernel's limit of 4096"),
    ],
)
def test_seccomp_past_the_kernel_limit_fails_fast_at_create(runk, bundle, n, want, leak_audit):
    """10k argument rules took 37 s of CPU and then failed at start; now create refuses them
    at once, naming linux.seccomp and the instruction count."""
    bundle.config["process"]["noNewPrivileges"] = True  # the trampoline loads it at start
    bundle.config["linux"]["seccomp"] = _arg_rules(n)
    bundle.args("true").write()
    t0 = time.monotonic()
    r = runk("create", "-b", bundle.path, "hardnames-bpf", timeout=60)
    took = time.monotonic() - t0
    assert r.rc == 1 and "linux.seccomp: " in r.err and want in r.err, r
    assert took < 5, took
    assert not os.path.isdir(runk.root) or os.listdir(runk.root) in ([], ["@cache"])


def test_seccomp_just_inside_the_limit_runs(runk, bundle, leak_audit):
    bundle.config["linux"]["seccomp"] = _arg_rules(3000)
    bundle.sh("echo ok").write()
    r = runk("run", "-b", bundle.path, "hardnames-bpf-ok", timeout=60)
    assert r.rc == 0 and r.out == "ok\n", r
