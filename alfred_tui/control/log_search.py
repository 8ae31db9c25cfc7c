"""Regex search over the Logs pane's view: compile with smart case, find the next matching line.

Matching works on whole lines (``n`` moves to the next line with a match, as
in ``less``); the view highlights every match inside the visible lines
itself, so searching costs nothing while lines stream in.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import chain

from alfred_tui.errors import AlfredError


class SearchError(AlfredError):
    """The search text is not a regular expression."""

    title = "Search"


def compile_search(text: str) -> re.Pattern[str] | None:
    """``text`` as a regex; case-insensitive unless it has a capital (smart case). None if empty.

    Raises :class:`SearchError` saying what is wrong and where.
    """
    if not text:
        return None
    flags = 0 if any(ch.isupper() for ch in text) else re.IGNORECASE
    try:
        return re.compile(text, flags)
    except re.error as exc:
        where = f" at position {exc.pos}" if exc.pos is not None else ""
        raise SearchError(f"/{text}/ is not a regular expression: {exc.msg}{where}") from None


def find_line(
    lines: Sequence[str], pattern: re.Pattern[str], start: int, forward: bool = True
) -> int | None:
    """The first line after (or before) ``start`` with a match, wrapping around; None if none.

    ``start`` itself is looked at last, so repeated calls walk every match.
    """
    count = len(lines)
    if count == 0:
        return None
    start = min(max(start, -1), count)
    search = pattern.search
    if forward:
        order = chain(range(start + 1, count), range(0, min(start + 1, count)))
    else:
        order = chain(range(start - 1, -1, -1), range(count - 1, max(start - 1, -1), -1))
    for index in order:
        if search(lines[index]):
            return index
    return None


def count_lines(lines: Sequence[str], pattern: re.Pattern[str]) -> int:
    """How many of ``lines`` have a match."""
    search = pattern.search
    return sum(1 for line in lines if search(line))


def rank(lines: Sequence[str], pattern: re.Pattern[str], index: int) -> int:
    """1-based position of the match on line ``index`` among every matching line."""
    search = pattern.search
    return sum(1 for line in lines[: index + 1] if search(line)) if index >= 0 else 0
