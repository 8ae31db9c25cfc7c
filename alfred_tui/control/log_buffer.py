"""What the Logs pane holds: the last N lines, which of them the view shows, and pause.

The pane's view (Textual's ``Log``) only ever holds plain strings; this
buffer keeps every line that arrived (the last ``logs.max_lines`` of them)
with its service and level, so a filter change can rebuild the view at once
without asking the backend again, and a pause can hold new lines back
without losing them.

Memory is the point of the layout: a line costs its display string (shared
with the view, not copied), one deque slot, and one byte in a ring (service
and level packed into one code). No per-line object, no timestamp kept:
every server writes its own time into the line.

Ingest is the hot path (:meth:`LogBuffer.add`, a few microseconds a line);
everything else runs on a key press.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from datetime import datetime

from alfred_tui.backends.base import LogRecord
from alfred_tui.loglevels import Level, LevelTracker, strip_ansi

#: Between an instance's name and its line, as ``alfred-tui logs`` prints it.
SEPARATOR = " | "
#: Instance names are padded to the longest seen, up to this (longer ones push their line right).
MAX_NAME_WIDTH = 24

_LEVELS = tuple(Level)
_LEVEL_INDEX = {level: index for index, level in enumerate(_LEVELS)}
_CODES_PER_SERVICE = 8


#: Characters that would break a line in two or garble a terminal, once colour codes are gone.
_UNPRINTABLE = {code: "\ufffd" for code in (*range(0x20), *range(0x7F, 0xA0), 0x2028, 0x2029)}


def clean_line(line: str) -> str:
    """``line`` fit for one row of a terminal: colour codes dropped, tabs expanded,
    control characters and line separators shown as U+FFFD."""
    return strip_ansi(line).expandtabs().translate(_UNPRINTABLE)


def split_display_line(text: str) -> tuple[str, str]:
    """``"redis       | line"`` -> ``("redis", "line")`` (for colouring and saving)."""
    name, _, line = text.partition(SEPARATOR)
    return name.rstrip(), line


class LogBuffer:
    """The last ``max_lines`` lines of every service, a filter over them, and pause."""

    def __init__(self, max_lines: int) -> None:
        self.max_lines = max_lines
        self._texts: deque[str] = deque(maxlen=max_lines)
        self._codes = bytearray(max_lines)
        """Ring of codes: line ``total - 1`` is at ``(total - 1) % max_lines``."""
        self._pending: deque[str] = deque(maxlen=max_lines)
        self._tracker = LevelTracker()
        self._service_index: dict[str, int] = {}
        self._prefixes: dict[str, str] = {}
        self._name_width = 0
        self.instance_service: dict[str, str] = {}
        """Every instance seen, with its service (the view colours names by service)."""
        self.hidden_services: set[str] = set()
        self.min_level: Level = Level.DEBUG
        self._accept: list[bool] = []
        self.total = 0
        """Lines ever added (kept or since dropped)."""
        self.paused = False
        self.waiting = 0
        """Lines that passed the filter since the pause began (some may be over the bound)."""
        self._paused_at = 0
        self.last_time: datetime | None = None
        """Timestamp of the newest line (the status line shows it)."""
        self._recompute_filter()

    # --- ingest (hot path) ------------------------------------------------------------

    def add(self, record: LogRecord) -> None:
        """Keep ``record``; queue it for the view if the filter shows it."""
        line = record.line
        if not line.isprintable():
            line = clean_line(line)
        instance = record.instance
        prefix = self._prefixes.get(instance)
        if prefix is None:
            prefix = self._new_instance(record.service, instance)
        level = self._tracker.level(record.service, instance, line)
        code = self._service_index[record.service] * _CODES_PER_SERVICE + _LEVEL_INDEX[level]
        text = prefix + line
        self._texts.append(text)
        self._codes[self.total % self.max_lines] = code
        self.total += 1
        self.last_time = record.timestamp
        if self._accept[code]:
            self._pending.append(text)
            if self.paused:
                self.waiting += 1

    def extend(self, records: Iterable[LogRecord]) -> None:
        """:meth:`add` each of ``records``."""
        for record in records:
            self.add(record)

    def _new_instance(self, service: str, instance: str) -> str:
        if service not in self._service_index:
            self._service_index[service] = len(self._service_index)
            self._recompute_filter()
        self.instance_service[instance] = service
        width = min(MAX_NAME_WIDTH, max(self._name_width, len(instance)))
        if width != self._name_width:
            self._name_width = width
            self._prefixes = {name: self._prefix(name) for name in self.instance_service}
        else:
            self._prefixes[instance] = self._prefix(instance)
        return self._prefixes[instance]

    def _prefix(self, instance: str) -> str:
        return f"{instance:<{self._name_width}}{SEPARATOR}"

    # --- what the view takes --------------------------------------------------------------

    def take_pending(self) -> list[str]:
        """Lines for the view since the last call; none while paused."""
        if self.paused or not self._pending:
            return []
        lines = list(self._pending)
        self._pending.clear()
        return lines

    @property
    def kept(self) -> int:
        """Lines held now (at most ``max_lines``)."""
        return len(self._texts)

    @property
    def over_bound(self) -> int:
        """Lines that arrived while paused but no longer fit (older than ``max_lines``)."""
        return max(0, self.waiting - len(self._pending))

    # --- filter ---------------------------------------------------------------------------

    @property
    def services(self) -> list[str]:
        """Services seen so far, in order of appearance."""
        return list(self._service_index)

    def shows(self, service: str) -> bool:
        """Whether the filter lets ``service``'s lines through."""
        return service not in self.hidden_services

    def set_filter(self, hidden_services: Iterable[str], min_level: Level) -> list[str]:
        """Change the filter; returns the lines the view must now show (rebuilt from the buffer).

        While paused, lines that arrived after the pause stay waiting.
        """
        self.hidden_services = set(hidden_services)
        self.min_level = min_level
        self._recompute_filter()
        return self.rebuild()

    def _recompute_filter(self) -> None:
        accept = [False] * (_CODES_PER_SERVICE * max(1, len(self._service_index)))
        for service, index in self._service_index.items():
            if service in self.hidden_services:
                continue
            for level in _LEVELS:
                if level >= self.min_level:
                    accept[index * _CODES_PER_SERVICE + _LEVEL_INDEX[level]] = True
        self._accept = accept

    def rebuild(self) -> list[str]:
        """The lines the view shows under the current filter; later ones wait if paused."""
        accept = self._accept
        split = len(self._texts)
        if self.paused:
            first_seq = self.total - len(self._texts)
            split = max(0, self._paused_at - first_seq)
        shown: list[str] = []
        waiting: list[str] = []
        codes, size = self._codes, self.max_lines
        first = (self.total - len(self._texts)) % size
        for index, text in enumerate(self._texts):
            if accept[codes[(first + index) % size]]:
                (shown if index < split else waiting).append(text)
        self._pending.clear()
        self._pending.extend(waiting)
        if self.paused:
            self.waiting = len(waiting)
        return shown

    # --- pause ------------------------------------------------------------------------------

    def pause(self) -> None:
        """Hold new lines back from the view (they are still kept)."""
        if not self.paused:
            self.paused = True
            self._paused_at = self.total
            self.waiting = len(self._pending)

    def resume(self) -> list[str]:
        """Stop holding back; returns the lines that waited, for the view."""
        self.paused = False
        self.waiting = 0
        return self.take_pending()

    def clear(self) -> None:
        """Forget every line (a new target)."""
        self._texts.clear()
        self._pending.clear()
        self._tracker.reset()
        self.total = self.waiting = self._paused_at = 0
        self.last_time = None
