"""Replaying a recording in the UI: the time cursor, its keys, and the panes at that moment.

On the fixed recording of ``ui_fixed_recording.py`` (written by the real
recorder): the replay opens at the end, paused; ``p`` plays and the cursor
moves, ``x`` changes speed, ``<``/``>`` step a minute, ``g`` takes a typed
time (and says what is wrong with a bad one); the Logs pane shows the lines
recorded up to the cursor, the Activity pane says "not recorded" rather than
DOWN, panes a recording cannot fill say so under their usual key, nothing can
be changed or switched, and ``!`` saves the window around the cursor.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Input
from ui_fixed_recording import NOW, OUTAGE, START, write_fixed_recording
from ui_helpers import key_of, settle, wait_for

from alfred_tui.app import AlfredApp
from alfred_tui.recording.replay import open_replay
from alfred_tui.recording.store import RecordingReader
from alfred_tui.screens.panes import replay_panes
from alfred_tui.screens.recording_dialogs import GoToTimeDialog, SaveIncidentDialog

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_fixed_recording(tmp_path_factory.mktemp("replay") / "incident.sqlite")


async def test_the_time_cursor_plays_steps_and_goes_to_a_typed_time(recording: Path) -> None:
    app = AlfredApp(open_replay(recording), panes=replay_panes())
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: app.replay is not None, what="the replay")
        cursor = app.replay.cursor  # type: ignore[union-attr]
        assert cursor.at == NOW and not cursor.playing
        assert app.replay_badge() == "REPLAY 2025-05-13 12:00:00 UTC paused"

        await pilot.press("less_than_sign")
        assert cursor.at == NOW - 60
        await pilot.press("greater_than_sign")
        assert cursor.at == NOW  # kept inside the recording

        await pilot.press("g")
        await wait_for(pilot, lambda: isinstance(app.screen, GoToTimeDialog), what="go to")
        field = app.screen.query_one("#moment", Input)
        field.value = "25:99"
        await pilot.press("enter")
        await settle(pilot)
        assert "not a time" in str(app.screen.query_one("#error").render())
        field.value = "09:00"
        await pilot.press("enter")
        await settle(pilot)
        assert "outside the recording" in str(app.screen.query_one("#error").render())
        field.value = "11:50:30"
        await pilot.press("enter")
        await wait_for(pilot, lambda: not isinstance(app.screen, GoToTimeDialog), what="closed")
        assert cursor.at == OUTAGE + 30
        overview = app._panes["overview"]
        await wait_for(
            pilot,
            lambda: (
                overview.snapshot is not None and overview.snapshot.view("redis").state == "DOWN"
            ),
            what="redis DOWN at 11:50:30",
        )
        # Paused, a moment is read and drawn once: the next poll hands back what is shown.
        assert await app.session.monitor.poll() is overview.snapshot

        await pilot.press("x")  # 10x
        await pilot.press("p")
        assert cursor.playing and app.replay_badge().endswith("▶ 10x")
        moved_from = cursor.at
        await wait_for(pilot, lambda: cursor.at >= moved_from + 20, what="the cursor moving")
        await pilot.press("p")
        assert not cursor.playing
        await wait_for(
            pilot,
            lambda: overview.snapshot is not None and overview.snapshot.taken_at > moved_from,
            what="the overview following the cursor",
        )

        # Nothing to switch to, nothing to change.
        titles = [title for title, _, _ in app.palette_entries(app.screen)]
        assert "Replay: go to a time…" in titles and "Save an incident…" in titles
        assert not any(title.startswith("Switch") for title in titles)
        assert not any(title.startswith(("Deploy", "Restart", "Scale")) for title in titles)
        assert app.check_action("switch_target", ()) is False


async def test_panes_show_what_was_recorded_at_the_cursor(recording: Path) -> None:
    app = AlfredApp(open_replay(recording), panes=replay_panes())
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: app.replay is not None, what="the replay")
        app.replay.seek(OUTAGE + 10)  # type: ignore[union-attr]

        await pilot.press(key_of("logs"))
        await wait_for(pilot, lambda: "logs" in app._panes, what="the Logs pane")
        logs = app._panes["logs"]
        await wait_for(pilot, lambda: len(logs.view.lines) > 0, what="recorded lines")
        shown = len(logs.view.lines)
        assert shown == 16  # three every two seconds from the outage, the one at the cursor too
        assert all("could not reach redis" in line for line in logs.view.lines)

        await pilot.press(key_of("activity"))
        await wait_for(pilot, lambda: "activity" in app._panes, what="the Activity pane")
        activity = app._panes["activity"]
        await wait_for(pilot, lambda: bool(activity.down), what="no reading")
        assert activity.down_label == "NOT RECORDED"
        assert "the Activity pane was not open" in activity.down

        await pilot.press(key_of("backups"))
        await settle(pilot)
        text = str(app.screen.query_one("#not-recorded").render())
        assert "Backups is not part of a recording" in text

        await pilot.press("d")  # the overview's deploy key, on any pane: nothing happens
        await settle(pilot)
        assert not any("Deploy" in title for _, title, _ in app.notification_log)


async def test_an_incident_saved_from_a_replay_keeps_the_window_around_the_cursor(
    recording: Path, tmp_path: Path
) -> None:
    app = AlfredApp(open_replay(recording), panes=replay_panes())
    target = tmp_path / "excerpt.sqlite"
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: app.replay is not None, what="the replay")
        app.replay.seek(OUTAGE)  # type: ignore[union-attr]
        await pilot.press("exclamation_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, SaveIncidentDialog), what="dialog")
        app.screen.query_one("#path", Input).value = str(target)
        app.screen.query_one("#before", Input).value = "2"
        app.screen.query_one("#after", Input).value = "1"
        await pilot.press("enter")
        await wait_for(
            pilot,
            lambda: any(t == "Incident saved" for _, t, _ in app.notification_log),
            what="saved",
        )
    reader = RecordingReader(target)
    try:
        entries = [entry for _, entry in reader.timeline()]
        assert entries and all(OUTAGE - 120 <= e.at <= OUTAGE + 60 for e in entries)
        assert any(e.title.startswith("redis DOWN") for e in entries)
        assert reader.meta["incident_at"] == str(OUTAGE)
        assert float(reader.meta["window_start"]) == OUTAGE - 120
        assert reader.span()[0] >= START  # type: ignore[index]
    finally:
        reader.close()
