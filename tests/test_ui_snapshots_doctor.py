"""Snapshots of the Troubleshoot, Activity and Audit panes and their dialogs, 80x24 and 160x48.

Fixed data only (ui_fixed.py, ui_fixed_doctor.py): frozen sessions, frozen
runbook facts judged by the real runbooks, the profile-only audit of the dev
profile. After a deliberate UI change: ``pytest
tests/test_ui_snapshots_doctor.py --snapshot-update``, then look at the SVGs.
"""

from __future__ import annotations

import pytest
from textual.pilot import Pilot
from textual.widgets import Checkbox, OptionList
from ui_fixed import fixed_app
from ui_fixed_doctor import SESSIONS
from ui_helpers import key_of, static_text

from alfred_tui.screens.dialogs import ConfirmDialog
from alfred_tui.screens.troubleshoot_dialogs import (
    ExplainDialog,
    RemedyChooser,
    RemedyValuesDialog,
    SessionDetailScreen,
)

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((160, 48), id="160x48")]

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(autouse=True)
def fixed_data_dir(isolated_dirs, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("ALFRED_TUI_DATA_DIR", "/var/lib/alfred-tui")


async def until(pilot: Pilot, condition, what: str = "") -> None:  # type: ignore[no-untyped-def]
    for _ in range(200):
        if condition():
            return
        await pilot.pause(0.05)
    raise AssertionError(f"fixed data never showed: {what}")


async def marked(pilot: Pilot) -> None:
    """The overview has polled the fixed data and drawn the runbook markers."""
    app = pilot.app

    def ready() -> bool:
        pane = app._panes.get("overview")  # type: ignore[attr-defined]
        return (
            pane is not None
            and pane.snapshot is not None
            and pane.snapshot.poll >= 1
            and (
                bool(pane.flags) or not app.session.troubleshoot.flags  # type: ignore[attr-defined]
            )
        )

    await until(pilot, ready, "the overview and its markers")
    await pilot.pause(0.2)


async def troubleshoot_on(pilot: Pilot, runbook: str) -> None:
    await marked(pilot)
    app = pilot.app
    await pilot.press(key_of("troubleshoot"))
    await until(pilot, lambda: "troubleshoot" in app._panes, "the troubleshoot pane")  # type: ignore[attr-defined]
    pane = app._panes["troubleshoot"]  # type: ignore[attr-defined]
    await until(pilot, lambda: bool(pane.infos), "the runbook list")
    pane.open_runbook(runbook)
    await until(
        pilot,
        lambda: (
            pane.report is not None
            and pane.report.info.name == runbook
            and len(pane.detections) == len(pane.infos)
        ),
        f"the {runbook} report",
    )
    await pilot.pause(0.3)


async def activity_pane(pilot: Pilot) -> None:
    await marked(pilot)
    app = pilot.app
    await pilot.press(key_of("activity"))
    await until(pilot, lambda: "activity" in app._panes, "the activity pane")  # type: ignore[attr-defined]
    pane = app._panes["activity"]  # type: ignore[attr-defined]
    await until(pilot, lambda: pane.view is not None, "the sessions")
    await pilot.pause(0.3)


async def audit_pane(pilot: Pilot) -> None:
    await marked(pilot)
    app = pilot.app
    await pilot.press(key_of("audit"))
    await until(pilot, lambda: "audit" in app._panes, "the audit pane")  # type: ignore[attr-defined]
    pane = app._panes["audit"]  # type: ignore[attr-defined]
    await until(pilot, lambda: pane.report is not None, "the audit")
    await pilot.pause(0.3)


def settled(make):  # type: ignore[no-untyped-def]
    async def run_before(pilot: Pilot) -> None:
        await make(pilot)
        await pilot.pause(0.3)

    return run_before


@pytest.mark.parametrize("size", SIZES)
def test_overview_with_runbook_markers(snap_compare, size) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(fixed_app(flags=True), terminal_size=size, run_before=marked)


@pytest.mark.parametrize("size", SIZES)
def test_troubleshoot_opened_from_the_redis_marker(snap_compare, size) -> None:  # type: ignore[no-untyped-def]
    async def opened(pilot: Pilot) -> None:
        await marked(pilot)
        await pilot.press("down", "t")  # the redis row, then its runbook
        app = pilot.app
        await until(pilot, lambda: "troubleshoot" in app._panes)  # type: ignore[attr-defined]
        pane = app._panes["troubleshoot"]  # type: ignore[attr-defined]
        await until(
            pilot,
            lambda: (
                pane.report is not None
                and pane.report.info.name == "redis-memory"
                and len(pane.detections) == len(pane.infos)
            ),
        )

    assert snap_compare(fixed_app(flags=True), terminal_size=size, run_before=settled(opened))


@pytest.mark.parametrize("size", SIZES)
def test_troubleshoot_remedies(snap_compare, size) -> None:  # type: ignore[no-untyped-def]
    async def remedies(pilot: Pilot) -> None:
        await troubleshoot_on(pilot, "postgres-connections")
        await pilot.press("enter")  # into the report
        scroll = pilot.app.screen.query_one("#report")
        body = pilot.app.screen.query_one("#report-body")
        lines = static_text(body, body.size.width).splitlines()
        heading = next(i for i, line in enumerate(lines) if line.startswith("What you can do"))
        scroll.scroll_to(y=heading, animate=False)

    assert snap_compare(fixed_app(flags=True), terminal_size=size, run_before=settled(remedies))


@pytest.mark.parametrize("size", SIZES)
def test_troubleshoot_read_only(snap_compare, size) -> None:  # type: ignore[no-untyped-def]
    async def opened(pilot: Pilot) -> None:
        await troubleshoot_on(pilot, "redis-memory")
        scroll = pilot.app.screen.query_one("#report")
        scroll.scroll_end(animate=False)

    app = fixed_app(flags=True, readonly=True)
    assert snap_compare(app, terminal_size=size, run_before=settled(opened))


@pytest.mark.parametrize("size", SIZES)
def test_remedy_chooser(snap_compare, size) -> None:  # type: ignore[no-untyped-def]
    async def chooser(pilot: Pilot) -> None:
        await troubleshoot_on(pilot, "redis-memory")
        await pilot.press("a")
        await until(pilot, lambda: isinstance(pilot.app.screen, RemedyChooser))
        pilot.app.screen.query_one(OptionList).highlighted = 1

    assert snap_compare(fixed_app(flags=True), terminal_size=size, run_before=settled(chooser))


@pytest.mark.parametrize("size", SIZES)
def test_remedy_values_with_an_invalid_size(snap_compare, size) -> None:  # type: ignore[no-untyped-def]
    async def values(pilot: Pilot) -> None:
        await troubleshoot_on(pilot, "redis-memory")
        pane = pilot.app._panes["troubleshoot"]  # type: ignore[attr-defined]
        remedy = pane.report.remedy("raise-maxmemory")
        pilot.app.push_screen(RemedyValuesDialog(remedy))
        await until(pilot, lambda: isinstance(pilot.app.screen, RemedyValuesDialog))
        await pilot.pause(0.2)
        await pilot.press("end", "x")

    assert snap_compare(fixed_app(flags=True), terminal_size=size, run_before=settled(values))


@pytest.mark.parametrize("size", SIZES)
def test_remedy_confirmation(snap_compare, size) -> None:  # type: ignore[no-untyped-def]
    async def confirmation(pilot: Pilot) -> None:
        await troubleshoot_on(pilot, "redis-memory")
        await pilot.press("a")
        await until(pilot, lambda: isinstance(pilot.app.screen, RemedyChooser))
        ids = [r.id for r in pilot.app.screen.remedies]
        pilot.app.screen.query_one(OptionList).highlighted = ids.index("change-policy")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(pilot.app.screen, RemedyValuesDialog))
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(pilot.app.screen, ConfirmDialog))

    assert snap_compare(fixed_app(flags=True), terminal_size=size, run_before=settled(confirmation))


@pytest.mark.parametrize("size", SIZES)
def test_explain_dialog(snap_compare, size) -> None:  # type: ignore[no-untyped-def]
    async def explained(pilot: Pilot) -> None:
        await troubleshoot_on(pilot, "postgres-slow-queries")
        pilot.app.push_screen(ExplainDialog(pilot.app.session, 4180591393027845112))  # type: ignore[attr-defined]
        await until(pilot, lambda: isinstance(pilot.app.screen, ExplainDialog))
        await pilot.press("enter")
        plan = pilot.app.screen.query_one("#plan")
        await until(pilot, lambda: "HashAggregate" in static_text(plan), "the plan")

    assert snap_compare(fixed_app(flags=True), terminal_size=size, run_before=settled(explained))


@pytest.mark.parametrize("size", SIZES)
def test_explain_analyze_asks_first(snap_compare, size) -> None:  # type: ignore[no-untyped-def]
    async def analyze(pilot: Pilot) -> None:
        await troubleshoot_on(pilot, "postgres-slow-queries")
        pilot.app.push_screen(ExplainDialog(pilot.app.session, None))  # type: ignore[attr-defined]
        await until(pilot, lambda: isinstance(pilot.app.screen, ExplainDialog))
        await pilot.press(*"SELECT count(*) FROM ledger")
        pilot.app.screen.query_one(Checkbox).value = True
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(pilot.app.screen, ConfirmDialog))

    assert snap_compare(fixed_app(flags=True), terminal_size=size, run_before=settled(analyze))


@pytest.mark.parametrize("size", SIZES)
def test_activity(snap_compare, size) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(
        fixed_app(flags=True), terminal_size=size, run_before=settled(activity_pane)
    )


@pytest.mark.parametrize("size", SIZES)
def test_activity_terminate_the_blocker(snap_compare, size) -> None:  # type: ignore[no-untyped-def]
    async def terminate(pilot: Pilot) -> None:
        await activity_pane(pilot)
        tree = pilot.app.screen.query_one("#blocking")
        tree.focus()
        tree.move_cursor(row=0)
        await pilot.pause(0.1)
        await pilot.press("K")
        await until(pilot, lambda: isinstance(pilot.app.screen, ConfirmDialog))

    assert snap_compare(fixed_app(flags=True), terminal_size=size, run_before=settled(terminate))


@pytest.mark.parametrize("size", SIZES)
def test_activity_session_detail(snap_compare, size) -> None:  # type: ignore[no-untyped-def]
    async def detail(pilot: Pilot) -> None:
        await activity_pane(pilot)
        pilot.app.push_screen(SessionDetailScreen(SESSIONS[2]))

    assert snap_compare(fixed_app(flags=True), terminal_size=size, run_before=settled(detail))


@pytest.mark.parametrize("size", SIZES)
def test_activity_sorted_by_pid_without_idle(snap_compare, size) -> None:  # type: ignore[no-untyped-def]
    async def sorted_(pilot: Pilot) -> None:
        await activity_pane(pilot)
        await pilot.press("s", "i")

    assert snap_compare(fixed_app(flags=True), terminal_size=size, run_before=settled(sorted_))


@pytest.mark.parametrize("size", SIZES)
def test_audit(snap_compare, size) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(fixed_app(flags=True), terminal_size=size, run_before=settled(audit_pane))


@pytest.mark.parametrize("size", SIZES)
def test_audit_checks(snap_compare, size) -> None:  # type: ignore[no-untyped-def]
    async def checks(pilot: Pilot) -> None:
        await audit_pane(pilot)
        await pilot.press("c")

    assert snap_compare(fixed_app(flags=True), terminal_size=size, run_before=settled(checks))
