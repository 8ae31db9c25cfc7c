"""Actions from the overview on the real local backend: deploy, restart, tear down with data.

Each goes through its confirmation dialog, shows the backend's progress,
ends in a notification, and the table shows the result without waiting for
the next refresh. Tearing down with data keeps a safety copy, and the
dialog makes the operator type the profile's name first.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from localdeploy import LocalDeployment
from textual.widgets import Button, Checkbox, Input
from ui_helpers import click_button, fast_app, settle, wait_for

from alfred_tui.screens.dialogs import ConfirmDialog, TeardownDialog
from alfred_tui.screens.overview import OverviewPane
from alfred_tui.widgets.action_progress import ActionProgress
from alfred_tui.widgets.overview_tables import ServicesTable

pytestmark = [pytest.mark.timeout(300), pytest.mark.slow]


@pytest.fixture
def deployment() -> Iterator[LocalDeployment]:
    """A local-backend profile on free ports, not deployed yet; stopped and deleted after."""
    with LocalDeployment(
        name="ui-actions", overrides={"ui": {"refresh_seconds": 0.3}}
    ) as deployment:
        yield deployment


def states(pane: OverviewPane) -> dict[str, str]:
    snapshot = pane.snapshot
    return {} if snapshot is None else {view.kind: view.state for view in snapshot.services}


def ready(pane: OverviewPane, kind: str) -> str:
    view = pane.snapshot.view(kind) if pane.snapshot else None
    status = view.status if view else None
    return "" if status is None else f"{status.ready}/{status.desired}"


async def test_deploy_restart_and_teardown_with_data_from_the_overview(
    deployment: LocalDeployment,
) -> None:
    app = fast_app(deployment.profile_path)
    async with app.run_test(size=(120, 40)) as pilot:
        pane = app.screen
        assert isinstance(pane, OverviewPane)
        await wait_for(pilot, lambda: states(pane).get("postgres") == "DOWN", what="DOWN first")

        # Deploy: the confirmation says what will happen, then progress, then a notification.
        await pilot.press("d")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, ConfirmDialog)
        assert dialog.plan.title == "Deploy postgres, redis and qdrant"
        assert "on the local backend (profile ui-actions)" in dialog.plan.lines[0]
        await click_button(pilot)
        progress = pane.query_one(ActionProgress)
        await wait_for(pilot, lambda: progress.running, what="progress shown")
        await wait_for(
            pilot,
            lambda: (
                ("information", "Done", "Deployed postgres, redis and qdrant")
                in app.notification_log
            ),
            timeout=180,
            what="deploy finished",
        )
        await wait_for(
            pilot,
            lambda: states(pane).get("postgres") == "OK" and states(pane).get("redis") == "OK",
            timeout=20,
            what="services OK",
        )
        assert not progress.running
        assert ready(pane, "postgres") == "1/1" and ready(pane, "redis") == "1/1"
        assert "1/1" in pane.query_one(ServicesTable).row_text("redis")
        started = pane.snapshot.view("redis").status.started_at

        # Restart the selected service (redis: second row).
        table = pane.query_one(ServicesTable)
        table.focus()
        table.move_cursor(row=1)
        await pilot.press("R")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmDialog)
        assert app.screen.plan.title == "Restart redis"
        await click_button(pilot)
        await wait_for(
            pilot,
            lambda: ("information", "Done", "Restarted redis") in app.notification_log,
            timeout=60,
            what="restart finished",
        )
        await wait_for(
            pilot,
            lambda: (
                states(pane).get("redis") == "OK"
                and pane.snapshot.view("redis").status.started_at != started
            ),
            timeout=20,
            what="redis back with a new start time",
        )

        # Tear down with the data: the name must be typed; a safety copy is kept.
        postgres_data = deployment.data_dir / "postgres"
        assert postgres_data.is_dir()
        await pilot.press("X")
        await settle(pilot)
        teardown = app.screen
        assert isinstance(teardown, TeardownDialog)
        await wait_for(pilot, lambda: True in teardown.described, what="backend's description")
        teardown.query_one("#volumes", Checkbox).value = True
        await settle(pilot)
        plan = teardown.plan_text()
        assert "their data is DELETED; a safety copy is kept in" in plan
        assert f"remove db-postgres's data: {postgres_data}" in plan
        assert teardown.query_one("#confirm", Button).disabled
        teardown.query_one("#typed", Input).value = "ui-actions"
        await settle(pilot)
        assert not teardown.query_one("#confirm", Button).disabled
        await click_button(pilot)
        await wait_for(
            pilot,
            lambda: any(
                title == "Done" and message.startswith("Tore down ui-actions and removed its data")
                for _, title, message in app.notification_log
            ),
            timeout=120,
            what="teardown finished",
        )
        message = next(m for _, t, m in app.notification_log if m.startswith("Tore down"))
        safety = deployment.data_dir / "safety"
        assert str(safety) in message
        kept = next(safety.iterdir())
        assert (kept / "postgres").is_dir() and not postgres_data.exists()
        await wait_for(
            pilot,
            lambda: states(pane).get("postgres") == "DOWN" and ready(pane, "postgres") == "0/1",
            timeout=20,
            what="the table shows the teardown",
        )
