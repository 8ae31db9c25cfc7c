"""Scaling through the overview's dialog on the real Docker engine.

The local backend cannot scale (test_ui_app.py checks the refusal); the
Docker backend can, so this is where scale is driven end to end: dialog,
confirmation, progress, notification, and the table showing two Redis
instances, then one again (scaling down keeps a safety copy folder).
"""

from __future__ import annotations

import pytest
from textual.widgets import Input
from ui_helpers import click_button, fast_app, settle, wait_for

from alfred_tui.screens.dialogs import ConfirmDialog, ScaleDialog
from alfred_tui.screens.overview import OverviewPane
from alfred_tui.widgets.overview_tables import InstancesTable, ServicesTable

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(900)]


def _ready(pane: OverviewPane, kind: str) -> str:
    view = pane.snapshot.view(kind) if pane.snapshot else None
    status = view.status if view else None
    return "" if status is None else f"{status.ready}/{status.desired}"


async def _scale_through_the_dialog(pilot, pane: OverviewPane, replicas: int) -> str:  # type: ignore[no-untyped-def]
    app = pilot.app
    table = pane.query_one(ServicesTable)
    table.focus()
    table.move_cursor(row=table.visible_keys.index("redis"))
    await pilot.press("s")
    await settle(pilot)
    dialog = app.screen
    assert isinstance(dialog, ScaleDialog)
    assert dialog.services == pane.session.services  # Docker can scale every service
    dialog.query_one("#replicas", Input).value = str(replicas)
    await pilot.press("enter")
    await settle(pilot)
    confirm = app.screen
    assert isinstance(confirm, ConfirmDialog)
    noun = "instance" if replicas == 1 else "instances"
    assert confirm.plan.lines[0].startswith(f"Run {replicas} {noun} of redis (now ")
    await click_button(pilot)
    await wait_for(
        pilot,
        lambda: any(
            title == "Done" and message.startswith(f"Scaled redis to {replicas}")
            for _, title, message in app.notification_log
        ),
        timeout=600,
        what=f"scale to {replicas}",
    )
    return next(
        m for _, t, m in app.notification_log if m.startswith(f"Scaled redis to {replicas}")
    )


async def test_scale_redis_to_two_and_back_through_the_dialog(docker_stack) -> None:  # type: ignore[no-untyped-def]
    app = fast_app(docker_stack.profile_path)
    async with app.run_test(size=(160, 48)) as pilot:
        pane = app.screen
        assert isinstance(pane, OverviewPane)
        await wait_for(
            pilot,
            lambda: (
                _ready(pane, "redis") == "1/1"
                and pane.snapshot.view("redis").state in ("OK", "WARNING")
            ),
            timeout=60,
            what="redis deployed",
        )
        await _scale_through_the_dialog(pilot, pane, 2)
        await wait_for(pilot, lambda: _ready(pane, "redis") == "2/2", timeout=120, what="2/2")
        instances = pane.query_one(InstancesTable).visible_keys
        assert len([key for key in instances if key.startswith("redis/")]) == 2

        message = await _scale_through_the_dialog(pilot, pane, 1)
        assert "safety copy in" in message or "nothing needed keeping" in message
        await wait_for(pilot, lambda: _ready(pane, "redis") == "1/1", timeout=120, what="1/1")
