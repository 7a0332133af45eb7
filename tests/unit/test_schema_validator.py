"""The generated config validator (runk/oci/_schema_validator.py) against its reference.

- freshness: scripts/gen-validator regenerates the committed module byte for byte, whatever the
  hash seed;
- parity: jsonschema (Draft 2020-12 over spec/) and the generated code agree on every document
  of the corpus (podman's configs, `runc spec`, `runc spec --rootless`, listed mutations and
  systematic ones), and on invalid documents the generated path is one of jsonschema's paths,
  for a keyword of the same kind;
- import cost: importing and running the validator imports neither re, json nor jsonschema
  unless a patterned field is present.

Reference rules (the same as spec/README.md):
- "integer" is strict in both: the reference validator's type checker is Draft 2020-12's with
  integer redefined as a JSON number without fraction or exponent (Go refuses 1.0 for runc's
  integer fields). Everything else is stock jsonschema.
- jsonschema reports a missing property at the object's path; it is compared here at the
  property's own path (object path + name), which is where runk reports it.
"""

from __future__ import annotations

import copy
import functools
import glob
import importlib.machinery
import importlib.util
import json
import os
import subprocess
import sys

import pytest

from runk.errors import ConfigError
from runk.oci import _schema_validator

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SPEC = os.path.join(TOP, "spec")
DATA = os.path.join(TOP, "tests", "data")
GENERATOR = os.path.join(TOP, "scripts", "gen-validator")
GENERATED = os.path.join(TOP, "runk", "oci", "_schema_validator.py")
CONFIGS = sorted(glob.glob(os.path.join(DATA, "configs", "*.json")))


@functools.cache
def load_generator():
    loader = importlib.machinery.SourceFileLoader("gen_validator", GENERATOR)
    spec = importlib.util.spec_from_loader("gen_validator", loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


def load(name: str) -> dict:
    with open(os.path.join(DATA, name), encoding="utf-8") as f:
        return json.load(f)


# -- the reference ------------------------------------------------------------------------


def reference(schema_file: str):
    from jsonschema import Draft202012Validator, validators
    from referencing import Registry, Resource

    resources = []
    for path in sorted(glob.glob(os.path.join(SPEC, "*.json"))):
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
        Draft202012Validator.check_schema(doc)
        resources.append((doc["$id"], Resource.from_contents(doc)))
    # No $ref of spec/ names a document's root: jsonschema would switch to the class its
    # "$schema" names there (Validator.evolve → validator_for) and drop the strict integer.
    registry = Registry().with_resources(resources)
    checker = Draft202012Validator.TYPE_CHECKER.redefine("integer", lambda _checker, value: type(value) is int)
    strict = validators.extend(Draft202012Validator, type_checker=checker)
    with open(os.path.join(SPEC, schema_file), encoding="utf-8") as f:
        return strict(json.load(f), registry=registry)


@pytest.fixture(scope="module")
def ref():
    return reference("config-schema.json")


def fmt(path) -> str:
    out = ""
    for p in path:
        if isinstance(p, int):
            out += f"[{p}]"
        elif p.isidentifier():
            out += ("." if out else "") + p
        else:
            out += '["' + p.replace("\\", "\\\\").replace('"', '\\"') + '"]'
    return out


def ref_errors(validator, doc) -> set[tuple[str, str]]:
    """(path, keyword) for every error jsonschema finds; required → the property's path."""
    out = set()
    for e in validator.iter_errors(doc):
        path = list(e.absolute_path)
        if e.validator == "required":
            for name in e.validator_value:
                if name not in e.instance:
                    out.add((fmt(path + [name]), "required"))
        else:
            out.add((fmt(path), e.validator))
    return out


TYPE_PROBLEMS = {
    "must be an object",
    "must be an array",
    "must be a string",
    "must be an integer",
    "must be a number",
    "must be a boolean",
}


def keywords_for(problem: str) -> set[str]:
    """The jsonschema keywords a generated problem text corresponds to."""
    if problem in TYPE_PROBLEMS:
        return {"type"}
    for prefix, kws in (
        ("is required", {"required"}),
        ("must be one of", {"enum"}),
        ("must be >=", {"minimum"}),
        ("must be <=", {"maximum"}),
        ("must not be empty", {"minItems", "minLength"}),
        ("must have at least", {"minItems"}),
        ("must be at least", {"minLength"}),
        ("must match", {"pattern"}),
    ):
        if problem.startswith(prefix):
            return kws
    raise AssertionError(f"unexpected problem text {problem!r}")


def generated(doc) -> tuple[str, str] | None:
    try:
        _schema_validator.validate(doc)
    except ConfigError as e:
        return e.path, e.problem
    return None


def assert_parity(ref, doc) -> tuple[str, str] | None:
    got = generated(doc)
    errors = ref_errors(ref, doc)
    if got is None:
        assert not errors, f"generated validator accepts, jsonschema refuses: {sorted(errors)}"
        return None
    assert errors, f"generated validator refuses ({got}), jsonschema accepts"
    path, problem = got
    kws = keywords_for(problem)
    assert any(p == path and k in kws for p, k in errors), f"generated {got} is not among jsonschema's {sorted(errors)}"
    return got


# -- freshness ----------------------------------------------------------------------------


def test_committed_module_is_fresh():
    with open(GENERATED, encoding="utf-8") as f:
        committed = f.read()
    assert load_generator().generate() == committed, "run scripts/gen-validator and commit"


def test_generator_output_does_not_depend_on_hash_seed():
    outs = set()
    for seed in ("1", "2", "3"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        r = subprocess.run(
            [sys.executable, GENERATOR, "--stdout"], env=env, capture_output=True, text=True, timeout=60, check=True
        )
        outs.add(r.stdout)
    assert len(outs) == 1


# -- the corpus ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", CONFIGS, ids=os.path.basename)
def test_corpus_config_is_valid(ref, path):
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    assert not ref_errors(ref, doc)
    assert generated(doc) is None


def test_corpus_holds_podman_and_runc_spec():
    # copies of the config.json files podman 4.3.1 writes and of `runc spec [--rootless]` (1.1.5)
    names = {os.path.basename(p) for p in CONFIGS}
    assert names >= {
        "runc-spec.json",
        "runc-spec-rootless.json",
        "config.detach.json",
        "config.limits.json",
        "config.net-host.json",
        "config.net-none.json",
        "config.run-options.json",
        "config.tty.json",
    }


DEL = object()


def mutate(doc, *changes):
    """Apply (path, value) changes to a copy of doc; path is a tuple of keys and indexes,
    value DEL removes the entry. The empty path replaces the whole document."""
    doc = copy.deepcopy(doc)
    for path, value in changes:
        if not path:
            doc = value
            continue
        parent = doc
        for p in path[:-1]:
            parent = parent[p]
        if value is DEL:
            del parent[path[-1]]
        else:
            parent[path[-1]] = value
    return doc


HOOK = {"path": "/usr/bin/true", "args": ["true"], "env": ["A=1"], "timeout": 5}

# (id, base, changes, expected path or None when the result must be valid)
MUTATIONS = [
    # top level
    ("no-ociVersion", "runc", [(("ociVersion",), DEL)], "ociVersion"),
    ("ociVersion-int", "runc", [(("ociVersion",), 1)], "ociVersion"),
    ("no-root", "runc", [(("root",), DEL)], "root"),
    ("root-string", "runc", [(("root",), "rootfs")], "root"),
    ("no-root-path", "runc", [(("root", "path"), DEL)], "root.path"),
    ("root-readonly-str", "runc", [(("root", "readonly"), "yes")], "root.readonly"),
    ("doc-array", "runc", [((), [])], ""),
    ("doc-null", "runc", [((), None)], ""),
    ("hostname-int", "runc", [(("hostname",), 1)], "hostname"),
    ("domainname-ok", "runc", [(("domainname",), "example.test")], None),
    ("domainname-list", "runc", [(("domainname",), ["a"])], "domainname"),
    ("unknown-top-field", "podman", [(("x-runk-future",), {"a": [1, None, 2.5]})], None),
    (
        "unknown-nested-fields",
        "podman",
        [
            (("process", "x-extra"), 1),
            (("linux", "x-extra"), "s"),
            (("linux", "resources", "x-extra"), []),
            (("linux", "seccomp", "syscalls", 0, "x"), {}),
            (("process", "user", "x"), None),
            (("root", "x"), True),
        ],
        None,
    ),
    ("windows-section-string", "runc", [(("windows",), "x")], "windows"),
    (
        "other-platforms-loose",
        "runc",
        [(("solaris",), {"anet": [1]}), (("vm",), {"x": 1}), (("zos",), {}), (("freebsd",), {"y": "z"})],
        None,
    ),
    ("linux-null", "runc", [(("linux",), None)], "linux"),
    # process
    ("process-absent", "runc", [(("process",), DEL)], None),
    ("uid-string", "podman", [(("process", "user", "uid"), "0")], "process.user.uid"),
    ("uid-negative", "podman", [(("process", "user", "uid"), -1)], "process.user.uid"),
    ("uid-2^32", "podman", [(("process", "user", "uid"), 2**32)], "process.user.uid"),
    ("uid-max", "podman", [(("process", "user", "uid"), 2**32 - 1)], None),
    ("uid-float", "podman", [(("process", "user", "uid"), 1.0)], "process.user.uid"),
    ("uid-bool", "podman", [(("process", "user", "uid"), True)], "process.user.uid"),
    ("gid-absent", "runc", [(("process", "user", "gid"), DEL)], None),
    ("user-null", "runc", [(("process", "user"), None)], "process.user"),
    ("umask-negative", "podman", [(("process", "user", "umask"), -1)], "process.user.umask"),
    (
        "additionalGids-mixed",
        "runc",
        [(("process", "user", "additionalGids"), [5, "6"])],
        "process.user.additionalGids[1]",
    ),
    ("username-ok", "runc", [(("process", "user", "username"), "root")], None),
    ("args-empty", "runc", [(("process", "args"), [])], "process.args"),
    ("args-int", "runc", [(("process", "args"), ["sh", 1])], "process.args[1]"),
    ("no-cwd", "runc", [(("process", "cwd"), DEL)], "process.cwd"),
    ("env-string", "runc", [(("process", "env"), "PATH=/bin")], "process.env"),
    ("terminal-int", "runc", [(("process", "terminal"), 1)], "process.terminal"),
    ("consoleSize-no-width", "runc", [(("process", "consoleSize"), {"height": 24})], "process.consoleSize.width"),
    ("consoleSize-ok", "runc", [(("process", "consoleSize"), {"height": 24, "width": 80})], None),
    ("commandLine-int", "runc", [(("process", "commandLine"), 0)], "process.commandLine"),
    (
        "cap-int",
        "runc",
        [(("process", "capabilities", "bounding"), ["CAP_KILL", 7])],
        "process.capabilities.bounding[1]",
    ),
    ("cap-unknown-name", "runc", [(("process", "capabilities", "ambient"), ["CAP_NOT_REAL"])], None),
    ("rlimit-type", "podman", [(("process", "rlimits", 1, "type"), "RLIMIT_FOO")], "process.rlimits[1].type"),
    ("rlimit-soft-negative", "podman", [(("process", "rlimits", 0, "soft"), -1)], "process.rlimits[0].soft"),
    ("rlimit-no-hard", "podman", [(("process", "rlimits", 0, "hard"), DEL)], "process.rlimits[0].hard"),
    ("rlimit-2^64-1", "podman", [(("process", "rlimits", 0, "hard"), 2**64 - 1)], None),
    ("rlimit-2^64", "podman", [(("process", "rlimits", 0, "hard"), 2**64)], "process.rlimits[0].hard"),
    ("oom-too-big", "runc", [(("process", "oomScoreAdj"), 1001)], "process.oomScoreAdj"),
    ("oom-min", "runc", [(("process", "oomScoreAdj"), -1000)], None),
    ("oom-too-small", "runc", [(("process", "oomScoreAdj"), -1001)], "process.oomScoreAdj"),
    ("nnp-string", "runc", [(("process", "noNewPrivileges"), "true")], "process.noNewPrivileges"),
    ("apparmor-int", "runc", [(("process", "apparmorProfile"), 1)], "process.apparmorProfile"),
    ("selinux-ok", "runc", [(("process", "selinuxLabel"), "system_u:system_r:container_t:s0")], None),
    ("ioprio-ok", "runc", [(("process", "ioPriority"), {"class": "IOPRIO_CLASS_BE", "priority": 7})], None),
    (
        "ioprio-8",
        "runc",
        [(("process", "ioPriority"), {"class": "IOPRIO_CLASS_BE", "priority": 8})],
        "process.ioPriority.priority",
    ),
    ("ioprio-class", "runc", [(("process", "ioPriority"), {"class": "BE", "priority": 1})], "process.ioPriority.class"),
    (
        "sched-ok",
        "runc",
        [
            (
                ("process", "scheduler"),
                {
                    "policy": "SCHED_DEADLINE",
                    "nice": -5,
                    "priority": 0,
                    "flags": ["SCHED_FLAG_RECLAIM"],
                    "runtime": 1000,
                    "deadline": 2000,
                    "period": 3000,
                },
            )
        ],
        None,
    ),
    ("sched-policy", "runc", [(("process", "scheduler"), {"policy": "SCHED_FOO"})], "process.scheduler.policy"),
    (
        "sched-flag",
        "runc",
        [(("process", "scheduler"), {"policy": "SCHED_RR", "flags": ["SCHED_FLAG_NOPE"]})],
        "process.scheduler.flags[0]",
    ),
    (
        "sched-nice-range",
        "runc",
        [(("process", "scheduler"), {"policy": "SCHED_OTHER", "nice": 2**31})],
        "process.scheduler.nice",
    ),
    ("affinity-ok", "runc", [(("process", "execCPUAffinity"), {"initial": "7", "final": "0-3,7"})], None),
    ("affinity-bad", "runc", [(("process", "execCPUAffinity"), {"final": "all"})], "process.execCPUAffinity.final"),
    # hooks
    (
        "hooks-all-ok",
        "runc",
        [
            (
                ("hooks",),
                {
                    k: [HOOK]
                    for k in ("prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop")
                },
            )
        ],
        None,
    ),
    ("hook-timeout-0", "runc", [(("hooks",), {"prestart": [dict(HOOK, timeout=0)]})], "hooks.prestart[0].timeout"),
    ("hook-no-path", "runc", [(("hooks",), {"poststop": [HOOK, {"args": ["x"]}]})], "hooks.poststop[1].path"),
    (
        "hook-args-string",
        "runc",
        [(("hooks",), {"createRuntime": [dict(HOOK, args="x")]})],
        "hooks.createRuntime[0].args",
    ),
    ("hooks-list", "runc", [(("hooks",), [HOOK])], "hooks"),
    ("hook-unknown-phase", "runc", [(("hooks",), {"onBoot": [{"nonsense": 1}]})], None),
    # annotations
    (
        "annotations-any-keys",
        "podman",
        [(("annotations",), {"io.example/with spaces": "v", "": "", 'quote"key': "x", "ключ": "значение"})],
        None,
    ),
    ("annotation-int", "podman", [(("annotations", "io.example.count"), 2)], 'annotations["io.example.count"]'),
    ("annotation-quoted-key", "podman", [(("annotations", 'a"b'), None)], 'annotations["a\\"b"]'),
    ("annotations-list", "runc", [(("annotations",), [])], "annotations"),
    # mounts
    ("mount-no-destination", "runc", [(("mounts", 0, "destination"), DEL)], "mounts[0].destination"),
    ("mount-options-string", "runc", [(("mounts", 1, "options"), "ro")], "mounts[1].options"),
    ("mount-idmap-ok", "runc", [(("mounts", 0, "uidMappings"), [{"containerID": 0, "hostID": 1, "size": 1}])], None),
    (
        "mount-idmap-size",
        "runc",
        [(("mounts", 0, "gidMappings"), [{"containerID": 0, "hostID": 1, "size": "1"}])],
        "mounts[0].gidMappings[0].size",
    ),
    # linux
    ("ns-bogus", "podman", [(("linux", "namespaces", 2, "type"), "bogus")], "linux.namespaces[2].type"),
    ("ns-time", "runc", [(("linux", "namespaces", 0), {"type": "time"})], None),
    ("ns-no-type", "runc", [(("linux", "namespaces", 0, "type"), DEL)], "linux.namespaces[0].type"),
    ("ns-path-int", "runc", [(("linux", "namespaces", 0, "path"), 3)], "linux.namespaces[0].path"),
    (
        "uidmap-float",
        "runc",
        [(("linux", "uidMappings"), [{"containerID": 0.0, "hostID": 1000, "size": 1}])],
        "linux.uidMappings[0].containerID",
    ),
    (
        "uidmap-no-size",
        "runc",
        [(("linux", "uidMappings"), [{"containerID": 0, "hostID": 1000}])],
        "linux.uidMappings[0].size",
    ),
    (
        "timeoffsets-ok",
        "runc",
        [(("linux", "timeOffsets"), {"monotonic": {"secs": -5, "nanosecs": 0}, "boottime": {"secs": 2**40}})],
        None,
    ),
    (
        "timeoffsets-nanosecs",
        "runc",
        [(("linux", "timeOffsets"), {"boottime": {"nanosecs": -1}})],
        "linux.timeOffsets.boottime.nanosecs",
    ),
    ("device-type", "runc", [(("linux", "devices"), [{"type": "x", "path": "/dev/x"}])], "linux.devices[0].type"),
    ("device-fifo-ok", "runc", [(("linux", "devices"), [{"type": "p", "path": "/dev/fifo"}])], None),
    (
        "device-no-path",
        "runc",
        [
            (
                ("linux", "devices"),
                [
                    {"type": "c", "path": "/dev/fuse", "major": 10, "minor": 229, "fileMode": 438, "uid": 0, "gid": 0},
                    {"type": "c", "major": 1, "minor": 3},
                ],
            )
        ],
        "linux.devices[1].path",
    ),
    ("netdev-name-int", "runc", [(("linux", "netDevices"), {"eth0": {"name": 23}})], "linux.netDevices.eth0.name"),
    ("netdev-ok", "runc", [(("linux", "netDevices"), {"eth0": {"name": "ctr%d"}, "dummy0": {}})], None),
    ("cgroupsPath-int", "podman", [(("linux", "cgroupsPath"), 5)], "linux.cgroupsPath"),
    ("propagation-bogus", "runc", [(("linux", "rootfsPropagation"), "bogus")], "linux.rootfsPropagation"),
    ("propagation-rslave", "runc", [(("linux", "rootfsPropagation"), "rslave")], None),
    (
        "memory-limit-string",
        "podman",
        [(("linux", "resources", "memory", "limit"), "1g")],
        "linux.resources.memory.limit",
    ),
    ("memory-unlimited", "podman", [(("linux", "resources", "memory", "swap"), -1)], None),
    ("cpu-shares-negative", "podman", [(("linux", "resources", "cpu", "shares"), -1)], "linux.resources.cpu.shares"),
    (
        "blkio-weight",
        "runc",
        [(("linux", "resources", "blockIO"), {"weight": 70000})],
        "linux.resources.blockIO.weight",
    ),
    (
        "blkio-throttle-no-rate",
        "runc",
        [(("linux", "resources", "blockIO"), {"throttleReadBpsDevice": [{"major": 8, "minor": 0}]})],
        "linux.resources.blockIO.throttleReadBpsDevice[0].rate",
    ),
    (
        "blkio-ok",
        "runc",
        [
            (
                ("linux", "resources", "blockIO"),
                {
                    "weight": 10,
                    "leafWeight": 10,
                    "weightDevice": [{"major": 8, "minor": 0, "weight": 500, "leafWeight": 300}],
                    "throttleWriteIOPSDevice": [{"major": 8, "minor": 16, "rate": 300}],
                },
            )
        ],
        None,
    ),
    (
        "hugepage-size",
        "runc",
        [(("linux", "resources", "hugepageLimits"), [{"pageSize": "2XB", "limit": 1}])],
        "linux.resources.hugepageLimits[0].pageSize",
    ),
    (
        "hugepage-ok",
        "runc",
        [
            (
                ("linux", "resources", "hugepageLimits"),
                [{"pageSize": "2MB", "limit": 209715200}, {"pageSize": "64KB", "limit": 1000000}],
            )
        ],
        None,
    ),
    ("pids-no-limit", "podman", [(("linux", "resources", "pids"), {})], "linux.resources.pids.limit"),
    (
        "rdma-negative",
        "runc",
        [(("linux", "resources", "rdma"), {"mlx5_1": {"hcaHandles": -1}})],
        "linux.resources.rdma.mlx5_1.hcaHandles",
    ),
    (
        "unified-int",
        "runc",
        [(("linux", "resources", "unified"), {"memory.max": 5})],
        'linux.resources.unified["memory.max"]',
    ),
    (
        "net-prio-no-priority",
        "runc",
        [(("linux", "resources", "network"), {"classID": 1048577, "priorities": [{"name": "eth0"}]})],
        "linux.resources.network.priorities[0].priority",
    ),
    (
        "cgdev-no-allow",
        "runc",
        [(("linux", "resources", "devices", 0, "allow"), DEL)],
        "linux.resources.devices[0].allow",
    ),
    (
        "cgdev-type",
        "runc",
        [(("linux", "resources", "devices"), [{"allow": True, "type": "x"}])],
        "linux.resources.devices[0].type",
    ),
    (
        "rdt-mb",
        "runc",
        [(("linux", "intelRdt"), {"closID": "g", "memBwSchema": "L3:0=1"})],
        "linux.intelRdt.memBwSchema",
    ),
    (
        "rdt-ok",
        "runc",
        [
            (
                ("linux", "intelRdt"),
                {
                    "closID": "g",
                    "l3CacheSchema": "L3:0=7f0;1=1f",
                    "memBwSchema": "MB:0=20;1=70",
                    "enableCMT": True,
                    "enableMBM": False,
                },
            )
        ],
        None,
    ),
    ("sysctl-int", "podman", [(("linux", "sysctl", "net.ipv4.ip_forward"), 1)], 'linux.sysctl["net.ipv4.ip_forward"]'),
    ("seccomp-no-default", "podman", [(("linux", "seccomp", "defaultAction"), DEL)], "linux.seccomp.defaultAction"),
    (
        "seccomp-default-bogus",
        "podman",
        [(("linux", "seccomp", "defaultAction"), "SCMP_ACT_FOO")],
        "linux.seccomp.defaultAction",
    ),
    (
        "seccomp-errno-negative",
        "podman",
        [(("linux", "seccomp", "defaultErrnoRet"), -38)],
        "linux.seccomp.defaultErrnoRet",
    ),
    (
        "seccomp-arch",
        "podman",
        [(("linux", "seccomp", "architectures", 1), "SCMP_ARCH_Z80")],
        "linux.seccomp.architectures[1]",
    ),
    (
        "seccomp-flag",
        "podman",
        [(("linux", "seccomp", "flags"), ["SECCOMP_FILTER_FLAG_FOO"])],
        "linux.seccomp.flags[0]",
    ),
    (
        "seccomp-listener-ok",
        "podman",
        [(("linux", "seccomp", "listenerPath"), "/run/agent.sock"), (("linux", "seccomp", "listenerMetadata"), "x")],
        None,
    ),
    ("seccomp-listener-int", "podman", [(("linux", "seccomp", "listenerPath"), 5)], "linux.seccomp.listenerPath"),
    (
        "syscall-no-names",
        "podman",
        [(("linux", "seccomp", "syscalls", 3, "names"), [])],
        "linux.seccomp.syscalls[3].names",
    ),
    (
        "syscall-action",
        "podman",
        [(("linux", "seccomp", "syscalls", 0, "action"), "ALLOW")],
        "linux.seccomp.syscalls[0].action",
    ),
    (
        "syscall-errnoRet-string",
        "podman",
        [(("linux", "seccomp", "syscalls", 0, "errnoRet"), "EPERM")],
        "linux.seccomp.syscalls[0].errnoRet",
    ),
    (
        "syscall-arg-op",
        "podman",
        [(("linux", "seccomp", "syscalls", 2, "args", 0, "op"), "SCMP_CMP_FOO")],
        "linux.seccomp.syscalls[2].args[0].op",
    ),
    (
        "syscall-arg-value",
        "podman",
        [(("linux", "seccomp", "syscalls", 2, "args", 0, "value"), -1)],
        "linux.seccomp.syscalls[2].args[0].value",
    ),
    (
        "syscall-arg-no-index",
        "podman",
        [(("linux", "seccomp", "syscalls", 2, "args", 0, "index"), DEL)],
        "linux.seccomp.syscalls[2].args[0].index",
    ),
    (
        "syscall-arg-valueTwo-ok",
        "podman",
        [(("linux", "seccomp", "syscalls", 2, "args", 0, "valueTwo"), 2**64 - 1)],
        None,
    ),
    ("masked-int", "runc", [(("linux", "maskedPaths", 0), 1)], "linux.maskedPaths[0]"),
    ("readonly-string", "runc", [(("linux", "readonlyPaths"), "/proc")], "linux.readonlyPaths"),
    ("mountLabel-int", "runc", [(("linux", "mountLabel"), 1)], "linux.mountLabel"),
    ("personality-domain", "runc", [(("linux", "personality"), {"domain": "LINUX64"})], "linux.personality.domain"),
    ("personality-no-domain", "runc", [(("linux", "personality"), {"flags": []})], "linux.personality.domain"),
    ("personality-ok", "runc", [(("linux", "personality"), {"domain": "LINUX32"})], None),
    # several errors at once: the documented order decides which is reported
    (
        "multi-required-before-props",
        "runc",
        [(("process", "cwd"), DEL), (("process", "user", "uid"), "x")],
        "process.cwd",
    ),
    (
        "multi-schema-order",
        "podman",
        [(("linux", "namespaces", 0, "type"), "x"), (("process", "args"), [])],
        "process.args",
    ),
    ("multi-items-in-order", "podman", [(("process", "env", 3), 3), (("process", "env", 1), 1)], "process.env[1]"),
]


@pytest.fixture(scope="module")
def bases():
    return {"runc": load("configs/runc-spec.json"), "podman": load("configs/config.limits.json")}


def test_mutation_count():
    assert len(MUTATIONS) >= 40
    assert len({m[0] for m in MUTATIONS}) == len(MUTATIONS)


@pytest.mark.parametrize("name,base,changes,expected", MUTATIONS, ids=[m[0] for m in MUTATIONS])
def test_mutation(ref, bases, name, base, changes, expected):
    doc = mutate(bases[base], *changes)
    got = assert_parity(ref, doc)
    if expected is None:
        assert got is None
    else:
        assert got is not None and got[0] == expected, got


def wrong_values(v) -> list:
    """Values of other JSON types than v's (bool and float where an integer is due)."""
    if isinstance(v, bool):
        return ["true", 0]
    if isinstance(v, int):
        return [str(v), True, v + 0.5, float(v)]
    if isinstance(v, str):
        return [1, None]
    if isinstance(v, list):
        return [{}, "x"]
    if isinstance(v, dict):
        return [[], "x"]
    raise AssertionError(f"unexpected value {v!r}")


def walk(doc, path=()):
    yield path, doc
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from walk(v, path + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from walk(v, path + (i,))


def systematic_bases():
    podman = load("configs/config.run-options.json")
    # keep the seccomp profile's shape but not its 400 names, to keep the run short
    seccomp = podman["linux"]["seccomp"]
    seccomp["syscalls"] = seccomp["syscalls"][:8]
    for s in seccomp["syscalls"]:
        s["names"] = s["names"][:2]
    return [
        ("runc", load("configs/runc-spec.json")),
        ("rootless", load("configs/runc-spec-rootless.json")),
        ("podman", podman),
    ]


def test_systematic_wrong_types_and_deletions(ref):
    """Every value of three configs replaced by one of another type, and every key deleted:
    both validators agree each time; a wrong type is always refused."""
    checked = 0
    for _name, doc in systematic_bases():
        for path, value in list(walk(doc)):
            if not path:
                continue
            for wrong in wrong_values(value):
                assert assert_parity(ref, mutate(doc, (path, wrong))) is not None, (path, wrong)
                checked += 1
            if isinstance(path[-1], str):
                assert_parity(ref, mutate(doc, (path, DEL)))
                checked += 1
    assert checked > 1000


# -- messages -----------------------------------------------------------------------------


def test_message_names_the_path_and_the_problem(bases):
    doc = mutate(bases["podman"], (("linux", "namespaces", 2, "type"), "bogus"))
    with pytest.raises(ConfigError) as e:
        _schema_validator.validate(doc)
    assert str(e.value) == (
        'linux.namespaces[2].type: must be one of ["pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time"]'
    )
    doc = mutate(bases["runc"], (("process", "user", "uid"), "0"))
    with pytest.raises(ConfigError) as e:
        _schema_validator.validate(doc)
    assert (e.value.path, e.value.problem) == ("process.user.uid", "must be an integer")
    with pytest.raises(ConfigError) as e:
        _schema_validator.validate(mutate(bases["runc"], (("process", "user", "umask"), -1)))
    assert str(e.value) == "process.user.umask: must be >= 0"
    with pytest.raises(ConfigError) as e:
        _schema_validator.validate(mutate(bases["runc"], (("root",), DEL)))
    assert str(e.value) == "root: is required"
    with pytest.raises(ConfigError) as e:
        _schema_validator.validate("{}")
    assert (e.value.path, str(e.value)) == ("", "must be an object")


# -- import cost --------------------------------------------------------------------------

PROBE = r"""
import sys
sys.path[:0] = [{top!r}]
before = set(sys.modules)
import runk.oci._schema_validator as v
v.validate({doc!r})
heavy = sorted(m for m in ("re", "json", "jsonschema", "enum", "typing") if m in sys.modules)
print(",".join(heavy))
"""


def probe(doc) -> list[str]:
    r = subprocess.run(
        [sys.executable, "-I", "-S", "-c", PROBE.format(top=TOP, doc=doc)], capture_output=True, text=True, timeout=30
    )
    assert r.returncode == 0, r.stderr
    return [m for m in r.stdout.strip().split(",") if m]


def test_validating_imports_nothing_heavy(bases):
    # runc spec has no patterned field; podman's config has rlimits, an enum (no pattern)
    assert probe(bases["runc"]) == []
    assert probe(bases["podman"]) == []


def test_re_is_imported_only_for_a_patterned_field(bases):
    doc = mutate(bases["runc"], (("linux", "resources", "hugepageLimits"), [{"pageSize": "2MB", "limit": 1}]))
    heavy = probe(doc)
    assert "re" in heavy and "json" not in heavy and "jsonschema" not in heavy


# -- state and features schemas (jsonschema only) ---------------------------------------


def test_every_schema_is_a_valid_2020_12_schema():
    from jsonschema import Draft202012Validator

    for path in sorted(glob.glob(os.path.join(SPEC, "*.json"))):
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
        Draft202012Validator.check_schema(doc)
        assert doc["$schema"] == "https://json-schema.org/draft/2020-12/schema"


@pytest.mark.parametrize(
    "changes,valid",
    [
        ([], True),
        ([(("status",), "stopped"), (("pid",), DEL)], True),
        ([(("status",), "paused")], True),
        ([(("status",), "creating"), (("pid",), DEL)], True),
        ([(("pid",), DEL)], False),
        ([(("status",), "frozen")], False),
        ([(("bundle",), "relative/dir")], False),
        ([(("id",), DEL)], False),
        ([(("pid",), -1)], False),
        ([(("annotations",), {"k": 1})], False),
    ],
    ids=repr,
)
def test_state_schema(changes, valid):
    doc = mutate(load("state/podman-state.running.json"), *changes)
    errors = list(reference("state-schema.json").iter_errors(doc))
    assert (not errors) is valid, [e.message for e in errors]


@pytest.mark.parametrize(
    "changes,valid",
    [
        ([], True),
        (
            [
                (("linux", "mountExtensions"), {"idmap": {"enabled": True}}),
                (("potentiallyUnsafeConfigAnnotations",), ["bundle", "org.systemd.property."]),
            ],
            True,
        ),
        ([(("ociVersionMax",), DEL)], False),
        ([(("linux", "namespaces", 0), "bogus")], False),
        ([(("linux", "seccomp", "actions", 0), "SCMP_ACT_FOO")], False),
        ([(("linux", "capabilities", 0), "chown")], False),
        ([(("hooks",), ["onBoot"])], False),
    ],
    ids=repr,
)
def test_features_schema(changes, valid):
    doc = mutate(load("features/runc-features.json"), *changes)
    errors = list(reference("features-schema.json").iter_errors(doc))
    assert (not errors) is valid, [e.message for e in errors]


# -- the generator on schemas of its own ------------------------------------------------------


def generate_from(tmp_path, schema: dict) -> dict:
    schema = dict(schema, **{"$id": "https://runk.invalid/t/config-schema.json"})
    (tmp_path / "config-schema.json").write_text(json.dumps(schema))
    ns: dict = {}
    exec(compile(load_generator().generate(str(tmp_path)), "<generated>", "exec"), ns)
    return ns


def test_generator_refuses_keywords_it_does_not_translate(tmp_path):
    gen = load_generator()
    for schema in (
        {"type": "object", "oneOf": [{}]},
        {"type": ["string", "null"]},
        {"type": "integer", "enum": [1, 2]},
        {"type": "string", "minimum": 1},
        {"$ref": "#/$defs/x", "type": "object", "$defs": {"x": {"type": "object"}}},
    ):
        with pytest.raises(gen.SchemaError):
            generate_from(tmp_path, schema)


def test_generator_additional_properties_false(tmp_path):
    ns = generate_from(
        tmp_path, {"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": False}
    )
    ns["validate"]({"a": "x"})
    with pytest.raises(ConfigError) as e:
        ns["validate"]({"a": "x", "b c": 1})
    assert (e.value.path, e.value.problem) == ('["b c"]', "is not allowed")


# -- generated documents (hypothesis) ----------------------------------------------------------

try:
    from hypothesis import given
    from hypothesis import strategies as st

    from tests.property import strategies as S
    from tests.property.profiles import scaled
except ImportError:  # pragma: no cover - hypothesis not installed
    given = None


if given is not None:
    _REF = None

    def _ref():
        global _REF
        if _REF is None:
            _REF = reference("config-schema.json")
        return _REF

    @pytest.mark.property
    @scaled(0.4)
    @given(S.schema_documents())
    def test_parity_on_documents_drawn_from_the_schema(doc):
        """Documents drawn from spec/ (valid, or with random nodes swapped for any JSON value)."""
        assert_parity(_ref(), doc)

    @pytest.mark.property
    @scaled(0.4)
    @given(st.sampled_from(CONFIGS).map(lambda p: load(os.path.relpath(p, DATA))).flatmap(S.mutated))
    def test_parity_on_mutated_corpus_configs(doc):
        """podman's and runc's configs with one node replaced, removed or nested."""
        assert_parity(_ref(), doc)
