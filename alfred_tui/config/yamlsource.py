"""Read YAML while remembering where every value came from.

Error messages must name the file, the line and the field path, so the loader
keeps a map from each field path to the (file, line) that set it. PyYAML's
node tree carries the marks; we build plain Python values from it ourselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from alfred_tui.errors import ProfileError

FieldPath = tuple[str | int, ...]


@dataclass(frozen=True)
class Origin:
    """Where a value was written: a file and a 1-based line."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass
class SourcedYaml:
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


def load_sourced(path: Path, display_name: str | None = None) -> SourcedYaml:
    """Parse ``path`` into data plus origins; YAML errors name the line."""
    name = display_name or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ProfileError(f"{name}: cannot read the file ({exc.strerror})") from None
    return parse_sourced(text, name)


#: libyaml's parser when PyYAML was built with it (about 10x faster), else pure Python.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_sourced(text: str, name: str) -> SourcedYaml:
    """Parse YAML ``text`` (named ``name`` in messages) into data plus origins."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        origins: dict[FieldPath, Origin] = {}
        data = _build(loader, node, (), name, origins) if node is not None else {}
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        problem = exc.problem or exc.context or "invalid YAML"
        raise ProfileError(f"{name}:{line}: YAML syntax error: {problem}") from None
    except yaml.YAMLError as exc:
        raise ProfileError(f"{name}: YAML error: {exc}") from None
    finally:
        loader.dispose()
    return SourcedYaml(data=data, origins=origins)


def _build(
    loader: yaml.SafeLoader | yaml.CSafeLoader,
    node: yaml.Node,
    path: FieldPath,
    name: str,
    origins: dict[FieldPath, Origin],
) -> Any:
    origins[path] = Origin(name, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, str | int):
                line = key_node.start_mark.line + 1
                raise ProfileError(f"{name}:{line}: {format_path(path)}: keys must be strings")
            if key in result:
                line = key_node.start_mark.line + 1
                raise ProfileError(f"{name}:{line}: {format_path((*path, key))}: duplicate key")
            child = (*path, key)
            result[key] = _build(loader, value_node, child, name, origins)
            # The key's own line is where "unknown field" errors should point.
            origins[child] = Origin(name, key_node.start_mark.line + 1)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [
            _build(loader, item, (*path, index), name, origins)
            for index, item in enumerate(node.value)
        ]
    return loader.construct_object(node, deep=True)
