"""Saving an incident: the recording around a moment, written to a file to hand over.

Live, the moment is now and the window reaches back into the black box's
rolling recording (what is queued is written first, so the last seconds are
in it); in a replay, the moment is the cursor and the window may reach after
it too. The file is a recording like any other: ``alfred-tui --replay FILE``
and ``alfred-tui timeline --from FILE`` read it.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alfred_tui.errors import AlfredError
from alfred_tui.screens.io import run_io
from alfred_tui.screens.recording_dialogs import IncidentRequest, SaveIncidentDialog

#: What the dialog offers to keep before the moment.
DEFAULT_MINUTES = 60


def default_path(profile: str, moment: float) -> str:
    """``./alfred-incident-<profile>-<UTC time>.sqlite``."""
    stamp = datetime.fromtimestamp(moment, UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"./alfred-incident-{profile}-{stamp}.sqlite"


def ask_and_save(app: Any) -> None:
    """Ask where and how much, then write the incident in a worker and say where it went."""
    from alfred_tui.recording.cursor import clock_text
    from alfred_tui.recording.replay import ReplaySession

    session = app.session
    if isinstance(session, ReplaySession):
        assert session.replayed is not None and session.cursor is not None
        source, moment, after = session.replayed.path, session.cursor.at, True
    else:
        recorder = app.blackbox.recorder
        if recorder is None:
            app.notify(
                "nothing is being recorded for this target (recording.enabled is false in the "
                "profile, or another alfred-tui records it)",
                title="Save incident",
                severity="warning",
                markup=False,
            )
            return
        source, moment, after = recorder.path, time.time(), False
    suggested = default_path(session.profile_name, moment)
    dialog = SaveIncidentDialog(
        suggested, clock_text(moment), after=after, before_minutes=DEFAULT_MINUTES
    )

    def chosen(request: IncidentRequest | None) -> None:
        if request is not None:
            _save(app, source, moment, request)

    app.push_screen(dialog, chosen)


def _save(app: Any, source: Path, moment: float, request: IncidentRequest) -> None:
    from alfred_tui.operator_journal import who
    from alfred_tui.recording.store import copy_window

    target = Path(request.path_text).expanduser()
    start, end = moment - request.before, moment + request.after

    async def write() -> None:
        await asyncio.to_thread(app.blackbox.flush_now)
        meta = {
            "incident_at": moment,
            "window_start": start,
            "window_end": end,
            "saved_at": time.time(),
            "saved_by": who(),
            "saved_from": str(source),
        }
        size = await asyncio.to_thread(copy_window, source, target, start, end, meta)
        app.notify(
            f"{target} ({size / 1e6:.1f} MB): {request.before / 60:g} min before"
            + (f", {request.after / 60:g} min after" if request.after else "")
            + "; open it with alfred-tui --replay",
            title="Incident saved",
            markup=False,
        )

    if target.exists():
        error = AlfredError(f"{target} exists; choose another name", title="Save incident")
        app.notify(error.message, title=error.title, severity="error", markup=False)
        return
    run_io(app, write, context="save the incident", timeout=120, group="incident")
