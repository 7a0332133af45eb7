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


def modules_after(argv: list[str], tmp_path) -> tuple[int, set[str]]:
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
            if argv[0] in ("create", "run", "exec"):  # imported before the fork, used if hooks
                unwanted = unwanted - {"runk.linux.hookexec"}
            else:  # the short commands read and remove groups without a cgroup manager
                unwanted = unwanted | MANAGERS
            seen.append((argv[0], rc, sorted(unwanted & mods)))
    finally:
        subprocess.run(
            [sys.executable, "-m", "runk", "--root", root, "delete", "--force", cid],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=TOP,
            timeout=60,
        )
    assert seen == [
        (verb, rc, [])
        for verb, rc in (("create", 0), ("start", 0), ("state", 0), ("exec", 0), ("kill", 0), ("delete", 0), ("run", 0))
    ]
