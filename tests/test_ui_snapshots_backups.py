"""Snapshots of the Backups pane, the Restore screen at each step, and their dialogs.

At 80x24 and 160x48, from fixed data (ui_fixed_backups.py), in UTC so the
local times shown do not depend on the machine. Update after a deliberate
UI change with ``pytest tests/test_ui_snapshots_backups.py --snapshot-update``,
then look at the SVGs before committing them.
"""

from __future__ import annotations

import time

import pytest
from textual.pilot import Pilot
from textual.widgets import Input
from ui_fixed import NOW
from ui_fixed_backups import PITR_NOT_READY, UNFINISHED, VIEWS, fixed_backups_app

from alfred_tui.control.backups import PitrReading, PruneDecision, PrunePlan
from alfred_tui.control.deployment_actions import ActionPlan
from alfred_tui.screens.dialogs import ConfirmDialog
from alfred_tui.screens.restore import RestoreScreen

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((160, 48), id="160x48")]

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(autouse=True)
def utc(isolated_dirs, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Local times on screen in UTC, whatever the machine's zone."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


async def on_backups(pilot: Pilot) -> None:
    """Go to the Backups pane and wait until its catalog and PITR section are drawn."""
    app = pilot.app
    number = [spec.id for spec in app.panes].index("backups") + 1  # type: ignore[attr-defined]
    await pilot.press(str(number))
    for _ in range(100):
        pane = app.screen
        if getattr(pane, "catalog", None) is not None and getattr(pane, "pitr", None) is not None:
            break
        await pilot.pause(0.05)
    await pilot.pause(0.3)


def then(make):  # type: ignore[no-untyped-def]
    async def run_before(pilot: Pilot) -> None:
        await on_backups(pilot)
        await make(pilot)
        await pilot.pause(0.3)

    return run_before


async def open_restore(pilot: Pilot) -> RestoreScreen:
    app = pilot.app
    await pilot.press("down")  # the first postgres backup
    await pilot.press("R")
    for _ in range(100):
        screen = app.screen
        if isinstance(screen, RestoreScreen) and screen.catalog is not None:
            break
        await pilot.pause(0.05)
    await pilot.pause(0.2)
    screen = app.screen
    assert isinstance(screen, RestoreScreen)
    return screen


@pytest.mark.parametrize("size", SIZES)
def test_backups_pane(snap_compare, size) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(fixed_backups_app(), terminal_size=size, run_before=on_backups)


@pytest.mark.parametrize("size", SIZES)
def test_backups_pane_on_a_backup(snap_compare, size) -> None:  # type: ignore[no-untyped-def]
    async def cursor(pilot: Pilot) -> None:
        await pilot.press("down", "down")  # the safety copy: its detail line says what for

    assert snap_compare(fixed_backups_app(), terminal_size=size, run_before=then(cursor))


@pytest.mark.parametrize("size", SIZES)
def test_backups_pane_read_only_unfinished_restore_pitr_not_ready(snap_compare, size) -> None:  # type: ignore[no-untyped-def]
    app = fixed_backups_app(
        readonly=True,
        unfinished=(UNFINISHED,),
        pitr=PitrReading(view=PITR_NOT_READY, checked_at=NOW),
    )
    assert snap_compare(app, terminal_size=size, run_before=on_backups)


@pytest.mark.parametrize("size", SIZES)
def test_backups_pane_postgres_down(snap_compare, size) -> None:  # type: ignore[no-untyped-def]
    down = PitrReading(error="PostgreSQL: connection refused (127.0.0.1:5432)", checked_at=NOW)
    app = fixed_backups_app(pitr=down)
    assert snap_compare(app, terminal_size=size, run_before=on_backups)


@pytest.mark.parametrize("size", SIZES)
def test_backups_pane_pitr_interrupted_and_postgres_down(snap_compare, size) -> None:  # type: ignore[no-untyped-def]
    reading = PitrReading(
        error="PostgreSQL: connection refused (127.0.0.1:5432)",
        checked_at=NOW,
        interrupted="at step 'install': run alfred-tui pitr recover --rollback --profile local",
    )
    app = fixed_backups_app(pitr=reading)
    assert snap_compare(app, terminal_size=size, run_before=on_backups)


@pytest.mark.parametrize("size", SIZES)
def test_prune_dialog(snap_compare, size) -> None:  # type: ignore[no-untyped-def]
    plan = PrunePlan(
        1,
        0,
        (
            PruneDecision("postgres-20250513T100000Z", "postgres", "backup", True,
                          ("one of the last 1",)),
            PruneDecision("postgres-20250512T020000Z", "postgres", "backup", False, ()),
            PruneDecision("redis-20250513T113000Z", "redis", "backup", True,
                          ("one of the last 1",)),
            PruneDecision("redis-20250510T020000Z", "redis", "backup", False, ()),
        ),
    )  # fmt: skip

    async def prune(pilot: Pilot) -> None:
        app = pilot.app
        dialog = ConfirmDialog(
            ActionPlan("Prune 2 backups of dev", tuple(plan.lines()), "Delete", True),
            type_to_confirm="delete",
        )
        app.push_screen(dialog)
        await pilot.pause(0.2)
        dialog.query_one("#typed", Input).value = "del"

    assert snap_compare(fixed_backups_app(), terminal_size=size, run_before=then(prune))


@pytest.mark.parametrize("size", SIZES)
def test_restore_choose_a_backup(snap_compare, size) -> None:  # type: ignore[no-untyped-def]
    async def choose(pilot: Pilot) -> None:
        await open_restore(pilot)

    assert snap_compare(fixed_backups_app(), terminal_size=size, run_before=then(choose))


@pytest.mark.parametrize("size", SIZES)
def test_restore_offers_the_unfinished_restore(snap_compare, size) -> None:  # type: ignore[no-untyped-def]
    async def offer(pilot: Pilot) -> None:
        await pilot.press("down")
        await pilot.press("R")
        await pilot.pause(0.5)

    app = fixed_backups_app(unfinished=(UNFINISHED,))
    assert snap_compare(app, terminal_size=size, run_before=then(offer))


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("state", list(VIEWS))
def test_restore_step(snap_compare, size, state) -> None:  # type: ignore[no-untyped-def]
    async def step(pilot: Pilot) -> None:
        screen = await open_restore(pilot)
        view, phase = VIEWS[state]()
        screen.show_view(view, phase)
        if phase == "confirm":
            await pilot.pause(0.1)
            screen.query_one("#typed", Input).focus()
            await pilot.press("p", "o", "s", "t")  # not yet the whole name: button disabled

    readonly = state == "read_only"
    app = fixed_backups_app(readonly=readonly)
    if readonly:
        # The pane refuses R when read-only; the screen is opened directly to show step 4.
        async def step_readonly(pilot: Pilot) -> None:
            pane = pilot.app.screen
            screen = RestoreScreen(pane, pane.source, "postgres", None)  # type: ignore[arg-type]
            pilot.app.push_screen(screen)
            await pilot.pause(0.3)
            view, phase = VIEWS[state]()
            screen.show_view(view, phase)

        assert snap_compare(app, terminal_size=size, run_before=then(step_readonly))
        return
    assert snap_compare(app, terminal_size=size, run_before=then(step))
