"""Hot commands import none of the heavy or forbidden modules (DESIGN 3.11 rule 8): each runs
in a fresh `python -I -S` against a scratch --root and reports sys.modules."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FORBIDDEN = {
    "click",
    "jsonschema",
    "pyroute2",
    "re",
    "enum",
    "typing",
    "dataclasses",
    "logging",
    "traceback",
    "subprocess",
    "socket",
    "json",
    "pathlib",
    "signal",
    "cffi",
    "os",
    "copy",  # exec copied its process with it (weakref, types, a sys.path search): runk._json.copy
}  # 0.8 ms: the short commands take theirs from runk._os

PROBE = r"""
import sys
sys.path.insert(0, {top!r})
sys.path.append({site!r})
from runk.cli.main import main
rc = main({argv!r})
mods = sorted(m for m in sys.modules)
with open({out!r}, "w") as f:
    f.write(repr((rc, mods)))
"""


def modules_after(argv: list[str], tmp_path, env: dict[str, str] | None = None) -> tuple[int, set[str]]:
    import sysconfig

    out = tmp_path / "mods.txt"
    code = PROBE.format(top=TOP, site=sysconfig.get_paths()["purelib"], argv=argv, out=str(out))
    # no pipes: a created container holds the stdio it is given
    subprocess.run(
        [sys.executable, "-I", "-S", "-c", code],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=30,
        env=env,
    )
    rc, mods = eval(out.read_text())
    return rc, set(mods)


@pytest.mark.parametrize(
    "argv",
    [
        ["state", "nonexistent"],
        ["list"],
        ["list", "-q"],
        ["kill", "nonexistent", "9"],
        ["start", "nonexistent"],
        ["delete", "--force", "nonexistent"],
    ],
    ids=" ".join,
)
def test_hot_commands_stay_light(argv, tmp_path):
    rc, mods = modules_after(["--root", str(tmp_path / "root"), *argv], tmp_path)
    assert rc in (0, 1)
    assert not (FORBIDDEN & mods), sorted(FORBIDDEN & mods)


@pytest.mark.parametrize("flag", ["--version", "-v"])
def test_version_alone_skips_the_command_tree(flag, tmp_path):
    """`runk --version` (docker info and podman info ask it) prints without click or the heavy
    modules."""
    rc, mods = modules_after([flag], tmp_path)
    assert rc == 0
    assert not (FORBIDDEN & mods), sorted(FORBIDDEN & mods)


def test_json_module_not_needed_for_state_rendering(tmp_path):
    (tmp_path / "root").mkdir()  # a missing --root is an error (runc)
    rc, mods = modules_after(["--root", str(tmp_path / "root"), "list", "--format", "json"], tmp_path)
    assert rc == 0 and "json" not in mods


def _delete_force(root: str, cid: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "runk", "--root", root, "delete", "--force", cid],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=TOP,
        timeout=60,
    )


MANAGERS = {"runk.linux.cgroups.base", "runk.linux.cgroups.v1", "runk.linux.cgroups.v2", "runk.linux.cgroups.hybrid"}


def test_a_real_lifecycle_stays_light(bundle, tmp_path):
    """create/start/state/exec/kill/delete and run of a real container (no hooks in its
    config): no os, no hook machinery, no freezer code, no python-prctl wrapper module, nothing
    forbidden."""
    root = str(tmp_path / "root")
    bundle.args("sleep", "600")
    bundle.write()
    cid = "budget-" + os.urandom(4).hex()
    not_needed = {
        "runk.state.hooks",
        "runk.linux.hookexec",
        "runk.linux.cgroups.v1_freezer",
        "runk.linux.cgroups.v2_freezer",
        "prctl",
        "click",
    }
    seen = []
    try:
        for argv in (
            ["create", "--bundle", bundle.path, cid],
            ["start", cid],
            ["state", cid],
            ["exec", cid, "true"],
            ["kill", cid, "KILL"],
            ["delete", "--force", cid],
            ["run", "--bundle", bundle.path, cid + "-run"],
        ):
            if argv[0] == "run":
                bundle.args("true")
                bundle.write()
            rc, mods = modules_after(["--root", root, *argv], tmp_path)
            unwanted = FORBIDDEN | not_needed
            if argv[0] not in ("create", "run", "exec"):
                # the short commands read and remove groups without a cgroup manager
                unwanted = unwanted | MANAGERS
            seen.append((argv[0], rc, sorted(unwanted & mods)))
    finally:
        _delete_force(root, cid)
    assert seen == [
        (verb, rc, [])
        for verb, rc in (("create", 0), ("start", 0), ("state", 0), ("exec", 0), ("kill", 0), ("delete", 0), ("run", 0))
    ]


# What only some configs need, with the fields that need it: a config without them never loads
# the module, in the parent or (runk.linux.launch.preload) before the fork for the init.
CONFIG_ONLY = {
    "runk.linux.schedattr": "process.scheduler, ioPriority, execCPUAffinity, linux.memoryPolicy",
    "runk.linux.hookexec": "hooks",
    "runk.linux.console": "process.terminal",
    "runk.linux.sysctl": "linux.sysctl",
    "runk.linux.userns": "a user namespace (its id maps)",
    "runk.state.faults": "the test suite's RUNK_TEST_STOP_AFTER",
}


def test_plain_config_loads_no_module_it_does_not_use(bundle, tmp_path):
    """create, exec and run of a config that uses none of CONFIG_ONLY's fields (no terminal,
    scheduler, io priority, memory policy, CPU affinity, hooks, sysctl, user namespace): none
    of those modules is imported. They cost 0.1-0.2 ms each on every create."""
    root = str(tmp_path / "root")
    bundle.args("sleep", "600")
    bundle.write()
    cfg = bundle.config
    assert not cfg.get("hooks") and not cfg["process"].get("terminal")
    assert not (cfg["linux"].get("sysctl") or cfg["linux"].get("uidMappings"))
    cid = "budget-plain-" + os.urandom(4).hex()
    env = {k: v for k, v in os.environ.items() if k != "RUNK_TEST_STOP_AFTER"}
    seen = []
    try:
        for argv in (
            ["create", "--bundle", bundle.path, cid],
            ["exec", cid, "true"],
            ["run", "--bundle", bundle.path, cid + "-run"],
        ):
            if argv[0] == "run":
                bundle.args("true")
                bundle.write()
            rc, mods = modules_after(["--root", root, *argv], tmp_path, env)
            seen.append((argv[0], rc, sorted(set(CONFIG_ONLY) & mods)))
    finally:
        _delete_force(root, cid)
    assert seen == [("create", 0, []), ("exec", 0, []), ("run", 0, [])]


def test_fault_points_variable_is_the_one_the_backend_checks():
    """runk.backend.linux loads runk.state.faults only when this variable is set."""
    from runk.backend import linux
    from runk.state import faults

    assert linux.STOP_AFTER == faults.STOP_AFTER
