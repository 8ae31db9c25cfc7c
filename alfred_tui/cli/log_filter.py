"""``alfred-tui logs --level/--grep``: the Logs pane's filters for the headless twin.

The level of each line is read exactly as the pane reads it
(:mod:`alfred_tui.loglevels`, lines without one inheriting their
instance's last level), and ``--grep`` compiles like the pane's search
(smart case), so the twin prints what the pane shows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from alfred_tui.backends.base import LogRecord
from alfred_tui.errors import UsageError
from alfred_tui.loglevels import Level, LevelTracker, parse_level_name, strip_ansi


@dataclass
class LogFilter:
    """Lowest level and pattern; tracks levels across lines (continuations)."""

    min_level: Level = Level.DEBUG
    pattern: re.Pattern[str] | None = None
    tracker: LevelTracker = field(default_factory=LevelTracker)

    @classmethod
    def from_options(cls, level: str | None, grep: str | None) -> LogFilter:
        """From the command line; bad values are usage errors naming the option."""
        from alfred_tui.control.log_search import SearchError, compile_search

        try:
            min_level = parse_level_name(level) if level else Level.DEBUG
        except ValueError as exc:
            raise UsageError(f"--level: {exc}") from None
        try:
            pattern = compile_search(grep or "")
        except SearchError as exc:
            raise UsageError(f"--grep: {exc.message}") from None
        return cls(min_level, pattern)

    def level_of(self, record: LogRecord) -> Level:
        """The record's level (every record must pass here, in order, for continuations)."""
        return self.tracker.level(record.service, record.instance, strip_ansi(record.line))

    def passes(self, record: LogRecord, level: Level) -> bool:
        """Whether the record is printed."""
        if level < self.min_level:
            return False
        return self.pattern is None or self.pattern.search(record.line) is not None
