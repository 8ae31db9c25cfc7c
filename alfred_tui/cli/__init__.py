"""The ``alfred-tui`` command line.

``alfred-tui`` alone opens the terminal UI; every subcommand is its headless
twin for scripts. Subcommands live one group per module and register
themselves on :data:`app` in :func:`_register`; heavy modules (the UI, the
engine SDKs) are imported inside the commands that need them, so ``check``
stays fast.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated

# alfred-tui uses no pydantic plugins; pydantic would otherwise scan the entry
# points of every installed distribution on the first model (~20 ms a start).
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

import typer

from alfred_tui import __version__
from alfred_tui.cli.common import (
    GLOBAL_OPTIONS,
    BackendOption,
    ProfileOption,
    diagnostic,
)
from alfred_tui.errors import AlfredError

app = typer.Typer(
    name="alfred-tui",
    help="Terminal control plane for the Alfred platform's PostgreSQL, Redis and Qdrant.",
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)

#: Set by ``check`` once its own code runs: a usage error before that is Nagios UNKNOWN.
_state = {"check_started": False}


def _version(value: bool) -> None:
    if value:
        print(f"alfred-tui {__version__}")
        raise typer.Exit(0)


@app.callback(invoke_without_command=True)
def root(
    ctx: typer.Context,
    profile: ProfileOption = None,
    backend: BackendOption = None,
    readonly: Annotated[
        bool, typer.Option("--readonly", help="Open the UI with every mutating action disabled.")
    ] = False,
    version: Annotated[
        bool | None,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = None,
) -> None:
    """Open the terminal UI (the default), or run a subcommand."""
    GLOBAL_OPTIONS.clear()
    GLOBAL_OPTIONS.update(profile=profile, backend=backend, readonly=readonly)
    if ctx.invoked_subcommand is None:
        from alfred_tui.cli.tui import open_ui

        open_ui(profile, backend, readonly)


#: Top-level command -> the module that registers it (``register(app)``). Only the
#: module of the command being run is imported: registering every module costs
#: about 60 ms, a third of what ``check`` may spend on top of its imports.
#: ``--help``, no command, or an unknown one registers them all.
COMMANDS = {
    "check": "check",
    "up": "lifecycle",
    "down": "lifecycle",
    "status": "lifecycle",
    "scale": "lifecycle",
    "resize": "lifecycle",
    "restart": "lifecycle",
    "logs": "lifecycle",
    "collections": "collections",
    "audit": "audit",
    "backup": "backup",
    "backups": "backup",
    "restore": "backup",
    "pitr": "backup",
    "profiles": "profiles",
    "doctor": "doctor",
    "activity": "activity",
    "render": "render",
    "migrate": "migrate",
    "schema": "migrate",
    "keyspace": "keyspace",
    "overview": "overview",
}
#: Root options that take a value, so the parser below can skip it.
_VALUED_ROOT_OPTIONS = {"--profile", "-p", "--backend", "-b"}
_registered: set[str] = set()


def command_in(args: list[str]) -> str | None:
    """The subcommand named in ``args`` (after the root options), if any."""
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg in _VALUED_ROOT_OPTIONS:
            skip = True
        elif not arg.startswith("-"):
            return arg
    return None


def register_commands(args: list[str] | None = None) -> None:
    """Register the module of the command in ``args``, or every module."""
    from importlib import import_module

    command = command_in(args) if args is not None else None
    wanted = [COMMANDS[command]] if command in COMMANDS else list(dict.fromkeys(COMMANDS.values()))
    for name in wanted:
        if name not in _registered:
            import_module(f"alfred_tui.cli.{name}").register(app)
            _registered.add(name)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: one line per error on stderr, never a traceback."""
    args = sys.argv[1:] if argv is None else argv
    try:
        register_commands(args)
        app(args=argv, prog_name="alfred-tui")
    except SystemExit as exc:
        if exc.code == 2 and command_in(args) == "check" and not _state["check_started"]:
            raise SystemExit(3) from None  # Nagios: a plugin's usage error is UNKNOWN
        raise
    except AlfredError as exc:
        diagnostic(exc.one_line())
        raise SystemExit(exc.exit_code) from None
    except KeyboardInterrupt:
        raise SystemExit(130) from None
    except Exception as exc:
        if os.environ.get("ALFRED_TUI_DEBUG"):
            raise
        from alfred_tui.redact import redact

        diagnostic(redact(f"Internal error: {type(exc).__name__}: {exc}"))
        diagnostic("Set ALFRED_TUI_DEBUG=1 to see the traceback, and please report it.")
        raise SystemExit(2) from None
