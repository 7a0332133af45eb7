"""`runk checkpoint` and `runk restore` on this host: the command line, the checks made before
CRIU is asked anything (side by side with runc: same words, same exit codes, same order), the
vm backend's refusal, and nothing left behind. CRIU itself cannot dump on this host's kernel (its
`criu check` fails): the dump and restore of real containers run in the lab guest
(tests/lab/guest/test_checkpoint.py), and here they skip saying why."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from tests.conftest import RUNK, requires
from tests.helpers import running

LOGLINE = re.compile(r'level=error msg="(.*)"')


def _err(r) -> str:
    """The last error line (runc logs "container still running" first where its deferred
    cleanup of a dump finds the container running: after a refused --empty-ns; runk does not)."""
    found = LOGLINE.findall(r.err)
    return found[-1] if found else r.err


def _criu_check() -> str | None:
    """None if CRIU can checkpoint here, else why not (the last line of `criu check`)."""
    criu = shutil.which("criu")
    if criu is None:
        return "criu is not installed"
    p = subprocess.run([criu, "check"], capture_output=True, text=True, cwd="/tmp", timeout=60)
    if p.returncode == 0:
        return None
    lines = (p.stderr + p.stdout).strip().splitlines()
    return lines[-1] if lines else f"criu check exited {p.returncode}"


def _options(text: str) -> dict[str, str]:
    """{--flag: its help line} of a runc-style --help."""
    out = {}
    for line in text.splitlines():
        m = re.match(r"^   (--[a-z-]+)(?: value)?(?:, -\w(?: value)?)?\s{2,}(.*)$", line)
        if m:
            out[m.group(1)] = m.group(2)
    return out


@pytest.mark.parametrize("command", ["checkpoint", "restore"])
def test_help_lists_runcs_flags_with_its_defaults(command):
    """podman asks `RUNTIME checkpoint --help` (exit 0) whether a runtime can checkpoint."""
    requires("runk", "runc")
    mine = subprocess.run([RUNK, command, "--help"], capture_output=True, text=True)
    ref = subprocess.run(["runc", command, "--help"], capture_output=True, text=True)
    assert mine.returncode == 0 and mine.stderr == ""
    ours, theirs = _options(mine.stdout), _options(ref.stdout)
    assert list(ours) == list(theirs)
    for flag, text in theirs.items():
        # the same defaults (status-fd -1; none for a repeated --empty-ns)
        assert ("(default:" in ours[flag]) == ("(default:" in text), (flag, ours[flag], text)
        assert ours[flag].replace("runk", "runc") == text.rstrip(), (flag, ours[flag], text)


def test_checkpoint_and_restore_of_a_missing_container(runk, runc, tmp_path):
    for rt in (runk, runc):
        r = rt("checkpoint", "--image-path", str(tmp_path / "img"), "nothing-here")
        assert r.rc == 1 and _err(r) == "container does not exist", r
    for rt in (runk, runc):
        r = rt("checkpoint")
        assert r.rc == 1 and "requires exactly 1 argument(s)" in _err(r), r
        r = rt("restore", "--bogus", "x")
        assert r.rc == 1 and _err(r) == "flag provided but not defined: -bogus", r


def test_checks_before_criu_match_runcs(runk, runc, bundle, tmp_path):
    """Each refusal runc makes before it runs CRIU, with runc's words, on a running container
    (it stays running and untouched), and on a created one."""
    requires("runc")
    bad = [
        (("--parent-path", "/abs"), "--parent-path must be relative"),
        (("--parent-path", "nothing"), "invalid --parent-path: stat "),
        (("--page-server", "nocolon"), "Use --page-server ADDRESS:PORT to specify page server"),
        (("--page-server", "host:port"), "Invalid port number"),
        (("--manage-cgroups-mode", "loose"), "Invalid manage cgroups mode"),
        (("--empty-ns", "mount"), 'namespace \\"mount\\" is not supported'),
    ]
    for rt, name in ((runk, "criu-chk-k"), (runc, "criu-chk-c")):
        with running(rt, bundle, name) as pid:
            for flags, want in bad:
                r = rt("checkpoint", "--image-path", str(tmp_path / name), *flags, name)
                assert r.rc == 1 and _err(r).startswith(want), (rt.binary, flags, r)
                assert rt.state(name)["status"] == "running" and rt.state(name)["pid"] == pid
        bundle.args("sleep", "100").write()
        assert rt("create", "--bundle", bundle.path, name).rc == 0
        r = rt("checkpoint", "--image-path", str(tmp_path / name), name)
        assert r.rc == 1 and _err(r) == "Container cannot be checkpointed in created state", r
        assert rt("delete", "--force", name).rc == 0


def test_restore_refusals_leave_nothing(runk, bundle, tmp_path):
    """A restore that cannot start: no state, no cgroup, no criu-root mount left."""
    requires("runk")
    bundle.args("sleep", "100").write()
    empty = tmp_path / "no-images"
    r = runk("restore", "-d", "--bundle", bundle.path, "--image-path", str(empty), "criu-r1")
    assert r.rc == 1, r
    assert os.path.isdir(empty)  # made, as runc makes it
    assert runk("state", "criu-r1").rc == 1
    assert not os.path.exists(os.path.join(runk.root, "criu-r1"))
    r = runk(
        "--criu", "/nonexistent/criu", "restore", "-d", "--bundle", bundle.path, "--image-path", str(empty), "criu-r2"
    )
    assert (
        r.rc == 1
        and _err(r) == 'CRIU version check failed: exec: \\"/nonexistent/criu\\": executable file not found in $PATH'
    ), r
    assert not os.path.exists(os.path.join(runk.root, "criu-r2"))
    with open("/proc/self/mountinfo") as f:
        assert "criu-root" not in f.read()


def test_runk_vm_refuses_restore(runk, bundle, tmp_path):
    requires("runk")
    bundle.args("sleep", "100").write()
    vm = os.path.join(os.path.dirname(RUNK), "runk-vm")
    p = subprocess.run(
        [vm, "--root", runk.root, "restore", "-d", "--bundle", bundle.path, "--image-path", str(tmp_path), "criu-vm"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert p.returncode == 1
    assert "the vm backend (runk-vm) does not support restore" in p.stderr, p.stderr
    assert not os.path.exists(os.path.join(runk.root, "criu-vm"))


def test_checkpoint_on_this_host(runk, bundle, tmp_path):
    """Where CRIU works, a dump here; on this machine's kernel it does not (see the lab)."""
    why = _criu_check()
    if why is not None:
        pytest.skip(f"CRIU cannot checkpoint on this host's kernel ({why}); tests/lab/guest/test_checkpoint.py runs it")
    with running(runk, bundle, "criu-host") as pid:
        r = runk("checkpoint", "--leave-running", "--image-path", str(tmp_path / "img"), "criu-host")
        assert r.rc == 0, r
        assert runk.state("criu-host")["pid"] == pid
