"""The ``alfred-tui`` command line.

``alfred-tui`` alone opens the terminal UI; every subcommand is its headless
twin for scripts. Subcommands live one group per module and register
themselves on the Typer app (:mod:`alfred_tui.cli.root`) through
:data:`COMMANDS`; heavy modules (the UI, the engine SDKs) are imported inside
the commands that need them, so ``check`` stays fast. The UI's own command
line is parsed without Typer (:mod:`alfred_tui.cli.ui_args`): Typer is
imported only when a subcommand, ``--help`` or an unusual option needs it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn

# alfred-tui uses no pydantic plugins; pydantic would otherwise scan the entry
# points of every installed distribution on the first model (~20 ms a start).
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

from alfred_tui.cli.collector import pause_during_startup
from alfred_tui.cli.completion import COMPLETE_ENV
from alfred_tui.errors import AlfredError, file_system_error

if TYPE_CHECKING:
    import typer

#: Set by ``check`` once its own code runs: a usage error before that is Nagios UNKNOWN.
_state = {"check_started": False}


def __getattr__(name: str) -> Any:
    """``alfred_tui.cli.app``: the Typer app, imported on first use."""
    if name == "app":
        return _typer_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _typer_app() -> typer.Typer:
    from alfred_tui.cli.root import app

    return app


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
    "render": "manifests",
    "migrate": "migrate",
    "schema": "migrate",
    "keyspace": "keyspace",
    "overview": "overview",
    "record": "recording",
    "timeline": "recording",
    "serve": "serve",
    "failover": "failover",
    "reclone": "failover",
    "completion": "completion.command",
}
#: Root options that take a value, so the parser below can skip it.
_VALUED_ROOT_OPTIONS = {"--profile", "-p", "--backend", "-b", "--replay"}
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
            import_module(f"alfred_tui.cli.{name}").register(_typer_app())
            _registered.add(name)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: one line per error on stderr, never a traceback."""
    pause_during_startup()
    args = sys.argv[1:] if argv is None else argv
    shell = os.environ.get(COMPLETE_ENV)
    if shell:  # the shell's completion function asks; answer before importing anything heavy
        from alfred_tui.cli.completion.engine import answer

        raise SystemExit(answer(shell, args))
    _state["check_started"] = False  # per run, also when main() runs twice in one process
    from alfred_tui.cli.ui_args import parse_ui_args

    ui = parse_ui_args(args)
    if ui is not None:
        _guarded(args, lambda: _open_ui(ui.profile, ui.backend, ui.readonly, ui.version, ui.replay))
    else:
        _guarded(args, lambda: _run_typer(args, argv))


def _open_ui(
    profile: str | None,
    backend: str | None,
    readonly: bool,
    version: bool,
    replay: str | None = None,
) -> None:
    """The default command, parsed without Typer (same meaning as ``root.root``)."""
    if version:
        from alfred_tui import __version__

        print(f"alfred-tui {__version__}")
        raise SystemExit(0)
    from alfred_tui.cli.tui import open_ui

    open_ui(profile, backend, readonly, replay)


def _run_typer(args: list[str], argv: list[str] | None) -> None:
    import typer

    register_commands(args)
    try:
        code = _typer_app()(args=argv, prog_name="alfred-tui", standalone_mode=False)
    except typer.Abort:
        raise KeyboardInterrupt from None
    except Exception as exc:
        if not (hasattr(exc, "format_message") and hasattr(exc, "exit_code")):
            raise
        _usage_error(exc)
    if isinstance(code, int) and code:  # typer.Exit(code) inside a command
        raise SystemExit(code)


def _usage_error(exc: Any) -> NoReturn:
    """Click's usage error with its message on one line (``Choose from:`` lists span
    several): the usage, the help hint, then ``Error: ...``, and exit 2."""
    ctx = getattr(exc, "ctx", None)
    if ctx is not None:
        _diagnostic(ctx.get_usage())
        _diagnostic(f"Try '{ctx.command_path} {ctx.help_option_names[0]}' for help.")
    message = " ".join(str(exc.format_message()).replace(",\n", ", ").split())
    _diagnostic(f"Error: {message}")
    raise SystemExit(exc.exit_code)


def _diagnostic(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _guarded(args: list[str], run: Callable[[], None]) -> None:
    is_check = command_in(args) == "check"
    try:
        run()
    except SystemExit as exc:
        if exc.code == 2 and is_check and not _state["check_started"]:
            raise SystemExit(3) from None  # Nagios: a plugin's usage error is UNKNOWN
        raise
    except AlfredError as exc:
        _diagnostic(exc.one_line())
        raise SystemExit(3 if is_check else exc.exit_code) from None
    except KeyboardInterrupt:
        raise SystemExit(130) from None
    except BrokenPipeError:
        # The reader went away (`alfred-tui logs | head`): nothing is wrong, nothing to say.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise SystemExit(0) from None
    except OSError as exc:
        # A data, state or backup folder that is a file, unwritable, or on a full disk:
        # the operator's to fix, so said in one line naming the path, not as a bug.
        _diagnostic(file_system_error(exc).one_line())
        raise SystemExit(3 if is_check else 2) from None
    except Exception as exc:
        if os.environ.get("ALFRED_TUI_DEBUG"):
            raise
        from alfred_tui.redact import redact

        _diagnostic(redact(f"Internal error: {type(exc).__name__}: {exc}"))
        _diagnostic("Set ALFRED_TUI_DEBUG=1 to see the traceback, and please report it.")
        raise SystemExit(3 if is_check else 2) from None
