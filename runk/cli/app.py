"""The click command tree: the single source of truth for runk's flags and --help.

Runs in the parent when the fast path defers (click costs ~30-45 ms to import). Callbacks only
collect options into the same (verb, Globals, opts) the fast path produces and dispatch.
Usage errors are mapped to runc's texts and exit codes (click's default is 2; runc uses 1, and
3 for an unknown command).
"""

from __future__ import annotations

import sys

import click

from runk.cli.globals import Globals, backend_for_prog
from runk.cli.helpfmt import RunkCommand, RunkGroup

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

# (verb, globals dict, opts) of the last dispatch; the parity test reads it
SEEN: list[tuple[str, dict[str, Any], dict[str, Any]]] = []


def _args(verb: str, args: tuple[str, ...], exactly: int | None = None, minimum: int | None = None) -> None:
    if exactly is not None and len(args) != exactly:
        raise click.UsageError(f'runk: "{verb}" requires exactly {exactly} argument(s)')
    if minimum is not None and len(args) < minimum:
        raise click.UsageError(f'runk: "{verb}" requires a minimum of {minimum} argument(s)')


def _go(ctx: click.Context, verb: str, opts: dict[str, Any]) -> None:
    g = ctx.find_object(Globals)
    assert g is not None  # the group's callback made it
    SEEN[:] = [(verb, g.as_dict(), opts)]
    if ctx.meta.get("runk.parse_only"):
        ctx.exit(0)
    from runk.cli.dispatch import dispatch

    ctx.exit(dispatch(verb, g, opts))


CONTEXT = {"help_option_names": ["-h", "--help"]}


def _print_version(ctx: click.Context) -> None:
    """-v/--version, read while parsing: the version whatever words follow (runc)."""
    if not ctx.resilient_parsing:
        from runk.cli.versioninfo import version_text

        click.echo(version_text())
        ctx.exit(0)


@click.group(cls=RunkGroup, context_settings=CONTEXT, invoke_without_command=True)
@click.option("--debug", is_flag=True, help="enable debug logging")
@click.option("--log", default=None, help="set the log file to write runk logs to (default is '/dev/stderr')")
@click.option("--log-format", default="text", help="set the log format ('text' (default), or 'json')")
@click.option(
    "--root",
    default=None,
    help="root directory for storage of container state (this should be located in tmpfs) "
    '(default: "/run/runk", or "$XDG_RUNTIME_DIR/runk" when rootless)',
)
@click.option(
    "--systemd-cgroup",
    is_flag=True,
    help='enable systemd cgroup support, expects cgroupsPath to be of form "slice:prefix:name"',
)
@click.option("--criu", default="criu", help="path to the criu binary used for checkpoint and restore")
@click.option(
    "--rootless", default=None, help="ignore cgroup permission errors ('true', 'false', or 'auto') (default: \"auto\")"
)
@click.option(
    "--backend",
    type=click.Choice(["linux", "vm"]),
    default=None,
    help="run containers in host namespaces (linux, default) or each in a micro-VM (vm)",
)
@click.option(
    "-v",
    "--version",
    is_flag=True,
    is_eager=True,
    expose_value=False,
    callback=lambda ctx, _p, v: _print_version(ctx) if v else None,
    help="print the version",
)
@click.pass_context
def cli(
    ctx: click.Context,
    debug: bool,
    log: str | None,
    log_format: str,
    root: str | None,
    systemd_cgroup: bool,
    criu: str,
    rootless: str | None,
    backend: str | None,
) -> None:
    """runk: an Open Container Initiative runtime.

    runk creates and runs containers from OCI bundles (a root filesystem and a config.json),
    as runc does, with real namespaces, cgroups, capabilities and seccomp; optionally each
    container runs inside its own micro-VM (--backend vm, or invoke it as runk-vm).
    """
    ctx.obj = Globals(
        root=root,
        log=log,
        log_format=log_format,
        debug=debug,
        systemd_cgroup=systemd_cgroup,
        rootless=rootless,
        backend=backend_for_prog(ctx.info_name or "runk", backend),
        criu=criu,
    )
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())


def _create_options(f: Callable[..., Any]) -> Callable[..., Any]:
    f = click.option(
        "--preserve-fds",
        type=int,
        default=0,
        help="Pass N additional file descriptors to the container (stdio + $LISTEN_FDS + N in total)",
    )(f)
    f = click.option("--no-new-keyring", is_flag=True, help="do not create a new session keyring for the container")(f)
    f = click.option("--no-pivot", is_flag=True, help="do not use pivot root to jail process inside rootfs")(f)
    f = click.option("--pid-file", default=None, help="specify the file to write the process id to")(f)
    f = click.option(
        "--pidfd-socket",
        default=None,
        help="path to an AF_UNIX socket which will receive a file descriptor referencing the init process",
    )(f)
    f = click.option(
        "--console-socket",
        default=None,
        help="path to an AF_UNIX socket which will receive a file descriptor referencing the "
        "master end of the console's pseudoterminal",
    )(f)
    f = click.option(
        "-b",
        "--bundle",
        default=None,
        help="path to the root of the bundle directory, defaults to the current directory",
    )(f)
    return f


def _create_opts(
    bundle: str | None,
    console_socket: str | None,
    pidfd_socket: str | None,
    pid_file: str | None,
    no_pivot: bool,
    no_new_keyring: bool,
    preserve_fds: int,
) -> dict[str, Any]:
    return {
        "bundle": bundle,
        "console_socket": console_socket,
        "pidfd_socket": pidfd_socket,
        "pid_file": pid_file,
        "no_pivot": no_pivot,
        "no_new_keyring": no_new_keyring,
        "preserve_fds": preserve_fds,
    }


@cli.command(context_settings=CONTEXT)
@_create_options
@click.argument("args", nargs=-1, metavar="<container-id>")
@click.pass_context
def create(ctx: click.Context, /, args: tuple[str, ...], **kw: Any) -> None:
    """create a container"""
    _args("create", args, exactly=1)
    _go(ctx, "create", {"id": args[0], **_create_opts(**kw)})


@cli.command(name="run", context_settings=CONTEXT)
@_create_options
@click.option("-d", "--detach", is_flag=True, help="detach from the container's process")
@click.option("--keep", is_flag=True, help="do not delete the container after it exits")
@click.argument("args", nargs=-1, metavar="<container-id>")
@click.pass_context
def run_cmd(ctx: click.Context, /, args: tuple[str, ...], detach: bool, keep: bool, **kw: Any) -> None:
    """create and run a container"""
    _args("run", args, exactly=1)
    _go(ctx, "run", {"id": args[0], "detach": detach, "keep": keep, **_create_opts(**kw)})


@cli.command(context_settings=CONTEXT)
@click.argument("args", nargs=-1, metavar="<container-id>")
@click.pass_context
def start(ctx: click.Context, args: tuple[str, ...]) -> None:
    """executes the user defined process in a created container"""
    _args("start", args, exactly=1)
    _go(ctx, "start", {"id": args[0]})


@cli.command(context_settings=CONTEXT)
@click.argument("args", nargs=-1, metavar="<container-id>")
@click.pass_context
def state(ctx: click.Context, args: tuple[str, ...]) -> None:
    """output the state of a container"""
    _args("state", args, exactly=1)
    _go(ctx, "state", {"id": args[0]})


@cli.command(name="list", context_settings=CONTEXT)
@click.option("-f", "--format", "fmt", default="table", help="select one of: table or json")
@click.option("-q", "--quiet", is_flag=True, help="display only container IDs")
@click.argument("args", nargs=-1, metavar="")
@click.pass_context
def list_(ctx: click.Context, fmt: str, quiet: bool, args: tuple[str, ...]) -> None:
    """lists containers started by runk with the given root"""
    _args("list", args, exactly=0)
    _go(ctx, "list", {"format": fmt, "quiet": quiet})


@cli.command(context_settings=CONTEXT)
@click.option(
    "-a", "--all", "all_", is_flag=True, help="send the specified signal to all processes inside the container"
)
@click.argument("args", nargs=-1, metavar="<container-id> [signal]")
@click.pass_context
def kill(ctx: click.Context, all_: bool, args: tuple[str, ...]) -> None:
    """kill sends the specified signal (default: SIGTERM) to the container's init process"""
    _args("kill", args, minimum=1)
    if len(args) > 2:
        raise click.UsageError('runk: "kill" requires a maximum of 2 argument(s)')
    _go(ctx, "kill", {"id": args[0], "signal": args[1] if len(args) > 1 else None, "all": all_})


@cli.command(context_settings=CONTEXT)
@click.option(
    "-f", "--force", is_flag=True, help="Forcibly deletes the container if it is still running (uses SIGKILL)"
)
@click.argument("args", nargs=-1, metavar="<container-id>")
@click.pass_context
def delete(ctx: click.Context, force: bool, args: tuple[str, ...]) -> None:
    """delete any resources held by the container often used with detached container"""
    _args("delete", args, exactly=1)
    _go(ctx, "delete", {"id": args[0], "force": force})


@cli.command(context_settings=CONTEXT)
@click.argument("args", nargs=-1, metavar="<container-id>")
@click.pass_context
def pause(ctx: click.Context, args: tuple[str, ...]) -> None:
    """pause suspends all processes inside the container"""
    _args("pause", args, exactly=1)
    _go(ctx, "pause", {"id": args[0]})


@cli.command(context_settings=CONTEXT)
@click.argument("args", nargs=-1, metavar="<container-id>")
@click.pass_context
def resume(ctx: click.Context, args: tuple[str, ...]) -> None:
    """resumes all processes that have been previously paused"""
    _args("resume", args, exactly=1)
    _go(ctx, "resume", {"id": args[0]})


@cli.command(context_settings=CONTEXT)
@click.option("-b", "--bundle", default=None, help="path to the root of the bundle directory")
@click.option("--rootless", is_flag=True, help="generate a configuration for a rootless container")
@click.argument("args", nargs=-1, metavar="")
@click.pass_context
def spec(ctx: click.Context, bundle: str | None, rootless: bool, args: tuple[str, ...]) -> None:
    """create a new specification file"""
    _args("spec", args, exactly=0)
    _go(ctx, "spec", {"bundle": bundle, "rootless": rootless})


@cli.command(context_settings=CONTEXT)
@click.argument("args", nargs=-1, metavar="")
@click.pass_context
def features(ctx: click.Context, args: tuple[str, ...]) -> None:
    """show the enabled features"""
    _args("features", args, exactly=0)
    _go(ctx, "features", {})


@cli.command(
    name="exec", context_settings={**CONTEXT, "allow_interspersed_args": False, "ignore_unknown_options": False}
)
@click.option(
    "--console-socket",
    default=None,
    help="path to an AF_UNIX socket which will receive a file descriptor referencing the "
    "master end of the console's pseudoterminal",
)
@click.option(
    "--pidfd-socket",
    default=None,
    help="path to an AF_UNIX socket which will receive a file descriptor referencing the exec process",
)
@click.option("--pid-file", default=None, help="specify the file to write the process id to")
@click.option("--process", "-p", "process", default=None, help="path to the process.json")
@click.option("-d", "--detach", is_flag=True, help="detach from the container's process")
@click.option("-t", "--tty", is_flag=True, help="allocate a pseudo-TTY")
@click.option("--cwd", default=None, help="current working directory in the container")
@click.option("-e", "--env", multiple=True, help="set environment variables")
@click.option("-u", "--user", default=None, help="UID (format: <uid>[:<gid>])")
@click.option("-g", "--additional-gids", multiple=True, help="additional gids")
@click.option("-c", "--cap", multiple=True, help="add a capability to the bounding set for the process")
@click.option("--no-new-privs", is_flag=True, help="set the no new privileges value for the process")
@click.option("--apparmor", default=None, help="set the apparmor profile for the process")
@click.option(
    "--process-label", default=None, help="set the asm process label for the process commonly used with selinux"
)
@click.option(
    "--preserve-fds",
    type=int,
    default=0,
    help="Pass N additional file descriptors to the container (stdio + $LISTEN_FDS + N in total)",
)
@click.option("--ignore-paused", is_flag=True, help="allow exec in a paused container")
@click.option(
    "--cgroup", multiple=True, help="run the process in an (existing) sub-cgroup(s). Format is [<controller>:]<cgroup>."
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED, metavar="<container-id> <command> [command options]")
@click.pass_context
def exec_(ctx: click.Context, /, args: tuple[str, ...], **kw: Any) -> None:
    """execute new process inside the container"""
    # runc asks for the id only: no command (and no --process) fails later, after the container
    # is found, with "process args cannot be empty" (exit 255)
    _args("exec", args, minimum=1)
    opts = {"id": args[0], "args": list(args[1:]), **kw}
    opts["env"] = list(kw["env"])
    opts["additional_gids"] = list(kw["additional_gids"])
    opts["cap"] = list(kw["cap"])
    opts["cgroup"] = list(kw["cgroup"])
    _go(ctx, "exec", opts)


_UPDATE_FLAGS = (
    ("--blkio-weight", "Specifies per cgroup weight, range is from 10 to 1000"),
    (
        "--cpu-burst",
        "CPU CFS hardcap burst limit (in usecs). Allowed accumulated cpu time additionally for burst a given period",
    ),
    ("--cpu-idle", "set cgroup SCHED_IDLE or not, 0: default behavior, 1: SCHED_IDLE"),
    ("--cpu-period", "CPU CFS period to be used for hardcapping (in usecs). 0 to use system default"),
    ("--cpu-quota", "CPU CFS hardcap limit (in usecs). Allowed cpu time in a given period"),
    ("--cpu-rt-period", "CPU realtime period to be used for hardcapping (in usecs)"),
    ("--cpu-rt-runtime", "CPU realtime hardcap limit (in usecs). Allowed cpu time in a given period"),
    ("--cpuset-cpus", "CPU(s) to use"),
    ("--cpuset-mems", "Memory node(s) to use"),
    ("--kernel-memory", "Kernel memory limit (in bytes); kernels since 5.4 have none"),
    ("--kernel-memory-tcp", "Kernel memory limit for tcp buffer (in bytes)"),
    ("--memory", "Memory limit (in bytes, or with a k, m, g suffix)"),
    ("--memory-reservation", "Memory reservation or soft_limit (in bytes)"),
    ("--memory-swap", "Total memory usage (memory + swap); set '-1' to enable unlimited swap"),
    ("--pids-limit", "Maximum number of pids allowed in the container"),
)


def _update_options(f: Callable[..., Any]) -> Callable[..., Any]:
    for name, help_text in reversed(_UPDATE_FLAGS):
        f = click.option(name, default=None, help=help_text)(f)
    f = click.option(
        "--cpu-share",
        "--cpu-shares",
        "cpu_share",
        default=None,
        help="CPU shares (relative weight vs. other containers)",
    )(f)
    f = click.option(
        "-r",
        "--resources",
        default=None,
        help="path to the file containing the resources to update or '-' to read "
        "from the standard input (the other options are then ignored)",
    )(f)
    return f


@cli.command(context_settings=CONTEXT)
@_update_options
@click.argument("args", nargs=-1, metavar="<container-id>")
@click.pass_context
def update(ctx: click.Context, /, args: tuple[str, ...], **kw: Any) -> None:
    """update container resource constraints"""
    _args("update", args, exactly=1)
    _go(ctx, "update", {"id": args[0], **kw})


@cli.command(context_settings={**CONTEXT, "allow_interspersed_args": False, "ignore_unknown_options": True})
@click.option("-f", "--format", "fmt", default="table", help="select one of: table or json")
@click.argument("args", nargs=-1, type=click.UNPROCESSED, metavar="<container-id> [ps options]")
@click.pass_context
def ps(ctx: click.Context, fmt: str, args: tuple[str, ...]) -> None:
    """ps displays the processes running inside a container"""
    _args("ps", args, minimum=1)
    _go(ctx, "ps", {"id": args[0], "format": fmt, "ps_args": list(args[1:])})


@cli.command(context_settings=CONTEXT)
@click.option("--interval", default="5s", help="set the stats collection interval")
@click.option("--stats", is_flag=True, help="display the container's stats then exit")
@click.argument("args", nargs=-1, metavar="<container-id>")
@click.pass_context
def events(ctx: click.Context, interval: str, stats: bool, args: tuple[str, ...]) -> None:
    """display container events such as OOM notifications, cpu, memory, and IO usage statistics"""
    _args("events", args, exactly=1)
    _go(ctx, "events", {"id": args[0], "interval": interval, "stats": stats})


_CRIU_COMMON = (
    ("--tcp-established", "allow open tcp connections"),
    ("--ext-unix-sk", "allow external unix sockets"),
    ("--shell-job", "allow shell jobs"),
    ("--file-locks", "handle file locks, for safety"),
    ("--auto-dedup", "enable auto deduplication of memory images"),
    ("--lazy-pages", "use userfaultfd to lazily restore memory pages"),
)
_CGROUPS_MODE_HELP = (
    "cgroups mode: 'soft' (default), 'full' and 'strict'"  # runc 1.1.5's help; 'ignore' (runc main) is accepted too
)
_EMPTY_NS_HELP = "create a namespace, but don't restore its properties"


def _flags(f: Callable[..., Any], names: tuple[str, ...]) -> Callable[..., Any]:
    table = dict(_CRIU_COMMON)
    for name in reversed(names):
        f = click.option(name, is_flag=True, help=table[name])(f)
    return f


def _checkpoint_options(f: Callable[..., Any]) -> Callable[..., Any]:
    f = click.option("--auto-dedup", is_flag=True, help=dict(_CRIU_COMMON)["--auto-dedup"])(f)
    f = click.option("--empty-ns", multiple=True, help=_EMPTY_NS_HELP)(f)
    f = click.option("--manage-cgroups-mode", default=None, help=_CGROUPS_MODE_HELP)(f)
    f = click.option(
        "--pre-dump",
        is_flag=True,
        help="dump container's memory information only, leave the container running after this",
    )(f)
    f = click.option("--file-locks", is_flag=True, help=dict(_CRIU_COMMON)["--file-locks"])(f)
    f = click.option("--page-server", default=None, help="ADDRESS:PORT of the page server")(f)
    f = click.option("--status-fd", type=int, default=-1, help="criu writes \\0 to this FD once lazy-pages is ready")(f)
    f = _flags(f, ("--tcp-established", "--ext-unix-sk", "--shell-job", "--lazy-pages"))
    f = click.option("--leave-running", is_flag=True, help="leave the process running after checkpointing")(f)
    f = click.option("--parent-path", default=None, help="path for previous criu image files in pre-dump")(f)
    f = click.option("--work-path", default=None, help="path for saving work files and logs")(f)
    f = click.option("--image-path", default=None, help="path for saving criu image files")(f)
    return f


@cli.command(context_settings=CONTEXT)
@_checkpoint_options
@click.argument("args", nargs=-1, metavar="<container-id>")
@click.pass_context
def checkpoint(ctx: click.Context, /, args: tuple[str, ...], **kw: Any) -> None:
    """checkpoint a running container

    Saves the processes of a running container with CRIU into an image directory (by default
    ./checkpoint), from which `restore` can start them again. The container is stopped and
    deleted afterwards unless --leave-running or --pre-dump is given.
    """
    _args("checkpoint", args, exactly=1)
    _go(ctx, "checkpoint", {"id": args[0], **kw, "empty_ns": list(kw["empty_ns"])})


def _restore_options(f: Callable[..., Any]) -> Callable[..., Any]:
    f = click.option(
        "--lsm-mount-context", default=None, help="Specify an LSM mount context to be used during restore."
    )(f)
    f = click.option(
        "--lsm-profile",
        default=None,
        help="Specify an LSM profile to be used during restore in the form of TYPE:NAME.",
    )(f)
    f = _flags(f, ("--auto-dedup", "--lazy-pages"))
    f = click.option("--empty-ns", multiple=True, help=_EMPTY_NS_HELP)(f)
    f = click.option(
        "--no-pivot",
        is_flag=True,
        help="do not use pivot root to jail process inside rootfs.  This should be used whenever "
        "the rootfs is on top of a ramdisk",
    )(f)
    f = click.option(
        "--no-subreaper", is_flag=True, help="disable the use of the subreaper used to reap reparented processes"
    )(f)
    f = click.option("--pid-file", default=None, help="specify the file to write the process id to")(f)
    f = click.option("-d", "--detach", is_flag=True, help="detach from the container's process")(f)
    f = click.option("-b", "--bundle", default=None, help="path to the root of the bundle directory")(f)
    f = click.option("--manage-cgroups-mode", default=None, help=_CGROUPS_MODE_HELP)(f)
    f = _flags(f, ("--tcp-established", "--ext-unix-sk", "--shell-job", "--file-locks"))
    f = click.option("--work-path", default=None, help="path for saving work files and logs")(f)
    f = click.option("--image-path", default=None, help="path to criu image files for restoring")(f)
    f = click.option(
        "--console-socket",
        default=None,
        help="path to an AF_UNIX socket which will receive a file descriptor referencing the "
        "master end of the console's pseudoterminal",
    )(f)
    return f


@cli.command(context_settings=CONTEXT)
@_restore_options
@click.argument("args", nargs=-1, metavar="<container-id>")
@click.pass_context
def restore(ctx: click.Context, /, args: tuple[str, ...], **kw: Any) -> None:
    """restore a container from a previous checkpoint

    Starts a new container from the bundle whose processes are those a `checkpoint` saved in the
    image directory (by default ./checkpoint), in the state they were saved in.
    """
    _args("restore", args, exactly=1)
    _go(ctx, "restore", {"id": args[0], **kw, "empty_ns": list(kw["empty_ns"])})


_HELP_CONTEXT = {**CONTEXT, "ignore_unknown_options": True}  # runc reads only the first word


@cli.command(name="help", context_settings=_HELP_CONTEXT)
@click.argument("topic", nargs=-1, metavar="[command]", type=click.UNPROCESSED)
@click.pass_context
def help_command(ctx: click.Context, topic: tuple[str, ...]) -> None:
    """Shows a list of commands or help for one command"""
    parent = ctx.parent
    assert parent is not None
    if not topic or topic[0] == "":  # runc: an empty topic is none
        click.echo(parent.get_help())
        return
    if topic[0].startswith("-") and topic[0] != "-":
        raise click.NoSuchOption(topic[0], ctx=ctx)  # runc: flag provided but not defined
    cmd = cli.get_command(parent, topic[0])
    if cmd is None or topic[0] in ("help", "h"):
        if cmd is None:
            from runk import log

            log.error(f"No help topic for '{topic[0]}'")  # runc: unknown topic, exit 3
            ctx.exit(3)
        click.echo(parent.get_help())
        return
    with click.Context(cmd, info_name=topic[0], parent=parent) as sub:
        click.echo(cmd.get_help(sub))


# runc's alias of help ("help, h"), not listed twice
_h = RunkCommand(
    "h",
    callback=help_command.callback,
    params=help_command.params,
    context_settings=_HELP_CONTEXT,
    hidden=True,
    help=help_command.help,
)
cli.add_command(_h)


def run(argv: list[str], prog: str = "runk", parse_only: bool = False) -> int:
    """Parse argv with the click tree and dispatch; runc's exit codes for usage errors."""
    from runk import log

    rc = _shell_complete(prog)
    if rc is not None:
        return rc

    try:
        with cli.make_context(prog, list(argv)) as ctx:
            if parse_only:
                ctx.meta["runk.parse_only"] = True
            cli.invoke(ctx)
        return 0
    except click.exceptions.Exit as e:
        return e.exit_code
    except click.exceptions.NoSuchOption as e:
        _usage_help(e)
        log.error(f"flag provided but not defined: -{e.option_name.lstrip('-')}")
        return 1
    except click.exceptions.UsageError as e:
        msg = e.format_message()
        if msg.startswith("No such command"):
            name = msg.split("'")[1] if "'" in msg else msg
            if name == "" and e.ctx is not None:
                click.echo(e.ctx.get_help())  # runc: an empty command is no command
                return 0
            log.error(f"No help topic for '{name}'")
            return 3
        _usage_help(e)
        log.error(msg)
        return 1
    except click.exceptions.Abort:
        return 130
    finally:
        sys.stdout.flush()


def _shell_complete(prog: str) -> int | None:
    """click's shell completion: `eval "$(_RUNK_COMPLETE=bash_source runk)"` prints the bash
    function that completes runk's commands and flags (bash then calls runk with the variable set
    to `bash_complete`); None when the variable is not set (zsh_source and fish_source work too).
    runk-vm's variable is _RUNK_VM_COMPLETE."""
    import os

    name = prog.rsplit("/", 1)[-1]
    var = "_" + name.replace("-", "_").upper() + "_COMPLETE"
    instruction = os.environ.get(var)
    if not instruction:
        return None
    from click.shell_completion import shell_complete

    return shell_complete(cli, {}, name, var, instruction)


def _usage_help(e: click.exceptions.UsageError) -> None:
    """runc prints "Incorrect Usage." and the command's help on stdout before the error line."""
    if e.ctx is not None:
        click.echo("Incorrect Usage.\n")
        click.echo(e.ctx.get_help())
