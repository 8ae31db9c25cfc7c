"""Replay: a recording served to the panes through the interfaces live data comes through.

``alfred-tui --replay FILE`` opens a :class:`ReplaySession`, an ordinary
:class:`~alfred_tui.control.session.Session` whose parts read the file at a
time cursor (:mod:`alfred_tui.recording.cursor`) instead of asking a
database (:mod:`alfred_tui.recording.replay_sources`): the engine's status and
logs, the overview's polls and sparklines, the Activity, Keyspace,
Collections and Timeline panes' readings, as they were at that moment. The
panes do not know: they poll their sources as always. The session is
read-only and its backend can do nothing, so every action is absent; nothing
it holds can reach a server.

A file from another machine, profile or version opens (its own profile,
secrets masked, is the session's; fields this version does not know are left
out and named), or :class:`~alfred_tui.recording.store.RecordingError` says
in one line why not.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alfred_tui.control.monitor import ServiceMonitor
from alfred_tui.control.session import Session
from alfred_tui.recording.cursor import ReplayCursor
from alfred_tui.recording.replay_sources import (
    Recording,
    ReplayBackend,
    ReplayCollections,
    ReplayKeyspace,
    ReplayMonitor,
    ReplayTimeline,
    ReplayTroubleshoot,
)
from alfred_tui.recording.store import RecordingError, RecordingReader


@dataclass
class ReplaySession(Session):
    """A session on a recording: read-only, its clock the replay's cursor."""

    replayed: Recording | None = None
    """The file replayed. Not ``recording``: that is Session's (whether a black box records
    this session), which a replay does not."""
    cursor: ReplayCursor | None = None
    notes: tuple[str, ...] = ()
    """What the operator should know about the file (another version, fields left out)."""

    @property
    def refresh_seconds(self) -> float:
        return max(0.05, min(self.replayed.interval if self.replayed else 1.0, 1.0))

    @property
    def monitor(self) -> ServiceMonitor:
        if self._monitor is None:
            self._monitor = ReplayMonitor(
                source=None,  # type: ignore[arg-type]  # a replay's monitor reads the recording, never a source
                profile=self.profile_name,
                backend=self.backend_name,
                services=self.services,
                refresh_seconds=self.replayed.interval if self.replayed else 1.0,
                recording=self.replayed,
                cursor=self.cursor,
            )
        return self._monitor

    async def close(self) -> None:
        try:
            await super().close()
        finally:
            if self.replayed is not None:
                await asyncio.to_thread(self.replayed.reader.close)


def _load_profile(path: Path, reader: RecordingReader) -> tuple[Any, list[str]]:
    """The recorded profile (secrets masked), leaving out fields this version does not know."""
    from pydantic import ValidationError

    from alfred_tui.config.loader import LoadedProfile
    from alfred_tui.config.models import Profile
    from alfred_tui.config.sources import ProfileSource

    data = reader.meta_json("profile_json")
    if not isinstance(data, dict):
        raise RecordingError(f"{path}: its meta table has no recorded profile")
    dropped: list[str] = []
    for _ in range(50):
        try:
            profile = Profile.model_validate(data)
            break
        except ValidationError as exc:
            extra = [e for e in exc.errors() if e.get("type") == "extra_forbidden"]
            if not extra:
                first = exc.errors()[0]
                where = ".".join(str(part) for part in first.get("loc", ()))
                raise RecordingError(
                    f"{path}: its profile does not load in this alfred-tui: {where}: "
                    f"{first.get('msg', 'invalid')}"
                ) from None
            for error in extra:
                _drop(data, tuple(error.get("loc", ())))
                dropped.append(".".join(str(part) for part in error.get("loc", ())))
    else:  # pragma: no cover - fifty rounds of unknown fields
        raise RecordingError(f"{path}: its profile does not load in this alfred-tui")
    source = ProfileSource(profile.name, path, "recording")
    return LoadedProfile(profile, source, {}), dropped


def _drop(data: Any, location: tuple[Any, ...]) -> None:
    node = data
    for part in location[:-1]:
        node = node[part]
    with contextlib.suppress(KeyError, IndexError, TypeError):
        del node[location[-1]]


def open_replay(path: Path) -> ReplaySession:
    """Open ``path`` for replay, or raise RecordingError saying in one line why not."""
    from alfred_tui import __version__

    reader = RecordingReader(path)
    try:
        loaded, dropped = _load_profile(path, reader)
        span = reader.span()
        if span is None:
            raise RecordingError(f"{path}: holds no readings (the recorder wrote nothing)")
    except BaseException:
        reader.close()
        raise
    recording = Recording(reader)
    cursor = ReplayCursor(*span)
    backend_name = reader.meta.get("backend", "local")
    backend = ReplayBackend(loaded, recording, cursor, backend_name)
    notes = []
    written = reader.meta.get("app_version", "?")
    if written != __version__:
        notes.append(f"recorded by alfred-tui {written}, replayed by {__version__}")
    if dropped:
        notes.append(
            "profile fields this version does not know were left out: " + ", ".join(dropped)
        )
    session = ReplaySession(
        loaded,
        backend,
        readonly=True,
        clock=cursor.now,
        troubleshoot_factory=lambda *_: ReplayTroubleshoot(recording, cursor),
        replayed=recording,
        cursor=cursor,
        notes=tuple(notes),
    )
    session.resources["keyspace"] = ReplayKeyspace(recording, cursor)
    session.resources["collections"] = ReplayCollections(recording, cursor)
    session.resources["timeline"] = ReplayTimeline(recording, cursor)
    session.monitor.snapshot()  # the first moment read here, in the opening worker, not on screen
    return session
