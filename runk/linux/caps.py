"""Capabilities: name table, bounding set drop, effective/permitted/inheritable (python-prctl)
and ambient (prctl PR_CAP_AMBIENT through cffi: python-prctl 1.8 has no ambient support).

python-prctl through its C module `_prctl` only: the `prctl` wrapper module builds a property
per capability and securebit at import (0.6 ms of every create, run and exec) for calls that are
one `_prctl.prctl(option, arg)` each.

Runs in the parent (names -> numbers, availability) and the init/tenant (apply).
"""

from __future__ import annotations

import errno

import _prctl

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

NAMES = {
    "CAP_CHOWN": 0,
    "CAP_DAC_OVERRIDE": 1,
    "CAP_DAC_READ_SEARCH": 2,
    "CAP_FOWNER": 3,
    "CAP_FSETID": 4,
    "CAP_KILL": 5,
    "CAP_SETGID": 6,
    "CAP_SETUID": 7,
    "CAP_SETPCAP": 8,
    "CAP_LINUX_IMMUTABLE": 9,
    "CAP_NET_BIND_SERVICE": 10,
    "CAP_NET_BROADCAST": 11,
    "CAP_NET_ADMIN": 12,
    "CAP_NET_RAW": 13,
    "CAP_IPC_LOCK": 14,
    "CAP_IPC_OWNER": 15,
    "CAP_SYS_MODULE": 16,
    "CAP_SYS_RAWIO": 17,
    "CAP_SYS_CHROOT": 18,
    "CAP_SYS_PTRACE": 19,
    "CAP_SYS_PACCT": 20,
    "CAP_SYS_ADMIN": 21,
    "CAP_SYS_BOOT": 22,
    "CAP_SYS_NICE": 23,
    "CAP_SYS_RESOURCE": 24,
    "CAP_SYS_TIME": 25,
    "CAP_SYS_TTY_CONFIG": 26,
    "CAP_MKNOD": 27,
    "CAP_LEASE": 28,
    "CAP_AUDIT_WRITE": 29,
    "CAP_AUDIT_CONTROL": 30,
    "CAP_SETFCAP": 31,
    "CAP_MAC_OVERRIDE": 32,
    "CAP_MAC_ADMIN": 33,
    "CAP_SYSLOG": 34,
    "CAP_WAKE_ALARM": 35,
    "CAP_BLOCK_SUSPEND": 36,
    "CAP_AUDIT_READ": 37,
    "CAP_PERFMON": 38,
    "CAP_BPF": 39,
    "CAP_CHECKPOINT_RESTORE": 40,
}
SETS = ("bounding", "effective", "permitted", "inheritable", "ambient")


def last_cap() -> int:
    try:
        with open("/proc/sys/kernel/cap_last_cap", "rb") as f:
            return int(f.read())
    except OSError:
        return max(NAMES.values())


def current_permitted() -> int:
    """The runtime's own permitted set (what it can grant), from /proc/self/status."""
    with open("/proc/self/status", "rb") as f:
        for line in f:
            if line.startswith(b"CapPrm:"):
                return int(line.split()[1], 16)
    return 0


def resolve(caps: dict[str, Any] | None) -> tuple[dict[str, list[int]], list[str]]:
    """OCI capabilities -> {set: [numbers]} plus the names that cannot be granted.

    The spec (config.md, capabilities): a value that cannot be mapped to a kernel interface or
    granted "MUST be logged as a warning by the runtime. Runtimes SHOULD NOT fail". runc
    ignores unknown or unavailable capabilities with a warning, too.
    """
    out: dict[str, list[int]] = {s: [] for s in SETS}
    if caps is None:
        return out, []
    have = current_permitted()
    top = last_cap()
    skipped: list[str] = []
    for s in SETS:
        for name in caps.get(s) or []:
            n = NAMES.get(name)
            # a name that is no capability cannot be mapped to a kernel interface: warned about
            # and skipped, as one this host cannot grant (runc; runtime-tools'
            # process_capabilities_fail wants an error, which the spec's text does not)
            if n is None or n > top or not (have >> n) & 1:
                if name not in skipped:
                    skipped.append(name)
                continue
            if n not in out[s]:
                out[s].append(n)
    return out, skipped


def drop_bounding(keep: list[int]) -> None:
    keep_set = set(keep)
    for c in range(last_cap() + 1):
        if c not in keep_set and _prctl.prctl(_prctl.PR_CAPBSET_READ, c):
            _prctl.prctl(_prctl.PR_CAPBSET_DROP, c)


def set_keepcaps(on: bool) -> None:
    _prctl.prctl(_prctl.PR_SET_KEEPCAPS, bool(on))


def apply(sets: dict[str, list[int]]) -> None:
    """capset(E, P, I) in one call, then the ambient set."""
    from runk._native import lib
    from runk.linux.syscalls import prctl as raw_prctl

    every = range(last_cap() + 1)
    eff, perm, inh = set(sets["effective"]), set(sets["permitted"]), set(sets["inheritable"])
    _prctl.set_caps(
        sorted(eff),
        sorted(perm),
        sorted(inh),
        [c for c in every if c not in eff],
        [c for c in every if c not in perm],
        [c for c in every if c not in inh],
    )
    raw_prctl(lib.PR_CAP_AMBIENT, lib.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    for c in sets["ambient"]:
        # a cap not in both permitted and inheritable cannot be ambient (EPERM); runc's
        # capability library skips it silently, and so does runk
        try:
            raw_prctl(lib.PR_CAP_AMBIENT, lib.PR_CAP_AMBIENT_RAISE, c, 0, 0)
        except OSError as e:
            if e.errno not in (errno.EPERM, errno.EINVAL):
                raise
