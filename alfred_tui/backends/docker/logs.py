"""Following the logs of several containers at once, merged by timestamp.

The engine's log endpoint blocks, so each source (one container's stdout or
stderr) is read by its own thread with ``timestamps=True`` and hands lines
to the event loop. Docker multiplexes stdout and stderr into one stream and
the SDK's public reader drops which was which, so a container gets one reader
per stream; the engine's timestamps put them back in order.

Merging: without ``follow`` every source is read to its end and the lines
are sorted by timestamp. With ``follow`` lines wait in a small reorder window
(a heap keyed by timestamp) and leave once they have waited ``window``
seconds, so lines from different containers that arrive a little out of
order still come out in time order, at the cost of that much latency.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from alfred_tui.backends.base import LogRecord
from alfred_tui.config.models import ServiceKind
from alfred_tui.redact import redact

#: Seconds a followed line waits for older lines from other sources.
REORDER_WINDOW = 0.25


@dataclass(frozen=True)
class LogSource:
    """One container's stdout or stderr."""

    service: ServiceKind
    instance: str
    container: Any
    """The docker SDK's Container."""
    stream: Literal["stdout", "stderr"]


def parse_timestamp(text: str) -> datetime:
    """Docker's RFC 3339 timestamp with nanoseconds -> an aware datetime (microseconds)."""
    text = text.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    main, _, zone = text.partition("+")
    if "." in main:
        seconds, fraction = main.split(".", 1)
        main = f"{seconds}.{fraction[:6].ljust(6, '0')}"
    try:
        return datetime.fromisoformat(f"{main}+{zone}" if zone else main)
    except ValueError:
        return datetime.now(UTC)


def split_record(source: LogSource, raw: str) -> LogRecord:
    """``<timestamp> <line>`` as the engine sends it -> a record."""
    stamp, _, line = raw.partition(" ")
    return LogRecord(
        service=source.service,
        instance=source.instance,
        timestamp=parse_timestamp(stamp),
        stream=source.stream,
        line=redact(line.rstrip("\r")),
    )


def _lines(chunks: Iterator[bytes]) -> Iterator[str]:
    """Whole lines from a stream of byte chunks (a chunk may hold part of a line or many)."""
    pending = b""
    for chunk in chunks:
        pending += chunk
        *complete, pending = pending.split(b"\n")
        for line in complete:
            yield line.decode("utf-8", "replace")
    if pending:
        yield pending.decode("utf-8", "replace")


def _open(source: LogSource, follow: bool, since: datetime | None, tail: int | None) -> Any:
    kwargs: dict[str, Any] = {
        "stdout": source.stream == "stdout",
        "stderr": source.stream == "stderr",
        "stream": True,
        "follow": follow,
        "timestamps": True,
        "tail": "all" if tail is None else tail,
    }
    if since is not None:
        kwargs["since"] = since.timestamp()  # the SDK mishandles aware datetimes
    return source.container.logs(**kwargs)


_DONE = object()


async def merged_logs(
    sources: list[LogSource],
    follow: bool,
    since: datetime | None = None,
    tail: int | None = None,
    window: float = REORDER_WINDOW,
) -> AsyncIterator[LogRecord]:
    """Every source's lines, merged by timestamp; stops the readers when the caller stops."""
    if not sources:
        return
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Any] = asyncio.Queue()
    streams: list[Any] = []
    lock = threading.Lock()
    closed = threading.Event()

    def put(item: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is gone: the caller stopped
            loop.call_soon_threadsafe(queue.put_nowait, item)

    def read(source: LogSource) -> None:
        try:
            stream = _open(source, follow, since, tail)
            with lock:
                if closed.is_set():
                    with contextlib.suppress(Exception):
                        stream.close()
                    return
                streams.append(stream)
            for raw in _lines(stream):
                if raw:
                    put(split_record(source, raw))
        except Exception:  # a container removed mid-read ends its source, not the merge
            pass
        finally:
            put(_DONE)

    for source in sources:
        threading.Thread(
            target=read, args=(source,), name=f"logs-{source.instance}", daemon=True
        ).start()

    order = itertools.count()
    heap: list[tuple[datetime, int, float, LogRecord]] = []
    finished = 0
    try:
        while finished < len(sources) or heap:
            if finished < len(sources):
                wait = window if (follow and heap) else None
                try:
                    item = await asyncio.wait_for(queue.get(), wait)
                except TimeoutError:
                    item = None
                if item is _DONE:
                    finished += 1
                elif item is not None:
                    heapq.heappush(heap, (item.timestamp, next(order), time.monotonic(), item))
                    continue_reading = not follow or not queue.empty()
                    if continue_reading and finished < len(sources):
                        continue
            if not follow and finished < len(sources):
                continue
            ripe = time.monotonic() - window
            while heap and (finished == len(sources) or heap[0][2] <= ripe):
                yield heapq.heappop(heap)[3]
    finally:
        with lock:
            closed.set()
            for stream in streams:
                with contextlib.suppress(Exception):
                    stream.close()
