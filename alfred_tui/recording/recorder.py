"""The black-box recorder: the panes' readings, queued as they come, written in batches.

A :class:`Recorder` is a :class:`~alfred_tui.control.tap.DataTap`: the
session hands it every overview poll, runbook markers, activity, keyspace
and collections reading at the moment a pane's source makes it (nothing is
read for the recorder alone); the log and engine-event followers hand it
lines and events. A tap only queues the reading (a list append, on the event
loop); :meth:`Recorder.flush`, run in a thread every interval, converts the
readings to rows, works out the timeline's entries, copies the operator
journal's new lines, and writes everything in one SQLite transaction.

The UI keeps a rolling recording per profile and backend in the state dir
(``recordings/<profile>@<backend>.sqlite``, the last ``recording.keep``,
default 24 h, within ``recording.max_size``); ``alfred-tui record`` writes
the same to a file of its choosing.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alfred_tui import paths
from alfred_tui.control.monitor import instance_key, replication_series, usage_series
from alfred_tui.recording.codec import to_plain
from alfred_tui.recording.detector import TimelineDetector
from alfred_tui.recording.store import LogRow, RecordingWriter, TimelineEntry

if TYPE_CHECKING:
    from alfred_tui.backends.base import BackendEvent, LogRecord
    from alfred_tui.checks.report import ServiceReport
    from alfred_tui.config.models import Profile
    from alfred_tui.control.collections_view import CollectionsView
    from alfred_tui.control.keyspace_view import KeyspaceView
    from alfred_tui.control.monitor import OverviewSnapshot
    from alfred_tui.control.troubleshoot_view import ServiceFlag
    from alfred_tui.databases.activity import Activity
    from alfred_tui.operator_journal import JournalTail

#: How often retention runs (it deletes and gives pages back; no need every flush).
TRIM_SECONDS = 60.0


def rolling_path(profile: str, backend: str) -> Path:
    """The UI's rolling recording of ``profile`` on ``backend`` in the state dir."""
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in profile)
    return paths.state_dir() / "recordings" / f"{safe}@{backend}.sqlite"


def profile_json(profile: Profile) -> str:
    """The resolved profile with every secret masked (the replay's profile)."""
    return json.dumps(profile.model_dump(mode="json", exclude_none=True), separators=(",", ":"))


def recording_meta(profile: Profile, backend: str, interval: float, **extra: Any) -> dict[str, Any]:
    """What ``meta`` says about a new recording: who, where, which version, which profile."""
    from alfred_tui import __version__
    from alfred_tui.operator_journal import who

    return {
        "app_version": __version__,
        "profile": profile.name,
        "backend": backend,
        "host": socket.gethostname(),
        "user": who(),
        "created_at": time.time(),
        "interval": interval,
        "services": [kind for kind, _ in profile.services.enabled()],
        "profile_json": profile_json(profile),
        **extra,
    }


@dataclass
class _Batch:
    """One flush's rows."""

    frames: list[tuple[float, str, str]] = field(default_factory=list)
    samples: list[tuple[float, str, float | None]] = field(default_factory=list)
    logs: list[LogRow] = field(default_factory=list)
    entries: list[TimelineEntry] = field(default_factory=list)


@dataclass
class RecorderStats:
    """What the recorder wrote so far (the ``record`` command's summary, the benchmark)."""

    polls: int = 0
    log_lines: int = 0
    events: int = 0
    entries: int = 0
    flushes: int = 0


def _dumps(value: Any) -> str:
    return json.dumps(to_plain(value), separators=(",", ":"), ensure_ascii=False)


class Recorder:
    """Queues readings on the event loop; writes them from a thread (see the module doc)."""

    def __init__(
        self,
        path: Path,
        meta: dict[str, Any],
        profile: Profile,
        *,
        keep_seconds: float | None = None,
        max_bytes: int | None = None,
        journal: JournalTail | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = path
        self.meta = meta
        self.keep_seconds = keep_seconds
        self.max_bytes = max_bytes
        self.journal = journal
        self.clock = clock
        self.detector = TimelineDetector(profile.metrics)
        self.stats = RecorderStats()
        self._writer: RecordingWriter | None = None
        self._lock = threading.Lock()
        self._flushing = threading.Lock()
        self._pending: list[tuple[str, float, Any]] = []
        """Readings as they came (kind, time, the reading), converted in the flush thread."""
        self._reports: dict[str, ServiceReport] = {}
        self._instances: dict[str, object] = {}
        """The last usage or replication reading recorded, by its instance key."""
        self._trimmed_at = 0.0
        self._closed = False

    # --- taps (on the event loop: queue only; converting is the flush thread's work) ---

    def overview(self, snapshot: OverviewSnapshot) -> None:
        self._queue("overview", snapshot.taken_at, snapshot)
        self.stats.polls += 1

    def markers(self, flags: dict[str, ServiceFlag]) -> None:
        self._queue("markers", self.clock(), flags)

    def activity(self, activity: Activity) -> None:
        self._queue("activity", activity.taken_at or self.clock(), activity)

    def keyspace(self, view: KeyspaceView) -> None:
        self._queue("keyspace", self.clock(), view)

    def collections(self, view: CollectionsView) -> None:
        self._queue("collections", self.clock(), view)

    def log(self, record: LogRecord) -> None:
        """One log line from the follower."""
        self._queue("log", 0.0, record)
        self.stats.log_lines += 1

    def event(self, event: BackendEvent) -> None:
        """One engine event from the follower."""
        self._queue("event", 0.0, event)
        self.stats.events += 1

    def _queue(self, kind: str, at: float, value: Any) -> None:
        # Readings are frozen dataclasses (and a log line a tuple): safe to convert later,
        # in another thread, in arrival order.
        with self._lock:
            self._pending.append((kind, at, value))

    def events_followed(self, followed: bool) -> None:
        """Whether the engine's event stream is open (instance changes come from it then)."""
        self.detector.engine_events = followed

    # --- writing (a thread) -------------------------------------------------------------

    def open(self) -> None:
        """Create or reopen the file (in the flush thread: it touches the disk)."""
        if self._writer is None:
            self._writer = RecordingWriter(self.path, self.meta)

    def flush(self) -> None:
        """Write what was queued, with the timeline entries it implies, in one transaction."""
        with self._flushing:
            if self._closed:
                return
            self.open()
            assert self._writer is not None
            with self._lock:
                pending, self._pending = self._pending, []
            batch = self._convert(pending)
            if self.journal is not None:
                batch.entries += self.detector.actions(self.journal.read())
            batch.entries += self.detector.flush(self.clock())
            self._writer.write(batch.frames, batch.samples, batch.logs, batch.entries)
            self.stats.entries += len(batch.entries)
            self.stats.flushes += 1
            now = self.clock()
            if self.keep_seconds is not None and now - self._trimmed_at >= TRIM_SECONDS:
                self._trimmed_at = now
                self._writer.trim(now - self.keep_seconds, self.max_bytes)

    def _convert(self, pending: list[tuple[str, float, Any]]) -> _Batch:
        """Queued readings as rows, and the timeline entries they imply, in arrival order."""
        batch = _Batch()
        detector = self.detector
        for kind, at, value in pending:
            if kind == "overview":
                batch.frames.append((at, kind, self._overview_body(value, batch.samples)))
                batch.entries += detector.overview(value)
            elif kind == "log":
                record = value
                batch.logs.append(
                    LogRow(
                        record.timestamp.timestamp(),
                        record.service,
                        record.instance,
                        record.stream,
                        record.line,
                    )
                )
                batch.entries += detector.log(record)
            elif kind == "event":
                batch.entries += detector.event(value)
            else:
                batch.frames.append((at, kind, _dumps(value)))
                if kind == "markers":
                    batch.entries += detector.markers(at, value)
        return batch

    def _overview_body(
        self, snapshot: OverviewSnapshot, samples: list[tuple[float, str, float | None]]
    ) -> str:
        """One poll as JSON; its new readings' values go to ``samples`` (the sparklines)."""
        at = snapshot.taken_at
        services = []
        for view in snapshot.services:
            report = view.report
            if report is not None and report is not self._reports.get(view.kind):
                # A new reading (a service in backoff keeps its old one: no sample, a gap).
                self._reports[view.kind] = report
                samples += [(at, f"{view.kind}/{r.name}", r.value) for r in report.readings]
            services.append(
                {
                    "kind": view.kind,
                    "report": to_plain(report),
                    "status": to_plain(view.status),
                    "retry_in": view.retry_in,
                    "failures": view.failures,
                }
            )
        self._instance_samples(snapshot, samples)
        body = {
            "taken_at": at,
            "status_error": snapshot.status_error,
            "duration_ms": round(snapshot.duration_ms, 3),
            "poll": snapshot.poll,
            "services": services,
            "replication": to_plain(snapshot.replication),
            "usage": to_plain(snapshot.usage),
            "instances_error": snapshot.instances_error,
        }
        return json.dumps(body, separators=(",", ":"), ensure_ascii=False)

    def _instance_samples(
        self, snapshot: OverviewSnapshot, samples: list[tuple[float, str, float | None]]
    ) -> None:
        """Each instance's CPU, memory and lag, as the monitor's sparklines keep them.

        Only a new reading is a sample: when the engine did not answer, the
        monitor keeps showing the last one, and the recording shows a gap.
        """
        at = snapshot.taken_at
        for name, usage in snapshot.usage.items():
            key = instance_key(usage.service, name, "usage")
            if self._instances.get(key) is not usage:
                self._instances[key] = usage
                samples += [(at, series, value) for series, value in usage_series(usage)]
        for kind, rows in snapshot.replication.items():
            for name, row in rows.items():
                key = instance_key(kind, name, "replication")
                if self._instances.get(key) is not row:
                    self._instances[key] = row
                    readings = replication_series(kind, name, row)
                    samples += [(at, series, value) for series, value in readings]

    def size_bytes(self) -> int:
        """The file and its WAL on disk now."""
        total = 0
        for suffix in ("", "-wal"):
            with contextlib.suppress(OSError):
                total += os.stat(f"{self.path}{suffix}").st_size
        return total

    def close(self, *, single_file: bool = False) -> None:
        """Write what is left and close the file (``single_file``: fold the WAL in)."""
        try:
            self.flush()
        finally:
            with self._flushing:
                self._closed = True
                if self._writer is not None:
                    self._writer.close(single_file=single_file)
                    self._writer = None
