"""The severity of a log line, read from the formats our three servers write.

The Logs pane and ``alfred-tui logs --level`` filter by level, so each line's
level must be read from its text; the servers do not agree on how to write it:

- PostgreSQL: ``... [42] LOG:  message`` - the severity is a word followed by a
  colon and *two* spaces (``DEBUG1``-``DEBUG5``, ``LOG``, ``INFO``,
  ``NOTICE``, ``WARNING``, ``ERROR``, ``FATAL``, ``PANIC``). ``DETAIL``,
  ``HINT``, ``QUERY``, ``CONTEXT``, ``LOCATION`` and ``STATEMENT`` lines
  belong to the message above them. ``jsonlog`` lines carry
  ``"error_severity":"ERROR"``.
- Redis: ``42:M 13 May 2025 10:00:00.123 # message`` - one marker after the
  time: ``.`` debug, ``-`` verbose, ``*`` notice, ``#`` warning (Redis has no
  error level: failures are logged at warning). Redis before 3 wrote
  ``[42] 13 May 10:00:00.123 * message``.
- Qdrant (Rust ``tracing``): ``2025-05-13T10:00:00.123456Z  INFO qdrant: ...``
  with ``TRACE``/``DEBUG``/``INFO``/``WARN``/``ERROR``; older builds wrote
  ``[2025-05-13T10:00:00Z INFO  qdrant] ...``; ``log_format: json`` writes
  ``"level":"INFO"``.

Services other than these three get a cautious generic look near the start
of the line: an upper-case level word or a logfmt ``level=error``. A line
with no level of its own - a continuation, Redis's ASCII-art logo, a stack
trace - takes the level of the line before it from the same instance
(:class:`LevelTracker`), so filtering on errors keeps an error's DETAIL and
STATEMENT lines with it.

Everything here is plain string work, a few microseconds a line at most:
the Logs pane runs it on every line it ingests.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable

#: A level word found in a line: (level or None for "belongs to the line above", start, end).
#: ``start``/``end`` locate the word so a viewer can colour it; -1 when nothing was found.
LevelHit = tuple["Level | None", int, int]

NO_LEVEL: LevelHit = (None, -1, -1)


class Level(enum.IntEnum):
    """Our five levels, ordered; every server's words map onto them."""

    DEBUG = 10
    INFO = 20
    WARNING = 30
    ERROR = 40
    FATAL = 50

    @property
    def label(self) -> str:
        """Lower-case name, as the CLI and the pane print it."""
        return self.name.lower()


LEVEL_NAMES: dict[str, Level] = {level.label: level for level in Level}


def parse_level_name(text: str) -> Level:
    """``warning`` (or ``warn``, ``err``, ``critical``...) -> :class:`Level`; else ValueError."""
    key = text.strip().lower()
    aliases = {"warn": "warning", "err": "error", "critical": "fatal", "crit": "fatal"}
    key = aliases.get(key, key)
    if key not in LEVEL_NAMES:
        raise ValueError(f"unknown level '{text}' (choose from {', '.join(LEVEL_NAMES)})")
    return LEVEL_NAMES[key]


# --- PostgreSQL ------------------------------------------------------------------------------

_PG_SEVERITY: dict[str, Level | None] = {
    "DEBUG1": Level.DEBUG,
    "DEBUG2": Level.DEBUG,
    "DEBUG3": Level.DEBUG,
    "DEBUG4": Level.DEBUG,
    "DEBUG5": Level.DEBUG,
    "LOG": Level.INFO,
    "INFO": Level.INFO,
    "NOTICE": Level.INFO,
    "WARNING": Level.WARNING,
    "ERROR": Level.ERROR,
    "FATAL": Level.FATAL,
    "PANIC": Level.FATAL,
    # auxiliary lines of the message above
    "DETAIL": None,
    "HINT": None,
    "QUERY": None,
    "CONTEXT": None,
    "LOCATION": None,
    "STATEMENT": None,
}
_PG_JSON = re.compile(r'"error_severity"\s*:\s*"([A-Z0-9]+)"')


def parse_postgres(line: str) -> LevelHit:
    """PostgreSQL's ``SEVERITY:  message`` (two spaces), or its jsonlog field."""
    colon = line.find(":  ")
    tries = 0
    while colon > 0 and tries < 3:  # a prefix (application_name...) may hold ":  " too
        start = max(line.rfind(" ", 0, colon), line.rfind("]", 0, colon)) + 1
        word = line[start:colon]
        if word in _PG_SEVERITY:
            return (_PG_SEVERITY[word], start, colon)
        colon = line.find(":  ", colon + 1)
        tries += 1
    if line.startswith("{"):
        match = _PG_JSON.search(line)
        if match and match.group(1) in _PG_SEVERITY:
            return (_PG_SEVERITY[match.group(1)], match.start(1), match.end(1))
    return NO_LEVEL


# --- Redis -----------------------------------------------------------------------------------

_REDIS = re.compile(
    r"(?:\d+:[A-Z]|\[\d+\]) \d{1,2} [A-Z][a-z]{2}(?: \d{4})? \d{2}:\d{2}:\d{2}(?:\.\d+)? ([.\-*#]) "
)
_REDIS_MARKER = {".": Level.DEBUG, "-": Level.DEBUG, "*": Level.INFO, "#": Level.WARNING}


def parse_redis(line: str) -> LevelHit:
    """Redis's marker after the time: ``.`` ``-`` ``*`` ``#``."""
    match = _REDIS.match(line)
    if match is None:
        return NO_LEVEL
    return (_REDIS_MARKER[match.group(1)], match.start(1), match.end(1))


# --- Qdrant ----------------------------------------------------------------------------------

_QDRANT = re.compile(
    r"\[?\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})? +"
    r"(TRACE|DEBUG|INFO|WARN|WARNING|ERROR)\b"
)
_QDRANT_JSON = re.compile(r'"level"\s*:\s*"([A-Za-z]+)"')
_RUST_LEVEL = {
    "TRACE": Level.DEBUG,
    "DEBUG": Level.DEBUG,
    "INFO": Level.INFO,
    "WARN": Level.WARNING,
    "WARNING": Level.WARNING,
    "ERROR": Level.ERROR,
}


def parse_qdrant(line: str) -> LevelHit:
    """Qdrant's ``<RFC 3339 time> LEVEL target: message``, or its JSON ``level`` field."""
    match = _QDRANT.match(line)
    if match is not None:
        return (_RUST_LEVEL[match.group(1)], match.start(1), match.end(1))
    if line.startswith("{"):
        found = _QDRANT_JSON.search(line)
        if found and found.group(1).upper() in _RUST_LEVEL:
            return (_RUST_LEVEL[found.group(1).upper()], found.start(1), found.end(1))
    return NO_LEVEL


# --- anything else ---------------------------------------------------------------------------

#: Only this far into a line: a level word further in is part of the message.
_GENERIC_REACH = 48
_GENERIC = re.compile(
    r"(?<![A-Za-z])(TRACE|DEBUG|INFO|NOTICE|WARN|WARNING|ERROR|ERR|FATAL|CRIT|CRITICAL|PANIC)"
    r"(?![A-Za-z])"
    r"|\blevel=\"?([a-z]+)"
)
_GENERIC_LEVEL = {
    "TRACE": Level.DEBUG,
    "DEBUG": Level.DEBUG,
    "INFO": Level.INFO,
    "NOTICE": Level.INFO,
    "WARN": Level.WARNING,
    "WARNING": Level.WARNING,
    "ERROR": Level.ERROR,
    "ERR": Level.ERROR,
    "FATAL": Level.FATAL,
    "CRIT": Level.FATAL,
    "CRITICAL": Level.FATAL,
    "PANIC": Level.FATAL,
}


def parse_generic(line: str) -> LevelHit:
    """An upper-case level word or a logfmt ``level=`` near the start of the line."""
    match = _GENERIC.search(line, 0, _GENERIC_REACH)
    if match is None:
        return NO_LEVEL
    if match.group(1):
        return (_GENERIC_LEVEL[match.group(1)], match.start(1), match.end(1))
    level = _GENERIC_LEVEL.get(match.group(2).upper())
    if level is None:
        return NO_LEVEL
    return (level, match.start(2), match.end(2))


Parser = Callable[[str], LevelHit]

_PARSERS: dict[str, Parser] = {
    "postgres": parse_postgres,
    "redis": parse_redis,
    "qdrant": parse_qdrant,
}

#: Control sequences some images colour their output with (Qdrant on a TTY).
ANSI_ESCAPE = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")


def strip_ansi(line: str) -> str:
    """``line`` without terminal colour codes (they would garble a viewer)."""
    return ANSI_ESCAPE.sub("", line) if "\x1b" in line else line


def parse_level(service: str, line: str) -> LevelHit:
    """The level word of ``line`` as ``service`` writes it (a generic look for other services).

    Returns ``(level, start, end)``; ``level`` is None for a line that belongs
    to the one above (PostgreSQL's DETAIL) or has no level word at all, and
    ``start == -1`` when no word was found. A line of a known server that its
    parser does not recognise gets no generic guess: it is a continuation (a
    multi-line statement, a stack trace) whose words are data, not a level.
    """
    return _PARSERS.get(service, parse_generic)(line)


#: Every spelling of a level at ERROR or above that a parser above recognises holds one of
#: these (any case: Qdrant's JSON says ``"level":"error"``).
_SEVERE_HINT = re.compile(r"(?i)err|fatal|panic|crit")
#: Services whose parser cannot return ERROR or above (Redis's markers stop at WARNING).
_NEVER_SEVERE = frozenset({"redis"})


def may_be_severe(service: str, line: str) -> bool:
    """False only when :func:`parse_level` cannot find ERROR or above in ``line``.

    A cheap test first (one scan in C) for readers that care about errors
    alone, such as the black box's timeline: most lines skip the parser.
    """
    return service not in _NEVER_SEVERE and _SEVERE_HINT.search(line) is not None


class LevelTracker:
    """Levels of a stream of lines: a line without its own level takes its instance's last one.

    Instances are tracked apart because merged streams interleave: a Redis
    line between a PostgreSQL ERROR and its STATEMENT must not break the pair.
    """

    def __init__(self, default: Level = Level.INFO) -> None:
        self.default = default
        self._last: dict[str, Level] = {}

    def level(self, service: str, instance: str, line: str) -> Level:
        """The level of ``line`` from ``instance`` of ``service``."""
        found = parse_level(service, line)[0]
        if found is None:
            return self._last.get(instance, self.default)
        self._last[instance] = found
        return found

    def reset(self) -> None:
        """Forget every instance (a new stream starts)."""
        self._last.clear()
