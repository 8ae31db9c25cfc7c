"""Snapshots of every screen and dialog at 80x24 and 160x48, from fixed data (ui_fixed.py).

Update after a deliberate UI change with ``pytest tests/test_ui_snapshots.py
--snapshot-update``, then look at the SVGs (``rsvg-convert`` renders them)
before committing them.
"""

from __future__ import annotations

import pytest
from textual.pilot import Pilot
from textual.widgets import Checkbox, Input
from ui_fixed import STATUSES, fixed_app
from ui_helpers import key_of

from alfred_tui.control.deployment_actions import ActionKind, ActionRequest, plan
from alfred_tui.screens.detail import ServiceDetailScreen
from alfred_tui.screens.dialogs import (
    ConfirmDialog,
    ResizeDialog,
    ScaleDialog,
    TargetDialog,
    TeardownDialog,
)

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((160, 48), id="160x48")]

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(autouse=True)
def fixed_data_dir(isolated_dirs, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """Paths shown on screen (the safety folder) must not depend on the test's tmp dir."""
    monkeypatch.setenv("ALFRED_TUI_DATA_DIR", "/var/lib/alfred-tui")


async def polled(pilot: Pilot) -> None:
    """Wait until the overview has drawn a full poll of the fixed data."""
    app = pilot.app
    for _ in range(100):
        pane = app._panes.get("overview")  # type: ignore[attr-defined]
        if pane is not None and pane.snapshot is not None and pane.snapshot.poll >= 1:
            break
        await pilot.pause(0.05)
    await pilot.pause(0.2)


def with_screen(make):  # type: ignore[no-untyped-def]
    async def run_before(pilot: Pilot) -> None:
        await polled(pilot)
        await make(pilot)
        await pilot.pause(0.3)

    return run_before


@pytest.mark.parametrize("size", SIZES)
def test_overview(snap_compare, size) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(fixed_app(), terminal_size=size, run_before=polled)


@pytest.mark.parametrize("size", SIZES)
def test_overview_with_a_service_down(snap_compare, size) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(fixed_app(down=["qdrant"]), terminal_size=size, run_before=polled)


@pytest.mark.parametrize("size", SIZES)
def test_overview_read_only(snap_compare, size) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(fixed_app(readonly=True), terminal_size=size, run_before=polled)


@pytest.mark.parametrize("size", SIZES)
def test_overview_served_read_only(snap_compare, size) -> None:  # type: ignore[no-untyped-def]
    """In a browser (alfred-tui serve): SERVED READ-ONLY, and no "p target" to switch."""
    app = fixed_app(readonly=True, served=True)
    assert snap_compare(app, terminal_size=size, run_before=polled)


@pytest.mark.parametrize("size", SIZES)
def test_overview_filtered(snap_compare, size) -> None:  # type: ignore[no-untyped-def]
    async def filtered(pilot: Pilot) -> None:
        await pilot.press("slash", "r", "e", "d", "i", "s")

    assert snap_compare(fixed_app(), terminal_size=size, run_before=with_screen(filtered))


@pytest.mark.parametrize("size", SIZES)
def test_help(snap_compare, size) -> None:  # type: ignore[no-untyped-def]
    async def help_screen(pilot: Pilot) -> None:
        await pilot.press("question_mark")

    assert snap_compare(fixed_app(), terminal_size=size, run_before=with_screen(help_screen))


@pytest.mark.parametrize("size", SIZES)
def test_service_detail(snap_compare, size) -> None:  # type: ignore[no-untyped-def]
    async def detail(pilot: Pilot) -> None:
        pane = pilot.app._panes["overview"]  # type: ignore[attr-defined]
        view = pane.snapshot.view("redis")
        pilot.app.push_screen(ServiceDetailScreen(view, pane.snapshot, pane.session.profile))

    assert snap_compare(fixed_app(), terminal_size=size, run_before=with_screen(detail))


@pytest.mark.parametrize("size", SIZES)
def test_scale_dialog_with_an_invalid_count(snap_compare, size) -> None:  # type: ignore[no-untyped-def]
    async def scale(pilot: Pilot) -> None:
        app = pilot.app
        app.push_screen(
            ScaleDialog(app.session, ["postgres", "redis", "qdrant"], "redis", STATUSES)  # type: ignore[attr-defined]
        )
        await pilot.pause(0.2)
        await pilot.press("9", "9")

    assert snap_compare(fixed_app(), terminal_size=size, run_before=with_screen(scale))


@pytest.mark.parametrize("size", SIZES)
def test_resize_dialog(snap_compare, size) -> None:  # type: ignore[no-untyped-def]
    async def resize(pilot: Pilot) -> None:
        app = pilot.app
        app.push_screen(
            ResizeDialog(app.session, ["postgres", "redis", "qdrant"], "postgres", STATUSES)  # type: ignore[attr-defined]
        )
        await pilot.pause(0.2)
        app.screen.query_one("#cpus", Input).value = "1.5"
        app.screen.query_one("#memory", Input).value = "6"

    assert snap_compare(fixed_app(), terminal_size=size, run_before=with_screen(resize))


@pytest.mark.parametrize("size", SIZES)
def test_confirm_scale_to_zero(snap_compare, size) -> None:  # type: ignore[no-untyped-def]
    async def confirm(pilot: Pilot) -> None:
        app = pilot.app
        request = ActionRequest(ActionKind.SCALE, "redis", replicas=0)
        app.push_screen(ConfirmDialog(plan(app.session, request, STATUSES["redis"])))  # type: ignore[attr-defined]

    assert snap_compare(fixed_app(), terminal_size=size, run_before=with_screen(confirm))


@pytest.mark.parametrize("size", SIZES)
def test_confirm_restart(snap_compare, size) -> None:  # type: ignore[no-untyped-def]
    async def confirm(pilot: Pilot) -> None:
        await pilot.press("R")

    assert snap_compare(fixed_app(), terminal_size=size, run_before=with_screen(confirm))


@pytest.mark.parametrize("size", SIZES)
def test_teardown_dialog_deleting_data(snap_compare, size) -> None:  # type: ignore[no-untyped-def]
    async def teardown(pilot: Pilot) -> None:
        app = pilot.app
        app.push_screen(TeardownDialog(app.session))  # type: ignore[attr-defined]
        await pilot.pause(0.3)
        app.screen.query_one("#volumes", Checkbox).value = True
        await pilot.pause(0.1)
        app.screen.query_one("#typed", Input).value = "de"

    assert snap_compare(fixed_app(), terminal_size=size, run_before=with_screen(teardown))


@pytest.mark.parametrize("size", SIZES)
def test_target_dialog(snap_compare, size) -> None:  # type: ignore[no-untyped-def]
    async def target(pilot: Pilot) -> None:
        app = pilot.app
        app.push_screen(TargetDialog(["base", "dev", "local", "prod"], "dev", "docker"))

    assert snap_compare(fixed_app(), terminal_size=size, run_before=with_screen(target))


@pytest.mark.parametrize("size", SIZES)
def test_profile_pane(snap_compare, size) -> None:  # type: ignore[no-untyped-def]
    async def profile(pilot: Pilot) -> None:
        await pilot.press(key_of("profile"))

    assert snap_compare(fixed_app(), terminal_size=size, run_before=with_screen(profile))


@pytest.mark.parametrize("size", SIZES)
def test_command_palette(snap_compare, size) -> None:  # type: ignore[no-untyped-def]
    async def palette(pilot: Pilot) -> None:
        await pilot.press("colon")
        await pilot.pause(0.5)
        await pilot.press("s", "c", "a", "l", "e")
        await pilot.pause(0.5)

    assert snap_compare(fixed_app(), terminal_size=size, run_before=with_screen(palette))
