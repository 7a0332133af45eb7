"""--help in runc's layout: NAME, USAGE, DESCRIPTION, COMMANDS and OPTIONS sections, each
entry indented by three spaces, options as `--name value, -n value` in one aligned column
(scripts and runc's own tests look for these headings). The texts are runk's own.

Runs in the parent, with the click tree (runk.cli.app); imports click.
"""

from __future__ import annotations

import click

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

INDENT = "   "


def _lines(text: str) -> list[str]:
    import inspect

    return inspect.cleandoc(click.unstyle(text)).splitlines() if text else []


def _table(rows: Iterable[tuple[str, str]]) -> str:
    rows = list(rows)
    width = max((len(left) for left, _ in rows), default=0)
    return "".join(f"{INDENT}{left.ljust(width)}  {right}".rstrip() + "\n" for left, right in rows)


def _option_row(opt: click.Option) -> tuple[str, str]:
    names = sorted(opt.opts + opt.secondary_opts, key=lambda n: (not n.startswith("--"), 0))
    value = "" if opt.is_flag or opt.count else " value"
    left = ", ".join(n + value for n in names)
    right = opt.help or ""
    default = None if opt.multiple else opt.default  # runc shows no default for a repeated flag
    if not opt.is_flag and default is not None and default != "" and not callable(default):
        right += f" (default: {default})" if isinstance(default, int) else f' (default: "{default}")'
    return left, right


def _options(cmd: click.Command, ctx: click.Context) -> list[tuple[str, str]]:
    rows = []
    help_names = set(ctx.help_option_names)
    for p in cmd.get_params(ctx):
        if not isinstance(p, click.Option) or p.hidden:
            continue
        if set(p.opts) & help_names:
            continue
        rows.append(_option_row(p))
    return rows


def _summary_and_rest(cmd: click.Command) -> tuple[str, list[str]]:
    lines = _lines(cmd.help or "")
    if not lines:
        return "", []
    rest = lines[1:]
    while rest and not rest[0].strip():
        rest = rest[1:]
    return lines[0], rest


class RunkCommand(click.Command):
    """A command whose --help is laid out as runc's."""

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        summary, rest = _summary_and_rest(self)
        path = ctx.command_path
        metavars = " ".join(
            m for p in self.get_params(ctx) if (m := p.make_metavar(ctx)) and p.param_type_name == "argument"
        )
        out = f"NAME:\n{INDENT}{path} - {summary}\n\nUSAGE:\n{INDENT}{path} [command options] {metavars}\n"
        if rest:
            out += f"\nDESCRIPTION:\n{INDENT}" + "\n".join(rest) + "\n"
        rows = _options(self, ctx)
        if rows:
            out += "\nOPTIONS:\n" + _table(rows)
        formatter.write(out)


class RunkGroup(click.Group):
    """The top level, its --help laid out as runc's; its commands are RunkCommands."""

    command_class = RunkCommand

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        from runk.version import __version__

        summary, rest = _summary_and_rest(self)
        name = ctx.command_path
        if summary.startswith(f"{name}: "):
            summary = summary[len(name) + 2 :]
        out = f"NAME:\n{INDENT}{name} - {summary.rstrip('.')}\n\n"
        if rest:
            out += "\n".join(rest) + "\n\n"
        out += f"USAGE:\n{INDENT}{name} [global options] command [command options] [arguments...]\n\n"
        out += f"VERSION:\n{INDENT}{__version__}\n\n"
        commands = [(n, c) for n in self.list_commands(ctx) if (c := self.get_command(ctx, n)) and not c.hidden]
        out += "COMMANDS:\n" + _table((n, c.get_short_help_str(limit=200)) for n, c in commands)
        rows = _options(self, ctx) + [("--help, -h", "show help")]
        out += "\nGLOBAL OPTIONS:\n" + _table(rows)
        formatter.write(out)
