"""Find the executable of process.args[0] inside the container, as Go's exec.LookPath does for
runc, with runc's messages (podman maps them to exit codes 127 and 126).

Runs in the init and tenant after pivot_root / joining the mount namespace, with the
container's PATH, never the host's.
"""

from __future__ import annotations

import stat

from runk import _os as os
from runk.errors import RunkError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Collection

ST_NOEXEC = 8  # os.ST_NOEXEC (statvfs f_flag)
CAP_DAC_OVERRIDE = 1


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


def check_access(path: str, effective_caps: Collection[int] = ()) -> None:
    """runc eaccess(): a noexec mount or a mode the user cannot run is a create-time error.
    Checked with the effective ids and capabilities (faccessat AT_EACCESS), as execve will:
    a user with CAP_DAC_OVERRIDE runs a program only its owner may (runc issue 3715).

    The check may run under the container's seccomp filter (loaded before the identity switch
    when noNewPrivileges is off), and a profile that does not list faccessat2 refuses it with
    its default errno; os.access cannot tell that from a real denial. So a "no" is checked
    again from the file's mode, the caller's ids and effective_caps, and the mount's noexec
    flag (what Go's Faccessat falls back to when faccessat2 is refused); only when that agrees
    is it an error. Otherwise execve decides."""
    if os.access(path, os.X_OK, effective_ids=True) or _mode_allows_exec(path, effective_caps):
        return
    raise RunkError(f"exec {path}: permission denied")


def _mode_allows_exec(path: str, effective_caps: Collection[int]) -> bool:
    try:
        st = os.stat(path)
        if os.statvfs(path).f_flag & ST_NOEXEC:
            return False
    except OSError:
        return False
    mode = st.st_mode
    if CAP_DAC_OVERRIDE in effective_caps:
        return bool(mode & 0o111)  # root's rule: any x bit
    if st.st_uid == os.geteuid():
        return bool(mode & 0o100)
    if st.st_gid == os.getegid() or st.st_gid in os.getgroups():
        return bool(mode & 0o010)
    return bool(mode & 0o001)
