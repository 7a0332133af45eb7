"""CreateRequest and ExecRequest: validated inputs for a new container (init) and for a process
joining one (tenant). The backend never branches on "is this an exec?" (DESIGN 4, example 6).

Runs in the parent.
"""

from __future__ import annotations

from runk import _os as os
from runk import ids
from runk.errors import ConfigError, RunkError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from runk.linux.criu.options import CriuOptions


def listen_fds() -> int:
    """systemd socket activation (sd_listen_fds): fds 3.. are passed when LISTEN_PID is us.
    runc passes stdio + $LISTEN_FDS + --preserve-fds to the container."""
    n = os.environ.get("LISTEN_FDS", "")
    if not n.isdigit() or os.environ.get("LISTEN_PID", "") != str(os.getpid()):
        return 0
    return int(n)


class CreateRequest:
    __slots__ = (
        "backend",
        "bundle",
        "console_fd",
        "console_socket",
        "detach",
        "foreground",
        "listen_fds",
        "no_new_keyring",
        "no_pivot",
        "pid_file",
        "pidfd_socket",
        "preserve_fds",
        "rootless",
        "stdio",
        "systemd_cgroup",
        "tty_relayed",
    )

    def __init__(
        self,
        bundle: str | None = None,
        pid_file: str | None = None,
        console_socket: str | None = None,
        no_pivot: bool = False,
        no_new_keyring: bool = False,
        preserve_fds: int = 0,
        detach: bool = True,
        systemd_cgroup: bool = False,
        backend: str | None = None,
        foreground: bool = False,
        pidfd_socket: str | None = None,
        rootless: bool = False,
    ) -> None:
        self.bundle = os.path.abspath(bundle or os.getcwd())
        self.pidfd_socket = os.path.abspath(pidfd_socket) if pidfd_socket else None
        self.pid_file = os.path.abspath(pid_file) if pid_file else None
        self.console_socket = os.path.abspath(console_socket) if console_socket else None
        self.no_pivot = no_pivot
        self.no_new_keyring = no_new_keyring
        if preserve_fds < 0:
            raise RunkError("--preserve-fds must be a non-negative number")
        self.listen_fds = listen_fds()
        self.preserve_fds = preserve_fds + self.listen_fds
        self.detach = detach
        self.systemd_cgroup = systemd_cgroup
        self.backend = backend
        self.foreground = foreground
        self.rootless = rootless  # cgroup permission errors are ignored (runk.linux.rootless)
        self.console_fd: int | None = None  # run: our own socketpair instead of a path
        # the terminal goes to a relay of runk's own (ONLCR cleared, as runc's foreground run);
        # None: when console_fd is set. The VM agent says False when the host hands the terminal
        # to a console socket (the guest's pty is the one with the line discipline)
        self.tty_relayed: bool | None = None
        self.stdio: tuple[int, int, int] | None = None  # the process's 0-2 (None: runk's own)


class ExecRequest:
    """A process to run in a running container: the container's own process config overridden
    by --process or by the exec flags (runc exec getProcess)."""

    __slots__ = (
        "cgroup",
        "console_fd",
        "console_socket",
        "detach",
        "ignore_paused",
        "pid_file",
        "pidfd_socket",
        "preserve_fds",
        "process",
        "stdio",
    )

    def __init__(
        self,
        process: dict[str, Any],
        detach: bool = False,
        pid_file: str | None = None,
        console_socket: str | None = None,
        preserve_fds: int = 0,
        ignore_paused: bool = False,
        cgroup: dict[str, str] | None = None,
        pidfd_socket: str | None = None,
    ) -> None:
        if not process.get("args"):
            raise RunkError("args must not be empty")
        self.process = process
        self.pidfd_socket = os.path.abspath(pidfd_socket) if pidfd_socket else None
        self.detach = detach
        self.pid_file = os.path.abspath(pid_file) if pid_file else None
        self.console_socket = os.path.abspath(console_socket) if console_socket else None
        self.preserve_fds = preserve_fds + listen_fds()
        self.ignore_paused = ignore_paused
        self.cgroup = cgroup
        self.console_fd: int | None = None
        self.stdio: tuple[int, int, int] | None = None  # the process's 0-2 (None: runk's own)
        from runk.oci.validate import check_process_attrs, check_strings

        check_strings(process, "process")
        ids.check_user("process.user", process.get("user"))
        check_process_attrs(process, "process")
        if process.get("apparmorProfile"):
            raise ConfigError("process.apparmorProfile", "AppArmor is not supported by runk")
        if process.get("terminal") and detach and not console_socket:
            raise RunkError("cannot allocate tty if runk will detach without setting console socket")
        if console_socket and not process.get("terminal"):
            raise RunkError("cannot use console socket if runk will not detach or allocate tty")

    @classmethod
    def from_flags(cls, base: dict[str, Any], opts: dict[str, Any]) -> ExecRequest:
        """Build the process from the container's process config and the command-line flags."""
        from runk import _json

        if opts.get("process"):
            path = opts["process"]
            from runk.userfile import read_regular

            try:
                proc = _json.loads(read_regular(path, "process", streams=True))
            except OSError as e:
                raise RunkError(f"open {path}: {os.strerror(e.errno or 0).lower()}") from None
            except ValueError as e:
                raise RunkError(f"parse {path}: {e}") from None
            if not isinstance(proc, dict):
                raise RunkError(f"parse {path}: not a JSON object")
            # the container's config was validated at create; this file never was (runk's
            # process plan defaults an absent cwd to "/", where the schema requires one)
            if not proc.get("args"):
                raise RunkError("args must not be empty")  # runc's text, before the schema's
            from runk.oci._schema_validator import validate_process

            validate_process({**proc, "cwd": proc.get("cwd", "/")})
            if opts.get("tty"):
                proc["terminal"] = True
        else:
            proc = _json.copy(base)
            proc["args"] = list(opts.get("args") or [])
            if not proc["args"]:
                raise RunkError("process args cannot be empty")  # runc's text
            proc["terminal"] = bool(opts.get("tty"))
            if opts.get("cwd"):
                proc["cwd"] = opts["cwd"]
            if opts.get("env"):
                proc["env"] = list(proc.get("env") or []) + list(opts["env"])
            if opts.get("no_new_privs"):
                proc["noNewPrivileges"] = True
            if opts.get("apparmor"):
                proc["apparmorProfile"] = opts["apparmor"]
            if opts.get("process_label"):
                proc["selinuxLabel"] = opts["process_label"]
            if opts.get("user"):
                proc["user"] = _parse_user(opts["user"], proc.get("user") or {})
            if opts.get("additional_gids"):
                # appended to the container's groups (runc)
                user = proc.setdefault("user", {})
                user["additionalGids"] = list(user.get("additionalGids") or []) + [
                    _gid_flag(g) for g in opts["additional_gids"]
                ]
            if opts.get("cap"):
                # runc 1.1.5 adds each to the ambient set too: raised where the inheritable set
                # has it, skipped otherwise (caps.apply), as runc main's rule gives
                caps = proc.setdefault("capabilities", {})
                for s in ("bounding", "effective", "permitted", "ambient"):
                    caps[s] = list(caps.get(s) or []) + [c for c in opts["cap"] if c not in (caps.get(s) or [])]
        return cls(
            proc,
            detach=bool(opts.get("detach")),
            pid_file=opts.get("pid_file"),
            console_socket=opts.get("console_socket"),
            preserve_fds=int(opts.get("preserve_fds") or 0),
            ignore_paused=bool(opts.get("ignore_paused")),
            cgroup=sub_cgroups(opts.get("cgroup") or []),
            pidfd_socket=opts.get("pidfd_socket"),
        )


def sub_cgroups(args: list[str]) -> dict[str, str] | None:
    """exec --cgroup (repeatable): one PATH for every hierarchy, or CTRL[,CTRL...]:PATH (v1)."""
    if not args:
        return None
    paths: dict[str, str] = {}
    for arg in args:
        ctrls, sep, path = arg.partition(":")
        if not sep:
            if len(args) != 1:
                raise RunkError(f"invalid --cgroup argument: {arg} (missing <controller>: prefix)")
            paths[""] = arg
            continue
        for ctrl in ctrls.split(","):
            if not ctrl:
                raise RunkError(f"invalid --cgroup argument: {arg} (empty <controller> prefix)")
            if ctrl in paths:
                raise RunkError(f"invalid --cgroup argument(s): controller {ctrl} specified multiple times")
            paths[ctrl] = path
    return paths


def _atoi(v: str, what: str) -> int:
    """A decimal number with an optional sign, nothing else (no spaces, no "_")."""
    digits = v[1:] if v[:1] in ("+", "-") else v
    if not (digits.isascii() and digits.isdigit()):
        raise RunkError(f"parsing {v} as int for {what} failed")
    return int(v)


def _id_flag(v: str, what: str, flag: str) -> int:
    """A number of --user (what: uid or gid); runc's texts."""
    return ids.check(flag, _atoi(v, what))


def _gid_flag(v: str) -> int:
    """One --additional-gids value; runc's text for a negative one."""
    n = _atoi(v, "additional-gids")
    if n < 0:
        raise RunkError(f"additional-gids must be a positive number {n}")
    return ids.check("--additional-gids", n)


def _parse_user(spec: str, old: dict[str, Any]) -> dict[str, Any]:
    """--user uid[:gid] (numbers, as runc takes them): the gid, the groups and the umask not
    given stay the container's (runc)."""
    uid, sep, gid = spec.partition(":")
    user = dict(old)
    user["uid"] = _id_flag(uid, "uid", "--user")
    if sep:
        user["gid"] = _id_flag(gid, "gid", "--user")
    return user


class CheckpointRequest:
    """`runk checkpoint`: CRIU's options (checked) and the CRIU binary (--criu)."""

    __slots__ = ("criu", "options")

    def __init__(self, options: CriuOptions, criu: str = "criu") -> None:
        self.options = options
        self.criu = criu or "criu"


class RestoreRequest:
    """`runk restore`: a new container (create's inputs: bundle, pid file, console socket) whose
    processes come from a checkpoint instead of config.json's process."""

    __slots__ = ("create", "criu", "no_subreaper", "options")

    def __init__(
        self, create: CreateRequest, options: CriuOptions, criu: str = "criu", no_subreaper: bool = False
    ) -> None:
        self.create = create
        self.options = options
        self.criu = criu or "criu"
        self.no_subreaper = no_subreaper
