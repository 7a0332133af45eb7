"""runk's seccomp compiler against runc: the BPF runc installs in a container must be runk's program.

Root, runc and a static busybox are needed (skipped otherwise). For each profile a busybox
`sleep` container is started with `runc run -d`, its filter is read back with
ptrace(PTRACE_SECCOMP_GET_FILTER) and compared with compile_profile()'s output. runc may prepend
its -ENOSYS stub (libcontainer/seccomp/patchbpf) when the default action is not an allow action;
the rest must be identical. runc < 1.2 does not turn on libseccomp's binary-tree optimisation,
so both variants of runk's program are accepted.
"""

from __future__ import annotations

import copy
import ctypes
import errno
import json
import os
import shutil
import subprocess

import pytest

from runk.linux import seccomp

RUNC = shutil.which("runc")
BUSYBOX = shutil.which("busybox")
PODMAN_CONFIG = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "configs", "config.detach.json"
)  # as podman wrote it
PTRACE_ATTACH, PTRACE_DETACH, PTRACE_SECCOMP_GET_FILTER = 16, 17, 0x420C
STUB_MAX_INSNS = 64  # runc's -ENOSYS stub is a few instructions per architecture

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not RUNC or not BUSYBOX, reason="needs root, runc and busybox")


def seccomp_filters(pid: int) -> list[bytes]:
    """The filters installed in pid, most recent first (PTRACE_SECCOMP_GET_FILTER needs a stop)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.ptrace.restype = ctypes.c_long
    libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
    if libc.ptrace(PTRACE_ATTACH, pid, None, None) < 0:
        raise OSError(ctypes.get_errno(), "ptrace attach")
    os.waitpid(pid, 0x40000000)  # __WALL
    out = []
    try:
        while True:
            n = libc.ptrace(PTRACE_SECCOMP_GET_FILTER, pid, len(out), None)
            if n < 0:
                break
            buf = ctypes.create_string_buffer(n * 8)
            libc.ptrace(PTRACE_SECCOMP_GET_FILTER, pid, len(out), buf)
            out.append(buf.raw)
    finally:
        libc.ptrace(PTRACE_DETACH, pid, None, None)
    return out


def runc_filter(tmp_path, profile: dict) -> bytes:
    bundle = tmp_path / "bundle"
    (bundle / "rootfs" / "bin").mkdir(parents=True)
    shutil.copy(BUSYBOX, bundle / "rootfs" / "bin" / "busybox")
    os.symlink("busybox", bundle / "rootfs" / "bin" / "sleep")
    subprocess.run([RUNC, "spec"], cwd=bundle, check=True)
    config = json.loads((bundle / "config.json").read_text())
    config["process"].update(terminal=False, args=["sleep", "60"])
    config["linux"]["seccomp"] = profile
    (bundle / "config.json").write_text(json.dumps(config))
    root, cid = str(tmp_path / "state"), f"runk-seccomp-{os.getpid()}"
    with open(tmp_path / "runc.log", "w+") as log:
        res = subprocess.run(
            [RUNC, "--root", root, "run", "-d", "--bundle", str(bundle), cid],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log,
            timeout=30,
        )
        log.seek(0)
        assert res.returncode == 0, log.read()
    try:
        state = json.loads(subprocess.run([RUNC, "--root", root, "state", cid], check=True, capture_output=True).stdout)
        filters = seccomp_filters(state["pid"])
    finally:
        subprocess.run([RUNC, "--root", root, "delete", "--force", cid], capture_output=True)
    assert len(filters) == 1
    return filters[0]


def runk_variants(profile: dict, monkeypatch) -> list[bytes]:
    """runk's program without its -ENOSYS stub (runc 1.1.5 builds its stub from the profile's
    architectures alone, in Go's random map order), with and without the tree optimisation."""
    monkeypatch.setattr(seccomp.seccomp_enosys, "wanted", lambda _p: False)
    out = [seccomp.compile_profile(profile).bpf]
    monkeypatch.setattr(seccomp, "_OPTIMIZE_ABOVE", 1 << 30)
    out.append(seccomp.compile_profile(profile).bpf)
    return out


DENY_LIST = {
    "defaultAction": "SCMP_ACT_ALLOW",
    "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
    "syscalls": [
        {"names": ["getcwd"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.ENOTSUP},
        {"names": ["runk_no_such_syscall", "uname"], "action": "SCMP_ACT_ERRNO"},
        {"names": ["getpid"], "action": "SCMP_ACT_ALLOW"},
        {
            "names": ["socket"],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": errno.EACCES,
            "args": [{"index": 0, "value": 2, "op": "SCMP_CMP_EQ"}, {"index": 0, "value": 10, "op": "SCMP_CMP_EQ"}],
        },
        {
            "names": ["socket"],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": errno.EPROTOTYPE,
            "args": [
                {"index": 0, "value": 1, "op": "SCMP_CMP_EQ"},
                {"index": 1, "value": 15, "valueTwo": 2, "op": "SCMP_CMP_MASKED_EQ"},
            ],
        },
        {
            "names": ["personality"],
            "action": "SCMP_ACT_TRAP",
            "args": [{"index": 0, "value": 0xFFFFFFFF, "op": "SCMP_CMP_EQ"}],
        },
        {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_KILL_PROCESS"},
        {"names": ["rmdir"], "action": "SCMP_ACT_KILL"},
        {"names": ["chroot"], "action": "SCMP_ACT_LOG"},
        {"names": ["acct"], "action": "SCMP_ACT_TRACE"},
        {
            "names": ["settimeofday"],
            "action": "SCMP_ACT_ERRNO",
            "args": [
                {"index": 1, "value": 0, "op": "SCMP_CMP_NE"},
                {"index": 0, "value": 7, "op": "SCMP_CMP_GT"},
                {"index": 2, "value": 9, "op": "SCMP_CMP_LE"},
            ],
        },
    ],
}


def test_deny_list_profile_matches_runc_exactly(tmp_path, monkeypatch):
    # default ALLOW: runc adds no stub, so the whole program must be one of runk's
    assert runc_filter(tmp_path, copy.deepcopy(DENY_LIST)) in runk_variants(DENY_LIST, monkeypatch)


def test_podman_profile_matches_runc(tmp_path, monkeypatch):
    if not os.path.exists(PODMAN_CONFIG):
        pytest.skip("podman's example config.detach.json not found")
    with open(PODMAN_CONFIG) as f:
        profile = json.load(f)["linux"]["seccomp"]
    theirs = runc_filter(tmp_path, copy.deepcopy(profile))
    matches = [ours for ours in runk_variants(profile, monkeypatch) if theirs.endswith(ours)]
    assert matches, "runc's filter does not end with runk's program"
    assert (len(theirs) - len(matches[0])) // 8 <= STUB_MAX_INSNS
