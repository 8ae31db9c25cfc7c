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
import bisect
import itertools
import os
import re
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache
from operator import attrgetter
from pathlib import Path
from typing import BinaryIO, Literal

from alfred_tui.backends.base import LogRecord
from alfred_tui.config.models import ServiceKind
from alfred_tui.redact import redact

_POSTGRES = re.compile(
    r"^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(\.\d+)?(?: ([A-Za-z]{1,6}|[+-]\d{2}(?::?\d{2})?))?\b"
)
_ISO = re.compile(r"^\[?(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]\d{2}:?\d{2})?")
_REDIS = re.compile(r"^\d+:[A-Za-z] (\d{1,2} [A-Z][a-z]{2} \d{4} [\d:.]+) [.\-*#] ")
_REDIS_STAMP = re.compile(r"(\d{1,2}) ([A-Z][a-z]{2}) (\d{4}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?$")
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
#: Bytes decoded and redacted per call (about 2,000 lines: a millisecond or two).
_DECODE_BLOCK = 256 * 1024


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


# Lines come in bursts, many within the same millisecond: the datetime of each
# distinct stamp (the matched text) is built once and reused, and the aware
# datetime of each second (zone lookup, local-time conversion) too. The first
# characters tell the formats apart, so each line is matched against one
# pattern only. Together this parses a busy server's log several times faster.


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


@lru_cache(maxsize=4096)
def _redis_stamp(stamp: str) -> datetime | None:
    match = _REDIS_STAMP.match(stamp)
    if match is None:
        return None
    day, month, year, hour, minute, second, fraction = match.groups()
    if month not in _MONTHS:
        return None
    base = _redis_second(day, _MONTHS[month], year, (hour, minute, second))
    return base.replace(microsecond=_microseconds(fraction))


@lru_cache(maxsize=4096)
def _dated_stamp(stamp: str, iso: bool) -> datetime | None:
    match = (_ISO if iso else _POSTGRES).match(stamp)
    if match is None:
        return None
    day, clock, fraction, zone = match.groups()
    base = _iso_second(day, clock, zone)
    return None if base is None else base.replace(microsecond=_microseconds(fraction))


def parse_timestamp(line: str) -> datetime | None:
    """The time a log line carries (timezone-aware), or None when it carries none."""
    # ISO and PostgreSQL stamps start with a date (ISO maybe after '['); Redis with a pid.
    iso = line[:1] == "[" or line[10:11] == "T"
    if iso or line[4:5] == "-":
        match = (_ISO if iso else _POSTGRES).match(line)
        return None if match is None else _dated_stamp(match.group(0), iso)
    match = _REDIS.match(line)
    return None if match is None else _redis_stamp(match.group(1))


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


def _text_lines(data: bytes) -> list[str]:
    """Complete lines (``data`` ends with a newline or is empty), decoded and redacted.

    Decoding and redacting a block at once, not line by line, is what lets a
    big history load quickly (a newline never falls inside a UTF-8 character
    nor inside a secret, so the result is the same). Blocks of
    :data:`_DECODE_BLOCK` bytes, because each of those C calls holds the GIL
    while it runs: on 10 MB at once, the event loop would stall for a tenth
    of a second.
    """
    lines: list[str] = []
    position = 0
    while position < len(data):
        cut = data.rfind(b"\n", position, position + _DECODE_BLOCK) + 1
        if cut <= position:  # one line longer than a block
            cut = data.find(b"\n", position + _DECODE_BLOCK) + 1 or len(data)
        text = redact(data[position:cut].decode("utf-8", errors="replace"))
        block = text.split("\n")
        block.pop()  # the empty string after the last newline
        if "\r" in text:
            block = [line.rstrip("\r") for line in block]
        lines.extend(block)
        position = cut
    return lines


def _read_back(handle: BinaryIO, end: int, count: int | None) -> tuple[bytes, int]:
    """Bytes before ``end`` with the last ``count`` lines (all when None), and their start."""
    if count is None:
        handle.seek(0)
        return handle.read(end), 0
    blocks: list[bytes] = []
    newlines = 0
    position = end
    # one newline more than lines wanted: the one that ends the line before them
    while position > 0 and newlines <= count:
        step = min(_BLOCK, position)
        position -= step
        handle.seek(position)
        block = handle.read(step)
        blocks.append(block)
        newlines += block.count(b"\n")
    blocks.reverse()
    return b"".join(blocks), position


def _stamped(texts: Iterable[str], fallback: datetime) -> Iterator[tuple[datetime, str]]:
    """Each line with its time, parsed as it is pulled.

    An untimed line takes the time of the line before it; untimed lines at
    the start take the first timed line's (or ``fallback`` when none has one).
    """
    leading: list[str] = []
    current: datetime | None = None
    for text in texts:
        moment = parse_timestamp(text)
        if moment is None:
            if current is None:
                leading.append(text)
                continue
            moment = current
        elif leading:
            for waiting in leading:
                yield moment, waiting
            leading = []
        current = moment
        yield moment, text
    for waiting in leading:
        yield fallback, waiting


@dataclass
class _History:
    """One file's lines to show first, read and decoded but not yet parsed, and where to follow."""

    texts: list[str]
    fallback: datetime
    cursor: _Cursor
    stamped: list[tuple[datetime, str]] | None = None
    """Lines already parsed and filtered, when ``since`` and ``tail`` together needed every time."""


def read_history(path: Path, tail: int | None, since: datetime | None) -> _History:
    """The lines to show first (``tail`` last ones at or after ``since``), and where to follow.

    Blocking: call it in a thread. It reads, decodes and splits (work done
    in C, quick); the timestamps are parsed later, line by line, as the
    stream's reader pulls them (see :func:`stream_logs`).
    """
    try:
        return _read_history(path, tail, since)
    except FileNotFoundError:
        return _History([], datetime.now(UTC), _Cursor(0, None))


def _read_history(path: Path, tail: int | None, since: datetime | None) -> _History:
    with open(path, "rb") as handle:
        info = os.fstat(handle.fileno())
        fallback = datetime.fromtimestamp(info.st_mtime, UTC)
        data, start = _read_back(handle, info.st_size, tail if since is None else None)
    # A last line without its newline yet is left for follow to complete.
    complete = data.rfind(b"\n") + 1
    cursor = _Cursor(start + complete, info.st_ino)
    data = data[:complete]
    if start > 0:
        data = data[data.find(b"\n") + 1 :]  # the first line is cut
    texts = _text_lines(data)
    if tail is not None and since is None:
        return _History(texts[-tail:] if tail else [], fallback, cursor)
    if tail is not None and since is not None:
        # The last ``tail`` lines since a time: which ones those are needs every time first.
        kept = [(moment, text) for moment, text in _stamped(texts, fallback) if moment >= since]
        stamped = kept[-tail:] if tail else []
        cursor.last_time = kept[-1][0] if kept else None
        return _History([], fallback, cursor, stamped)
    return _History(texts, fallback, cursor)


def _history_records(
    source: LogSource, history: _History, since: datetime | None
) -> Iterator[LogRecord]:
    """``history`` as records, parsed as pulled; remembers the last time for follow."""
    if history.stamped is not None:
        for stamp, text in history.stamped:
            yield _record(source, stamp, text)
        return
    moment: datetime | None = None
    for moment, text in _stamped(history.texts, history.fallback):
        if since is None or moment >= since:
            yield _record(source, moment, text)
    history.cursor.last_time = moment


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
    complete = data.rfind(b"\n") + 1
    cursor.pending = data[complete:]
    stamped: list[tuple[datetime, str]] = []
    for text in _text_lines(data[:complete]):
        moment = parse_timestamp(text) or cursor.last_time or datetime.now(UTC)
        cursor.last_time = moment
        stamped.append((moment, text))
    return stamped


def _record(source: LogSource, moment: datetime, text: str) -> LogRecord:
    return LogRecord(source.service, source.instance, moment, source.stream, text)


_BY_TIME = attrgetter("timestamp")


def _merged(
    sources: Sequence[LogSource], batches: Sequence[Sequence[tuple[datetime, str]]]
) -> list[LogRecord]:
    """The records of ``batches`` (one per source, each in time order) merged by time.

    A stable sort of the concatenation: Timsort merges the already-ordered
    runs, and lines with the same time keep source order, then file order.
    """
    records = [
        _record(source, moment, text)
        for source, lines in zip(sources, batches, strict=True)
        for moment, text in lines
    ]
    records.sort(key=_BY_TIME)
    return records


def read_all_new(sources: Sequence[LogSource], cursors: Sequence[_Cursor]) -> list[LogRecord]:
    """Lines written to any source since its cursor, merged by time. Blocking."""
    return _merged(
        sources,
        [read_new(source.path, cursor) for source, cursor in zip(sources, cursors, strict=True)],
    )


def merge_by_time(streams: Sequence[Iterator[LogRecord]], chunk: int = 1000) -> Iterator[LogRecord]:
    """Records of ``streams`` (each in time order) merged by time, pulled lazily.

    A window at a time rather than a heap per record: each stream is pulled
    ``chunk`` records ahead; every buffered record up to the earliest of the
    streams' last buffered times cannot be overtaken by a record still to
    come, so that window is sorted (stably: source order, then file order on
    equal times) and handed out. Several times cheaper per record than
    ``heapq.merge``, and a reader never waits for more than one chunk of
    parsing per stream.
    """
    iterators = list(streams)
    buffers: list[list[LogRecord]] = [[] for _ in iterators]
    open_ = [True] * len(iterators)
    while True:
        for index, iterator in enumerate(iterators):
            if open_[index] and not buffers[index]:
                buffers[index] = list(itertools.islice(iterator, chunk))
                open_[index] = bool(buffers[index])
        bounds = [buffers[i][-1].timestamp for i in range(len(iterators)) if open_[i]]
        if not any(buffers):
            return
        horizon = min(bounds) if bounds else None
        window: list[LogRecord] = []
        for index, buffer in enumerate(buffers):
            if horizon is None:
                cut = len(buffer)
            else:
                cut = bisect.bisect_right(buffer, horizon, key=_BY_TIME)
            window.extend(buffer[:cut])
            buffers[index] = buffer[cut:]
        window.sort(key=_BY_TIME)
        yield from window


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

    The files are read in a thread, but a big history is parsed here, record
    by record as the reader pulls it, not in that thread: parsing is Python
    work that holds the GIL, and a thread holding it makes every turn of the
    event loop wait up to the interpreter's switch interval (5 ms), so key
    presses took a tenth of a second while 100k lines loaded. Pulled here,
    the parsing runs in the reader's own slices between its breaths.
    """
    histories = await asyncio.to_thread(
        lambda: [read_history(source.path, tail, since) for source in sources]
    )
    cursors = [history.cursor for history in histories]
    streams = [
        _history_records(source, history, since)
        for source, history in zip(sources, histories, strict=True)
    ]
    del histories
    for record in merge_by_time(streams):
        yield record
    del streams
    while follow:
        await asyncio.sleep(poll_interval)
        for record in await asyncio.to_thread(read_all_new, sources, cursors):
            yield record
