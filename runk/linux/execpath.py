"""Find the executable of process.args[0] inside the container, as Go's exec.LookPath does for
runc, with runc's messages (podman maps them to exit codes 127 and 126).

Runs in the init and tenant after pivot_root / joining the mount namespace, with the
container's PATH, never the host's.
"""

from __future__ import annotations

import stat

from runk import _os as os
from runk.errors import RunkError


def _executable(path: str) -> str | None:
    """None if runnable, else the reason (Go findExecutable: a dir or no x bit is EPERM)."""
    try:
        st = os.stat(path)
    except OSError as e:
        return f"stat {path}: {os.strerror(e.errno or 0).lower()}"
    if stat.S_ISDIR(st.st_mode) or not st.st_mode & 0o111:
        return "permission denied"
    return None


def lookpath(arg0: str, env: list[str]) -> str:
    if "/" in arg0:
        why = _executable(arg0)
        if why:
            raise RunkError(f'exec: "{arg0}": {why}')
        return arg0
    path = ""
    for kv in env:
        if kv.startswith("PATH="):
            path = kv[5:]
    # Go's filepath.SplitList: no PATH (or an empty one) searches nothing, not the cwd
    for d in path.split(":") if path else ():
        cand = os.path.join(d or ".", arg0)
        if _executable(cand) is None:
            if not cand.startswith("/"):
                # Go 1.19's exec.ErrDot: found through "", "." or a relative PATH entry
                raise RunkError(f'exec: "{arg0}": cannot run executable found relative to current directory')
            return cand
    raise RunkError(f'exec: "{arg0}": executable file not found in $PATH')


def check_access(path: str) -> None:
    """runc eaccess(): a noexec mount or a mode the user cannot run is a create-time error.
    Checked with the effective ids and capabilities (faccessat AT_EACCESS), as execve will:
    a user with CAP_DAC_OVERRIDE runs a program only its owner may (runc issue 3715)."""
    if not os.access(path, os.X_OK, effective_ids=True):
        raise RunkError(f"exec {path}: permission denied")
