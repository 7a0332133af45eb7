"""The opencontainers runtime-tools validation suite against runk (and runk-vm).

The suite is not part of this repository: build it from github.com/opencontainers/runtime-tools
(`make runtimetest validation-executables`) and point RUNK_RUNTIME_TOOLS at that tree. Each
program runs as root from there with RUNTIME set; "clean" is what the project measures: at least
one assertion, no `not ok`, exit 0. The programs that cannot be clean, and why, are listed with
the reason (README "Conformance").
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile

import pytest

from tests.conftest import TOP, requires

TREE = os.environ.get("RUNK_RUNTIME_TOOLS", "")

CLEAN = [
    "config_updates_without_affect",
    "create",
    "default",
    "delete",
    "delete_only_create_resources",
    "hooks_stdin",
    "hostname",
    "kill",
    "kill_no_effect",
    "killsig",
    "linux_cgroups_cpus",
    "linux_cgroups_devices",
    "linux_cgroups_relative_cpus",
    "linux_cgroups_relative_devices",
    "linux_devices",
    "linux_masked_paths",
    "linux_mount_label",
    "linux_ns_itype",
    "linux_ns_nopath",
    "linux_ns_path",
    "linux_ns_path_type",
    "linux_readonly_paths",
    "linux_rootfs_propagation",
    "linux_seccomp",
    "linux_sysctl",
    "linux_uid_mappings",
    "misc_props",
    "mounts",
    "process",
    "process_oom_score_adj",
    "process_user",
    "root_readonly_true",
    "state",
]
# programs with no assertion at all when the runtime does what they want: no `not ok`, no error
# block (YAML "error:"), exit 0
# (process_capabilities_fail wants an unknown capability name refused: runk warns and skips it,
# as runc does and config.md says: "MUST be logged as a warning ... SHOULD NOT fail")
QUIET = ["prestart_fail", "poststart", "poststop", "poststop_fail", "process_rlimits_fail"]
# (linux_ns_itype runs without a network namespace, which runk-vm refuses: a VM cannot share the
# host's network stack)
VM_CLEAN = ["create", "state", "kill", "delete", "hostname", "process", "mounts", "process_user"]


def _run(program: str, runtime: str) -> subprocess.CompletedProcess:
    requires("root")
    if not TREE or not os.path.exists(os.path.join(TREE, "validation", program, program + ".t")):
        pytest.skip("set RUNK_RUNTIME_TOOLS to a built runtime-tools tree to run the validation suite")
    tmp = tempfile.mkdtemp(prefix="rtval-")
    os.chmod(tmp, 0o755)  # user-namespace programs must traverse it
    env = dict(os.environ, RUNTIME=runtime, TMPDIR=tmp)
    try:
        return subprocess.run(
            [os.path.join("validation", program, program + ".t")],
            cwd=TREE,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        subprocess.run(["rm", "-rf", tmp])


def _assert_clean(r: subprocess.CompletedProcess) -> None:
    oks = re.findall(r"^ok \d+", r.stdout, re.M)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert not re.search(r"^not ok", r.stdout, re.M), r.stdout[-3000:]
    assert oks, r.stdout[-2000:] + r.stderr[-2000:]


@pytest.mark.parametrize("program", CLEAN)
def test_clean(program):
    _assert_clean(_run(program, os.path.join(TOP, ".venv", "bin", "runk")))


@pytest.mark.parametrize("program", QUIET)
def test_quiet_programs_report_nothing_wrong(program):
    r = _run(program, os.path.join(TOP, ".venv", "bin", "runk"))
    assert r.returncode == 0 and not re.search(r"^not ok", r.stdout, re.M), r.stdout + r.stderr
    assert '"error":' not in r.stdout, r.stdout


@pytest.mark.vm
@pytest.mark.parametrize("program", VM_CLEAN)
def test_vm_backend_clean(program):
    requires("qemu")
    _assert_clean(_run(program, os.path.join(TOP, ".venv", "bin", "runk-vm")))
