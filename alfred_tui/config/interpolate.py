"""``${VAR}`` interpolation with Docker Compose's rules.

Supported, as in Compose: ``$VAR``, ``${VAR}``, ``${VAR:-default}`` (unset or
empty), ``${VAR-default}`` (unset), ``${VAR:?message}`` / ``${VAR?message}``
(required), ``${VAR:+alt}`` / ``${VAR+alt}`` (alternative), nested
expressions inside defaults, and ``$$`` for a literal dollar.

One deliberate difference: Compose warns and substitutes an empty string for
an unset variable without a default; a profile treats that as an error,
because an empty password or port silently deployed is worse than a refusal.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from alfred_tui.config.yamlsource import FieldPath

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class InterpolationError(ValueError):
    """A variable reference could not be resolved; the message says which."""


def interpolate_value(text: str, env: Mapping[str, str]) -> str:
    """Resolve every ``$`` expression in ``text`` against ``env``."""
    result, end = _parse(text, 0, env, closing=None)
    assert end == len(text)
    return result


def _parse(text: str, pos: int, env: Mapping[str, str], closing: str | None) -> tuple[str, int]:
    """Expand ``text`` from ``pos`` until ``closing`` (or the end); return the text and index."""
    out: list[str] = []
    while pos < len(text):
        char = text[pos]
        if closing is not None and char == closing:
            return "".join(out), pos
        if char != "$":
            out.append(char)
            pos += 1
            continue
        nxt = text[pos + 1 : pos + 2]
        if nxt == "$":
            out.append("$")
            pos += 2
        elif nxt == "{":
            value, pos = _braced(text, pos + 2, env)
            out.append(value)
        else:
            match = _NAME.match(text, pos + 1)
            if not match:
                raise InterpolationError(
                    f"invalid '$' at position {pos} (write $$ for a literal $)"
                )
            out.append(_lookup(match.group(), env))
            pos = match.end()
    if closing is not None:
        raise InterpolationError("unterminated '${' (missing '}')")
    return "".join(out), pos


def _braced(text: str, pos: int, env: Mapping[str, str]) -> tuple[str, int]:
    match = _NAME.match(text, pos)
    if not match:
        raise InterpolationError(f"invalid variable name after '${{' in {text!r}")
    name, pos = match.group(), match.end()
    if pos >= len(text):
        raise InterpolationError(f"unterminated '${{{name}' (missing '}}')")
    if text[pos : pos + 1] == "}":
        return _lookup(name, env), pos + 1
    for operator in (":-", ":?", ":+", "-", "?", "+"):
        if text.startswith(operator, pos):
            break
    else:
        raise InterpolationError(f"invalid expression in '${{{name}...}}'")
    argument, end = _parse(text, pos + len(operator), env, closing="}")
    value = env.get(name)
    unset_or_empty = value is None or (operator.startswith(":") and value == "")
    end += 1  # past the closing brace
    if operator in (":-", "-"):
        return (argument if unset_or_empty or value is None else value), end
    if operator in (":+", "+"):
        return ("" if unset_or_empty else argument), end
    if unset_or_empty or value is None:
        reason = argument or ("is not set or empty" if operator == ":?" else "is not set")
        raise InterpolationError(f"required variable {name}: {reason}")
    return value, end


def _lookup(name: str, env: Mapping[str, str]) -> str:
    value = env.get(name)
    if value is None:
        raise InterpolationError(
            f"environment variable {name} is not set and has no default "
            f"(write ${{{name}:-default}} to give one)"
        )
    return value


def interpolate_tree(
    data: Any, env: Mapping[str, str], path: FieldPath = ()
) -> tuple[Any, list[tuple[FieldPath, str]]]:
    """Interpolate every string in ``data``; return the result and the errors by path."""
    errors: list[tuple[FieldPath, str]] = []

    def walk(node: Any, here: FieldPath) -> Any:
        if isinstance(node, str):
            if "$" not in node:
                return node
            try:
                return interpolate_value(node, env)
            except InterpolationError as exc:
                errors.append((here, str(exc)))
                return node
        if isinstance(node, dict):
            return {key: walk(value, (*here, key)) for key, value in node.items()}
        if isinstance(node, list):
            return [walk(item, (*here, index)) for index, item in enumerate(node)]
        return node

    return walk(data, path), errors
