"""Log files as a stream of :class:`LogRecord`: tail, since, follow, merged by time.

Servers running as local processes write their own log files; this module
reads them the way ``docker compose logs`` reads containers: the last N lines
of each source, from a point in time, then new lines as they are written,
several sources merged by the timestamp each line carries. It understands
the timestamp formats of the servers we run:

- PostgreSQL (``log_line_prefix='%m [%p] '``): ``2025-05-13 10:00:00.123 UTC [42] LOG: ...``
- Redis: ``42:M 13 May 2025 10:00:00.123 * Ready to accept connections`` (local time)
- ISO 8601 (Qdrant, most others): ``2025-05-13T10:00:00.123456Z  INFO ...``

A line without a timestamp (a continuation, a banner) takes the time of the
line before it. Follow polls the files (no inotify dependency), notices
truncation and rotation, and never returns half a line. Lines pass through
:func:`~alfred_tui.redact.redact` before anyone sees them.
"""

from __future__ import annotations

import asyncio
import heapq
import os
import re
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from typing import Literal

from alfred_tui.backends.base import LogRecord
from alfred_tui.config.models import ServiceKind
from alfred_tui.redact import redact

_POSTGRES = re.compile(
    r"^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(\.\d+)?(?: ([A-Za-z]{1,6}|[+-]\d{2}(?::?\d{2})?))?\b"
)
_ISO = re.compile(r"^\[?(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]\d{2}:?\d{2})?")
_REDIS = re.compile(
    r"^\d+:[A-Za-z] (\d{1,2}) ([A-Z][a-z]{2}) (\d{4}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d+))? [.\-*#] "
)
_MONTHS = {
    name: number
    for number, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
        start=1,
    )
}
_UTC_NAMES = {"UTC", "GMT", "Z", "UT"}

#: Bytes read per step when looking backwards for the last lines of a file.
_BLOCK = 64 * 1024


def _local(naive: datetime) -> datetime:
    return naive.astimezone()  # a naive datetime is taken as local time


def _microseconds(fraction: str | None) -> int:
    if not fraction:
        return 0
    digits = fraction.lstrip(".")
    return int((digits + "000000")[:6])


@lru_cache(maxsize=64)
def _offset(zone: str | None) -> timezone | None:
    """A fixed offset from ``+02``, ``-0530`` or ``+05:30``; UTC from UTC/GMT/Z."""
    if zone is None:
        return None
    if zone.upper() in _UTC_NAMES:
        return UTC
    match = re.fullmatch(r"([+-])(\d{2}):?(\d{2})?", zone)
    if not match:
        return None
    sign, hours, minutes = match.groups()
    delta = timedelta(hours=int(hours), minutes=int(minutes or 0))
    return timezone(-delta if sign == "-" else delta)


# Lines come in bursts within the same second, so the aware datetime of each
# second is built once (zone lookup, local-time conversion) and reused: the
# log stream of a busy server parses about twice as fast for it.


@lru_cache(maxsize=256)
def _redis_second(day: str, month: int, year: str, clock: tuple[str, str, str]) -> datetime:
    hour, minute, second = clock
    return _local(datetime(int(year), month, int(day), int(hour), int(minute), int(second)))


@lru_cache(maxsize=256)
def _iso_second(day: str, clock: str, zone: str | None) -> datetime | None:
    try:
        naive = datetime.fromisoformat(f"{day}T{clock}")
    except ValueError:
        return None
    tz = _offset(zone)
    return naive.replace(tzinfo=tz) if tz is not None else _local(naive)


def parse_timestamp(line: str) -> datetime | None:
    """The time a log line carries (timezone-aware), or None when it carries none."""
    match = _REDIS.match(line)
    if match:
        day, month, year, hour, minute, second, fraction = match.groups()
        if month not in _MONTHS:
            return None
        base = _redis_second(day, _MONTHS[month], year, (hour, minute, second))
        return base.replace(microsecond=_microseconds(fraction))
    for pattern in (_ISO, _POSTGRES):
        match = pattern.match(line)
        if match:
            day, clock, fraction, zone = match.groups()
            base = _iso_second(day, clock, zone)
            return None if base is None else base.replace(microsecond=_microseconds(fraction))
    return None


@dataclass(frozen=True)
class LogSource:
    """One log file of one instance."""

    service: ServiceKind
    instance: str
    path: Path
    stream: Literal["stdout", "stderr"] = "stdout"


@dataclass
class _Cursor:
    """Where following a file has got to."""

    offset: int
    inode: int | None
    pending: bytes = b""
    last_time: datetime | None = None
    lines: list[tuple[datetime, str]] = field(default_factory=list)


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace").rstrip("\r")


def _last_lines(handle, end: int, count: int) -> list[bytes]:  # type: ignore[no-untyped-def]
    """The last ``count`` complete lines before byte ``end``."""
    position = end
    data = b""
    while position > 0 and data.count(b"\n") <= count:
        step = min(_BLOCK, position)
        position -= step
        handle.seek(position)
        data = handle.read(step) + data
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    if position > 0:
        lines = lines[1:]  # the first one is cut
    return lines[-count:] if count else []


def _stamp(lines: Iterable[bytes], fallback: datetime) -> list[tuple[datetime, str]]:
    """Each line with its time; untimed lines take the previous one's (or the next's)."""
    texts = [_decode(raw) for raw in lines]
    times = [parse_timestamp(text) for text in texts]
    first = next((t for t in times if t is not None), fallback)
    stamped: list[tuple[datetime, str]] = []
    current = first
    for text, moment in zip(texts, times, strict=True):
        current = moment or current
        stamped.append((current, text))
    return stamped


def read_history(
    path: Path, tail: int | None, since: datetime | None
) -> tuple[list[tuple[datetime, str]], _Cursor]:
    """The lines to show first (``tail`` last ones at or after ``since``), and where to follow.

    Blocking: call it in a thread.
    """
    try:
        return _read_history(path, tail, since)
    except FileNotFoundError:
        return [], _Cursor(0, None)


def _read_history(
    path: Path, tail: int | None, since: datetime | None
) -> tuple[list[tuple[datetime, str]], _Cursor]:
    with open(path, "rb") as handle:
        info = os.fstat(handle.fileno())
        end = info.st_size
        fallback = datetime.fromtimestamp(info.st_mtime, UTC)
        if tail is not None and since is None:
            raw = _last_lines(handle, end, tail)
        else:
            handle.seek(0)
            raw = handle.read(end).split(b"\n")
            if raw and raw[-1] == b"":
                raw.pop()
        # a last line without its newline yet is left for follow to complete
        complete_end = end
        if end and raw:
            handle.seek(end - 1)
            if handle.read(1) != b"\n":
                complete_end = end - len(raw[-1])
                raw = raw[:-1]
        stamped = _stamp(raw, fallback)
    if since is not None:
        stamped = [(moment, text) for moment, text in stamped if moment >= since]
        if tail is not None:
            stamped = stamped[-tail:] if tail else []
    last_time = stamped[-1][0] if stamped else None
    return stamped, _Cursor(complete_end, info.st_ino, last_time=last_time)


def read_new(path: Path, cursor: _Cursor) -> list[tuple[datetime, str]]:
    """Complete lines written since ``cursor`` (reopening after truncation or rotation).

    Blocking: call it in a thread.
    """
    try:
        info = path.stat()
    except FileNotFoundError:
        return []
    if info.st_ino != cursor.inode or info.st_size < cursor.offset:
        cursor.offset, cursor.inode, cursor.pending = 0, info.st_ino, b""
    if info.st_size == cursor.offset:
        return []
    with open(path, "rb") as handle:
        handle.seek(cursor.offset)
        data = handle.read(info.st_size - cursor.offset)
    cursor.offset += len(data)
    data = cursor.pending + data
    *complete, cursor.pending = data.split(b"\n")
    stamped: list[tuple[datetime, str]] = []
    for raw in complete:
        text = _decode(raw)
        moment = parse_timestamp(text) or cursor.last_time or datetime.now(UTC)
        cursor.last_time = moment
        stamped.append((moment, text))
    return stamped


def _record(source: LogSource, moment: datetime, text: str) -> LogRecord:
    return LogRecord(source.service, source.instance, moment, source.stream, redact(text))


async def stream_logs(
    sources: Sequence[LogSource],
    *,
    follow: bool = False,
    since: datetime | None = None,
    tail: int | None = None,
    poll_interval: float = 0.2,
) -> AsyncIterator[LogRecord]:
    """Records of ``sources`` merged by time; with ``follow``, new lines until cancelled.

    ``tail`` counts per source, as ``docker compose logs --tail`` does.
    """
    histories = await asyncio.gather(
        *(asyncio.to_thread(read_history, source.path, tail, since) for source in sources)
    )
    cursors = [cursor for _lines, cursor in histories]
    merged = heapq.merge(
        *(
            [(moment, index, order, text) for order, (moment, text) in enumerate(lines)]
            for index, (lines, _cursor) in enumerate(histories)
        )
    )
    for moment, index, _order, text in merged:
        yield _record(sources[index], moment, text)
    while follow:
        await asyncio.sleep(poll_interval)
        batches = await asyncio.gather(
            *(
                asyncio.to_thread(read_new, source.path, cursor)
                for source, cursor in zip(sources, cursors, strict=True)
            )
        )
        fresh = [
            (moment, index, order, text)
            for index, lines in enumerate(batches)
            for order, (moment, text) in enumerate(lines)
        ]
        for moment, index, _order, text in sorted(fresh):
            yield _record(sources[index], moment, text)
