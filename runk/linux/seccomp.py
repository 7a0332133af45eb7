"""Seccomp: compile the OCI `linux.seccomp` object to a BPF program, cache it, load it or pass it by fd.

Where code runs:
- compile_profile() and to_memfd(): the parent (runk create/exec), before the fork. libseccomp
  compiles and exports the program there; the cache makes a repeated profile a file read.
- load(): the init or tenant, after the fork and possibly after pivot_root. It imports nothing at
  call time and touches only the compiled module, so it is safe where site-packages is gone.
  Loading needs CAP_SYS_ADMIN or no_new_privs: without noNewPrivileges the init loads the filter
  before the capability drop; with it the exec trampoline loads it from to_memfd()'s fd just
  before execve (runc's order, DESIGN 3.4 step 21).

Imports: os, errno, fcntl, runk._native, runk._json and runk.errors; sha256 lazily (parent only).
Semantics follow runc (libcontainer/seccomp, specconv.SetupSeccomp): unknown syscall names are
skipped, rules whose action equals the default are skipped, several conditions on one argument
index become one rule each, SCMP_ACT_ERRNO and SCMP_ACT_TRACE default to EPERM, and an absent
`flags` means SECCOMP_FILTER_FLAG_SPEC_ALLOW when the kernel supports it.
"""

from __future__ import annotations

import errno
import fcntl

from runk import _json
from runk import _os as os
from runk._native import ffi, lib
from runk.errors import ConfigError, SyscallError
from runk.linux import seccomp_enosys

# Names from the runtime spec (config-linux.md#seccomp). libseccomp resolves the lower-case tail
# ("SCMP_ARCH_X86_64" -> "x86_64"), as crun does; a spec name this libseccomp lacks is refused.
SPEC_ARCHES = frozenset(
    (
        "SCMP_ARCH_X86",
        "SCMP_ARCH_X86_64",
        "SCMP_ARCH_X32",
        "SCMP_ARCH_ARM",
        "SCMP_ARCH_AARCH64",
        "SCMP_ARCH_MIPS",
        "SCMP_ARCH_MIPS64",
        "SCMP_ARCH_MIPS64N32",
        "SCMP_ARCH_MIPSEL",
        "SCMP_ARCH_MIPSEL64",
        "SCMP_ARCH_MIPSEL64N32",
        "SCMP_ARCH_PPC",
        "SCMP_ARCH_PPC64",
        "SCMP_ARCH_PPC64LE",
        "SCMP_ARCH_S390",
        "SCMP_ARCH_S390X",
        "SCMP_ARCH_PARISC",
        "SCMP_ARCH_PARISC64",
        "SCMP_ARCH_RISCV64",
        "SCMP_ARCH_LOONGARCH64",
    )
)

# Actions without a data field. SCMP_ACT_KILL is KILL_THREAD, as in libseccomp and runc.
_PLAIN_ACTIONS: dict[str, int] = {
    "SCMP_ACT_KILL": lib.SCMP_ACT_KILL_THREAD,
    "SCMP_ACT_KILL_THREAD": lib.SCMP_ACT_KILL_THREAD,
    "SCMP_ACT_KILL_PROCESS": lib.SCMP_ACT_KILL_PROCESS,
    "SCMP_ACT_TRAP": lib.SCMP_ACT_TRAP,
    "SCMP_ACT_ALLOW": lib.SCMP_ACT_ALLOW,
    "SCMP_ACT_LOG": lib.SCMP_ACT_LOG,
}

OPERATORS = {
    "SCMP_CMP_NE": lib.SCMP_CMP_NE,
    "SCMP_CMP_LT": lib.SCMP_CMP_LT,
    "SCMP_CMP_LE": lib.SCMP_CMP_LE,
    "SCMP_CMP_EQ": lib.SCMP_CMP_EQ,
    "SCMP_CMP_GE": lib.SCMP_CMP_GE,
    "SCMP_CMP_GT": lib.SCMP_CMP_GT,
    "SCMP_CMP_MASKED_EQ": lib.SCMP_CMP_MASKED_EQ,
}

FLAG_TSYNC = "SECCOMP_FILTER_FLAG_TSYNC"
FLAG_LOG = "SECCOMP_FILTER_FLAG_LOG"
FLAG_SPEC_ALLOW = "SECCOMP_FILTER_FLAG_SPEC_ALLOW"
FLAG_WAIT_KILLABLE_RECV = "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"

_MAX_ARGS = 6  # a Linux syscall has at most six arguments
_OPTIMIZE_ABOVE = 32  # runc: binary-tree optimisation past 32 rules (libseccomp <= 2.5.4
# misbehaves with it on an empty rule set)
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, TypeAlias

    _Cond: TypeAlias = tuple[int, int, int, int]  # (arg index, operator, value, value2)
    # the conditions of one syscalls[] entry, one libseccomp rule each: (count, the
    # struct scmp_arg_cmp[] libseccomp takes, the same conditions in Python)
    _Groups: TypeAlias = list[tuple[int, object, tuple[_Cond, ...]]]
    _Nr: TypeAlias = tuple[int, str, str]  # (syscall nr, name, JSON path of it)

BPF_MAXINSNS = 4096  # the kernel's limit on one classic BPF program (linux/bpf_common.h)
_CACHE_MAGIC = b"RKSC"  # cache file: magic, u32 little-endian seccomp(2) flags, BPF
_CACHE_VERSION = b"runk-seccomp-cache-2"  # 2: the -ENOSYS stub, notify flags


class SeccompProgram:
    """A compiled filter: raw struct sock_filter bytes, seccomp(2) flags, and the profile checksum;
    with SCMP_ACT_NOTIFY rules, the agent's socket and the metadata it is sent (runk.linux.seccomp_agent)."""

    __slots__ = ("bpf", "checksum", "flags", "listener_metadata", "listener_path")

    def __init__(
        self, bpf: bytes, flags: int, checksum: str, listener_path: str = "", listener_metadata: str = ""
    ) -> None:
        self.bpf = bpf
        self.flags = flags
        self.checksum = checksum
        self.listener_path = listener_path
        self.listener_metadata = listener_metadata

    @property
    def notify(self) -> bool:
        """Loading it returns a notify listener fd for the seccomp agent (SCMP_ACT_NOTIFY rules)."""
        return bool(self.flags & lib.SECCOMP_FILTER_FLAG_NEW_LISTENER)

    def __repr__(self) -> str:
        return f"SeccompProgram(insns={len(self.bpf) // 8}, flags={self.flags:#x}, checksum={self.checksum[:12]})"


def enabled(seccomp: dict[str, Any] | None) -> bool:
    """False when there is nothing to compile: runc treats no defaultAction and no syscalls as off."""
    return bool(seccomp and (seccomp.get("defaultAction") or seccomp.get("syscalls")))


def compile_profile(
    seccomp: dict[str, Any], path: str = "linux.seccomp", cache_dir: str | None = None
) -> SeccompProgram:
    """Compile `linux.seccomp` to BPF; with cache_dir, reuse an earlier compile of the same profile.

    Raises ConfigError naming the JSON path of the first bad field.
    """
    if not isinstance(seccomp, dict):
        raise ConfigError(path, "must be an object")
    listener = _listener(seccomp, path)
    key = profile_key(seccomp)
    if cache_dir is not None:
        hit = _cache_read(cache_dir, key)
        if hit is not None:
            return SeccompProgram(hit[1], hit[0], key, *listener)
    bpf, flags = _build(seccomp, path)
    if cache_dir is not None:
        _cache_write(cache_dir, key, flags, bpf)
    return SeccompProgram(bpf, flags, key, *listener)


def _listener(seccomp: dict[str, Any], path: str) -> tuple[str, str]:
    """(listenerPath, listenerMetadata) when a rule notifies, else ("", ""): runc ignores a
    listenerPath no rule uses, and refuses notify rules without one."""
    calls = seccomp.get("syscalls") or []
    if not isinstance(calls, list) or not any(
        isinstance(c, dict) and c.get("action") == "SCMP_ACT_NOTIFY" for c in calls
    ):
        return "", ""
    where = seccomp.get("listenerPath")
    if not where or not isinstance(where, str):
        raise ConfigError(f"{path}.listenerPath", "listenerPath is not set (the profile has SCMP_ACT_NOTIFY rules)")
    meta = seccomp.get("listenerMetadata") or ""
    if not isinstance(meta, str):
        raise ConfigError(f"{path}.listenerMetadata", "must be a string")
    return where, meta


def load(prog: SeccompProgram) -> int:
    """seccomp(SECCOMP_SET_MODE_FILTER, prog.flags, prog) on the calling thread: the notify
    listener fd (close-on-exec) when prog.notify, else -1. No imports here."""
    buf = ffi.from_buffer("unsigned char[]", prog.bpf)
    rc: int = lib.runk_seccomp_load(prog.flags, buf, len(prog.bpf))
    if rc < 0:
        raise SyscallError("seccomp", None, ffi.errno)
    return rc if prog.notify else -1


def to_memfd(prog: SeccompProgram) -> int:
    """A sealed memfd holding the raw BPF, for runk-exec's SECCOMP_FD. Not close-on-exec."""
    fd = os.memfd_create("runk-seccomp", os.MFD_ALLOW_SEALING)
    try:
        view = memoryview(prog.bpf)
        while view:
            view = view[os.write(fd, view) :]
        # Sealed so nothing holding the fd can change the filter between create and start.
        fcntl.fcntl(
            fd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_SEAL | fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_WRITE
        )
    except BaseException:
        os.close(fd)
        raise
    return fd


def profile_key(seccomp: dict[str, Any]) -> str:
    """sha256 of everything the compiled program depends on (crun's calculate_seccomp_checksum).

    libseccomp probes the kernel for supported actions and flags, so the kernel release and the
    API level are part of the key along with the libseccomp version and the native arch.
    """
    try:  # hashlib would pull in OpenSSL's _hashlib: 1.8 ms against 0.04 ms
        from _sha2 import sha256  # type: ignore[import-not-found]  # CPython >= 3.12
    except ImportError:
        try:
            from _sha256 import sha256  # type: ignore[import-not-found]  # CPython 3.11
        except ImportError:  # pragma: no cover - builds without the builtin module
            from hashlib import sha256
    v = lib.seccomp_version()
    head = (
        f"{_CACHE_VERSION.decode()}\0libseccomp {v.major}.{v.minor}.{v.micro} api "
        f"{lib.seccomp_api_get()}\0arch {lib.seccomp_arch_native():#x}\0kernel "
        f"{os.uname().release}\0"
    )
    h = sha256(head.encode())
    h.update(_json.dumps(_canonical(seccomp)).encode())
    digest: str = h.hexdigest()
    return digest


def _canonical(obj: object) -> object:
    if isinstance(obj, dict):
        return {k: _canonical(obj[k]) for k in sorted(obj)}
    if isinstance(obj, list):
        return [_canonical(v) for v in obj]
    return obj


def _uint(value: object, path: str, maximum: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= maximum:
        raise ConfigError(path, f"must be an integer between 0 and {maximum}, got {_json.dumps(value)}")
    return value


def _action(name: object, errno_ret: object, path: str, errno_path: str) -> int:
    if name is None:
        raise ConfigError(path, "missing")
    if not isinstance(name, str):
        raise ConfigError(path, f"unknown action {_json.dumps(name)}")
    if name in _PLAIN_ACTIONS:
        return _PLAIN_ACTIONS[name]
    if name in ("SCMP_ACT_ERRNO", "SCMP_ACT_TRACE"):
        # runc: ERRNO and TRACE without errnoRet return EPERM; errnoRet on other actions is ignored
        ret = errno.EPERM if errno_ret is None else _uint(errno_ret, errno_path, 0xFFFF)
        act: int = lib.runk_scmp_act_errno(ret) if name == "SCMP_ACT_ERRNO" else lib.runk_scmp_act_trace(ret)
        return act
    if name == "SCMP_ACT_NOTIFY":
        if path.endswith(".defaultAction"):
            # runc: every syscall, write(2) included, would wait for an agent that gets its fd
            # only through a syscall of the container process
            raise ConfigError(path, "SCMP_ACT_NOTIFY cannot be used as default action")
        return int(lib.SCMP_ACT_NOTIFY)
    raise ConfigError(path, f"unknown action {_json.dumps(name)}")


def _load_flags(ctx: object, flags: object, path: str) -> int:
    """seccomp(2) flags for the profile; LOG and SPEC_ALLOW also go through libseccomp's attributes,
    which probe the kernel, so an unsupported flag fails here (runc FlagSupported)."""
    if flags is None:
        # runc and crun: no `flags` key means SPEC_ALLOW where supported; `[]` means none
        supported = lib.seccomp_attr_set(ctx, lib.SCMP_FLTATR_CTL_SSB, 1) == 0
        return lib.SECCOMP_FILTER_FLAG_SPEC_ALLOW if supported else 0
    if not isinstance(flags, list):
        raise ConfigError(f"{path}.flags", "must be an array")
    out = 0
    for i, flag in enumerate(flags):
        where = f"{path}.flags[{i}]"
        if flag == FLAG_LOG or flag == FLAG_SPEC_ALLOW:
            attr = lib.SCMP_FLTATR_CTL_LOG if flag == FLAG_LOG else lib.SCMP_FLTATR_CTL_SSB
            if lib.seccomp_attr_set(ctx, attr, 1) < 0:
                raise ConfigError(where, f"{flag} is not supported by this kernel or libseccomp")
            out |= lib.SECCOMP_FILTER_FLAG_LOG if flag == FLAG_LOG else lib.SECCOMP_FILTER_FLAG_SPEC_ALLOW
        elif flag == FLAG_TSYNC:
            # runc ignores it: the loading process is single-threaded and about to exec
            continue
        elif flag == FLAG_WAIT_KILLABLE_RECV:
            # Only meaningful with a notify listener: the kernel refuses it (EINVAL) without
            # SECCOMP_FILTER_FLAG_NEW_LISTENER, so _build drops it when no rule notifies.
            out |= lib.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
        else:
            raise ConfigError(where, f"unknown flag {_json.dumps(flag)}")
    return out


def _build(seccomp: dict[str, Any], path: str) -> tuple[bytes, int]:
    default = _action(
        seccomp.get("defaultAction"), seccomp.get("defaultErrnoRet"), f"{path}.defaultAction", f"{path}.defaultErrnoRet"
    )
    syscalls = seccomp.get("syscalls") or []
    if not isinstance(syscalls, list):
        raise ConfigError(f"{path}.syscalls", "must be an array")
    ctx = lib.seccomp_init(default)
    if ctx == ffi.NULL:
        raise ConfigError(f"{path}.defaultAction", "action not supported by this kernel or libseccomp")
    try:
        # runk applies noNewPrivileges itself; libseccomp must not set it behind the spec's back
        _attr(ctx, lib.SCMP_FLTATR_CTL_NNP, 0)
        flags = _load_flags(ctx, seccomp.get("flags"), path)
        tokens = _add_arches(ctx, seccomp.get("architectures") or [], f"{path}.architectures")
        nrules = sum(len(c.get("names") or ()) for c in syscalls if isinstance(c, dict))
        if nrules > _OPTIMIZE_ABOVE:
            _attr(ctx, lib.SCMP_FLTATR_CTL_OPTIMIZE, 2)
        rules = [_rules(call, default, f"{path}.syscalls[{i}]") for i, call in enumerate(syscalls)]
        _check_size(rules, path)
        for action, groups, nrs in rules:
            for nr, name, where in nrs:
                _add_rule(ctx, action, (nr, name, where), groups)
        if any(action == lib.SCMP_ACT_NOTIFY and nrs for action, _groups, nrs in rules):
            flags |= lib.SECCOMP_FILTER_FLAG_NEW_LISTENER
        else:
            flags &= ~lib.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
        bpf = _export(ctx)
        if seccomp_enosys.wanted(seccomp):
            bpf = seccomp_enosys.stub(seccomp, [*tokens, lib.seccomp_arch_native()]) + bpf
        if len(bpf) // 8 > BPF_MAXINSNS:
            raise ConfigError(
                path,
                f"the compiled filter has {len(bpf) // 8} BPF instructions, more than "
                f"the kernel's limit of {BPF_MAXINSNS}",
            )
        return bpf, flags
    finally:
        lib.seccomp_release(ctx)


def _attr(ctx: object, attr: int, value: int) -> None:
    rc = lib.seccomp_attr_set(ctx, attr, value)
    if rc < 0:
        raise SyscallError("seccomp_attr_set", None, -rc)


def _add_arches(ctx: object, arches: object, path: str) -> list[int]:
    """Add the profile's architectures to the filter; their libseccomp tokens."""
    if not isinstance(arches, list):
        raise ConfigError(path, "must be an array")
    v = lib.seccomp_version()
    tokens = []
    for i, name in enumerate(arches):
        if not isinstance(name, str) or name not in SPEC_ARCHES:
            raise ConfigError(f"{path}[{i}]", f"unknown architecture {_json.dumps(name)}")
        token = lib.seccomp_arch_resolve_name(name[len("SCMP_ARCH_") :].lower().encode())
        if token == 0:
            raise ConfigError(f"{path}[{i}]", f"{name} is not supported by libseccomp {v.major}.{v.minor}.{v.micro}")
        rc = lib.seccomp_arch_add(ctx, token)
        if rc < 0 and rc != -errno.EEXIST:  # the native arch is always in the filter
            raise ConfigError(f"{path}[{i}]", f"cannot add {name}: {os.strerror(-rc).lower()}")
        tokens.append(token)
    return tokens


def _conditions(args: object, path: str) -> list[_Cond]:
    if not isinstance(args, list):
        raise ConfigError(path, "must be an array")
    out = []
    for k, arg in enumerate(args):
        where = f"{path}[{k}]"
        if not isinstance(arg, dict):
            raise ConfigError(where, "must be an object")
        index = _uint(arg.get("index"), f"{where}.index", _MAX_ARGS - 1)
        op = arg.get("op")
        if not isinstance(op, str) or op not in OPERATORS:
            raise ConfigError(f"{where}.op", f"unknown operator {_json.dumps(op)}")
        value = _uint(arg.get("value", 0), f"{where}.value", 0xFFFFFFFFFFFFFFFF)
        value2 = _uint(arg.get("valueTwo", 0), f"{where}.valueTwo", 0xFFFFFFFFFFFFFFFF)
        out.append((index, OPERATORS[op], value, value2))
    return out


def _rules(call: object, default: int, path: str) -> tuple[int, _Groups, list[_Nr]]:
    """(action, condition groups, [(syscall nr, name, JSON path)]) of one syscalls[] entry:
    validated, nothing added to libseccomp yet. An entry whose action is the default has no nrs
    (runc: redundant, and libseccomp refuses it)."""
    if not isinstance(call, dict):
        raise ConfigError(path, "must be an object")
    action = _action(call.get("action"), call.get("errnoRet"), f"{path}.action", f"{path}.errnoRet")
    names = call.get("names")
    if not isinstance(names, list):
        raise ConfigError(f"{path}.names", "must be an array")
    conds = _conditions(call.get("args") or [], f"{path}.args")
    nrs: list[_Nr] = []
    for j, name in enumerate(names):
        if not isinstance(name, str) or not name:
            raise ConfigError(f"{path}.names[{j}]", "must be a non-empty string")
        if name == "write" and action == lib.SCMP_ACT_NOTIFY:
            # runc: the container process hands the listener fd to runk through a write
            raise ConfigError(f"{path}.names[{j}]", "SCMP_ACT_NOTIFY cannot be used for the write syscall")
        nr = lib.seccomp_syscall_resolve_name(name.encode())
        if nr != lib.__NR_SCMP_ERROR:  # runc: a syscall this libseccomp does not know is skipped
            nrs.append((nr, name, f"{path}.names[{j}]"))
    if action == default:
        return action, [], []
    indexes = [c[0] for c in conds]
    # runc and crun: when two conditions share an argument index, libseccomp cannot AND them, so
    # each condition becomes a rule of its own (an OR). Otherwise one rule ANDs them all.
    groups = [[c] for c in conds] if len(set(indexes)) != len(indexes) else [conds]
    out: _Groups = []
    for group in groups:
        arr = ffi.new("struct scmp_arg_cmp[]", max(len(group), 1))
        for n, (index, op, value, value2) in enumerate(group):
            arr[n].arg, arr[n].op, arr[n].datum_a, arr[n].datum_b = index, op, value, value2
        out.append((len(group), arr, tuple(group)))
    return action, out, nrs


def _check_size(rules: list[tuple[int, _Groups, list[_Nr]]], path: str) -> None:
    """Refuse, before libseccomp compiles anything, rules that cannot fit BPF_MAXINSNS.

    libseccomp's compile grows much faster than linearly with the rules (4000 conditions on 10
    syscalls: 7 s here; 10000: minutes) only to produce a program the kernel refuses. The count
    is a lower bound of what any compile emits: each syscall is compared once, and each distinct
    condition on it is at least one jump (a syscall with an unconditional rule needs no more)."""
    per_nr: dict[int, set[_Cond] | None] = {}
    for _action, groups, nrs in rules:
        conds = {c for _n, _arr, group in groups for c in group}
        for nr, _name, _where in nrs:
            if not conds:
                per_nr[nr] = None
            else:
                have = per_nr.setdefault(nr, set())
                if have is not None:
                    have |= conds
    need = sum(1 + (len(c) if c is not None else 0) for c in per_nr.values())
    if need > BPF_MAXINSNS:
        raise ConfigError(
            path,
            f"{len(per_nr)} syscalls with {need - len(per_nr)} distinct argument "
            f"conditions need at least {need} BPF instructions, more than the kernel's "
            f"limit of {BPF_MAXINSNS}",
        )


def _add_rule(ctx: object, action: int, syscall: _Nr, groups: _Groups) -> None:
    nr, name, where = syscall
    for count, arr, _group in groups:
        rc = lib.seccomp_rule_add_array(ctx, action, nr, count, arr)
        if rc < 0:
            raise ConfigError(where, f"cannot add rule for syscall {name}: {os.strerror(-rc).lower()}")


def _export(ctx: object) -> bytes:
    # libseccomp 2.5 exports to an fd only (seccomp_export_bpf_mem is 2.6)
    fd = os.memfd_create("runk-seccomp-export", os.MFD_CLOEXEC)
    try:
        rc = lib.seccomp_export_bpf(ctx, fd)
        if rc < 0:
            raise SyscallError("seccomp_export_bpf", None, -rc)
        return os.pread(fd, os.fstat(fd).st_size, 0)
    finally:
        os.close(fd)


def _cache_read(cache_dir: str, key: str) -> tuple[int, bytes] | None:
    try:
        fd = os.open(os.path.join(cache_dir, key), os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
        try:
            data = os.pread(fd, os.fstat(fd).st_size, 0)
        finally:
            os.close(fd)
    except OSError:  # missing, or an unusable cache dir: compile instead, never fail on the cache
        return None
    # A short or foreign file (a crash before the data reached the disk) is a miss, not an error.
    if len(data) < 16 or data[:4] != _CACHE_MAGIC or (len(data) - 8) % 8:
        return None
    return int.from_bytes(data[4:8], "little"), data[8:]


def _cache_write(cache_dir: str, key: str, flags: int, bpf: bytes) -> None:
    """Write <cache_dir>/<key> with tmp + rename (crun's seccomp cache, runc's saveState).

    The cache only saves time: a read-only, full or missing disk must not fail `create`.
    """
    tmp = os.path.join(cache_dir, f".{key}.{os.getpid()}.tmp")
    try:
        os.makedirs(cache_dir, 0o700, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    except OSError:
        return
    try:
        try:
            view = memoryview(_CACHE_MAGIC + flags.to_bytes(4, "little") + bpf)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
        os.rename(tmp, os.path.join(cache_dir, key))
    except OSError:
        os.unlink(tmp)


def libseccomp_version() -> str:
    v = lib.seccomp_version()
    return f"{v.major}.{v.minor}.{v.micro}"


def supported_archs() -> list[str]:
    """The spec's architecture names this libseccomp knows (for `runk features`)."""
    return sorted(a for a in SPEC_ARCHES if lib.seccomp_arch_resolve_name(a[len("SCMP_ARCH_") :].lower().encode()) != 0)
