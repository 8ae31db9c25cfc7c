"""Snapshots of the Logs pane and its dialogs at 80x24 and 160x48, from fixed lines.

The lines come from ``ui_fixed_logs.py`` (fixed data over the frozen
deployment of ``ui_fixed.py``). Update after a deliberate UI change with
``pytest tests/test_ui_snapshots_logs.py --snapshot-update`` and look at
every SVG before committing.
"""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Input
from ui_fixed_logs import FixedLogsBackend, fixed_logs_app, records
from ui_helpers import key_of

import alfred_tui.screens.logs as logs_module
from alfred_tui.control import log_feed
from alfred_tui.control.backoff import Backoff

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((160, 48), id="160x48")]

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(autouse=True)
def steady(isolated_dirs, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """Paths and countdowns on screen must not depend on the run."""
    monkeypatch.setenv("ALFRED_TUI_DATA_DIR", "/var/lib/alfred-tui")
    monkeypatch.setattr(logs_module, "retry_clock", lambda: 1000.0)
    monkeypatch.setattr(logs_module, "RETRY_FIRST_SECONDS", 30.0)  # one retry in the picture
    monkeypatch.setattr(log_feed, "Backoff", functools.partial(Backoff, jitter=0.0))
    monkeypatch.chdir("/tmp")  # the save dialog suggests a file in the working folder
    monkeypatch.setattr(logs_module, "datetime", _FixedNow)


class _FixedNow:
    """``datetime.now()`` for the file name the save dialog suggests."""

    @staticmethod
    def now():  # type: ignore[no-untyped-def]
        from ui_fixed import NOW_DT

        return NOW_DT.replace(tzinfo=None)


async def on_logs(pilot: Pilot, lines: int | None = None) -> None:
    """Go to the Logs pane and wait for the fixed lines to be drawn."""
    await pilot.press(key_of("logs"))
    app = pilot.app
    for _ in range(200):
        pane = app._panes.get("logs")  # type: ignore[attr-defined]
        expected = len(records()) if lines is None else lines
        if (
            pane is not None
            and len(pane.view.lines) >= expected
            and pane.state.phase != "connecting"
        ):
            break
        await pilot.pause(0.05)
    await pilot.pause(0.4)


def steady_cursors(pilot: Pilot) -> None:
    """A blinking cursor would make the picture depend on the half second it is taken in."""
    for field in pilot.app.screen.query(Input):
        field.cursor_blink = False


def then(*keys: str, settle: float = 0.4):  # type: ignore[no-untyped-def]
    async def run_before(pilot: Pilot) -> None:
        await on_logs(pilot)
        await pilot.press(*keys)
        await pilot.pause(settle)
        steady_cursors(pilot)
        await pilot.pause(0.1)

    return run_before


@pytest.mark.parametrize("size", SIZES)
def test_logs(snap_compare, size) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(fixed_logs_app(), terminal_size=size, run_before=on_logs)


@pytest.mark.parametrize("size", SIZES)
def test_logs_warnings_and_up_with_a_search(snap_compare, size) -> None:  # type: ignore[no-untyped-def]
    keys = ("l", "l", "slash", *"timed out|duplicate", "enter", "N")
    assert snap_compare(fixed_logs_app(), terminal_size=size, run_before=then(*keys))


@pytest.mark.parametrize("size", SIZES)
def test_logs_one_service(snap_compare, size) -> None:  # type: ignore[no-untyped-def]
    async def only_redis(pilot: Pilot) -> None:
        await on_logs(pilot)
        await pilot.app._panes["logs"].run_action("only_service('redis')")  # type: ignore[attr-defined]
        await pilot.pause(0.4)

    assert snap_compare(fixed_logs_app(), terminal_size=size, run_before=only_redis)


@pytest.mark.parametrize("size", SIZES)
def test_logs_paused_with_lines_waiting(snap_compare, size) -> None:  # type: ignore[no-untyped-def]
    app = fixed_logs_app(records(1))

    async def paused(pilot: Pilot) -> None:
        await on_logs(pilot, len(records(1)))
        await pilot.press("space")
        await pilot.pause(0.2)
        backend = app.session.backend
        assert isinstance(backend, FixedLogsBackend)
        backend.push(records(2)[:9])
        pane = app._panes["logs"]  # type: ignore[attr-defined]
        for _ in range(200):  # a loaded machine delivers them late
            if pane.buffer.waiting == 9:
                break
            await pilot.pause(0.05)
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=size, run_before=paused)


@pytest.mark.parametrize("size", SIZES)
def test_logs_stream_lost(snap_compare, size) -> None:  # type: ignore[no-untyped-def]
    app = fixed_logs_app(
        [],
        failure="no Docker engine answers at unix:///var/run/docker.sock: connection refused; "
        "is dockerd running? (systemctl status docker)",
    )
    app.session.backoff_cap = 30.0

    async def lost(pilot: Pilot) -> None:
        await pilot.press(key_of("logs"))
        for _ in range(100):
            pane = app._panes.get("logs")  # type: ignore[attr-defined]
            if pane is not None and pane.state.phase == "retrying":
                break
            await pilot.pause(0.05)
        await pilot.pause(0.4)

    assert snap_compare(app, terminal_size=size, run_before=lost)


@pytest.mark.parametrize("size", SIZES)
def test_logs_when_the_backend_keeps_none(snap_compare, size) -> None:  # type: ignore[no-untyped-def]
    async def none(pilot: Pilot) -> None:
        await pilot.press(key_of("logs"))
        await pilot.pause(0.6)

    assert snap_compare(fixed_logs_app(logs=False), terminal_size=size, run_before=none)


@pytest.mark.parametrize("size", SIZES)
def test_services_dialog(snap_compare, size) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(fixed_logs_app(), terminal_size=size, run_before=then("s", "down", "space"))


@pytest.mark.parametrize("size", SIZES)
def test_save_dialog(snap_compare, size) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(fixed_logs_app(), terminal_size=size, run_before=then("w"))


@pytest.mark.parametrize("size", SIZES)
def test_save_dialog_asking_to_overwrite(snap_compare, size) -> None:  # type: ignore[no-untyped-def]
    existing = Path("/tmp/alfred-tui-snapshot-incident.log")  # a fixed path: it is on screen
    existing.write_text("kept\n")

    async def asking(pilot: Pilot) -> None:
        await on_logs(pilot)
        await pilot.press("w")
        await pilot.pause(0.3)
        pilot.app.screen.query_one("#path", Input).value = str(existing)
        await pilot.press("enter")
        await pilot.pause(0.6)
        steady_cursors(pilot)
        await pilot.pause(0.1)

    try:
        assert snap_compare(fixed_logs_app(), terminal_size=size, run_before=asking)
    finally:
        assert existing.read_text() == "kept\n"  # asked, not overwritten
        existing.unlink()


@pytest.mark.parametrize("size", SIZES)
def test_help_on_the_logs_pane(snap_compare, size) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(fixed_logs_app(), terminal_size=size, run_before=then("question_mark"))
