"""cgroup v2 device filter: assemble the eBPF program for a rule list, load it with bpf(2), attach it.

Runs in the parent (create and update). Imports runk._native (cffi) and _struct; never on the
state/list path. Program layout after runc's devicefilter.go (itself from crun's ebpf.c):

    prologue   R2 = ctx->access_type & 0xFFFF   (BPF_DEVCG_DEV_*)
               R3 = ctx->access_type >> 16      (BPF_DEVCG_ACC_*)
               R4 = ctx->major ; R5 = ctx->minor
    per rule   if R2 != type goto next
               [R1 = R3 & access; if R1 != R3 goto next]   (allow rule: must cover every request)
               [R1 = R3 & access; if R1 == 0 goto next]    (deny rule on an allow-list: any overlap)
               [if R4 != major goto next] [if R5 != minor goto next]
               R0 = allow ; exit
    default    R0 = default_allow ; exit

The rules are the emulator's clean list, so every block has the action opposite to the default and
their order does not matter. A deny block matches on any overlapping permission, which is what the
v1 kernel does (match_exception_partial); runc's program needs full coverage there, which lets
"deny c 1:3 w" through for an O_RDWR open. The access check is skipped when the rule is "rwm".
"""

from __future__ import annotations

import errno
import sys
from _struct import pack

from runk import _os as os
from runk._native import ffi, lib
from runk.errors import CgroupError
from runk.linux.cgroups.devices_rules import WILDCARD, Emulator, Rule

LICENSE = b"Apache"
R0, R1, R2, R3, R4, R5 = 0, 1, 2, 3, 4, 5

_LE = sys.byteorder == "little"


def insn(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    """One struct bpf_insn {u8 code; u8 dst_reg:4, src_reg:4; s16 off; s32 imm} in host order."""
    regs = (src << 4 | dst) if _LE else (dst << 4 | src)
    return pack("=BBhi", code, regs, off, imm)


def _ldx_w(dst: int, src: int, off: int) -> bytes:
    return insn(lib.BPF_LDX | lib.BPF_MEM | lib.BPF_W, dst, src, off, 0)


def _alu32_imm(op: int, dst: int, imm: int) -> bytes:
    return insn(lib.BPF_ALU | op | lib.BPF_K, dst, 0, 0, imm)


def _mov32_reg(dst: int, src: int) -> bytes:
    return insn(lib.BPF_ALU | lib.BPF_MOV | lib.BPF_X, dst, src, 0, 0)


def _jmp_imm(op: int, dst: int, imm: int, off: int) -> bytes:
    return insn(lib.BPF_JMP | op | lib.BPF_K, dst, 0, off, imm)


def _jmp_reg(op: int, dst: int, src: int, off: int) -> bytes:
    return insn(lib.BPF_JMP | op | lib.BPF_X, dst, src, off, 0)


def _exit_with(value: int) -> list[bytes]:
    return [_alu32_imm(lib.BPF_MOV, R0, value), insn(lib.BPF_JMP | lib.BPF_EXIT)]


def _access_bits(access: str) -> int:
    bits = 0
    for c in access:
        bits |= {"r": lib.BPF_DEVCG_ACC_READ, "w": lib.BPF_DEVCG_ACC_WRITE, "m": lib.BPF_DEVCG_ACC_MKNOD}[c]
    return bits


def _block(rule: Rule, default_allow: bool) -> list[bytes]:
    """The instructions of one rule; jump offsets are filled once the block length is known."""
    # Each entry is (kind, args) so offsets can be computed after the block is laid out.
    tests: list[tuple[str, tuple[int, int]]] = []
    dev_type = lib.BPF_DEVCG_DEV_CHAR if rule.type == "c" else lib.BPF_DEVCG_DEV_BLOCK
    tests.append(("jne_imm", (R2, dev_type)))
    if rule.access != "rwm":
        tests.append(("mov", (R1, R3)))
        tests.append(("and", (R1, _access_bits(rule.access))))
        if rule.allow or not default_allow:
            tests.append(("jne_reg", (R1, R3)))
        else:
            tests.append(("jeq_imm", (R1, 0)))
    if rule.major != WILDCARD:
        tests.append(("jne_imm", (R4, rule.major)))
    if rule.minor != WILDCARD:
        tests.append(("jne_imm", (R5, rule.minor)))
    n = len(tests) + 2
    out = []
    for i, (kind, a) in enumerate(tests):
        skip = n - (i + 1)  # from the next instruction to the first one after this block
        if kind == "jne_imm":
            out.append(_jmp_imm(lib.BPF_JNE, a[0], a[1], skip))
        elif kind == "jeq_imm":
            out.append(_jmp_imm(lib.BPF_JEQ, a[0], a[1], skip))
        elif kind == "jne_reg":
            out.append(_jmp_reg(lib.BPF_JNE, a[0], a[1], skip))
        elif kind == "mov":
            out.append(_mov32_reg(a[0], a[1]))
        else:
            out.append(_alu32_imm(lib.BPF_AND, a[0], a[1]))
    out.extend(_exit_with(1 if rule.allow else 0))
    return out


def assemble(rules: list[Rule]) -> bytes:
    """The device filter program (struct bpf_insn array) enforcing `rules` in OCI order."""
    emu = Emulator.from_rules(rules)
    prog = [
        _ldx_w(R2, R1, 0),
        _alu32_imm(lib.BPF_AND, R2, 0xFFFF),
        _ldx_w(R3, R1, 0),
        _alu32_imm(lib.BPF_RSH, R3, 16),
        _ldx_w(R4, R1, 4),
        _ldx_w(R5, R1, 8),
    ]
    for idx, rule in enumerate(emu.clean_rules()):
        if rule.type == "a":
            if idx != 0 or rule.allow != emu.default_allow:
                raise CgroupError(f"internal error: bad wildcard device rule at {idx}")
            continue
        prog.extend(_block(rule, emu.default_allow))
    prog.extend(_exit_with(1 if emu.default_allow else 0))
    return b"".join(prog)


def _raise(op: str, path: str, extra: str = "") -> None:
    err = ffi.errno
    msg = f"cannot set linux.resources.devices: {op} {path}: {os.strerror(err).lower()}"
    exc = CgroupError(msg + (f"\n{extra}" if extra else ""))
    exc.errno = err  # type: ignore[attr-defined]
    raise exc


def load(program: bytes, path: str = "") -> int:
    """BPF_PROG_LOAD as BPF_PROG_TYPE_CGROUP_DEVICE; returns the program fd."""
    buf = ffi.from_buffer(program)
    fd = lib.runk_bpf_prog_load_cgdev(buf, len(program) // 8, LICENSE, ffi.NULL, 0)
    if fd >= 0:
        return int(fd)
    err = ffi.errno
    size = 1 << 16
    log = ffi.new("char[]", size)
    lib.runk_bpf_prog_load_cgdev(buf, len(program) // 8, LICENSE, log, size)
    text = ffi.string(log).decode(errors="replace").strip()
    ffi.errno = err
    _raise("bpf(BPF_PROG_LOAD)", path, text)
    return -1


def attached(dirfd: int, path: str = "") -> list[int]:
    """Ids of the BPF_CGROUP_DEVICE programs attached to the cgroup (BPF_PROG_QUERY)."""
    size = 64
    for _ in range(10):
        ids = ffi.new("uint32_t[]", size)
        cnt = ffi.new("uint32_t *", size)
        if lib.runk_bpf_prog_query(dirfd, lib.BPF_CGROUP_DEVICE, ids, cnt) < 0:
            if ffi.errno == errno.ENOSPC:  # more programs than room; cnt holds the real count
                size = int(cnt[0]) + 8
                continue
            _raise("bpf(BPF_PROG_QUERY)", path)
        return [int(ids[i]) for i in range(int(cnt[0]))]
    raise CgroupError(f"cannot set linux.resources.devices: {path}: device programs keep changing")


def _old_fds(dirfd: int, path: str) -> list[int]:
    fds: list[int] = []
    for pid in attached(dirfd, path):
        fd = lib.runk_bpf_prog_get_fd_by_id(pid)
        if fd < 0:
            if ffi.errno in (errno.EPERM, errno.EACCES):  # an LSM hides it; runc skips it too
                continue
            for f in fds:
                os.close(f)
            _raise("bpf(BPF_PROG_GET_FD_BY_ID)", path)
        fds.append(fd)
    return fds


def install(path: str, rules: list[Rule]) -> None:
    """Load the filter for `rules` and make it the only device program of the cgroup at `path`.

    One old program is swapped atomically with BPF_F_REPLACE; otherwise the new one is attached
    (BPF_F_ALLOW_MULTI) before the old ones are detached, so there is never a moment without one.
    """
    program = assemble(rules)
    dirfd = os.open(path, os.O_DIRECTORY | os.O_RDONLY | os.O_CLOEXEC)
    try:
        prog = load(program, path)
        old = _old_fds(dirfd, path)
        try:
            flags = lib.BPF_F_ALLOW_MULTI
            if len(old) == 1:
                ret = lib.runk_bpf_prog_attach(dirfd, prog, lib.BPF_CGROUP_DEVICE, flags | lib.BPF_F_REPLACE, old[0])
                if ret == 0:
                    return
                if ffi.errno != errno.EINVAL:  # no BPF_F_REPLACE (before 5.6); fall back
                    _raise("bpf(BPF_PROG_ATTACH)", path)
            if lib.runk_bpf_prog_attach(dirfd, prog, lib.BPF_CGROUP_DEVICE, flags, -1) < 0:
                _raise("bpf(BPF_PROG_ATTACH)", path)
            for fd in old:
                if lib.runk_bpf_prog_detach(dirfd, fd, lib.BPF_CGROUP_DEVICE) < 0:
                    _raise("bpf(BPF_PROG_DETACH)", path)
        finally:
            os.close(prog)
            for fd in old:
                os.close(fd)
    finally:
        os.close(dirfd)
