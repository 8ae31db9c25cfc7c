"""The recorder's loops: follow logs and engine events, flush; and the headless recording.

The UI's black box and ``alfred-tui record`` run the same three loops beside
a :class:`~alfred_tui.recording.recorder.Recorder`:

- :func:`follow_logs`: the backend's log stream, through the Logs pane's
  :class:`~alfred_tui.control.log_feed.LogFeed` (reconnects with backoff, no
  line twice), from the moment recording starts;
- :func:`follow_events`: the engine's own events (Docker events, Kubernetes
  Events and pod changes) where the backend has them, reopened with backoff;
- :func:`flush_every`: the recorder's batch write, in a thread, every interval.

:func:`record_headless` is ``alfred-tui record``: without a UI nobody else
reads, so it also makes the panes' readings itself (:func:`read_as_the_panes`,
which the UI also runs while rewound), through the same
session sources the panes use (the overview's monitor, the runbook markers,
the activity, a sampled keyspace analysis, the collections), each at the
pace its pane would.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from alfred_tui.backends.base import no_progress
from alfred_tui.backends.capabilities import Capability, Watchable, capable
from alfred_tui.control.backoff import Backoff

if TYPE_CHECKING:
    from alfred_tui.control.session import Session
    from alfred_tui.recording.recorder import Recorder

#: Runbook markers are not asked for more often than the overview asks (``MARKER_SECONDS``).
MARKER_SECONDS = 5.0
#: Collections change rarely; the pane reads them every 5 s.
COLLECTIONS_SECONDS = 5.0
#: A sampled keyspace analysis reads about 1% of the keys; once every five minutes.
KEYSPACE_SECONDS = 300.0
#: Longest one reading may take before it is given up (the next one tries again).
READ_TIMEOUT = 30.0


async def follow_logs(session: Session, recorder: Recorder) -> None:
    """Every followed service's new log lines into ``recorder``, until cancelled."""
    from alfred_tui.control.log_feed import LogFeed

    services = session.services_with(Capability.FOLLOW_LOGS)
    if not services:
        return
    feed = LogFeed(session.backend, services, tail=0, backoff_cap=session.backoff_cap)
    await feed.run(recorder.log, lambda _state: None)


async def follow_events(session: Session, recorder: Recorder) -> None:
    """The engine's events into ``recorder``, reopened with backoff, until cancelled."""
    watcher = capable(session.backend, None, Watchable)
    if watcher is None or not session.services_with(Capability.EVENTS):
        return
    backoff = Backoff(1.0, session.backoff_cap)
    while True:
        try:
            stream = watcher.events()
            recorder.events_followed(True)
            async for event in stream:
                backoff.succeeded()
                recorder.event(event)
        except asyncio.CancelledError:
            raise
        except Exception:  # the engine went away: status readings stand in meanwhile
            pass
        finally:
            recorder.events_followed(False)
        await asyncio.sleep(backoff.failed(time.monotonic()))


async def flush_every(recorder: Recorder, seconds: float) -> None:
    """Write the recorder's queue every ``seconds`` (in a thread), until cancelled."""
    while True:
        await asyncio.sleep(seconds)
        await asyncio.to_thread(recorder.flush)


async def _every(seconds: float, read: Callable[[], Awaitable[object]]) -> None:
    """``read()`` now and then every ``seconds`` after it ended; failures are recorded by the
    readings themselves (a DOWN service) or skipped, never fatal."""
    while True:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(READ_TIMEOUT):
                await read()
        await asyncio.sleep(seconds)


def _readers(session: Session, interval: float) -> list[Awaitable[None]]:
    """What the panes would read, each at its pace (see the module doc)."""
    from alfred_tui.control.collections_view import source_for
    from alfred_tui.control.keyspace_view import scanner_for

    jobs: list[Awaitable[None]] = [
        _every(interval, session.monitor.poll),
        _every(max(interval, MARKER_SECONDS), session.troubleshoot.markers),
    ]
    if session.profile.postgres is not None:
        jobs.append(_every(interval, session.troubleshoot.activity))
    if session.profile.qdrant is not None:
        jobs.append(_every(max(interval, COLLECTIONS_SECONDS), source_for(session).read))
    if session.profile.redis is not None:
        scanner = scanner_for(session)
        jobs.append(_every(KEYSPACE_SECONDS, lambda: scanner.scan("sample", 1.0, no_progress)))
    return jobs


async def read_as_the_panes(session: Session, interval: float) -> None:
    """Make the panes' readings of ``session`` (its tap records them), until cancelled.

    ``alfred-tui record`` has no panes; the live UI has none polling its
    session while it is rewound to a moment of its recording.
    """
    await asyncio.gather(*_readers(session, interval))


async def record_headless(
    session: Session,
    recorder: Recorder,
    *,
    interval: float,
    duration: float | None,
    stop: asyncio.Event,
) -> None:
    """Record until ``duration`` has passed or ``stop`` is set; the file is flushed after."""
    await asyncio.to_thread(recorder.open)
    jobs = [
        read_as_the_panes(session, interval),
        follow_logs(session, recorder),
        follow_events(session, recorder),
        flush_every(recorder, interval),
    ]
    tasks = [asyncio.ensure_future(job) for job in jobs]
    try:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), duration)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
