"""Rewind: the live UI looks back at its own black box, at a Timeline entry's moment.

An operator who opens the Timeline at 03:20 and chooses the 03:02 "redis
down" entry wants the Overview as it was at 03:02, not as it is now: the
same jump a replay makes (:meth:`~alfred_tui.app.AlfredApp.show_moment`). So
the live UI opens its rolling recording as a
:class:`~alfred_tui.recording.replay.ReplaySession` and shows it as a
replay does — the time cursor in the header, play, seek, every mutating
action absent — until ``L`` (or the palette) brings the live session back.

The live session is not closed meanwhile, and its black box keeps
recording: the panes no longer poll it, so the readings they would make
are made by :func:`~alfred_tui.recording.loops.read_as_the_panes`, the loop
``alfred-tui record`` runs headless. Panes a recording cannot fill
(Backups, Migrations, ...) are not shown while rewound: their key says so
rather than showing today's data as if it were then.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

from textual.message import Message

from alfred_tui.screens.io import run_io

if TYPE_CHECKING:
    from pathlib import Path

    from alfred_tui.control.session import Session
    from alfred_tui.recording.replay import ReplaySession


class RecordingOpened(Message):
    """The rolling recording was opened to rewind ``live`` to ``at`` in pane ``pane_id``."""

    def __init__(self, live: Session, replayed: ReplaySession, pane_id: str, at: float) -> None:
        super().__init__()
        self.live = live
        self.replayed = replayed
        self.pane_id = pane_id
        self.at = at


class Rewind:
    """The app's rewound state: the live session kept aside while its recording is shown."""

    GROUP = "rewind"
    """The worker group of the readings made for the black box while rewound."""

    def __init__(self, app: Any, live: Session, replayed: ReplaySession) -> None:
        self.app = app
        self.live = live
        self.replayed = replayed

    def end(self) -> None:
        """Bring the live session back to every pane and close the recording."""
        app = self.app
        if app.replay is not None:
            app.replay.stop()
        app.replay = None
        app.workers.cancel_group(app, self.GROUP)
        self.live.generation = self.replayed.generation + 1
        app.session = self.live
        for pane in app.mounted_panes():
            pane.update_header()
            pane.load(self.live)
        close_recording(app, self.replayed)

    async def close(self) -> None:
        """The app quits while rewound: the live session is closed too (the replay is the app's)."""
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.live.close(), 2.0)


def close_recording(app: Any, replayed: ReplaySession) -> None:
    """Close a recording that is shown no more (or never was), in a worker."""
    run_io(app, replayed.close, context="close the recording", timeout=10, group="close")


def rolling_recording(session: Session) -> Path | None:
    """The path of ``session``'s rolling recording (whoever records it), or None if absent."""
    from alfred_tui.recording.recorder import rolling_path

    path = rolling_path(session.profile_name, session.backend_name)
    return path if path.is_file() else None


def open_rewind(app: Any, pane_id: str, at: float) -> None:
    """Open the live session's rolling recording in a worker; :class:`RecordingOpened` follows.

    What the recorder holds in memory is written first, so the moment just
    chosen is in the file. Without a recording (turned off, nothing written
    yet) the pane is shown as it is now, and a notification says why.
    """
    live = app.session
    path = rolling_recording(live)
    if path is None:
        app.notify(
            "no recording of this profile to look back at (recording is off or has not "
            "written yet): the pane is shown as it is now",
            title="Timeline",
            severity="warning",
            markup=False,
        )
        app.switch_mode(pane_id)
        return

    async def open_it() -> None:
        from alfred_tui.recording.replay import open_replay

        await asyncio.to_thread(app.blackbox.flush_now)
        replayed = await asyncio.to_thread(open_replay, path)
        app.post_message(RecordingOpened(live, replayed, pane_id, at))

    run_io(app, open_it, context=f"open the recording {path}", timeout=30, group=Rewind.GROUP)


def begin(app: Any, message: RecordingOpened) -> Rewind | None:
    """Show ``message.replayed`` at its moment in place of the live session.

    None (and the recording closed) when the live session is no longer the
    one on screen: the operator switched target while it opened, or an
    earlier Enter's moment is already shown.
    """
    from alfred_tui.recording.loops import read_as_the_panes
    from alfred_tui.screens.replay import ReplayController

    live, replayed = message.live, message.replayed
    if app.session is not live:
        close_recording(app, replayed)
        return None
    rewind = Rewind(app, live, replayed)
    replayed.generation = live.generation + 1
    app.session = replayed
    app.replay = ReplayController(app, replayed)
    app.replay.start()
    if live.recording:  # the panes stop polling the live session: its black box reads instead
        run_io(
            app,
            lambda: read_as_the_panes(live, live.refresh_seconds),
            context="black-box readings",
            timeout=None,
            group=Rewind.GROUP,
        )
    app.replay.seek(message.at)
    app.switch_mode(message.pane_id)
    return rewind
