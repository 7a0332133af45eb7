"""A hand parser for the exact argv shapes podman, conmon and scripts use on the hot path.

Runs in the parent; imports nothing. It returns (verb, Globals, opts) exactly as the click tree
(runk.cli.app) would, or None to defer to click for anything else: --help, unknown flags, errors.
A parity test runs a corpus of argv vectors through both (DESIGN 3.11 rule 2).
"""

from __future__ import annotations

from runk.cli.globals import Globals

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_GLOBAL_VALUE = {
    "--root": "root",
    "--log": "log",
    "--log-format": "log_format",
    "--backend": "backend",
    "--rootless": "rootless",
}
_BACKENDS = ("linux", "vm")  # anything else: click says what is allowed
_GLOBAL_FLAG = {"--systemd-cgroup": "systemd_cgroup", "--debug": "debug"}

_CREATE_VALUE = {
    "--bundle": "bundle",
    "-b": "bundle",
    "--pid-file": "pid_file",
    "--console-socket": "console_socket",
    "--pidfd-socket": "pidfd_socket",
    "--preserve-fds": "preserve_fds",
}
_CREATE_FLAG = {"--no-pivot": "no_pivot", "--no-new-keyring": "no_new_keyring"}
_CREATE_DEFAULTS: dict[str, Any] = {
    "bundle": None,
    "console_socket": None,
    "pidfd_socket": None,
    "pid_file": None,
    "no_pivot": False,
    "no_new_keyring": False,
    "preserve_fds": 0,
}

_UPDATE_FLAGS = (
    "--blkio-weight",
    "--cpu-burst",
    "--cpu-idle",
    "--cpu-period",
    "--cpu-quota",
    "--cpu-rt-period",
    "--cpu-rt-runtime",
    "--cpuset-cpus",
    "--cpuset-mems",
    "--kernel-memory",
    "--kernel-memory-tcp",
    "--memory",
    "--memory-reservation",
    "--memory-swap",
    "--pids-limit",
)

# verb -> (value options, flag options, defaults, positional names, required positionals)
_VERBS: dict[str, tuple[dict[str, str], dict[str, str], dict[str, Any], tuple[str, ...], int]] = {
    "state": ({}, {}, {}, ("id",), 1),
    "start": ({}, {}, {}, ("id",), 1),
    "pause": ({}, {}, {}, ("id",), 1),
    "resume": ({}, {}, {}, ("id",), 1),
    "delete": ({}, {"--force": "force", "-f": "force"}, {"force": False}, ("id",), 1),
    "kill": ({}, {"--all": "all", "-a": "all"}, {"all": False, "signal": None}, ("id", "signal"), 1),
    "list": (
        {"--format": "format", "-f": "format"},
        {"--quiet": "quiet", "-q": "quiet"},
        {"format": "table", "quiet": False},
        (),
        0,
    ),
    "create": (_CREATE_VALUE, _CREATE_FLAG, _CREATE_DEFAULTS, ("id",), 1),
    # podman's (--resources=FILE), containerd's shim's (-r -) and the flags (strings in click too)
    "update": (
        {
            "--resources": "resources",
            "-r": "resources",
            "--cpu-share": "cpu_share",
            "--cpu-shares": "cpu_share",
            **{f: f[2:].replace("-", "_") for f in _UPDATE_FLAGS},
        },
        {},
        {
            "resources": None,
            "blkio_weight": None,
            "cpu_burst": None,
            "cpu_idle": None,
            "cpu_period": None,
            "cpu_quota": None,
            "cpu_rt_period": None,
            "cpu_rt_runtime": None,
            "cpuset_cpus": None,
            "cpuset_mems": None,
            "kernel_memory": None,
            "kernel_memory_tcp": None,
            "memory": None,
            "memory_reservation": None,
            "memory_swap": None,
            "pids_limit": None,
            "cpu_share": None,
        },
        ("id",),
        1,
    ),
    # containerd's shim asks `events --stats ID` for every metrics scrape
    "events": ({"--interval": "interval"}, {"--stats": "stats"}, {"interval": "5s", "stats": False}, ("id",), 1),
    # `ps [-f FMT] ID` (ps options after the id go to click)
    "ps": ({"--format": "format", "-f": "format"}, {}, {"format": "table", "ps_args": []}, ("id",), 1),
    "run": (
        _CREATE_VALUE,
        {**_CREATE_FLAG, "--detach": "detach", "-d": "detach", "--keep": "keep"},
        {**_CREATE_DEFAULTS, "detach": False, "keep": False},
        ("id",),
        1,
    ),
}


_EXEC_DEFAULTS: dict[str, Any] = {
    "console_socket": None,
    "pidfd_socket": None,
    "pid_file": None,
    "process": None,
    "detach": False,
    "tty": False,
    "cwd": None,
    "env": [],
    "user": None,
    "additional_gids": [],
    "cap": [],
    "no_new_privs": False,
    "apparmor": None,
    "process_label": None,
    "preserve_fds": 0,
    "ignore_paused": False,
}
_EXEC_VALUE = {
    "--console-socket": "console_socket",
    "--pidfd-socket": "pidfd_socket",
    "--pid-file": "pid_file",
    "--process": "process",
    "-p": "process",
    "--preserve-fds": "preserve_fds",
    "--cwd": "cwd",
}
_EXEC_FLAG = {
    "--detach": "detach",
    "-d": "detach",
    "--tty": "tty",
    "-t": "tty",
    "--ignore-paused": "ignore_paused",
    "--no-new-privs": "no_new_privs",
}


def _options(
    argv: list[str],
    i: int,
    values: dict[str, str],
    flags: dict[str, str],
    out: dict[str, Any],
    dash_values: bool = True,
) -> int:
    """Consume `--flag`, `--opt VALUE` and `--opt=VALUE` from argv[i:] into out until the first
    non-option; returns the index after them, or -1 for anything click must judge."""
    n = len(argv)
    while i < n and argv[i].startswith("-") and argv[i] != "-":
        key, val = _split(argv[i])
        if key in flags and val is None:
            out[flags[key]] = True
        elif key in values:
            if val is None:
                if i + 1 >= n or (not dash_values and argv[i + 1].startswith("-")):
                    return -1
                val = argv[i + 1]
                i += 1
            out[values[key]] = val
        else:
            return -1
        i += 1
    return i


def _int_option(opts: dict[str, Any], name: str) -> bool:
    v = opts.get(name)
    if v is None or isinstance(v, int):
        return True
    if not str(v).isdigit():
        return False
    opts[name] = int(v)
    return True


def _parse_exec(argv: list[str], i: int) -> dict[str, Any] | None:
    """conmon's shape: exec --pid-file P --process F --detach [--tty] [--console-socket S]
    [--preserve-fds N] ID, and `exec [simple flags] ID CMD ARGS...`."""
    opts = dict(_EXEC_DEFAULTS)
    opts["env"], opts["additional_gids"], opts["cap"], opts["cgroup"] = [], [], [], []
    i = _options(argv, i, _EXEC_VALUE, _EXEC_FLAG, opts)
    rest = argv[i:] if i >= 0 else []
    if not rest or len(rest) < (1 if opts["process"] else 2) or not _int_option(opts, "preserve_fds"):
        return None
    opts["id"] = rest[0]
    opts["args"] = rest[1:]
    return opts


def _split(arg: str) -> tuple[str, str | None]:
    if arg.startswith("--") and "=" in arg:
        k, _, v = arg.partition("=")
        return k, v
    return arg, None


def parse(argv: list[str]) -> tuple[str, Globals, dict[str, Any]] | None:
    gopts: dict[str, Any] = {}
    i = _options(argv, 0, _GLOBAL_VALUE, _GLOBAL_FLAG, gopts, dash_values=False)
    if i < 0 or i >= len(argv) or gopts.get("backend", "linux") not in _BACKENDS:
        return None
    g = Globals(**gopts)
    if argv[i] == "exec":
        eopts = _parse_exec(argv, i + 1)
        return ("exec", g, eopts) if eopts is not None else None
    if argv[i] not in _VERBS:
        return None
    verb = argv[i]
    values, flags, defaults, positional, required = _VERBS[verb]
    opts = dict(defaults)
    i = _options(argv, i + 1, values, flags, opts)
    if i < 0:
        return None
    pos = argv[i:]
    if any(p.startswith("-") and p != "-" for p in pos):
        return None  # flags after positionals: let click decide
    if len(pos) < required or len(pos) > len(positional) or not _int_option(opts, "preserve_fds"):
        return None
    for name, v in zip(positional, pos, strict=False):  # pos may be shorter
        opts[name] = v
    return verb, g, opts
