"""Snapshots of the Migrations, Keyspace and Collections panes and their dialogs, 80x24 and 160x48.

Fixed data (``ui_fixed_data.py``: frozen results of the real data layer's
types, through the live sources' own conversions) so the SVGs change only
when the UI does. Update after a deliberate change with ``pytest
tests/test_ui_snapshots_data.py --snapshot-update``, then look at the SVGs.
"""

from __future__ import annotations

import time

import pytest
from textual.pilot import Pilot
from textual.widgets import Checkbox
from ui_fixed_data import FixedCollections, FixedKeyspace, FixedMigrations, data_app

from alfred_tui.backends.base import Progress
from alfred_tui.control.collections_view import plan_create
from alfred_tui.control.migrations_view import plan_up
from alfred_tui.screens.data_dialogs import MigrateUpDialog
from alfred_tui.screens.dialogs import ConfirmDialog

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((160, 48), id="160x48")]

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> None:
    """ "read 12:00:00" is local time: pin the zone so the pictures do not depend on the host."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()


def shown(pane_id: str, ready, then=None):  # type: ignore[no-untyped-def]
    """Switch to ``pane_id``, wait until ``ready(pane)``, then run ``then(pilot, pane)``."""

    async def run_before(pilot: Pilot) -> None:
        app = pilot.app
        app.switch_mode(pane_id)
        for _ in range(200):
            pane = app._panes.get(pane_id)  # type: ignore[attr-defined]
            if pane is not None and ready(pane):
                break
            await pilot.pause(0.05)
        else:
            raise AssertionError(f"{pane_id} did not get its data")
        if then is not None:
            await then(pilot, pane)
        await pilot.pause(0.3)

    return run_before


def has_view(pane) -> bool:  # type: ignore[no-untyped-def]
    return pane.view is not None


# --- migrations -------------------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
def test_migrations_pane(snap_compare, size) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(data_app(), terminal_size=size, run_before=shown("migrations", has_view))


@pytest.mark.parametrize("size", SIZES)
def test_migrations_schema_view(snap_compare, size) -> None:  # type: ignore[no-untyped-def]
    async def schema(pilot: Pilot, pane) -> None:  # type: ignore[no-untyped-def]
        await pilot.press("right_square_bracket")

    assert snap_compare(
        data_app(), terminal_size=size, run_before=shown("migrations", has_view, schema)
    )


@pytest.mark.parametrize("size", SIZES)
def test_migrate_up_dialog_with_drift(snap_compare, size) -> None:  # type: ignore[no-untyped-def]
    async def dialog(pilot: Pilot, pane) -> None:  # type: ignore[no-untyped-def]
        await pilot.press("u")
        await pilot.pause(0.3)
        pilot.app.screen.query_one("#allow-drift", Checkbox).value = True

    assert snap_compare(
        data_app(), terminal_size=size, run_before=shown("migrations", has_view, dialog)
    )


@pytest.mark.parametrize("size", SIZES)
def test_migrations_failure_and_down(snap_compare, size) -> None:  # type: ignore[no-untyped-def]
    async def failed(pilot: Pilot, pane) -> None:  # type: ignore[no-untyped-def]
        pane._show_failure(
            '0100_app_tables.sql:3:24: type "nosuchtype" does not exist [42704]; rolled back; '
            "7 earlier migrations kept"
        )
        reader = pane.session.resources["migrations"]
        reader.down = "connection refused (127.0.0.1:5432)"
        pane.action_refresh()
        for _ in range(100):
            if pane.outcome is not None and not pane.outcome.ok:
                break
            await pilot.pause(0.05)

    assert snap_compare(
        data_app(migrations=FixedMigrations()),
        terminal_size=size,
        run_before=shown("migrations", has_view, failed),
    )


@pytest.mark.parametrize("size", SIZES)
def test_migrations_read_only(snap_compare, size) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(
        data_app(readonly=True), terminal_size=size, run_before=shown("migrations", has_view)
    )


# --- keyspace -----------------------------------------------------------------------------


def scanned(pane) -> bool:  # type: ignore[no-untyped-def]
    return pane.view is not None and not pane.scanning


@pytest.mark.parametrize("size", SIZES)
def test_keyspace_pane_exact(snap_compare, size) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(data_app(), terminal_size=size, run_before=shown("keyspace", scanned))


@pytest.mark.parametrize("size", SIZES)
def test_keyspace_pane_sampled(snap_compare, size) -> None:  # type: ignore[no-untyped-def]
    async def sampled(pilot: Pilot, pane) -> None:  # type: ignore[no-untyped-def]
        await pilot.press("m")  # exact -> sampled
        for _ in range(100):
            if pane.view is not None and pane.view.sampled and not pane.scanning:
                break
            await pilot.pause(0.05)

    assert snap_compare(
        data_app(), terminal_size=size, run_before=shown("keyspace", scanned, sampled)
    )


@pytest.mark.parametrize("size", SIZES)
def test_keyspace_biggest_keys(snap_compare, size) -> None:  # type: ignore[no-untyped-def]
    async def top(pilot: Pilot, pane) -> None:  # type: ignore[no-untyped-def]
        await pilot.press("right_square_bracket")

    assert snap_compare(data_app(), terminal_size=size, run_before=shown("keyspace", scanned, top))


@pytest.mark.parametrize("size", SIZES)
def test_keyspace_queues_and_channels(snap_compare, size) -> None:  # type: ignore[no-untyped-def]
    async def queues(pilot: Pilot, pane) -> None:  # type: ignore[no-untyped-def]
        await pilot.press("right_square_bracket", "right_square_bracket")
        if pilot.app.size.height >= 40:
            return
        await pilot.press("right_square_bracket")  # 80x24: the channels

    assert snap_compare(
        data_app(), terminal_size=size, run_before=shown("keyspace", scanned, queues)
    )


@pytest.mark.parametrize("size", SIZES)
def test_keyspace_scanning(snap_compare, size) -> None:  # type: ignore[no-untyped-def]
    hold = Progress("db 0: scan", 412_000, 1_006_120)
    assert snap_compare(
        data_app(keyspace=FixedKeyspace(hold=hold)),
        terminal_size=size,
        run_before=shown("keyspace", lambda pane: pane.scanning and "412,000" in _step(pane)),
    )


def _step(pane) -> str:  # type: ignore[no-untyped-def]
    return str(pane.query_one("#action-step").render())


@pytest.mark.parametrize("size", SIZES)
def test_keyspace_help(snap_compare, size) -> None:  # type: ignore[no-untyped-def]
    """The pane's keys with their keymap ids (Esc's scan cancel is listed with the rest)."""

    async def help_screen(pilot: Pilot, pane) -> None:  # type: ignore[no-untyped-def]
        await pilot.press("question_mark")

    assert snap_compare(
        data_app(), terminal_size=size, run_before=shown("keyspace", scanned, help_screen)
    )


# --- collections ------------------------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
def test_collections_pane(snap_compare, size) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(data_app(), terminal_size=size, run_before=shown("collections", has_view))


@pytest.mark.parametrize("size", SIZES)
def test_collections_embedded(snap_compare, size) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(
        data_app(collections=FixedCollections(embedded=True)),
        terminal_size=size,
        run_before=shown("collections", has_view),
    )


@pytest.mark.parametrize("size", SIZES)
def test_create_collections_dialog(snap_compare, size) -> None:  # type: ignore[no-untyped-def]
    async def dialog(pilot: Pilot, pane) -> None:  # type: ignore[no-untyped-def]
        await pilot.press("c")

    assert snap_compare(
        data_app(), terminal_size=size, run_before=shown("collections", has_view, dialog)
    )


def test_plans_name_exactly_what_runs() -> None:
    """The dialogs' words, checked as text (the pictures above show them)."""
    app = data_app()
    migrations = FixedMigrations()
    import asyncio

    view = asyncio.run(migrations.read())
    up = plan_up(app.session, view)
    assert [row.name for row in up.files] == [
        "0006_storage",
        "0007_model_registry",
        "0100_app_tables",
    ]
    assert [row.name for row in up.drifted] == ["0005_auth"]
    assert up.plan.destructive
    assert up.plan.lines[1:6] == (
        "  from /usr/share/alfred-tui/migrations (bundled):",
        "    1. 0006_storage.sql",
        "    2. 0007_model_registry.sql",
        "  from /srv/alfred/migrations/app (migrations/app):",
        "    3. 0100_app_tables.sql",
    )
    collections = asyncio.run(FixedCollections().read())
    plan = plan_create(app.session, collections)
    assert plan.lines[1] == "  social-knowledge  vectors 1536 Cosine"
    assert not plan.destructive
    assert isinstance(MigrateUpDialog(up), MigrateUpDialog)
    assert isinstance(ConfirmDialog(plan), ConfirmDialog)
