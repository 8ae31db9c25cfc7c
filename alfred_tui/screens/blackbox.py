"""The running UI's black box: a rolling recording of what the panes read, per session.

When a session is shown, :class:`BlackBox` attaches a
:class:`~alfred_tui.recording.recorder.Recorder` as the session's tap (so the
overview's polls, markers, activity, keyspace and collections readings are
queued as the panes make them) and runs its loops as workers of the app:
the log and engine-event followers and the flush every refresh interval.
Switching target closes the old recording and opens the new one; quitting
flushes what is queued.

The file is the profile's rolling recording in the state dir (the last
``recording.keep`` hours within ``recording.max_size``). A second alfred-tui
on the same profile and backend does not record over the first one: it says
so once and records nothing. ``recording: {enabled: false}`` turns it off.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
from typing import TYPE_CHECKING, Any

from alfred_tui.control.tap import NO_TAP
from alfred_tui.errors import AlfredError
from alfred_tui.screens.io import run_io

if TYPE_CHECKING:
    from textual.app import App

    from alfred_tui.control.session import Session
    from alfred_tui.recording.recorder import Recorder


class BlackBox:
    """One recorder for the session on screen (see the module doc)."""

    GROUP = "blackbox"

    def __init__(self, app: App[Any]) -> None:
        self.app = app
        self.recorder: Recorder | None = None
        self._session: Session | None = None

    def start(self, session: Session) -> None:
        """Record ``session`` (stops recording the previous one)."""
        self.stop()
        from alfred_tui.recording.replay import ReplaySession

        settings = session.profile.recording
        if not settings.enabled or isinstance(session, ReplaySession):
            return  # a replay is not recorded again
        from alfred_tui.operator_journal import JournalTail
        from alfred_tui.recording.recorder import Recorder, recording_meta, rolling_path

        path = rolling_path(session.profile_name, session.backend_name)
        meta = recording_meta(
            session.profile, session.backend_name, session.refresh_seconds, recorded_by="ui"
        )
        recorder = Recorder(
            path,
            meta,
            session.profile,
            keep_seconds=settings.keep,
            max_bytes=settings.max_size,
            journal=JournalTail(),
        )
        session.tap = recorder
        self.recorder, self._session = recorder, session
        run_io(
            self.app,
            lambda: self._run(session, recorder),
            context="black-box recorder",
            timeout=None,
            group=self.GROUP,
        )

    async def _run(self, session: Session, recorder: Recorder) -> None:
        from alfred_tui.recording.loops import flush_every, follow_events, follow_logs

        lock = await asyncio.to_thread(_lock, recorder.path)
        if lock is None:  # not a fault: two operators on one profile is normal
            session.tap = NO_TAP
            self.recorder = None
            self.app.notify(
                f"another alfred-tui already records profile {session.profile_name} on "
                f"{session.backend_name} ({recorder.path}); this one records nothing",
                title="Black box",
                severity="warning",
                markup=False,
            )
            return
        try:
            await asyncio.to_thread(recorder.open)
            await asyncio.gather(
                follow_logs(session, recorder),
                follow_events(session, recorder),
                flush_every(recorder, session.refresh_seconds),
            )
        finally:
            session.tap = NO_TAP
            try:
                await asyncio.shield(asyncio.to_thread(recorder.close))
            finally:
                os.close(lock)

    def stop(self) -> None:
        """Stop recording the current session (what is queued is written on the way out)."""
        if self._session is not None:
            self._session.tap = NO_TAP
        self.app.workers.cancel_group(self.app, self.GROUP)
        self.recorder, self._session = None, None

    async def close(self) -> None:
        """Stop and write what is queued now (the app is quitting)."""
        recorder = self.recorder
        self.stop()
        if recorder is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.to_thread(recorder.close), 3.0)

    def flush_now(self) -> None:
        """Write what is queued (before an incident is saved); call it from a thread."""
        recorder = self.recorder
        if recorder is not None:
            with contextlib.suppress(AlfredError, OSError):
                recorder.flush()


def _lock(path: Any) -> int | None:
    """An exclusive lock beside the recording (None: another process holds it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(f"{path}.lock", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(descriptor)
        return None
    return descriptor
