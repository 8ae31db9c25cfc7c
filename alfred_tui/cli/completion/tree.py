"""The command tree completion walks: commands, options, arguments and their values.

It is read from the Typer app (every command registered), so a command,
option or choice added anywhere completes without touching this package.
Importing Typer and registering every command takes about half a second,
far over a completion's budget, so the tree is kept as JSON in the cache
dir under a fingerprint of alfred-tui's own source files (their sizes and
modification times): an upgrade or an edit makes a new tree on the next
completion, and ``alfred-tui completion SHELL`` makes it ahead of time.

A node is ``{"help", "options", "arguments", "commands"}``. Each option or
argument has a ``value``: None for a flag, ``"text"`` for free input,
``"choices"`` (listed in ``choices``), ``"file"``/``"dir"``, or one of
:data:`DYNAMIC_VALUES`, which :mod:`.values` reads from this machine at
completion time.
"""

from __future__ import annotations

import contextlib
import json
import os
import zlib
from pathlib import Path
from typing import Any

import alfred_tui
from alfred_tui import paths

#: Parameters completed from what exists on this machine, by the parameter's
#: name or metavar (one name per concept: ``--profile`` is a profile everywhere).
DYNAMIC_VALUES = {
    "profile": "profile",
    "backend": "backend",
    "context": "kube-context",
    "backup": "backup",
}

#: Bump when the tree's JSON shape changes.
TREE_FORMAT = 1

_PACKAGE_DIR = Path(alfred_tui.__file__).resolve().parent


def fingerprint() -> str:
    """A hash of alfred-tui's version and of the size and mtime of each of its modules."""
    parts = [f"{TREE_FORMAT}|{alfred_tui.__version__}"]
    for folder, dirs, files in os.walk(_PACKAGE_DIR):
        dirs[:] = sorted(d for d in dirs if d not in ("__pycache__", "_bundled"))
        for name in sorted(files):
            if name.endswith(".py"):
                stat = os.stat(os.path.join(folder, name))
                parts.append(f"{folder}/{name}:{stat.st_size}:{stat.st_mtime_ns}")
    # crc32: a completion must not pay for hashlib; a clash only reuses a stale tree.
    return f"{zlib.crc32(chr(10).join(parts).encode()):08x}"


def cache_file(key: str) -> Path:
    """Where the tree for ``key`` (a :func:`fingerprint`) of this installation is kept.

    Named after the installation's folder too: a virtualenv and the one-file
    build on the same account each keep their own tree.
    """
    where = zlib.crc32(str(_PACKAGE_DIR).encode())
    return paths.cache_dir() / "completion" / f"commands-{where:08x}-{key}.json"


def load_tree() -> dict[str, Any]:
    """The command tree: from the cache, or built from the Typer app and cached."""
    key = fingerprint()
    target = cache_file(key)
    with contextlib.suppress(OSError, ValueError):
        cached: dict[str, Any] = json.loads(target.read_text())
        return cached
    tree = build_tree()
    save_tree(tree, target)
    return tree


def save_tree(tree: dict[str, Any], target: Path) -> None:
    """Write ``tree`` atomically and drop this installation's older trees; a read-only cache
    is fine (every completion then reads the Typer app: slow, still right)."""
    import tempfile

    with contextlib.suppress(OSError):
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".commands-")
        with os.fdopen(handle, "w") as stream:
            json.dump(tree, stream, separators=(",", ":"))
        os.replace(temporary, target)
        installation = target.name.rsplit("-", 1)[0]
        for old in target.parent.glob(f"{installation}-*.json"):
            if old != target:
                old.unlink(missing_ok=True)


def build_tree() -> dict[str, Any]:
    """Read every command of the Typer app into a tree of plain data."""
    import typer.main

    from alfred_tui import cli

    cli.register_commands()
    root = typer.main.get_command(cli.app)
    return _node(root, root.name or "alfred-tui", None)


def _node(command: Any, name: str, parent: Any) -> dict[str, Any]:
    context = command.make_context(name, [], parent=parent, resilient_parsing=True)
    help_option = command.get_help_option(context)
    options: list[dict[str, Any]] = []
    arguments: list[dict[str, Any]] = []
    for param in command.params:
        if getattr(param, "hidden", False):
            continue
        value, choices = _value(param, context)
        if param.param_type_name == "argument":
            arguments.append(
                {"name": param.name, "nargs": param.nargs, "value": value, "choices": choices}
            )
            continue
        flag = bool(getattr(param, "is_flag", False)) or bool(getattr(param, "count", False))
        options.append(
            {
                "names": [*param.opts, *param.secondary_opts],
                "value": None if flag else value,
                "choices": choices,
                "multiple": bool(param.multiple),
                "help": _first_line(getattr(param, "help", None)),
            }
        )
    if help_option is not None:
        options.append(
            {
                "names": list(help_option.opts),
                "value": None,
                "choices": [],
                "multiple": False,
                "help": "Show the help and exit.",
            }
        )
    commands = {}
    for sub_name, sub in sorted(getattr(command, "commands", {}).items()):
        if not getattr(sub, "hidden", False):
            commands[sub_name] = _node(sub, sub_name, context)
    return {
        "help": _first_line(command.get_short_help_str(limit=80)),
        "options": options,
        "arguments": arguments,
        "commands": commands,
    }


def _value(param: Any, context: Any) -> tuple[str, list[str]]:
    """How a parameter's value completes, and its choices when it has some."""
    for label in (param.name, param.metavar):
        kind = DYNAMIC_VALUES.get((label or "").lower())
        if kind:
            return kind, []
    items = param.shell_complete(context, "")
    kinds = {item.type for item in items}
    if "dir" in kinds:
        return "dir", []
    if "file" in kinds:
        return "file", []
    choices = [str(item.value) for item in items if item.type == "plain"]
    return ("choices", choices) if choices else ("text", [])


def _first_line(text: str | None) -> str:
    return (text or "").strip().split("\n", 1)[0]
