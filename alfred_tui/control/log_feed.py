"""Following a backend's logs for the Logs pane: reconnect with backoff, never a line twice.

:meth:`Backend.logs` gives one stream merged by time. A stream can fail (the
engine stops answering, a log file cannot be read) or end (every container
of a Docker service stopped). :class:`LogFeed` keeps following anyway: it
says what went wrong, waits with exponential backoff (one second, doubling,
capped at 30 s; ``retry_now`` skips the wait), and opens the stream again
from the time of the last line it delivered. Lines it has already delivered
are skipped by instance, timestamp and count, so a reconnect neither loses
nor repeats lines.

The consumer runs on the UI's event loop. A backend may hand over a large
history without ever suspending (the local backend yields a merged list), so
the feed gives the loop a turn every few milliseconds: key presses and
drawing go on while 100,000 lines pour in.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from alfred_tui.backends.base import Backend, LogRecord, ServiceNotFound
from alfred_tui.backends.capabilities import Loggable, NotSupported, require
from alfred_tui.config.models import ServiceKind
from alfred_tui.control.backoff import Backoff
from alfred_tui.errors import AlfredError
from alfred_tui.redact import redact

Phase = Literal["connecting", "following", "retrying", "unavailable"]

#: Longest stretch of work on the event loop before the feed lets it breathe (seconds).
SLICE_SECONDS = 0.008
#: A stream that neither fails nor sends a line within this long is reported as following.
QUIET_AFTER = 1.0


#: Loop turns given away after each slice: a key press travels through several
#: message queues (driver, app, screen, focused widget, bindings), one turn each.
#: Measured (benchmarks/logs_ingest.py): 1 turn, key p50 about 100 ms; 16, a few ms,
#: for under 5% of the throughput.
TURNS = 16


async def breathe() -> None:
    """Let the event loop run what is waiting (input, timers, drawing) before going on."""
    for _ in range(TURNS):
        await asyncio.sleep(0)


class StreamEnded(AlfredError):
    """The backend closed a followed stream (its instances stopped, or were replaced)."""

    title = "Log stream ended"


@dataclass(frozen=True)
class FeedState:
    """What the feed is doing, for the status line."""

    phase: Phase
    services: tuple[ServiceKind, ...] = ()
    problem: str = ""
    """Why it is retrying or unavailable: ``Title: message``, secrets masked."""
    retry_in: float = 0.0
    failures: int = 0


def describe(error: BaseException) -> str:
    """One line about ``error`` for the status line (no traceback, secrets masked)."""
    if isinstance(error, AlfredError):
        return redact(f"{error.title}: {error.message}")
    return redact(f"{type(error).__name__}: {error}")[:300]


@dataclass
class _Mark:
    """An instance's newest delivered timestamp and how many lines carried it."""

    timestamp: datetime
    count: int


class LogFeed:
    """Follows ``services`` of ``backend`` until cancelled; see the module docstring."""

    def __init__(
        self,
        backend: Backend,
        services: Sequence[ServiceKind],
        tail: int,
        *,
        backoff_base: float = 1.0,
        backoff_cap: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.backend = backend
        self.services = tuple(services)
        self.tail = tail
        self.backoff = Backoff(base=backoff_base, cap=backoff_cap)
        self.clock = clock
        self.delivered = 0
        """Lines handed to the sink over every connection."""
        self.connections = 0
        """Streams opened (the first one included)."""
        self._marks: dict[str, _Mark] = {}
        self._wake = asyncio.Event()

    def retry_now(self) -> None:
        """Skip the current backoff wait."""
        self._wake.set()

    def resume_point(self) -> datetime | None:
        """Where a reopened stream must start so no instance misses a line (None: the tail)."""
        if not self._marks:
            return None
        return min(mark.timestamp for mark in self._marks.values())

    async def run(
        self, sink: Callable[[LogRecord], None], report: Callable[[FeedState], None]
    ) -> None:
        """Deliver records to ``sink`` and state changes to ``report`` until cancelled.

        Returns only when the backend cannot show logs at all (reported as
        ``unavailable``); every other failure is retried.
        """
        while True:
            report(FeedState("connecting", self.services, failures=self.backoff.failures))
            try:
                await self._follow_once(sink, report)
                error: BaseException = StreamEnded(
                    "the backend closed the stream (instances stopped or replaced?)"
                )
            except asyncio.CancelledError:
                raise
            except (NotSupported, ServiceNotFound) as exc:
                report(FeedState("unavailable", self.services, describe(exc)))
                return
            except Exception as exc:
                error = exc
            wait = self.backoff.failed(self.clock())
            report(
                FeedState("retrying", self.services, describe(error), wait, self.backoff.failures)
            )
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)

    async def _follow_once(
        self, sink: Callable[[LogRecord], None], report: Callable[[FeedState], None]
    ) -> None:
        since = self.resume_point()
        resume = {name: _Mark(mark.timestamp, mark.count) for name, mark in self._marks.items()}
        logs = require(self.backend, None, Loggable).logs
        stream = logs(self.services, follow=True, since=since, tail=self.tail)
        self.connections += 1
        iterator = aiter(stream)
        try:
            first = await self._first(iterator, report)
            if first is None:
                return
            report(FeedState("following", self.services))
            await self._consume(first, iterator, sink, resume)
        finally:
            closer = getattr(stream, "aclose", None)
            if closer is not None:
                with contextlib.suppress(Exception):
                    await closer()

    async def _first(
        self, iterator: AsyncIterator[LogRecord], report: Callable[[FeedState], None]
    ) -> LogRecord | None:
        """The first record; a stream still quiet after QUIET_AFTER is reported as following."""
        pending = asyncio.ensure_future(anext(iterator))
        try:
            done, _ = await asyncio.wait({pending}, timeout=QUIET_AFTER)
            if not done:
                self.backoff.succeeded()
                report(FeedState("following", self.services))
            return await pending
        except StopAsyncIteration:
            return None
        finally:
            if not pending.done():
                pending.cancel()

    async def _consume(
        self,
        first: LogRecord,
        iterator: AsyncIterator[LogRecord],
        sink: Callable[[LogRecord], None],
        resume: dict[str, _Mark],
    ) -> None:
        marks = self._marks
        clock = time.perf_counter
        slice_started = clock()
        count = 0
        fresh = False
        record = first
        while True:
            instance = record.instance
            moment = record.timestamp
            if not (resume and self._already_delivered(resume, instance, moment)):
                mark = marks.get(instance)
                if mark is None or moment > mark.timestamp:
                    marks[instance] = _Mark(moment, 1)
                elif moment == mark.timestamp:
                    mark.count += 1
                sink(record)
                self.delivered += 1
                if not fresh:
                    # Only a new line proves the stream works: a stream that repeats
                    # what was seen and ends (stopped containers) keeps backing off.
                    self.backoff.succeeded()
                    fresh = True
                count += 1
                if not count & 127 and clock() - slice_started > SLICE_SECONDS:
                    await breathe()
                    slice_started = clock()
            try:
                record = await anext(iterator)
            except StopAsyncIteration:
                return

    @staticmethod
    def _already_delivered(resume: dict[str, _Mark], instance: str, moment: datetime) -> bool:
        """Whether a reopened stream repeats a line delivered before the reconnect."""
        mark = resume.get(instance)
        if mark is None:
            return False
        if moment < mark.timestamp:
            return True
        if moment == mark.timestamp and mark.count > 0:
            mark.count -= 1
            return True
        del resume[instance]  # past the old end: everything after is new
        return False


async def quiet_services(backend: Backend, services: Sequence[ServiceKind]) -> list[str]:
    """Why some followed services send no lines: ``redis: not running (stopped)``.

    A followed log file of a stopped server just goes quiet, and a Docker
    stream drops a stopped container without a word; the status line says
    which services have no ready instance so silence is not mistaken for
    calm. One ``status()`` call: the caller runs it under a timeout.
    """
    notes = []
    for status in await backend.status():
        if status.service not in services or status.embedded or status.ready > 0:
            continue
        states = sorted({instance.state for instance in status.instances})
        detail = f" ({', '.join(states)})" if states else ""
        notes.append(f"{status.service}: not running{detail}")
    return notes
