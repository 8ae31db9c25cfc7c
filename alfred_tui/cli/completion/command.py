"""``alfred-tui completion bash|zsh|fish``: print the shell's completion script."""

from __future__ import annotations

import enum
from typing import Annotated

import typer

from alfred_tui.cli.common import examples


class Shell(enum.StrEnum):
    """The shells with a completion script."""

    bash = "bash"
    zsh = "zsh"
    fish = "fish"


def register(app: typer.Typer) -> None:
    """Add ``completion`` to ``app``."""

    @app.command(
        "completion",
        epilog=examples(
            "alfred-tui completion bash > ~/.local/share/bash-completion/completions/alfred-tui",
            "alfred-tui completion fish > ~/.config/fish/completions/alfred-tui.fish",
        ),
    )
    def completion_command(
        shell: Annotated[Shell, typer.Argument(help="bash, zsh or fish.")],
    ) -> None:
        """Print the completion script of SHELL (commands, options, profiles, backup ids...)."""
        from alfred_tui.cli.completion.scripts import script
        from alfred_tui.cli.completion.tree import build_tree, cache_file, fingerprint, save_tree

        # Make the command tree now, so the first completion is as fast as the others.
        save_tree(build_tree(), cache_file(fingerprint()))
        print(script(shell.value), end="")
