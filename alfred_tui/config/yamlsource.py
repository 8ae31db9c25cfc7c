"""Read YAML while remembering where every value came from.

Error messages must name the file, the line and the field path, so the loader
keeps a map from each field path to the (file, line) that set it. PyYAML's
node tree carries the marks; we build plain Python values from it ourselves.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

import yaml

from alfred_tui.errors import ProfileError

FieldPath = tuple[str | int, ...]


class Origin(NamedTuple):
    """Where a value was written: a file and a 1-based line.

    Named tuples, not dataclasses, here and in :mod:`.sources`: shell
    completion reads profiles, and ``dataclasses`` costs it ~10 ms of imports.
    """

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


class SourcedYaml(NamedTuple):
    """A YAML document's data and the origin of each of its field paths."""

    data: Any
    origins: dict[FieldPath, Origin]

    def origin_of(self, path: FieldPath) -> Origin | None:
        """The origin of ``path`` or of its nearest ancestor that has one."""
        for end in range(len(path), -1, -1):
            origin = self.origins.get(tuple(path[:end]))
            if origin is not None:
                return origin
        return None


def format_path(path: FieldPath) -> str:
    """``("services", "redis", "ports", 0)`` -> ``services.redis.ports[0]``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


#: A profile is a few kilobytes; past this size it is a mistake (a log, a dump), not a profile.
MAX_PROFILE_BYTES = 1024 * 1024
#: Deeper nesting than any profile needs; libyaml's composer recurses in C and would
#: crash the interpreter (not raise) on a file nested some 10,000 levels deep.
MAX_DEPTH = 64
#: Values built from one document, aliases expanded: bounds an alias "bomb".
MAX_VALUES = 100_000


def load_sourced(path: Path, display_name: str | None = None) -> SourcedYaml:
    """Parse ``path`` into data plus origins; YAML errors name the line."""
    name = display_name or str(path)
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_PROFILE_BYTES + 1)
    except OSError as exc:
        raise ProfileError(f"{name}: cannot read the file ({exc.strerror})") from None
    if len(raw) > MAX_PROFILE_BYTES:
        raise ProfileError(
            f"{name}: larger than {MAX_PROFILE_BYTES // 1024} KiB; is this a profile?"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ProfileError(
            f"{name}:{line}: not UTF-8 text (byte 0x{raw[exc.start]:02x}); "
            "a profile is a YAML text file"
        ) from None
    return parse_sourced(text, name)


#: libyaml's parser when PyYAML was built with it (about 10x faster), else pure Python.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_sourced(text: str, name: str) -> SourcedYaml:
    """Parse YAML ``text`` (named ``name`` in messages) into data plus origins."""
    try:
        _check_depth(text, name)
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
            origins: dict[FieldPath, Origin] = {}
            budget = _Budget(name)
            data = _build(loader, node, (), name, origins, budget) if node is not None else {}
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        raise ProfileError(syntax_error(exc, name)) from None
    except yaml.YAMLError as exc:
        raise ProfileError(_reader_error(exc, text, name)) from None
    return SourcedYaml(data=data, origins=origins)


def syntax_error(exc: yaml.MarkedYAMLError, name: str) -> str:
    """``name:LINE: YAML syntax error: ...`` at the line where the broken construct
    starts (an unclosed ``[``), and the line where the parser gave up when later."""
    start = exc.context_mark or exc.problem_mark
    line = start.line + 1 if start else 0
    problem = " ".join(part for part in (exc.problem, exc.context) if part) or "invalid YAML"
    gave_up = exc.problem_mark.line + 1 if exc.problem_mark else line
    where = f" (the parser gave up at line {gave_up})" if gave_up != line else ""
    return f"{name}:{line}: YAML syntax error: {problem}{where}"


def _reader_error(exc: yaml.YAMLError, text: str, name: str) -> str:
    """An unmarked YAML error (a control character, say) as one line with its line."""
    position = getattr(exc, "position", None)
    if isinstance(exc, yaml.reader.ReaderError) and isinstance(position, int):
        line = text.count("\n", 0, position) + 1
        code = exc.character if isinstance(exc.character, int) else ord(exc.character)
        return f"{name}:{line}: YAML error: character U+{code:04X} is not allowed in YAML"
    return f"{name}: YAML error: " + " ".join(str(exc).split())


def _check_depth(text: str, name: str) -> None:
    """Refuse nesting deeper than :data:`MAX_DEPTH` before libyaml composes it."""
    loader = _Loader(text)
    depth = 0
    try:
        while (event := loader.get_event()) is not None:
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    mark = event.start_mark
                    where = f"{name}:{mark.line + 1}" if mark is not None else name
                    raise ProfileError(f"{where}: nested more than {MAX_DEPTH} levels deep")
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    finally:
        loader.dispose()


class _Budget:
    """Counts the values built from one document (aliases expand): an alias bomb stops."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.left = MAX_VALUES
        self.building: set[int] = set()

    def spend(self, node: yaml.Node) -> None:
        self.left -= 1
        if self.left < 0:
            line = node.start_mark.line + 1
            raise ProfileError(
                f"{self.name}:{line}: more than {MAX_VALUES:,} values once aliases are "
                "expanded; a profile needs far fewer"
            )


def _build(
    loader: yaml.SafeLoader | yaml.CSafeLoader,
    node: yaml.Node,
    path: FieldPath,
    name: str,
    origins: dict[FieldPath, Origin],
    budget: _Budget,
) -> Any:
    budget.spend(node)
    origins[path] = Origin(name, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode | yaml.SequenceNode):
        if id(node) in budget.building:  # an alias inside the value it names
            line = node.start_mark.line + 1
            raise ProfileError(f"{name}:{line}: {format_path(path)}: an alias refers to itself")
        budget.building.add(id(node))
        try:
            return _build_collection(loader, node, path, name, origins, budget)
        finally:
            budget.building.discard(id(node))
    return loader.construct_object(node, deep=True)


def _build_collection(
    loader: yaml.SafeLoader | yaml.CSafeLoader,
    node: yaml.MappingNode | yaml.SequenceNode,
    path: FieldPath,
    name: str,
    origins: dict[FieldPath, Origin],
    budget: _Budget,
) -> Any:
    if isinstance(node, yaml.SequenceNode):
        return [
            _build(loader, item, (*path, index), name, origins, budget)
            for index, item in enumerate(node.value)
        ]
    loader.flatten_mapping(node)
    result: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        line = key_node.start_mark.line + 1
        if not isinstance(key_node, yaml.ScalarNode):
            raise ProfileError(f"{name}:{line}: {format_path(path)}: keys must be strings")
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str | int) or isinstance(key, bool):
            raise ProfileError(f"{name}:{line}: {format_path(path)}: keys must be strings")
        if key in result:
            raise ProfileError(f"{name}:{line}: {format_path((*path, key))}: duplicate key")
        child = (*path, key)
        result[key] = _build(loader, value_node, child, name, origins, budget)
        # The key's own line is where "unknown field" errors should point.
        origins[child] = Origin(name, line)
    return result
