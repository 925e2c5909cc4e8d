"""Click's side of the options: the parameter types the commands share, and every option of
`segue jam` and `segue generate` made from the one table in daemon/options.py."""
from __future__ import annotations

import os
from pathlib import Path

import click

from . import options as table

CHANNEL = click.IntRange(0, 15)
TRACK = click.IntRange(0, None)


class Group(click.Group):
    """A command group that lists its commands with their whole first sentence, wrapped (click's
    default cuts it to fit one line, mid-word)."""

    def format_commands(self, ctx, formatter):
        commands = [(name, self.get_command(ctx, name)) for name in self.list_commands(ctx)]
        rows = [(name, cmd.get_short_help_str(limit=300)) for name, cmd in commands if cmd and not cmd.hidden]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


class OutFile(click.Path):
    """A file to write, whose folder must exist and be writable now, not after an hour of training."""

    def __init__(self):
        super().__init__(dir_okay=False)

    def convert(self, value, param, ctx):
        value = super().convert(value, param, ctx)
        folder = Path(value).resolve().parent
        if not folder.is_dir():
            self.fail(f"{value}: its folder {folder} does not exist", param, ctx)
        if not os.access(folder, os.W_OK):
            self.fail(f"{value}: its folder {folder} is not writable", param, ctx)
        return value


OUT = OutFile()


TYPES = {"int": int, "float": float, "str": str, "path": click.Path(dir_okay=False), "out": OUT}


def option_decorators(command: str) -> list:
    """click.option decorators for every option of `command` in the table, in its order."""
    made = []
    for o in table.for_command(command):
        extra = {"multiple": True} if o.multiple else {}
        if o.kind == "flag":
            extra["is_flag"] = True
        elif o.kind != "switch":
            extra["type"] = click.Choice(o.choices) if o.choices else TYPES[o.kind]
        if o.default is not None:
            extra.update(default=o.default, show_default=o.kind != "flag")
        made.append(click.option(*o.flags, help=o.help, **extra))
    return made


def with_options(command: str):
    """Decorate a click command with `command`'s options from the table."""
    def decorate(function):
        for option in reversed(option_decorators(command)):
            function = option(function)
        return function

    return decorate
