"""Rootless runk: is this process in a user namespace, is it rootless, and where its state lives.

Runs in the parent (every command resolves its default --root here). Imports runk._os only.

runc 1.1.5's rules, checked against /usr/sbin/runc on this host:
- running in a user namespace: /proc/self/uid_map is anything but the identity map
  "0 0 4294967295" (rootless podman runs the runtime as "root" of a namespace it made);
- rootless (cgroup permission errors are ignored; `--rootless auto|true|false`): the flag if it
  is true or false, else euid != 0, else (euid 0) being in a user namespace;
- the default --root: $XDG_RUNTIME_DIR/runk when XDG_RUNTIME_DIR is set and either euid != 0,
  or euid 0 inside a user namespace with $USER unset or not "root"; /run/runk otherwise. A root
  under XDG_RUNTIME_DIR is made 0700 with the sticky bit (the XDG rule for files that must not
  be cleaned up).
"""

from __future__ import annotations

from runk import _os as os
from runk.errors import RunkError, UsageError

SYSTEM_ROOT = "/run/runk"
_IDENTITY_MAP = ("0", "0", "4294967295")
_TRUE = ("1", "t", "T", "TRUE", "true", "True")  # Go's strconv.ParseBool, which runc uses
_FALSE = ("0", "f", "F", "FALSE", "false", "False")

_in_userns: bool | None = None


def parse_uid_map(text: str) -> list[tuple[int, int, int]]:
    """/proc/<pid>/uid_map as (inside, outside, count) rows."""
    rows = []
    for line in text.splitlines():
        f = line.split()
        if len(f) == 3:
            rows.append((int(f[0]), int(f[1]), int(f[2])))
    return rows


def in_user_namespace() -> bool:
    """True unless /proc/self/uid_map is the initial namespace's identity map (runc
    userns.RunningInUserNS). Read once per process."""
    global _in_userns
    if _in_userns is None:
        try:
            with open("/proc/self/uid_map") as f:
                lines = f.read().split("\n")
        except OSError:
            lines = []  # no /proc/self/uid_map: a kernel without user namespaces
        rows = [tuple(line.split()) for line in lines if line.strip()]
        _in_userns = bool(rows) and rows != [_IDENTITY_MAP]
    return _in_userns


def parse_flag(value: str | None) -> bool | None:
    """--rootless: None for auto ("" or "auto"), else Go's boolean words; anything else is
    runc's error (at create, where runc parses it)."""
    if value is None or value in ("", "auto"):
        return None
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise RunkError(f'strconv.ParseBool: parsing "{value}": invalid syntax')


def is_rootless(flag: str | None, systemd: bool = False) -> bool:
    """Whether the cgroup manager is the rootless one (runc shouldUseRootlessCgroupManager): the
    cgroupfs driver ignores permission errors, the systemd driver talks to the user's instance.
    euid 0 in a user namespace: for cgroupfs always (runk cannot know whether the cgroup is its
    own); for systemd when the user bus is owned by a uid other than 0 (0, or no answer: a
    systemd that is root in that namespace)."""
    b = parse_flag(flag)
    if b is not None:
        return b
    if os.geteuid() != 0:
        return True
    if not in_user_namespace():
        return False
    if not systemd:
        return True
    return (user_bus_owner() or 0) != 0  # no answer: assumed 0, as runc does


def user_bus_owner() -> int | None:
    """The uid the user bus knows the caller as: its own uid outside a user namespace; inside one
    (rootless podman runs the runtime as "root" of its namespace) the OwnerUID line of
    `busctl --user status`, as runc detects it; None when that cannot be found."""
    if not in_user_namespace():
        return os.getuid()
    import subprocess

    try:
        cp = subprocess.run(
            ["busctl", "--user", "--no-pager", "status"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    for line in cp.stdout.splitlines() if cp.returncode == 0 else ():
        key, _, value = line.strip().partition("=")
        if key == "OwnerUID" and value.isdigit():
            return int(value)
    return None


def rootless_euid() -> bool:
    """The caller has no root of its own: euid != 0, or euid 0 of a user namespace (runc's
    RootlessEUID, plus the namespace case where runc decides per feature)."""
    return os.geteuid() != 0 or in_user_namespace()


def honor_xdg_runtime_dir() -> str | None:
    """$XDG_RUNTIME_DIR when runc would put its state there, else None."""
    xdg = os.environ.get("XDG_RUNTIME_DIR", "")
    if not xdg:
        return None
    if os.geteuid() != 0:
        return xdg
    if not in_user_namespace():
        return None  # the real root: /run/runk, whatever XDG_RUNTIME_DIR says (/run/user/0)
    user = os.environ.get("USER")
    return xdg if user is None or user != "root" else None


def default_root() -> tuple[str, bool]:
    """(the default --root, whether it is under XDG_RUNTIME_DIR)."""
    xdg = honor_xdg_runtime_dir()
    if xdg is not None:
        return os.path.join(xdg, "runk"), True
    return SYSTEM_ROOT, False


def prepare_xdg_root(root: str) -> None:
    """mkdir -p the root 0700 and set its sticky bit (runc does both on every command)."""
    try:
        os.makedirs(root, 0o700, exist_ok=True)
        os.chmod(root, 0o1700)
    except OSError as e:
        where = e.filename or root
        raise UsageError(
            f"the path in $XDG_RUNTIME_DIR must be writable by the user: {where}: {(e.strerror or '').lower()}"
        ) from None


def check_system_root_usable(root: str) -> None:
    """A non-root caller without XDG_RUNTIME_DIR gets /run/runk, which it usually cannot
    write: say what to do instead of a bare "permission denied" later."""
    if os.geteuid() == 0:
        return
    probe = root
    while not os.path.exists(probe):
        probe = os.path.dirname(probe)
    if not os.access(probe, os.W_OK | os.X_OK) and not os.access(root, os.R_OK | os.X_OK):
        raise UsageError(
            f"--root: the default {root} is not usable by uid {os.geteuid()}, and XDG_RUNTIME_DIR is "
            "not set: set XDG_RUNTIME_DIR (for example /run/user/$(id -u)) or pass --root DIR"
        )
