"""Every command's ``--help`` ends with one or two real examples.

The commands are read from the Typer app (every registered module), so a
command added anywhere is held to the same rule. "Real" is checked: each
example is parsed by the command line's own parser (options exist, values
convert, choices are valid, required arguments are there) down to the very
command whose help shows it.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from typing import Any

import pytest

#: Shell syntax that ends the alfred-tui part of an example line.
SHELL_OPERATORS = {">", ">>", "|", "&&", "||", ";", "2>&1"}


def commands() -> Iterator[tuple[str, Any]]:
    """Every command and group with its full name (``alfred-tui backups verify``)."""
    import typer.main

    from alfred_tui import cli

    cli.register_commands()

    def walk(command: Any, name: str) -> Iterator[tuple[str, Any]]:
        yield name, command
        for sub_name, sub in sorted(getattr(command, "commands", {}).items()):
            if not getattr(sub, "hidden", False):
                yield from walk(sub, f"{name} {sub_name}")

    yield from walk(typer.main.get_command(cli.app), "alfred-tui")


ALL = list(commands())


def examples_of(help_text: str) -> list[str]:
    """The example command lines at the end of a help text."""
    _, marker, tail = help_text.rpartition("Examples:")
    assert marker, "no 'Examples:' section"
    lines = [line.strip() for line in tail.strip().splitlines()]
    assert all(line.startswith("$ alfred-tui") for line in lines), lines
    return [line.removeprefix("$ ") for line in lines]


def parsed_command(root: Any, words: list[str]) -> str:
    """The full name of the command ``words`` runs, parsed as the CLI would (raises if invalid)."""
    command, name, args, parent, names = root, words[0], words[1:], None, [words[0]]
    while True:
        context = command.make_context(name, list(args), parent=parent)
        rest = [*getattr(context, "_protected_args", []), *context.args]
        if not hasattr(command, "resolve_command") or not rest:
            return " ".join(names)
        name, command, args = command.resolve_command(context, rest)
        names.append(name)
        parent = context


def test_the_command_list_comes_from_the_app() -> None:
    names = {name for name, _ in ALL}
    assert {"alfred-tui check", "alfred-tui backups verify", "alfred-tui completion"} <= names
    assert len(names) >= 40


@pytest.mark.parametrize(("name", "command"), ALL, ids=[name for name, _ in ALL])
def test_help_ends_with_real_examples(name: str, command: Any) -> None:
    root = ALL[0][1]
    context = command.make_context(name.split()[-1], [], resilient_parsing=True)
    help_text = command.get_help(context)
    examples = examples_of(help_text)
    assert 1 <= len(examples) <= 2, examples
    for example in examples:
        words = shlex.split(example)
        cut = next((i for i, word in enumerate(words) if word in SHELL_OPERATORS), len(words))
        parsed = parsed_command(root, words[:cut])
        assert parsed == name or parsed.startswith(f"{name} "), example
