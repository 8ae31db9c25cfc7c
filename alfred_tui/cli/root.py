"""The Typer application: the root command, its options and ``--help``.

Imported only when Typer has to parse the command line: for every
subcommand, ``--help``, and any root option the UI's own parser
(:mod:`alfred_tui.cli.ui_args`) leaves to it. A bare ``alfred-tui
[--profile P] [--backend B] [--readonly]`` opens the UI without importing
Typer at all (about 40 ms, plus the shared option definitions of
:mod:`alfred_tui.cli.common`).
"""

from __future__ import annotations

from typing import Annotated

import typer

from alfred_tui import __version__
from alfred_tui.cli.common import GLOBAL_OPTIONS, BackendOption, ProfileOption, examples

app = typer.Typer(
    name="alfred-tui",
    help="Terminal control plane for the Alfred platform's PostgreSQL, Redis and Qdrant.",
    epilog=examples("alfred-tui --profile local", "alfred-tui -p prod -b kubernetes --readonly"),
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


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
    replay: Annotated[
        str | None,
        typer.Option(
            "--replay",
            help="Open a recording (alfred-tui record, or saved from the UI) instead of a "
            "live target: read-only, with a time cursor.",
            show_default=False,
        ),
    ] = None,
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

        open_ui(profile, backend, readonly, replay)
