"""The seccomp -ENOSYS stub, in real containers: a syscall the profile does not name and that is
newer than every syscall it names gets ENOSYS (so programs fall back: clone3 -> clone), per
architecture (x86_64, x32, i386); an older unnamed syscall still gets the default action.

A static probe (tests/data/syscall_probe.c, built with gcc) makes raw syscalls in the container
and prints the errno of each. The profile: default SCMP_ACT_ERRNO (EPERM), every syscall up to
statx allowed except getcwd, so the highest named x86_64 syscall is statx (332).
"""

from __future__ import annotations

import ctypes
import errno
import os
import shutil
import subprocess

import pytest

from tests.conftest import TOP

PROBE_SRC = os.path.join(TOP, "tests", "data", "syscall_probe.c")
X32_BIT = 0x40000000
# statx: the allow list stops there. Not rseq (334): the probe would then try uretprobe (335),
# which the kernel lets past every seccomp filter (and which SIGILLs outside a uretprobe)
LAST_X86_64 = 332


def _libseccomp() -> ctypes.CDLL:
    lib = ctypes.CDLL("libseccomp.so.2")
    lib.seccomp_arch_resolve_name.restype = ctypes.c_uint32
    lib.seccomp_arch_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_syscall_resolve_num_arch.restype = ctypes.c_char_p
    lib.seccomp_syscall_resolve_num_arch.argtypes = [ctypes.c_uint32, ctypes.c_int]
    lib.seccomp_syscall_resolve_name_arch.argtypes = [ctypes.c_uint32, ctypes.c_char_p]
    return lib


def allow_list() -> list[str]:
    lib = _libseccomp()
    x86_64 = lib.seccomp_arch_resolve_name(b"x86_64")
    names = [lib.seccomp_syscall_resolve_num_arch(x86_64, nr) for nr in range(LAST_X86_64 + 1)]
    return sorted(n.decode() for n in names if n and n != b"getcwd")


def last_nr(arch: bytes, names: list[str]) -> int:
    lib = _libseccomp()
    token = lib.seccomp_arch_resolve_name(arch)
    return max(lib.seccomp_syscall_resolve_name_arch(token, n.encode()) for n in names)


def nr_of(arch: bytes, name: str) -> int:
    lib = _libseccomp()
    return int(lib.seccomp_syscall_resolve_name_arch(lib.seccomp_arch_resolve_name(arch), name.encode()))


@pytest.fixture(scope="module")
def probe(tmp_path_factory) -> str:
    if not shutil.which("gcc"):
        pytest.skip("needs gcc (static libc)")
    out = str(tmp_path_factory.mktemp("probe") / "syscall_probe")
    subprocess.run(["gcc", "-static", "-O2", "-o", out, PROBE_SRC], check=True)
    return out


def probe_in_container(runk, bundle, cid, probe: str, profile: dict, nnp: bool, *nrs: str) -> list[int]:
    bundle.config["process"]["noNewPrivileges"] = nnp
    bundle.config["linux"]["seccomp"] = profile
    bundle.config["mounts"].append(
        {"destination": "/probe", "type": "bind", "source": probe, "options": ["bind", "ro"]}
    )
    bundle.args("/probe", *nrs).write()
    r = runk("run", "--bundle", bundle.path, cid)
    assert r.rc == 0, r
    return [int(line) for line in r.out.split()]


@pytest.mark.parametrize("nnp", [True, False])
def test_newer_syscalls_get_enosys_older_ones_the_default(runk, bundle, cid, probe, nnp, leak_audit):
    names = allow_list()
    profile = {
        "defaultAction": "SCMP_ACT_ERRNO",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [{"names": names, "action": "SCMP_ACT_ALLOW"}],
    }
    last_i386, last_x32 = last_nr(b"x86", names), last_nr(b"x32", names)
    # x32's own entries sit above 512 (its compat syscalls): its last is not x86_64's
    assert last_nr(b"x86_64", names) == LAST_X86_64 and last_x32 > X32_BIT | LAST_X86_64
    got = probe_in_container(
        runk,
        bundle,
        cid,
        probe,
        profile,
        nnp,
        # x86_64: far above, just above the last named, and an older unnamed one (getcwd)
        "1000",
        str(LAST_X86_64 + 1),
        str(nr_of(b"x86_64", "getcwd")),
        # x32: the same, with the x32 bit
        str(X32_BIT | 1000),
        str(last_x32 + 1),
        str(nr_of(b"x32", "getcwd")),
        # i386 (int $0x80)
        "i386:1000",
        f"i386:{last_i386 + 1}",
        f"i386:{nr_of(b'x86', 'getcwd')}",
    )
    enosys, eperm = errno.ENOSYS, errno.EPERM
    assert got == [enosys, enosys, eperm] * 3


def test_profile_without_architectures_still_covers_the_native_one(runk, bundle, cid, probe, leak_audit):
    profile = {
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": errno.ENXIO,
        "syscalls": [{"names": allow_list(), "action": "SCMP_ACT_ALLOW"}],
    }
    got = probe_in_container(
        runk, bundle, cid, probe, profile, True, "1000", str(LAST_X86_64 + 1), str(nr_of(b"x86_64", "getcwd"))
    )
    assert got == [errno.ENOSYS, errno.ENOSYS, errno.ENXIO]
