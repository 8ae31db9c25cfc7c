"""The resolved profile as rows: field path, value (secrets masked), and where it was set.

``alfred-tui profiles show`` prints the same profile as YAML; the Profile
pane adds the file and line each field came from, which is what an operator
needs when a value is not what they expected (``extends`` chains hide it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr

from alfred_tui.config.loader import LoadedProfile
from alfred_tui.redact import MASK


@dataclass(frozen=True)
class ProfileField:
    """One leaf of the profile."""

    path: str
    value: str
    origin: str
    """``file:line`` where the value was written, or ``default``."""


def _mask(node: Any) -> Any:
    if isinstance(node, SecretStr):
        return MASK
    if isinstance(node, dict):
        return {key: _mask(value) for key, value in node.items()}
    if isinstance(node, list | tuple):
        return [_mask(item) for item in node]
    return node


def _leaves(node: Any, path: tuple[str | int, ...]) -> list[tuple[tuple[str | int, ...], Any]]:
    if isinstance(node, dict) and node:
        found: list[tuple[tuple[str | int, ...], Any]] = []
        for key, value in node.items():
            found += _leaves(value, (*path, key))
        return found
    if isinstance(node, list) and node and any(isinstance(item, dict) for item in node):
        found = []
        for index, value in enumerate(node):
            found += _leaves(value, (*path, index))
        return found
    return [(path, node)]


def _text(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(str(item) for item in value) + "]"
    if value is None:
        return "-"
    if isinstance(value, dict):
        return "{}"
    return str(value)


def _dotted(path: tuple[str | int, ...]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def profile_fields(loaded: LoadedProfile) -> list[ProfileField]:
    """Every leaf of the resolved profile, secrets masked, in the profile's order."""
    data = _mask(loaded.profile.model_dump(mode="python", exclude_none=True))
    rows = []
    for path, value in _leaves(data, ()):
        origin = loaded.origin_of(path)
        rows.append(ProfileField(_dotted(path), _text(value), str(origin) if origin else "default"))
    return rows
