"""Signal name <-> number table (x86_64/generic Linux numbering) and runc's signal parsing.

Runs in the parent on the hot path (kill): no `signal` import (it pulls in enum, ~5 ms).
"""

from __future__ import annotations

from runk.errors import UsageError

SIGNALS = {
    "HUP": 1,
    "INT": 2,
    "QUIT": 3,
    "ILL": 4,
    "TRAP": 5,
    "ABRT": 6,
    "IOT": 6,
    "BUS": 7,
    "FPE": 8,
    "KILL": 9,
    "USR1": 10,
    "SEGV": 11,
    "USR2": 12,
    "PIPE": 13,
    "ALRM": 14,
    "TERM": 15,
    "STKFLT": 16,
    "CHLD": 17,
    "CLD": 17,
    "CONT": 18,
    "STOP": 19,
    "TSTP": 20,
    "TTIN": 21,
    "TTOU": 22,
    "URG": 23,
    "XCPU": 24,
    "XFSZ": 25,
    "VTALRM": 26,
    "PROF": 27,
    "WINCH": 28,
    "IO": 29,
    "POLL": 29,
    "PWR": 30,
    "SYS": 31,
}
SIGRTMIN = 34
SIGRTMAX = 64


def parse_signal(raw: str) -> int:
    """'KILL', 'SIGKILL', 'kill', '9', 'RTMIN+3' -> number; runc: "unknown signal \"FOO\""."""
    s = raw.strip()
    if s.isdigit():
        n = int(s)
        if 0 <= n <= SIGRTMAX:  # 0 checks that the process exists (runc passes it on)
            return n
        raise UsageError(f'unknown signal "{raw}"')
    name = s.upper()
    if name.startswith("SIG"):
        name = name[3:]
    if name in SIGNALS:
        return SIGNALS[name]
    for base, sign in (("RTMIN", 1), ("RTMAX", -1)):
        if name.startswith(base):
            rest = name[len(base) :]
            off = 0
            if rest:
                if rest[0] not in "+-" or not rest[1:].isdigit():
                    break
                off = int(rest[1:]) * (1 if rest[0] == "+" else -1)
            n = (SIGRTMIN if sign > 0 else SIGRTMAX) + off
            if SIGRTMIN <= n <= SIGRTMAX:
                return n
    raise UsageError(f'unknown signal "{raw}"')
