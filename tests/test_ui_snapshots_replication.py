"""Snapshots of replication and resource usage: the overview's rows and the detail view.

From fixed data (ui_fixed.py): a PostgreSQL primary with one streaming
standby and an abandoned slot, a Redis master with one replica, Redis's
primary at 93% of its memory limit (⚑). Update with ``--snapshot-update``
and look at the SVGs before committing them.
"""

from __future__ import annotations

import pytest
from test_ui_snapshots import SIZES, polled, with_screen
from test_ui_snapshots_doctor import settled, troubleshoot_on
from textual.pilot import Pilot
from ui_fixed import fixed_app
from ui_helpers import static_text

from alfred_tui.screens.detail import ServiceDetailScreen

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(autouse=True)
def fixed_data_dir(isolated_dirs, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("ALFRED_TUI_DATA_DIR", "/var/lib/alfred-tui")


@pytest.mark.parametrize("size", SIZES)
def test_overview_with_a_frozen_replica(snap_compare, size) -> None:  # type: ignore[no-untyped-def]
    """A standby and a replica that stopped answering: lag WARNING/CRITICAL, link down,
    the instances "not answering" with the lag their primaries see."""
    app = fixed_app(frozen_replica=True)
    assert snap_compare(app, terminal_size=size, run_before=polled)


@pytest.mark.parametrize("size", SIZES)
def test_postgres_detail_replication(snap_compare, size) -> None:  # type: ignore[no-untyped-def]
    async def detail(pilot: Pilot) -> None:
        pane = pilot.app._panes["overview"]  # type: ignore[attr-defined]
        view = pane.snapshot.view("postgres")
        pilot.app.push_screen(ServiceDetailScreen(view, pane.snapshot, pane.session.profile))

    assert snap_compare(fixed_app(), terminal_size=size, run_before=with_screen(detail))


@pytest.mark.parametrize(
    "runbook", ["postgres-replicas", "redis-limits"], ids=["replicas", "limits"]
)
@pytest.mark.parametrize("size", SIZES)
def test_runbook_with_remedies(snap_compare, size, runbook) -> None:  # type: ignore[no-untyped-def]
    """'Replica lagging or broken' (frozen standby, abandoned slot: re-clone, drop the slot) and
    'instance near its limits' (Redis at 93% of its memory: the resize from the peaks)."""

    async def opened(pilot: Pilot) -> None:
        await troubleshoot_on(pilot, runbook)
        await pilot.press("enter")  # into the report
        scroll = pilot.app.screen.query_one("#report")
        body = pilot.app.screen.query_one("#report-body")
        lines = static_text(body, body.size.width).splitlines()
        heading = next(i for i, line in enumerate(lines) if line.startswith("What you can do"))
        scroll.scroll_to(y=max(0, heading - 8), animate=False)

    assert snap_compare(fixed_app(flags=True), terminal_size=size, run_before=settled(opened))
