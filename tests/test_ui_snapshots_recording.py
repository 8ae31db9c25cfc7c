"""Snapshots of the Timeline pane and of a replay at 80x24 and 160x48, from a fixed recording.

The recording is ``ui_fixed_recording.py``'s (written by the real recorder from
fixed data). Update after a deliberate UI change with ``pytest
tests/test_ui_snapshots_recording.py --snapshot-update`` and look at every
SVG before committing.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.pilot import Pilot
from ui_fixed import fixed_app
from ui_fixed_recording import OUTAGE, write_fixed_recording
from ui_helpers import key_of

from alfred_tui.app import AlfredApp
from alfred_tui.recording.replay import open_replay
from alfred_tui.recording.store import RecordingReader
from alfred_tui.recording.timeline import TimelineFilter, TimelineView, read_recording
from alfred_tui.screens.panes import replay_panes

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((160, 48), id="160x48")]

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_fixed_recording(tmp_path_factory.mktemp("recording") / "incident.sqlite")


class FixedTimeline:
    """The Timeline pane's source on fixed entries (the live one reads the state dir)."""

    def __init__(self, path: Path) -> None:
        reader = RecordingReader(path)
        try:
            self.entries = tuple(read_recording(reader, TimelineFilter()))
        finally:
            reader.close()

    async def read(self) -> TimelineView:
        return TimelineView(
            self.entries, "recording since 11:40:00 UTC (24h kept) + operator journal"
        )

    async def close(self) -> None:
        return None


async def _on_timeline(pilot: Pilot, row: int = 0) -> None:
    app = pilot.app
    await pilot.press(key_of("timeline"))
    for _ in range(100):
        pane = app._panes.get("timeline")  # type: ignore[attr-defined]
        if pane is not None and pane.view is not None:
            break
        await pilot.pause(0.05)
    table = app._panes["timeline"].query_one("#timeline")  # type: ignore[attr-defined]
    table.focus()
    table.move_cursor(row=row)
    await pilot.pause(0.3)


@pytest.mark.parametrize("size", SIZES)
def test_timeline_pane(snap_compare, size, recording: Path) -> None:  # type: ignore[no-untyped-def]
    app = fixed_app()
    app.session.resources["timeline"] = FixedTimeline(recording)

    async def run_before(pilot: Pilot) -> None:
        await _on_timeline(pilot, row=5)  # the operator's restart, its plan below

    assert snap_compare(app, terminal_size=size, run_before=run_before)


def _replay(recording: Path) -> AlfredApp:
    return AlfredApp(open_replay(recording), panes=replay_panes())


async def _at_the_outage(pilot: Pilot) -> None:
    app = pilot.app
    for _ in range(100):
        if app.replay is not None:  # type: ignore[attr-defined]
            break
        await pilot.pause(0.05)
    app.replay.seek(OUTAGE + 30)  # type: ignore[attr-defined]
    overview = app._panes["overview"]  # type: ignore[attr-defined]
    for _ in range(100):
        snapshot = overview.snapshot
        if snapshot is not None and snapshot.taken_at == OUTAGE + 30:
            break
        await pilot.pause(0.05)
    await pilot.pause(0.4)


@pytest.mark.parametrize("size", SIZES)
def test_replay_overview_at_an_outage(snap_compare, size, recording: Path) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(_replay(recording), terminal_size=size, run_before=_at_the_outage)


@pytest.mark.parametrize("size", SIZES)
def test_replay_timeline_at_an_outage(snap_compare, size, recording: Path) -> None:  # type: ignore[no-untyped-def]
    async def run_before(pilot: Pilot) -> None:
        await _at_the_outage(pilot)
        await _on_timeline(pilot)

    assert snap_compare(_replay(recording), terminal_size=size, run_before=run_before)
