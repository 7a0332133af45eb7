"""Running a real runk on generated input and checking what a user sees and what is left.

`check_output` holds one call to the CLI contract: no Python traceback or exception class name,
runc's exit codes, and on failure exactly one error line in runc's log format
(`time="..." level=error msg="..."`). `Watch` snapshots what a container could leave behind or
change on the host (state under --root, cgroup directories named after the id or cgroupsPath in
every hierarchy, mounts, processes tagged with RUNK_TEST_ROOT, watched sysctls, the host's
hostname and the entries of / and /etc) and `Watch.leaks()` lists the differences. The mount and
process probes are the leak audit's of tests/conftest.py.
"""

from __future__ import annotations

import builtins
import os
import re

from runk import errors as _errors
from tests.conftest import _mounts, _runk_procs
from tests.property.strategies import SYSCTL_WATCH

LOG_LINE = re.compile(r'time="[^"]*" level=(error|warning|info|debug) msg="(?:[^"\\]|\\.)*"')
EXCEPTION_NAMES = sorted(
    {
        n
        for n, o in vars(builtins).items()
        if isinstance(o, type) and issubclass(o, BaseException) and n not in ("Warning",)
    }
    | {n for n, o in vars(_errors).items() if isinstance(o, type) and issubclass(o, BaseException)}
    | {"JSONDecodeError", "CalledProcessError", "TimeoutExpired", "FFIError", "CDefError"}
)
EXCEPTION_RE = re.compile(r"\b(" + "|".join(EXCEPTION_NAMES) + r")\b")


def check_output(r: object, allowed_rc: tuple[int, ...] = (0, 1), log_file: bool = False) -> None:
    """One CLI call (a tests.conftest.Result) meets runc's contract for users. With --log
    naming a file (`log_file`) the log line goes there and stderr has the bare message (runc)."""
    both = r.out + r.err
    assert "Traceback" not in both, r
    assert "internal error" not in r.err, r
    m = EXCEPTION_RE.search(r.err)
    assert m is None, f"exception class name {m.group(0)!r} on stderr: {r}"
    assert r.rc in allowed_rc, r
    if r.rc != 0:
        lines = [ln for ln in r.err.split("\n") if ln]
        if log_file:
            assert len(lines) == 1, f"expected one error line: {r}"
            return
        errors = [ln for ln in lines if " level=error " in ln]
        assert len(errors) == 1, f"expected one error line: {r}"
        assert LOG_LINE.fullmatch(errors[0]), f"not runc's log line format: {errors[0]!r}"


def _read(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def _clean(p: str) -> str:
    """runc's CleanPath of a cgroupsPath: absolute, or relative and never climbing out."""
    p = os.path.normpath(p)
    return p if p.startswith("/") else os.path.normpath("/" + p)[1:]


def cgroup_candidates(cid: str, cgroups_path: object) -> set[str]:
    """Every directory the container's cgroup could be in: the inner path (cgroupsPath, else the
    id) below each hierarchy's mount point, below this process's cgroup in it and its parent."""
    inner = _clean(cgroups_path) if isinstance(cgroups_path, str) and cgroups_path else ""
    if inner in ("", "."):
        inner = cid
    if "\x00" in inner or inner in (".", "..", "/"):
        return set()
    own = {}
    for line in (_read("/proc/self/cgroup") or "").splitlines():
        _, ctrls, path = line.split(":", 2)
        for c in ctrls.split(",") if ctrls else ["unified"]:
            own[c.removeprefix("name=")] = path
    out = set()
    for h in os.listdir("/sys/fs/cgroup"):
        mp = os.path.join("/sys/fs/cgroup", h)
        bases = {"/", own.get(h, "/"), os.path.dirname(own.get(h, "/"))}
        for b in bases:
            out.add(os.path.normpath(os.path.join(mp, b.lstrip("/"), inner.lstrip("/"))))
    return out


class Watch:
    """What one example could leave behind, taken before it runs."""

    def __init__(self, root: str, basetemp: str, cid: str, cgroups_path: object) -> None:
        self.root, self.basetemp = root, basetemp
        self.cgroups = {p for p in cgroup_candidates(cid, cgroups_path) if not os.path.isdir(p)}
        self.mounts = _mounts(basetemp)
        self.procs = _runk_procs(root)
        self.host = self._host()

    @staticmethod
    def _host() -> dict:
        out = {k: _read("/proc/sys/" + k.replace(".", "/")) for k in SYSCTL_WATCH}
        out["hostname"] = _read("/proc/sys/kernel/hostname")
        out["/"] = sorted(os.listdir("/"))
        out["/etc"] = sorted(os.listdir("/etc"))
        return out

    def leaks(self) -> list[str]:
        out = []
        if os.path.isdir(self.root):
            state = [n for n in os.listdir(self.root) if not n.startswith(".")]
            if state:
                out.append(f"state left under --root: {state}")
        cg = sorted(p for p in self.cgroups if os.path.isdir(p))
        if cg:
            out.append(f"cgroups left: {cg}")
        m = _mounts(self.basetemp) - self.mounts
        if m:
            out.append(f"mounts left: {sorted(m)}")
        p = _runk_procs(self.root) - self.procs
        if p:
            out.append(f"processes left: {sorted(p)}")
        host = self._host()
        changed = {k: (v, host[k]) for k, v in self.host.items() if host[k] != v}
        if changed:
            out.append(f"host changed: {changed}")
        return out
