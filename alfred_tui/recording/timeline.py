"""The timeline: what happened, in order, read from a recording and the operator journal.

The entries themselves are worked out while recording
(:mod:`alfred_tui.recording.detector`); this module reads them back,
filtered by time, service and kind, newest first, and writes them as the
``alfred-tui/timeline`` v1 JSON document
(``assets/schemas/timeline.v1.schema.json``) or as a table.

Without a file, ``alfred-tui timeline`` reads the UI's rolling recording of
the profile (every backend it was recorded on) and the operator journal: an
action taken while no UI was recording still shows, and one that was
recorded is not shown twice (the journal's copy, the newer, wins).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alfred_tui.recording.detector import KINDS, action_entry
from alfred_tui.recording.store import RecordingError, RecordingReader, TimelineEntry

SCHEMA_ID = "alfred-tui/timeline"
SCHEMA_VERSION = 1


@dataclass(frozen=True)
class TimelineFilter:
    """Which entries to keep: a time window, services, kinds (empty: all)."""

    since: float | None = None
    until: float | None = None
    services: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()

    def keeps(self, entry: TimelineEntry) -> bool:
        """Whether ``entry`` passes."""
        if self.since is not None and entry.at < self.since:
            return False
        if self.until is not None and entry.at > self.until:
            return False
        if self.services and entry.service not in self.services:
            return False
        return not self.kinds or entry.kind in self.kinds


def newest_first(entries: Iterable[TimelineEntry]) -> list[TimelineEntry]:
    """Entries newest first; at the same moment, the later-written first."""
    indexed = list(enumerate(entries))
    indexed.sort(key=lambda item: (item[1].at, item[0]), reverse=True)
    return [entry for _, entry in indexed]


def read_recording(
    reader: RecordingReader, keep: TimelineFilter, limit: int | None = None
) -> list[TimelineEntry]:
    """A recording's entries that pass ``keep``, newest first (``limit``: the newest only)."""
    rows = reader.timeline(keep.since, keep.until, newest=limit)
    return newest_first(entry for _, entry in rows if keep.keeps(entry))


def merge_journal(
    entries: Sequence[TimelineEntry], journal: Iterable[Any], keep: TimelineFilter
) -> list[TimelineEntry]:
    """``entries`` plus the journal's actions (the journal's copy replaces a recorded one)."""
    by_ref = {entry.ref: entry for entry in entries if entry.ref}
    merged = [entry for entry in entries if not entry.ref]
    for action in journal:
        entry = action_entry(action)
        by_ref[entry.ref] = entry
    merged += [entry for entry in by_ref.values() if keep.keeps(entry)]
    return newest_first(sorted(merged, key=lambda entry: entry.at))


def rolling_recordings(profile: str) -> list[Path]:
    """The UI's rolling recordings of ``profile`` (one per backend it was opened on)."""
    from alfred_tui.recording.recorder import rolling_path

    folder = rolling_path(profile, "x").parent
    stem = rolling_path(profile, "x").name.rsplit("@", 1)[0]
    with contextlib.suppress(OSError):
        return sorted(path for path in folder.glob(f"{stem}@*.sqlite") if path.is_file())
    return []


def read_rolling(profile: str, keep: TimelineFilter) -> tuple[list[TimelineEntry], list[str]]:
    """Entries of the profile's rolling recordings and of the operator journal.

    Returns the entries and the sources read (for the document and the table's
    header); a rolling recording that does not open is named as skipped.
    """
    from alfred_tui.operator_journal import journal_path, read_actions

    entries: list[TimelineEntry] = []
    sources: list[str] = []
    for path in rolling_recordings(profile):
        try:
            reader = RecordingReader(path)
        except RecordingError as exc:
            sources.append(f"skipped {exc.message}")
            continue
        try:
            entries += read_recording(reader, keep)
        finally:
            reader.close()
        sources.append(str(path))
    actions = [
        action for action in read_actions(None, keep.since, keep.until) if action.profile == profile
    ]
    sources.append(str(journal_path()))
    return merge_journal(entries, actions, keep), sources


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def entry_json(entry: TimelineEntry) -> dict[str, Any]:
    """One entry as the document holds it."""
    return {
        "at": _iso(entry.at),
        "kind": entry.kind,
        "service": entry.service,
        "severity": entry.severity,
        "title": entry.title,
        "detail": entry.detail,
        "pane": entry.pane or None,
        "ref": entry.ref or None,
    }


def timeline_document(
    entries: Sequence[TimelineEntry],
    *,
    profile: str,
    backend: str | None,
    sources: Sequence[str],
    keep: TimelineFilter,
) -> dict[str, Any]:
    """The ``alfred-tui/timeline`` v1 document."""
    return {
        "schema": SCHEMA_ID,
        "version": SCHEMA_VERSION,
        "profile": profile,
        "backend": backend,
        "sources": list(sources),
        "since": _iso(keep.since) if keep.since is not None else None,
        "until": _iso(keep.until) if keep.until is not None else None,
        "services": list(keep.services),
        "kinds": list(keep.kinds or KINDS),
        "generated_at": _iso(datetime.now(UTC).timestamp()),
        "entries": [entry_json(entry) for entry in entries],
    }


def when_text(at: float, reference: float | None = None) -> str:
    """``03:12:04`` today (UTC), ``05-12 03:12:04`` on another day than ``reference``."""
    moment = datetime.fromtimestamp(at, UTC)
    day = datetime.fromtimestamp(reference, UTC).date() if reference else None
    return moment.strftime("%H:%M:%S" if moment.date() == day else "%m-%d %H:%M:%S")


# --- the Timeline pane's source ---------------------------------------------------------

RESOURCE_KEY = "timeline"
#: The most entries the pane holds (newest first); the CLI has no such limit.
PANE_LIMIT = 2000


@dataclass(frozen=True)
class TimelineView:
    """What the Timeline pane shows: entries newest first, and where they come from."""

    entries: tuple[TimelineEntry, ...]
    source: str
    """``rolling recording since 02:40 UTC (keeps 24h) and the operator journal``."""
    until: float | None = None
    """In a replay, the cursor: the entries are those recorded up to it."""


class LiveTimeline:
    """The session's rolling recording and the operator journal, read again on each call."""

    def __init__(self, session: Any) -> None:
        self.session = session

    async def read(self) -> TimelineView:
        import asyncio

        return await asyncio.to_thread(self._read)

    def _read(self) -> TimelineView:
        from alfred_tui.operator_journal import read_actions
        from alfred_tui.recording.recorder import rolling_path
        from alfred_tui.units import format_duration

        session = self.session
        settings = session.profile.recording
        path = rolling_path(session.profile_name, session.backend_name)
        since = datetime.now(UTC).timestamp() - settings.keep
        keep = TimelineFilter(since=since)
        entries: list[TimelineEntry] = []
        if settings.enabled and path.exists():
            reader = RecordingReader(path)
            try:
                entries = read_recording(reader, keep, PANE_LIMIT)
                span = reader.span()
            finally:
                reader.close()
            start = f" since {when_text(span[0])} UTC" if span else ""
            source = f"recording{start} ({format_duration(settings.keep)} kept)"
        elif settings.enabled:
            source = "recording (nothing recorded yet)"
        else:
            source = "no recording (recording.enabled is false)"
        actions = [a for a in read_actions(None, since) if a.profile == session.profile_name]
        merged = merge_journal(entries, actions, keep)[:PANE_LIMIT]
        return TimelineView(tuple(merged), f"{source} + operator journal")

    async def close(self) -> None:
        return None


def timeline_source(session: Any) -> Any:
    """The session's timeline source (a replay registers its own)."""
    return session.resource(RESOURCE_KEY, LiveTimeline)
