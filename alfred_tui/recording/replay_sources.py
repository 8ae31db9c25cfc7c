"""What a replay reads: a recording's readings at the cursor, behind the panes' own interfaces.

Each class stands where a live source stands in a session (see
:mod:`alfred_tui.recording.replay`): :class:`ReplayMonitor` for the
overview's monitor, :class:`ReplayBackend` for the engine (status, logs),
:class:`ReplayTroubleshoot`, :class:`ReplayKeyspace`, :class:`ReplayCollections`
and :class:`ReplayTimeline` for the data panes. A reading not made at that
moment is :class:`~alfred_tui.control.polling.NotRecorded`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from alfred_tui.backends.base import (
    Backend,
    Endpoint,
    InstanceUsage,
    LogRecord,
    ServiceStatus,
    TargetInfo,
)
from alfred_tui.backends.capabilities import Capability, NotSupported
from alfred_tui.checks.instances import InstanceReplication
from alfred_tui.checks.report import ServiceReport
from alfred_tui.config.models import ServiceKind
from alfred_tui.control.history import WINDOW_SECONDS, MetricHistory
from alfred_tui.control.monitor import OverviewSnapshot, ServiceMonitor, ServiceView
from alfred_tui.control.polling import NotRecorded
from alfred_tui.recording.codec import DecodeError, from_plain
from alfred_tui.recording.cursor import ReplayCursor, clock_text
from alfred_tui.recording.store import LogRow, RecordingError, RecordingReader

# --- the recording, decoded ------------------------------------------------------------


class Recording:
    """A recording opened for replay: its readings decoded at any moment, cached by frame."""

    def __init__(self, reader: RecordingReader) -> None:
        self.reader = reader
        self.path = reader.path
        self.interval = _float(reader.meta.get("interval"), 2.0)
        self.gap = max(10 * self.interval, 60.0)
        """Longer than this between polls: nothing was recorded (the recorder was not running)."""
        self._cache: dict[tuple[str, float], Any] = {}

    def frame(self, kind: str, at: float, decode: Callable[[Any], Any]) -> tuple[float, Any] | None:
        """The last ``kind`` reading at or before ``at``, decoded (None: none yet)."""
        found = self.reader.frame_at(kind, at)
        if found is None:
            return None
        when, body = found
        key = (kind, when)
        if key not in self._cache:
            if len(self._cache) > 256:
                self._cache.clear()
            try:
                self._cache[key] = decode(json.loads(body))
            except (ValueError, TypeError, KeyError, DecodeError) as exc:
                raise RecordingError(
                    f"{self.path}: a {kind} reading at {clock_text(when)} is damaged: {exc}"
                ) from None
        return when, self._cache[key]

    async def reading(self, kind: str, cls: type, at: float, missing: str) -> tuple[float, Any]:
        """The last ``kind`` reading (a ``cls``) at or before ``at``; else NotRecorded."""
        found = await asyncio.to_thread(self.frame, kind, at, lambda body: from_plain(cls, body))
        if found is None:
            raise NotRecorded(f"no {missing} recorded by {clock_text(at)}")
        return found

    def overview(self, at: float) -> tuple[float, dict[str, Any]] | None:
        """The overview poll at or before ``at``: its time and its decoded parts."""
        return self.frame("overview", at, _decode_overview)

    def next_reading(self, kind: str, at: float) -> float | None:
        """When the next ``kind`` reading after ``at`` was made (None: none)."""
        found = self.reader.frame_at(kind, at, newer=True)
        return None if found is None else found[0]


def _float(text: str | None, default: float) -> float:
    try:
        return float(text) if text is not None else default
    except ValueError:
        return default


def _decode_overview(body: dict[str, Any]) -> dict[str, Any]:
    views = []
    for item in body.get("services", []):
        views.append(
            ServiceView(
                kind=item["kind"],
                report=from_plain(ServiceReport, item.get("report")),
                status=from_plain(ServiceStatus, item.get("status")),
                retry_in=item.get("retry_in"),
                failures=int(item.get("failures") or 0),
            )
        )
    return {
        "services": {view.kind: view for view in views},
        "status_error": str(body.get("status_error") or ""),
        "duration_ms": float(body.get("duration_ms") or 0.0),
        "poll": int(body.get("poll") or 0),
        # A file from before replication and usage were recorded has neither: empty.
        "replication": from_plain(_REPLICATION, body.get("replication")) or {},
        "usage": from_plain(dict[str, InstanceUsage], body.get("usage")) or {},
        "instances_error": str(body.get("instances_error") or ""),
    }


#: How an overview frame stores replication: service, then instance.
_REPLICATION = dict[str, dict[str, InstanceReplication]]


# --- the overview ---------------------------------------------------------------------


@dataclass
class ReplayMonitor(ServiceMonitor):
    """The overview's monitor over a recording: the poll at the cursor, the sparklines before it."""

    recording: Recording | None = None
    cursor: ReplayCursor | None = None
    _history_at: float | None = field(init=False, default=None)
    _last: OverviewSnapshot | None = field(init=False, default=None)
    """The snapshot of the last moment read: asked again for it, nothing is read again."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self._history_at = None
        self._last = None

    def retry_now(self) -> None:
        return None  # nothing to retry: the next poll reads the cursor

    async def poll(
        self, on_partial: Callable[[OverviewSnapshot], None] | None = None
    ) -> OverviewSnapshot:
        assert self.cursor is not None
        at = self.cursor.at
        self._polls += 1
        if self._last is not None and self._last.taken_at == at:
            # A seek drew this moment already, or the replay is paused: the same
            # object, so the pane knows it has nothing to redraw.
            return self._last
        read = await asyncio.to_thread(self._read, at)  # the file, off the event loop
        return self._snapshot(at, read)  # the history changes on the loop only

    def snapshot(self, now: float | None = None, duration_ms: float = 0.0) -> OverviewSnapshot:
        """As the live monitor's: the picture of the last poll, read nothing (a seek's new
        moment is the next poll's, in a thread); the first, or ``now``, is read here."""
        assert self.cursor is not None
        if now is None and self._last is not None:
            return self._last
        at = self.cursor.at if now is None else now
        if self._last is not None and self._last.taken_at == at:
            return self._last
        return self._snapshot(at, self._read(at))

    def _read(self, at: float) -> tuple[Any, dict[str, list[tuple[float, float | None]]], bool]:
        """The poll at ``at`` and the samples the sparklines lack (all ten minutes or a top-up)."""
        assert self.recording is not None
        last = self._history_at
        fresh = last is None or not last <= at <= last + WINDOW_SECONDS / 4
        start = at - WINDOW_SECONDS if fresh else last
        samples = (
            self.recording.reader.samples(start, at) if start is not None and at > start else {}
        )
        return self.recording.overview(at), samples, fresh

    def _snapshot(self, at: float, read: tuple[Any, Any, bool]) -> OverviewSnapshot:
        assert self.recording is not None
        found, samples, fresh = read
        if fresh:
            self.history = MetricHistory(refresh_seconds=self.refresh_seconds)
        for key, series in samples.items():
            self.history.extend(key, series)
        self._history_at = at
        views: dict[str, ServiceView] = {}
        poll, took = 0, 0.0
        instances: dict[str, Any] = {}
        if found is not None and at - found[0] <= self.recording.gap:
            parts = found[1]
            views, status_error = parts["services"], parts["status_error"]
            poll, took = parts["poll"], parts["duration_ms"]
            instances = {name: parts[name] for name in ("replication", "usage", "instances_error")}
        else:
            status_error = self._gap_note(at, found[0] if found else None)
        self._last = OverviewSnapshot(
            profile=self.profile,
            backend=self.backend,
            taken_at=at,
            services=tuple(views.get(kind) or ServiceView(kind) for kind in self.services),
            history=self.history,
            status_error=status_error,
            duration_ms=took,
            poll=poll,
            **instances,
        )
        return self._last

    def _gap_note(self, at: float, before: float | None) -> str:
        assert self.recording is not None
        after = self.recording.next_reading("overview", at)
        parts = [f"nothing was recorded at {clock_text(at)}"]
        if before is not None:
            parts.append(f"last reading {clock_text(before)}")
        if after is not None:
            parts.append(f"next {clock_text(after)}")
        return "; ".join(parts)

    async def close(self) -> None:
        return None


# --- the engine: status and logs at the cursor -----------------------------------------


#: Lines a replayed log stream starts with when no tail is asked for.
TAIL_CAP = 10_000


class ReplayBackend(Backend):
    """The recorded engine: status and logs up to the cursor; nothing can be changed."""

    def __init__(self, loaded: Any, recording: Recording, cursor: ReplayCursor, name: str) -> None:
        super().__init__(loaded)
        self.name = name
        self.recording = recording
        self.cursor = cursor
        self._logs = recording.reader.has_logs()

    def withheld(self, service: ServiceKind) -> frozenset[Capability]:
        """Everything but its logs (when it has any): a replay changes and asks nothing."""
        kept = {Capability.LOGS, Capability.FOLLOW_LOGS} if self._logs else set()
        return frozenset(set(Capability) - kept)

    def target(self) -> TargetInfo:
        meta = self.recording.reader.meta
        return TargetInfo(
            self.name,
            f"replay of {self.recording.path.name} (recorded on {meta.get('host', '?')} "
            f"by alfred-tui {meta.get('app_version', '?')})",
        )

    async def deploy(self, *_: Any, **__: Any) -> None:
        raise NotSupported(self.name, Capability.DEPLOY)

    async def teardown(self, *_: Any, **__: Any) -> None:
        raise NotSupported(self.name, Capability.TEARDOWN)

    async def status(self) -> list[ServiceStatus]:
        found = await asyncio.to_thread(self.recording.overview, self.cursor.at)
        if found is None:
            return []
        views = found[1]["services"].values()
        return [view.status for view in views if view.status is not None]

    def logs(
        self,
        services: Iterable[ServiceKind] | None = None,
        follow: bool = False,
        since: datetime | None = None,
        tail: int | None = None,
    ) -> AsyncIterator[LogRecord]:
        return self._follow(set(services) if services else None, follow, since, tail)

    async def _follow(
        self, services: set[str] | None, follow: bool, since: datetime | None, tail: int | None
    ) -> AsyncIterator[LogRecord]:
        reader = self.recording.reader
        last = self.cursor.at
        if since is not None:
            rows = await asyncio.to_thread(reader.logs, since.timestamp() - 1e-6, last)
        elif tail == 0:
            rows = []
        else:  # the pane asks for logs.max_lines; "everything" is capped the same way
            rows = await asyncio.to_thread(reader.logs_before, last, tail or TAIL_CAP)
        for record in _records(rows, services):
            yield record
        while follow:
            await self.cursor.changed()
            now = self.cursor.at
            if now < last:
                return  # moved back: the panes reload at the new moment
            rows = await asyncio.to_thread(reader.logs, last, now)
            last = now
            for record in _records(rows, services):
                yield record

    async def endpoint(self, service: ServiceKind) -> Endpoint:
        raise NotRecorded("a replay connects to no database")


def _records(rows: Sequence[LogRow], services: set[str] | None) -> list[LogRecord]:
    return [
        LogRecord(
            row.service,  # type: ignore[arg-type]  # the row holds what a LogRecord wrote; SQLite gives it back as str
            row.instance,
            datetime.fromtimestamp(row.at, UTC),
            row.stream,  # type: ignore[arg-type]  # the row holds what a LogRecord wrote; SQLite gives it back as str
            row.line,
        )
        for row in rows
        if services is None or row.service in services
    ]


# --- the data panes --------------------------------------------------------------------


class ReplayTroubleshoot:
    """Runbook markers and PostgreSQL activity as recorded; everything else is not."""

    def __init__(self, recording: Recording, cursor: ReplayCursor) -> None:
        self.recording = recording
        self.cursor = cursor

    async def markers(self) -> dict[str, Any]:
        from alfred_tui.control.troubleshoot_view import ServiceFlag

        def decode(body: Any) -> dict[str, Any]:
            return {name: from_plain(ServiceFlag, flag) for name, flag in body.items()}

        found = await asyncio.to_thread(self.recording.frame, "markers", self.cursor.at, decode)
        if found is None or self.cursor.at - found[0] > self.recording.gap:
            return {}
        return dict(found[1])

    async def activity(self) -> Any:
        from alfred_tui.databases.activity import Activity

        at = self.cursor.at
        found = await asyncio.to_thread(
            self.recording.frame, "activity", at, lambda body: from_plain(Activity, body)
        )
        stale = max(3 * self.recording.interval, 15.0)
        if found is None or at - found[0] > stale:
            last = f" (last reading {clock_text(found[0])})" if found else ""
            raise NotRecorded(
                f"no activity reading at {clock_text(at)}: the Activity pane was not open{last}"
            )
        return found[1]

    async def runbooks(self) -> list[Any]:
        return []

    async def detect(self, names: list[str]) -> dict[str, Any]:
        return {}

    async def run(self, name: str) -> Any:
        raise NotRecorded("runbooks are not replayed: their findings are in the Timeline")

    async def perform(self, action: str, parameters: dict[str, Any], *, confirm: bool) -> Any:
        raise NotRecorded("a replay changes nothing")

    async def explain(self, statement: str, query_id: int | None, **_: Any) -> Any:
        raise NotRecorded("a replay runs no statement")

    async def signal(self, pids: list[int], signal: str, *, confirm: bool) -> Any:
        raise NotRecorded("a replay changes nothing")

    async def audit(self) -> Any:
        raise NotRecorded("the audit is not replayed")

    async def close(self) -> None:
        return None


class ReplayKeyspace:
    """The last keyspace analysis made at or before the cursor."""

    def __init__(self, recording: Recording, cursor: ReplayCursor) -> None:
        self.recording = recording
        self.cursor = cursor

    async def scan(self, mode: str = "auto", sample_pct: float = 1.0, progress: Any = None) -> Any:
        from alfred_tui.control.keyspace_view import KeyspaceView

        missing = "keyspace analysis (the Keyspace pane had not been opened)"
        when, view = await self.recording.reading("keyspace", KeyspaceView, self.cursor.at, missing)
        return dataclasses.replace(view, summary=f"recorded {clock_text(when)}: {view.summary}")

    async def close(self) -> None:
        return None


class ReplayCollections:
    """The last read of Qdrant's collections at or before the cursor."""

    def __init__(self, recording: Recording, cursor: ReplayCursor) -> None:
        self.recording = recording
        self.cursor = cursor

    async def read(self) -> Any:
        from alfred_tui.control.collections_view import CollectionsView

        missing = "read of the collections (the Collections pane had not been opened)"
        when, view = await self.recording.reading(
            "collections", CollectionsView, self.cursor.at, missing
        )
        note = f"recorded {clock_text(when)}" + (f"; {view.note}" if view.note else "")
        return dataclasses.replace(view, note=note)

    async def create_missing(self, plan: Sequence[str] = ()) -> Any:
        raise NotRecorded("a replay changes nothing")

    async def close(self) -> None:
        return None


class ReplayTimeline:
    """The recording's timeline up to the cursor (what the pane showed at that moment)."""

    def __init__(self, recording: Recording, cursor: ReplayCursor) -> None:
        self.recording = recording
        self.cursor = cursor

    async def read(self) -> Any:
        from alfred_tui.recording.timeline import PANE_LIMIT, TimelineView, newest_first

        at = self.cursor.at
        reader = self.recording.reader
        rows = await asyncio.to_thread(lambda: reader.timeline(None, at, newest=PANE_LIMIT))
        entries = newest_first(entry for _, entry in rows)
        return TimelineView(tuple(entries), f"recording {self.recording.path.name}", until=at)

    async def close(self) -> None:
        return None
