"""From the command line up to the cursor to what the shell may insert there.

The line is split as the shell would (quotes, an unclosed quote), walked
through the command tree as Click parses it (a command's options before its
subcommand, ``--opt=value``, ``-pVALUE``, ``--``), and the word under the
cursor is completed as a subcommand, an option name, an option's value or
the next argument. What the shells read back (:func:`render`):

* bash: the first line is ``files`` or ``plain`` (whether to add the
  shell's own file-name completion), then one value per line, cut at the
  last of bash's word-break characters (``=`` and ``:`` by default) as bash
  replaces only that part of the word;
* zsh and fish: the same first line, then ``value<TAB>description`` lines.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from alfred_tui.cli.completion import values
from alfred_tui.cli.completion.scripts import SCRIPTS
from alfred_tui.cli.completion.values import Candidates

SHELLS = tuple(SCRIPTS)


class Position:
    """Where the cursor is in the command tree, and what the line gave so far."""

    __slots__ = ("arguments_seen", "given", "node", "only_arguments", "pending_option")

    def __init__(self, node: dict[str, Any]) -> None:
        self.node = node
        #: Values given so far by parameter name (``profile``, ``service``...).
        self.given: dict[str, list[str]] = {}
        #: The option whose value the cursor is on.
        self.pending_option: dict[str, Any] | None = None
        self.arguments_seen = 0
        #: After ``--``.
        self.only_arguments = False


def split_line(line: str) -> list[str]:
    """The words of ``line`` as the shell splits them; the last one is under the cursor.

    An unclosed quote is closed; a line that ends with a space ends with an
    empty word (a new word is being started).
    """
    for closing in ("", '"', "'"):
        try:
            words = shlex.split(line + closing)
        except ValueError:
            continue
        if not closing and (not line or line[-1].isspace()):
            words.append("")
        return words or [""]
    return [*line.split(), ""]


def complete(tree: dict[str, Any], words: Sequence[str]) -> tuple[Candidates, str]:
    """Candidates for the last of ``words`` (the first is the program), and that word."""
    *before, current = words[1:] if len(words) > 1 else [""]
    position = walk(tree, before)
    return candidates(position, current), current


def walk(tree: dict[str, Any], words: Sequence[str]) -> Position:
    """Follow the complete words through the tree."""
    position = Position(tree)
    for word in words:
        node = position.node
        if position.pending_option is not None:
            _give(position, position.pending_option, word)
            position.pending_option = None
        elif position.only_arguments or word == "-" or not word.startswith("-"):
            if word in node["commands"] and not position.only_arguments:
                position.node = node["commands"][word]
                position.arguments_seen = 0
            else:
                argument = _argument(node, position.arguments_seen)
                if argument is not None:
                    _give(position, argument, word, key=argument["name"])
                position.arguments_seen += 1
        elif word == "--":
            position.only_arguments = True
        else:
            name, value = _split_option(node, word)
            option = _option(node, name)
            if option is None or option["value"] is None:
                continue
            if value is None:
                position.pending_option = option
            else:
                _give(position, option, value)
    return position


def candidates(position: Position, current: str) -> Candidates:
    """What may replace ``current`` at ``position``."""
    node = position.node
    if position.pending_option is not None:
        return _values_of(position.pending_option, current, position.given)
    if current.startswith("-") and not position.only_arguments:
        name, value = _split_option(node, current)
        option = _option(node, name)
        if value is not None and option is not None and option["value"] is not None:
            found = _values_of(option, value, position.given)
            prefix = current[: len(current) - len(value)]
            return Candidates([(prefix + v, h) for v, h in found.values], found.files)
        return Candidates(
            [
                (name, option["help"])
                for option in node["options"]
                for name in option["names"]
                if name.startswith(current) and _may_repeat(option, position.given)
            ]
        )
    if node["commands"] and not position.only_arguments:
        return Candidates(
            [
                (name, sub["help"])
                for name, sub in node["commands"].items()
                if name.startswith(current)
            ]
        )
    argument = _argument(node, position.arguments_seen)
    if argument is None:
        return Candidates()
    return _values_of(argument, current, position.given)


def _values_of(
    param: dict[str, Any], incomplete: str, given: Mapping[str, list[str]]
) -> Candidates:
    kind = param["value"]
    if kind == "choices":
        found = Candidates([(choice, "") for choice in param["choices"]])
    elif kind in ("file", "dir"):
        return Candidates(files=True)
    elif kind == "profile":
        found = values.profiles(incomplete)
    elif kind == "backend":
        found = values.backends()
    elif kind == "kube-context":
        found = values.kube_contexts(values.profile_in_use(given))
    elif kind == "backup":
        named = given.get("service")
        service = named[-1] if named else None
        found = values.backup_ids(values.profile_in_use(given), service)
    else:
        return Candidates()
    return Candidates(list(values.iter_values(found, incomplete)), found.files)


def _give(position: Position, param: dict[str, Any], value: str, key: str | None = None) -> None:
    if key is None:
        key = param["names"][0].lstrip("-").replace("-", "_")
    position.given.setdefault(key, []).append(value)


def _may_repeat(option: dict[str, Any], given: Mapping[str, list[str]]) -> bool:
    if option["value"] is None or option["multiple"]:
        return True
    return option["names"][0].lstrip("-").replace("-", "_") not in given


def _split_option(node: dict[str, Any], word: str) -> tuple[str, str | None]:
    """``--opt=value`` -> (``--opt``, ``value``); ``-pdev`` -> (``-p``, ``dev``) for a valued -p."""
    if word.startswith("--"):
        name, equals, value = word.partition("=")
        return name, value if equals else None
    if len(word) > 2:
        option = _option(node, word[:2])
        if option is not None and option["value"] is not None:
            return word[:2], word[2:]
    return word, None


def _option(node: dict[str, Any], name: str) -> dict[str, Any] | None:
    options: list[dict[str, Any]] = node["options"]
    for option in options:
        if name in option["names"]:
            return option
    return None


def _argument(node: dict[str, Any], index: int) -> dict[str, Any] | None:
    """The argument that the ``index``-th positional word fills (a variadic one takes the rest)."""
    seen = 0
    arguments: list[dict[str, Any]] = node["arguments"]
    for argument in arguments:
        if argument["nargs"] < 0 or index < seen + argument["nargs"]:
            return argument
        seen += argument["nargs"]
    return None


def render(shell: str, found: Candidates, current: str, shell_word: str | None) -> str:
    """The answer in the shell's format (see the module's docstring)."""
    lines = ["files" if found.files else "plain"]
    if shell == "bash":
        # bash replaces only the part of the word after its last word-break character.
        cut = len(current) - len(shell_word) if shell_word is not None else 0
        if shell_word is None or not current.endswith(shell_word):
            cut = 0
        lines += [value[cut:] for value, _ in found.values]
    else:
        lines += [f"{value}\t{help}" if help else value for value, help in found.values]
    return "\n".join(lines) + "\n"


def answer(shell: str, args: list[str]) -> int:
    """Answer one completion request: ``args`` is the line up to the cursor (and bash's word)."""
    from alfred_tui.cli.completion.tree import load_tree

    if shell not in SHELLS or not args:
        return 2
    line = args[0]
    shell_word = args[1] if len(args) > 1 else None
    try:
        found, current = complete(load_tree(), split_line(line))
    except Exception:  # a completion never prints a traceback into the command line
        if os.environ.get("ALFRED_TUI_DEBUG"):
            raise
        found, current = Candidates(), ""
    sys.stdout.write(render(shell, found, current, shell_word))
    sys.stdout.flush()
    return 0
