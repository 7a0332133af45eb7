"""The -ENOSYS stub put before a compiled seccomp program.

A syscall the profile does not name gets the default action, typically EPERM. For a syscall that
is newer than everything the profile names (clone3 under a profile written before it, a number no
kernel has yet) that answer is wrong: programs treat ENOSYS, and only ENOSYS, as "this kernel
lacks it" and fall back (clone3 -> clone, statx -> fstatat, faccessat2 -> faccessat). runc
prepends a small BPF program (libcontainer/seccomp/patchbpf) that returns ENOSYS for any syscall
number above the highest one the profile names, per architecture; runk does the same, with the
same conditions: only when the default action is not permissive (allow, log, trace) and the
profile did not ask for ENOSYS as the default errno already; the native architecture always
counts (runc >= 1.2), the profile's architectures too.

Runs in the parent at compile time (runk.linux.seccomp._build); its output is cached with the
rest of the program. Imports runk._native and runk.errors only.
"""

from __future__ import annotations

import errno
import sys

from runk._native import lib
from runk.errors import ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, TypeAlias

    # (code, k, jump-if-true label, jump-if-false label); a str alone is a label
    _Insn: TypeAlias = tuple[int, int, str | None, str | None]

PERMISSIVE_ACTIONS = frozenset(("SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_TRACE"))

# classic BPF opcodes (linux/bpf_common.h) used by the stub
_LD_W_ABS = 0x20  # BPF_LD | BPF_W | BPF_ABS
_JA = 0x05  # BPF_JMP | BPF_JA
_JEQ = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
_JGT = 0x25  # BPF_JMP | BPF_JGT | BPF_K
_JSET = 0x45  # BPF_JMP | BPF_JSET | BPF_K
_RET = 0x06  # BPF_RET | BPF_K
_SECCOMP_RET_ERRNO = 0x00050000
_X32_SYSCALL_BIT = 0x40000000  # x32 syscalls are x86_64's audit arch with this bit in the number
_NR, _ARCH = 0, 4  # offsets in struct seccomp_data
_FILTER = "filter"  # the label of the program after the stub
_ENOSYS = "enosys"


def wanted(seccomp: dict[str, Any]) -> bool:
    """A permissive default action needs no stub (runc: a tracer handles new syscalls itself),
    nor does a profile whose default errno is ENOSYS already (runc means to skip it too, but
    compares defaultErrnoRet with the whole SECCOMP_RET_ERRNO value and adds a stub that
    changes nothing)."""
    if seccomp.get("defaultAction") in PERMISSIVE_ACTIONS:
        return False
    return bool(seccomp.get("defaultErrnoRet") != errno.ENOSYS)


def stub(seccomp: dict[str, Any], arch_tokens: list[int]) -> bytes:
    """The stub's raw struct sock_filter bytes (native endian), to put before the program.
    arch_tokens: libseccomp's tokens of the filter's architectures (the native one included)."""
    x86_64 = lib.seccomp_arch_resolve_name(b"x86_64")
    x32 = lib.seccomp_arch_resolve_name(b"x32")
    names = [
        n.encode() for c in seccomp.get("syscalls") or () if isinstance(c, dict) for n in c.get("names") or () if n
    ]
    # audit arch -> {libseccomp arch token: the highest syscall number the profile names}
    last: dict[int, dict[int, int]] = {}
    for token in dict.fromkeys(arch_tokens):
        audit = x86_64 if token == x32 else token
        nrs = [lib.seccomp_syscall_resolve_name_arch(token, n) for n in names]
        top = max((nr for nr in nrs if nr >= 0), default=-1)  # negative: unknown, or a pseudo-syscall
        if top >= 0:
            last.setdefault(audit, {})[token] = top
    if not last:
        return b""
    return _assemble(_program(last, x86_64, x32))


def _program(last: dict[int, dict[int, int]], x86_64: int, x32: int) -> list[_Insn | str]:
    head: list[_Insn | str] = [(_LD_W_ABS, _ARCH, None, None)]
    body: list[_Insn | str] = []
    for audit, tops in last.items():
        sec, end = f"arch{audit:#x}", f"end{audit:#x}"
        head.append((_JEQ, audit, sec, None))
        body += [sec, (_LD_W_ABS, _NR, None, None)]
        if audit in (lib.seccomp_arch_resolve_name(b"s390"), lib.seccomp_arch_resolve_name(b"s390x")):
            # unknown "large" syscalls arrive as the multiplexer, number 0: ENOSYS for it too
            body.append((_JEQ, 0, _ENOSYS, None))
        if audit == x86_64:
            body += _x86_64_section(tops.get(x86_64), tops.get(x32), end)
        else:
            body.append((_JGT, tops[audit], _ENOSYS, None))
        body += [end, (_JA, 0, _FILTER, None)]
    head.append((_JA, 0, _FILTER, None))  # an architecture the stub does not know: the filter decides
    return [*head, *body, _ENOSYS, (_RET, _SECCOMP_RET_ERRNO | errno.ENOSYS, None, None)]


def _x86_64_section(top64: int | None, top32: int | None, end: str) -> list[_Insn | str]:
    """x86_64 and x32 share an audit arch: the number's x32 bit tells them apart; a mode the
    profile has no syscall for goes to the filter untouched."""
    if top32 is None:
        assert top64 is not None
        return [(_JSET, _X32_SYSCALL_BIT, end, None), (_JGT, top64, _ENOSYS, None)]
    if top64 is None:
        return [(_JSET, _X32_SYSCALL_BIT, None, end), (_JGT, top32, _ENOSYS, None)]
    return [
        (_JSET, _X32_SYSCALL_BIT, "x32", None),
        (_JGT, top64, _ENOSYS, end),
        "x32",
        (_JGT, top32, _ENOSYS, None),
    ]


def _assemble(items: list[_Insn | str]) -> bytes:
    """Resolve the labels (forward jumps only, as classic BPF has) and encode struct sock_filter."""
    where: dict[str, int] = {}
    insns: list[_Insn] = []
    for item in items:
        if isinstance(item, str):
            where[item] = len(insns)
        else:
            insns.append(item)
    where[_FILTER] = len(insns)
    out = bytearray()
    for pc, (code, k, jt, jf) in enumerate(insns):
        if code == _JA:
            assert jt is not None
            k, jt_off, jf_off = where[jt] - pc - 1, 0, 0
        else:
            jt_off = where[jt] - pc - 1 if jt else 0
            jf_off = where[jf] - pc - 1 if jf else 0
        if not (0 <= jt_off <= 255 and 0 <= jf_off <= 255):
            raise ConfigError("linux.seccomp.architectures", "too many architectures for the -ENOSYS stub")
        # the kernel reads struct sock_filter in the host's byte order
        out += code.to_bytes(2, sys.byteorder) + bytes((jt_off, jf_off)) + k.to_bytes(4, sys.byteorder)
    return bytes(out)
