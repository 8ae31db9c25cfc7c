"""Split a SQL file into statements, keeping where each one starts.

Migrations run statement by statement (not as one multi-statement string) so
that an error PostgreSQL reports without a position (a CHECK violation, an
exception raised in a ``DO`` block) can still be pinned to a line of the
file: the failing statement is known, and its offset in the file turns a
``position`` or a PL/pgSQL ``line N`` into a file line.

The lexer knows what can hide a semicolon: quoted strings (``'...'`` with
``''``, ``E'...'`` with backslash escapes), quoted identifiers, dollar-quoted
bodies (``$$ ... $$``, ``$tag$ ... $tag$``), line comments and nested block
comments. psql meta-commands (``\\connect``) are refused: they are not SQL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_DOLLAR_TAG = re.compile(r"\$([A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$")
_IDENT_CHAR = re.compile(r"[A-Za-z0-9_$\u0080-\uffff]")


class SqlSplitError(ValueError):
    """The file cannot be split: an unterminated quote or comment, or a psql command."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line
        self.reason = message


@dataclass(frozen=True)
class Statement:
    """One statement of a file and where it sits in that file."""

    text: str
    """The statement's text, from just after the previous ``;`` up to (not with) its own."""
    offset: int
    """Character offset of ``text`` in the file."""
    line: int
    """1-based line of the statement's first token (comments before it skipped)."""
    body_offset: int | None = None
    """Offset in ``text`` just past the first dollar-quote opener (a ``DO`` block's body)."""

    @property
    def keyword(self) -> str:
        """The first word, upper-cased (``CREATE``, ``DO``, ``BEGIN``)."""
        match = re.match(r"\s*([A-Za-z]+)", _strip_leading_comments(self.text))
        return match.group(1).upper() if match else ""


def line_of(source: str, offset: int) -> int:
    """1-based line of character ``offset`` in ``source``."""
    return source.count("\n", 0, max(0, offset)) + 1


def column_of(source: str, offset: int) -> int:
    """1-based column of character ``offset`` in ``source``."""
    start = source.rfind("\n", 0, max(0, offset)) + 1
    return offset - start + 1


def _strip_leading_comments(text: str) -> str:
    index = _skip_space_and_comments(text, 0)
    return text[index:]


def _skip_space_and_comments(text: str, index: int) -> int:
    length = len(text)
    while index < length:
        if text[index].isspace():
            index += 1
        elif text.startswith("--", index):
            newline = text.find("\n", index)
            index = length if newline < 0 else newline + 1
        elif text.startswith("/*", index):
            index = _end_of_block_comment(text, index)
        else:
            break
    return index


def _end_of_block_comment(text: str, index: int) -> int:
    """Index just past the block comment opening at ``index`` (comments nest)."""
    depth = 0
    length = len(text)
    while index < length:
        if text.startswith("/*", index):
            depth += 1
            index += 2
        elif text.startswith("*/", index):
            depth -= 1
            index += 2
            if depth == 0:
                return index
        else:
            index += 1
    raise SqlSplitError("unterminated /* comment", line_of(text, index))


def split_statements(source: str) -> list[Statement]:
    """The statements of ``source`` in order; empty ones (only comments) are dropped."""
    statements: list[Statement] = []
    length = len(source)
    start = 0
    index = 0
    body_offset: int | None = None
    at_line_start = True

    def finish(end: int) -> None:
        text = source[start:end]
        code = _skip_space_and_comments(text, 0)
        if code < len(text):
            statements.append(
                Statement(
                    text=text,
                    offset=start,
                    line=line_of(source, start + code),
                    body_offset=body_offset,
                )
            )

    while index < length:
        char = source[index]
        if char == "\n":
            at_line_start = True
            index += 1
            continue
        if at_line_start and char == "\\":
            raise SqlSplitError(
                "psql meta-command (lines starting with a backslash) is not SQL; "
                "write plain SQL statements",
                line_of(source, index),
            )
        if not char.isspace():
            at_line_start = False
        if char == ";":
            finish(index)
            index += 1
            start = index
            body_offset = None
            continue
        if source.startswith("--", index):
            newline = source.find("\n", index)
            index = length if newline < 0 else newline
            continue
        if source.startswith("/*", index):
            index = _end_of_block_comment(source, index)
            continue
        if char == "'":
            escaped = (
                index > 0
                and source[index - 1] in "eE"
                and not (index > 1 and _IDENT_CHAR.match(source[index - 2]))
            )
            index = _end_of_string(source, index, backslash=escaped)
            continue
        if char == '"':
            close = source.find('"', index + 1)
            while close >= 0 and source.startswith('""', close):
                close = source.find('"', close + 2)
            if close < 0:
                raise SqlSplitError('unterminated quoted identifier (")', line_of(source, index))
            index = close + 1
            continue
        if char == "$" and not (index > 0 and _IDENT_CHAR.match(source[index - 1])):
            match = _DOLLAR_TAG.match(source, index)
            if match:
                tag = match.group(0)
                close = source.find(tag, match.end())
                if close < 0:
                    raise SqlSplitError(
                        f"unterminated dollar-quoted string ({tag})", line_of(source, index)
                    )
                if body_offset is None:
                    body_offset = match.end() - start
                index = close + len(tag)
                continue
        index += 1
    finish(length)
    return statements


def _end_of_string(source: str, index: int, *, backslash: bool) -> int:
    """Index just past the string literal opening at ``index``."""
    position = index + 1
    length = len(source)
    while position < length:
        char = source[position]
        if backslash and char == "\\":
            position += 2
            continue
        if char == "'":
            if source.startswith("''", position):
                position += 2
                continue
            return position + 1
        position += 1
    raise SqlSplitError("unterminated string literal (')", line_of(source, index))
