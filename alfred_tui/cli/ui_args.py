"""The command line of the UI itself, parsed without Typer.

``alfred-tui [--profile P] [--backend B] [--readonly]`` is what an operator
types most, and every millisecond before the first frame shows. Importing
Typer and the shared option definitions costs about 50 ms, so the UI's few
root options are read here, with the same meaning Typer gives them:

* ``--profile P``, ``--profile=P``, ``-p P``, ``-pP`` (the last one wins;
  ``$ALFRED_TUI_PROFILE`` when absent, as Typer's ``envvar``);
* ``--backend B``, ``--backend=B``, ``-b B``, ``-bB``;
* ``--readonly``; ``--version``;
* ``--replay FILE``, ``--replay=FILE``: a recording instead of a live target.

Anything else (a subcommand, ``-h``/``--help``, an unknown option, an option
without its value, a value that looks like an option) is not guessed at:
:func:`parse_ui_args` returns None and Typer parses the line as before, so
help texts and usage errors are Typer's own, unchanged.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

PROFILE_ENV = "ALFRED_TUI_PROFILE"

_VALUED = {
    "--profile": "profile",
    "-p": "profile",
    "--backend": "backend",
    "-b": "backend",
    "--replay": "replay",
}


@dataclass(frozen=True)
class UiArgs:
    """What a bare ``alfred-tui`` was asked for."""

    profile: str | None = None
    backend: str | None = None
    readonly: bool = False
    version: bool = False
    replay: str | None = None


def _split(arg: str) -> tuple[str, str | None] | None:
    """``(option, attached value)`` for a valued option, or None if ``arg`` is not one."""
    if arg in _VALUED:
        return arg, None
    name, equals, value = arg.partition("=")
    if equals and name.startswith("--") and name in _VALUED:
        return name, value
    if len(arg) > 2 and arg[:2] in ("-p", "-b") and arg[2] != "=":
        return arg[:2], arg[2:]
    return None


def parse_ui_args(args: list[str]) -> UiArgs | None:
    """The UI's options in ``args``, or None when Typer must parse them."""
    values: dict[str, str | None] = {"profile": None, "backend": None, "replay": None}
    readonly = version = False
    position = 0
    while position < len(args):
        arg = args[position]
        position += 1
        if arg == "--readonly":
            readonly = True
            continue
        if arg == "--version":
            version = True
            continue
        valued = _split(arg)
        if valued is None:
            return None  # a subcommand, --help, or something Typer should judge
        option, value = valued
        if value is None:
            if position >= len(args):
                return None  # "requires an argument": Typer says so
            value = args[position]
            position += 1
        if value.startswith("-"):
            return None  # Typer would take it as the value; let it decide, and say so
        values[_VALUED[option]] = value
    profile = values["profile"]
    if profile is None:
        profile = os.environ.get(PROFILE_ENV) or None
    return UiArgs(profile, values["backend"], readonly, version, values["replay"])
