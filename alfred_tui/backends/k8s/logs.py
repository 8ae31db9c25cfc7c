"""Pod logs: one stream per pod, merged into one sequence ordered by time.

The API is asked for ``timestamps=true``, so every line starts with the
kubelet's RFC 3339 time; that is the merge key. A finished read (no
``--follow``) is an exact k-way merge of already sorted streams. A followed
read cannot know what a slower stream has not sent yet, so records wait in a
short reorder window (a fraction of a second) and leave it in time order:
lines from different pods written within the window come out sorted, and
nothing is held longer than the window.
"""

from __future__ import annotations

import datetime as dt
import heapq
import itertools
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from alfred_tui.backends.base import LogRecord
from alfred_tui.backends.k8s.status import parse_time
from alfred_tui.config.models import ServiceKind


def split_timestamp(line: str) -> tuple[dt.datetime | None, str]:
    """``"2024-05-13T10:00:00.123456789Z text"`` -> (time, ``"text"``)."""
    stamp, _, text = line.partition(" ")
    moment = parse_time(stamp)
    if moment is None:
        return None, line
    return moment, text


def records(
    service: ServiceKind, pod: str, lines: Iterable[str], fallback: dt.datetime | None = None
) -> Iterator[LogRecord]:
    """Log lines of one pod as records (a line without a timestamp takes the previous one's)."""
    last = fallback or dt.datetime.now(dt.UTC)
    for raw in lines:
        line = raw.rstrip("\r\n")
        moment, text = split_timestamp(line)
        if moment is None:
            moment = last
        last = moment
        yield LogRecord(service=service, instance=pod, timestamp=moment, stream="stdout", line=text)


def merge_sorted(streams: Iterable[Iterable[LogRecord]]) -> Iterator[LogRecord]:
    """K-way merge of per-pod streams that are each in time order."""
    return heapq.merge(*streams, key=lambda record: record.timestamp)


@dataclass
class ReorderWindow:
    """Holds followed records for ``window`` seconds and releases them in time order."""

    window: float = 0.25
    _heap: list[tuple[dt.datetime, int, float, LogRecord]] = field(default_factory=list)
    _counter: itertools.count[int] = field(default_factory=itertools.count)

    def add(self, record: LogRecord, arrived: float | None = None) -> None:
        """Take a record that arrived now (monotonic seconds)."""
        when = time.monotonic() if arrived is None else arrived
        heapq.heappush(self._heap, (record.timestamp, next(self._counter), when, record))

    def ready(self, now: float | None = None) -> list[LogRecord]:
        """Records whose window has passed, oldest timestamp first.

        A record is released once it has waited ``window``; everything with an
        earlier timestamp goes out with it, so the output never goes back in time
        for lines that arrived within the window.
        """
        current = time.monotonic() if now is None else now
        if not self._heap:
            return []
        newest_due = max(
            (item[0] for item in self._heap if current - item[2] >= self.window), default=None
        )
        if newest_due is None:
            return []
        out: list[LogRecord] = []
        while self._heap and self._heap[0][0] <= newest_due:
            out.append(heapq.heappop(self._heap)[3])
        return out

    def drain(self) -> list[LogRecord]:
        """Everything still held, in time order."""
        out = [item[3] for item in sorted(self._heap)]
        self._heap.clear()
        return out

    def __len__(self) -> int:
        return len(self._heap)
