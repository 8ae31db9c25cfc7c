"""Label and field selectors, as the Kubernetes API parses them.

Label selectors: ``a=b``, ``a==b``, ``a!=b``, ``a in (x,y)``, ``a notin (x)``,
``a`` (exists) and ``!a`` (does not exist), comma-separated, all must hold.
Field selectors: ``path=value`` / ``path!=value`` on dotted paths
(``metadata.name``, ``status.phase``, ``involvedObject.name``...).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

Predicate = Callable[[Mapping[str, Any]], bool]

_SET = re.compile(r"^\s*([^\s!=]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")


class SelectorError(ValueError):
    """A selector the API would reject (400 Bad Request)."""


def _split(text: str) -> list[str]:
    """Split on commas outside parentheses."""
    parts: list[str] = []
    depth, start = 0, 0
    for index, char in enumerate(text):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(text[start:index])
            start = index + 1
    parts.append(text[start:])
    return [part.strip() for part in parts if part.strip()]


def label_selector(text: str | None) -> Callable[[Mapping[str, str]], bool]:
    """A predicate over a label map."""
    if not text:
        return lambda labels: True
    tests: list[Callable[[Mapping[str, str]], bool]] = []
    for term in _split(text):
        match = _SET.match(term)
        if match:
            key, operator, values = match.groups()
            options = {v.strip() for v in values.split(",") if v.strip()}
            if operator == "in":
                tests.append(lambda labels, k=key, o=options: labels.get(k) in o)
            else:
                tests.append(lambda labels, k=key, o=options: labels.get(k) not in o)
        elif "!=" in term:
            key, value = (s.strip() for s in term.split("!=", 1))
            tests.append(lambda labels, k=key, v=value: labels.get(k) != v)
        elif "=" in term:
            key, value = (s.strip() for s in term.replace("==", "=").split("=", 1))
            tests.append(lambda labels, k=key, v=value: labels.get(k) == v)
        elif term.startswith("!"):
            absent = term[1:].strip()
            tests.append(lambda labels, k=absent: k not in labels)
        elif re.fullmatch(r"[A-Za-z0-9_./-]+", term):
            tests.append(lambda labels, k=term: k in labels)
        else:
            raise SelectorError(f"unable to parse requirement: {term!r}")
    return lambda labels: all(test(labels) for test in tests)


def _path(obj: Mapping[str, Any], path: str) -> Any:
    node: Any = obj
    for part in path.split("."):
        if not isinstance(node, Mapping):
            return None
        node = node.get(part)
    return node


def field_selector(text: str | None) -> Predicate:
    """A predicate over a whole object."""
    if not text:
        return lambda obj: True
    tests: list[Predicate] = []
    for term in _split(text):
        if "!=" in term:
            path, value = (s.strip() for s in term.split("!=", 1))
            tests.append(lambda obj, p=path, v=value: str(_path(obj, p) or "") != v)
        elif "=" in term:
            path, value = (s.strip() for s in term.replace("==", "=").split("=", 1))
            tests.append(lambda obj, p=path, v=value: str(_path(obj, p) or "") == v)
        else:
            raise SelectorError(f"invalid field selector: {term!r}")
    return lambda obj: all(test(obj) for test in tests)
