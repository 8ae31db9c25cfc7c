"""The Troubleshoot pane and the overview's runbook markers, driven by Pilot on real servers.

Each condition is real: a Redis filled past its maxmemory with noeviction,
a PostgreSQL session left idle in a transaction, a Redis that does not
listen. Remedies go through the same dialogs an operator sees and change the
real servers; read-only sessions refuse them at every door.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest
from doctor_support import fill_redis
from servers import PgServer, free_port, redis_server
from textual.widgets import Checkbox, Input, OptionList, Select
from ui_helpers import click_button, fast_app, key_of, settle, static_text, wait_for

from alfred_tui.database_actions import ReadOnlyRefused, read_journal
from alfred_tui.metrics import Verdict
from alfred_tui.screens import overview as overview_module
from alfred_tui.screens.dialogs import ConfirmDialog
from alfred_tui.screens.overview import OverviewPane
from alfred_tui.screens.troubleshoot import TroubleshootPane
from alfred_tui.screens.troubleshoot_dialogs import ExplainDialog, RemedyChooser, RemedyValuesDialog
from alfred_tui.widgets.notes import ServiceNotes
from alfred_tui.widgets.overview_tables import ServicesTable
from alfred_tui.widgets.runbook_view import RunbookList

pytestmark = pytest.mark.timeout(180)

#: The transaction-duration alert at 0.5 s so an idle transaction is flagged in a second.
FAST_THRESHOLDS = """\
metrics:
  postgres_transaction_duration_seconds:
    unit: s
    normal: {min: 0.001, max: 0.2}
    alert: {above: 0.5}
    warn: above
"""


def profile_text(pg: PgServer, redis_port: int, extra: str = "") -> str:
    return (
        "extends: local\n"
        "ui:\n  refresh_seconds: 0.3\n"
        f"{extra}"
        "services:\n"
        "  postgres:\n"
        f'    ports: ["127.0.0.1:{pg.port}:5432"]\n'
        "    environment:\n"
        f"      POSTGRES_PASSWORD: {pg.password}\n"
        "  redis:\n"
        f'    ports: ["127.0.0.1:{redis_port}:6379"]\n'
        "  qdrant:\n    enabled: false\n"
    )


@pytest.fixture(autouse=True)
def quick_markers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Runbook markers every half second instead of every five."""
    monkeypatch.setattr(overview_module, "MARKER_SECONDS", 0.5)


def notices(app, severity: str | None = None) -> list[str]:  # type: ignore[no-untyped-def]
    return [
        f"{title}: {message}"
        for level, title, message in app.notification_log
        if severity is None or level == severity
    ]


def troubleshoot(app) -> TroubleshootPane:  # type: ignore[no-untyped-def]
    pane = app._panes["troubleshoot"]
    assert isinstance(pane, TroubleshootPane)
    return pane


async def confirm(pilot, app) -> str:  # type: ignore[no-untyped-def]
    """Wait for the confirmation dialog, return what it says, and press its confirm button."""
    await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog), what="confirm dialog")
    dialog = app.screen
    text = "\n".join(dialog.plan.lines)
    await click_button(pilot)
    return text


async def test_full_redis_marks_the_overview_and_its_runbook_changes_the_policy(
    write_profile, pg: PgServer
) -> None:
    with redis_server("--maxmemory", "2mb", "--maxmemory-policy", "noeviction") as server:
        assert await fill_redis(server.host, server.port) < 4000  # refused: full
        app = fast_app(write_profile(profile_text(pg, server.port), name="full-redis"))
        async with app.run_test(size=(80, 24)) as pilot:
            overview = app._panes["overview"]
            assert isinstance(overview, OverviewPane)
            await wait_for(
                pilot,
                lambda: overview.flags.get("redis") is not None and overview.flags["redis"].flagged,
                what="a runbook marker on redis",
            )
            flag = overview.flags["redis"]
            assert (flag.verdict, flag.runbook) == ("CRITICAL", "redis-memory")
            assert "noeviction" in flag.summary
            assert not overview.flags["postgres"].flagged
            await settle(pilot)
            services = overview.query_one(ServicesTable)
            assert "CRITICAL ⚑" in services.row_text("redis") or "⚑" in services.row_text("redis")
            assert "⚑" not in services.row_text("postgres")
            notes = str(overview.query_one(ServiceNotes).render())
            assert "⚑ redis memory: used of maxmemory" in notes and "(t: runbook)" in notes

            # The palette offers the runbook by name.
            titles = [title for title, _, _ in app.palette_entries(app.screen)]
            assert "Open runbook: Redis memory pressure (⚑ redis CRITICAL)" in titles

            # t on the redis row opens the Troubleshoot pane on the memory runbook.
            services.move_cursor(row=services.visible_keys.index("redis"))
            await pilot.press("t")
            await wait_for(pilot, lambda: app.current_mode == "troubleshoot", what="troubleshoot")
            pane = troubleshoot(app)
            await wait_for(
                pilot,
                lambda: pane.selected == "redis-memory" and pane.report is not None,
                what="the redis-memory report",
            )
            report = pane.report
            assert report is not None and report.verdict == Verdict.CRITICAL
            assert pane.query_one(RunbookList).selected_key == "redis-memory"
            assert report.table("Biggest prefixes").rows[0][1] == "alfred:cache:"
            shown = static_text(pane.query_one("#report-body"))
            assert "What you can do" in shown and "Why it matters" in shown

            # a: choose "change policy", keep the suggested allkeys-lru, read the plan, confirm.
            await pilot.press("a")
            await wait_for(pilot, lambda: isinstance(app.screen, RemedyChooser), what="chooser")
            chooser = app.screen
            ids = [r.id for r in chooser.remedies]
            assert "change-policy" in ids
            chooser.query_one(OptionList).highlighted = ids.index("change-policy")
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, RemedyValuesDialog))
            assert app.screen.query_one("#policy", Select).value == "allkeys-lru"
            await pilot.press("enter")
            plan = await confirm(pilot, app)
            assert "maxmemory-policy from noeviction to allkeys-lru" in plan
            assert "CONFIG SET maxmemory-policy allkeys-lru" in plan
            assert "--maxmemory-policy" in plan  # the profile YAML that keeps it
            await wait_for(
                pilot,
                lambda: any(n.startswith("Done: Change maxmemory-policy") for n in notices(app)),
                what="the done notification",
            )
            assert server.cli("CONFIG", "GET", "maxmemory-policy").splitlines()[1] == "allkeys-lru"
            assert read_journal()[-1]["previous"]["maxmemory-policy"] == "noeviction"
            # The runbook ran again: it no longer says writes are refused by noeviction.
            await wait_for(
                pilot,
                lambda: (
                    pane.report is not None and "noeviction" not in pane.report.detection.summary
                ),
                what="the refreshed diagnosis",
            )
            assert not notices(app, "error")

            # Back on the overview, the palette entry opens the same runbook.
            await pilot.press("1")
            entry = next(
                callback
                for title, _, callback in app.palette_entries(app.screen)
                if title == "Troubleshoot redis"
            )
            await entry()
            await wait_for(pilot, lambda: app.current_mode == "troubleshoot")
            assert troubleshoot(app).selected == "redis-memory"


async def test_idle_in_transaction_is_terminated_through_the_runbooks_dialogs(
    write_profile, pg: PgServer, redis
) -> None:
    stuck = await asyncpg.connect(pg.dsn(), server_settings={"application_name": "forgetful"})
    await stuck.execute("BEGIN")
    await stuck.fetchval("SELECT 1")
    pid = stuck.get_server_pid()
    await asyncio.sleep(0.7)
    try:
        path = write_profile(profile_text(pg, redis.port, FAST_THRESHOLDS), name="idle-tx")
        app = fast_app(path)
        async with app.run_test(size=(160, 48)) as pilot:
            await pilot.press(key_of("troubleshoot"))
            await wait_for(pilot, lambda: app.current_mode == "troubleshoot")
            pane = troubleshoot(app)
            await wait_for(
                pilot,
                lambda: (
                    pane.report is not None
                    and pane.report.info.name == "postgres-connections"
                    and pane.report.verdict == Verdict.WARNING
                ),
                what="the connections runbook warning",
            )
            idle = pane.report.table("Idle in transaction")
            assert idle is not None and [row[0] for row in idle.rows] == [pid]
            assert idle.rows[0][2] == "forgetful"

            await pilot.press("a")
            await wait_for(pilot, lambda: isinstance(app.screen, RemedyChooser))
            ids = [r.id for r in app.screen.remedies]
            assert ids[0] == "terminate-idle-in-transaction"
            await pilot.press("enter")
            plan = await confirm(pilot, app)
            assert f"Terminate 1 session: pid {pid} (forgetful, idle in transaction" in plan
            assert f"SELECT pg_terminate_backend({pid})" in plan
            assert "rolled back" in plan
            await wait_for(
                pilot,
                lambda: any(f"pid {pid}: terminated" in n for n in notices(app)),
                what="terminated",
            )
            assert pg.psql(f"SELECT count(*) FROM pg_stat_activity WHERE pid = {pid}") == "0"
            await wait_for(
                pilot,
                lambda: (
                    pane.report is not None
                    and pane.report.info.name == "postgres-connections"
                    and pane.report.verdict == Verdict.OK
                ),
                what="the runbook OK again",
            )
            assert read_journal()[-1]["previous"]["sessions"][0]["application"] == "forgetful"
    finally:
        stuck.terminate()


async def test_read_only_refuses_remedies_everywhere(write_profile, pg: PgServer, redis) -> None:
    stuck = await asyncpg.connect(pg.dsn(), server_settings={"application_name": "still-here"})
    await stuck.execute("BEGIN")
    await stuck.fetchval("SELECT 1")
    pid = stuck.get_server_pid()
    await asyncio.sleep(0.7)
    try:
        path = write_profile(profile_text(pg, redis.port, FAST_THRESHOLDS), name="ro")
        app = fast_app(path, readonly=True)
        async with app.run_test(size=(120, 36)) as pilot:
            await pilot.press(key_of("troubleshoot"))
            await wait_for(pilot, lambda: app.current_mode == "troubleshoot")
            pane = troubleshoot(app)
            await wait_for(
                pilot,
                lambda: pane.report is not None and pane.report.verdict == Verdict.WARNING,
                what="the warning",
            )
            # Not in the footer, not in the palette; the key says why; a direct call too.
            assert pane.check_action("apply_remedy", ()) is False
            titles = [t for t, _, _ in app.palette_entries(app.screen)]
            assert not [t for t in titles if t.startswith("Apply:")]
            assert "Open runbook: PostgreSQL high connections" in titles
            await pilot.press("a")
            pane.action_apply_remedy("terminate-idle-in-transaction")
            await settle(pilot)
            refusals = [n for n in notices(app, "warning") if n.startswith("Read-only")]
            assert len(refusals) == 2
            assert not isinstance(app.screen, RemedyChooser | ConfirmDialog)
            shown = static_text(pane.query_one("#report-body"))
            assert "read-only: not from here" in shown
            # The action layer refuses as well.
            with pytest.raises(ReadOnlyRefused):
                await app.session.troubleshoot.perform("terminate", {"pids": [pid]}, confirm=False)
            assert pg.psql(f"SELECT count(*) FROM pg_stat_activity WHERE pid = {pid}") == "1"
    finally:
        stuck.terminate()


async def test_redis_that_does_not_answer_is_unknown_not_a_crash(
    write_profile, pg: PgServer
) -> None:
    port = free_port()  # nothing listens there
    app = fast_app(write_profile(profile_text(pg, port), name="no-redis"))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press(key_of("troubleshoot"))
        await wait_for(pilot, lambda: app.current_mode == "troubleshoot")
        pane = troubleshoot(app)
        await wait_for(pilot, lambda: bool(pane.infos), what="the runbook list")
        pane.open_runbook("redis-memory")
        await wait_for(
            pilot,
            lambda: pane.report is not None and pane.report.info.name == "redis-memory",
            what="the redis-memory report",
        )
        report = pane.report
        assert report.verdict == Verdict.UNKNOWN
        assert f"127.0.0.1:{port}" in report.detection.summary
        assert "does not answer" in report.detection.summary
        table = pane.query_one(RunbookList)
        await wait_for(pilot, lambda: "UNKNOWN" in table.row_text("redis-latency"))
        # PostgreSQL's runbooks still answered; the UI still moves.
        assert "OK" in table.row_text("postgres-slow-queries")
        await pilot.press("1")
        await wait_for(pilot, lambda: app.current_mode == "overview")
        assert not notices(app, "error")


async def test_explain_plans_a_statement_and_analyze_asks_first(
    write_profile, pg: PgServer, redis
) -> None:
    app = fast_app(write_profile(profile_text(pg, redis.port), name="explain"))
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press(key_of("troubleshoot"))
        await wait_for(pilot, lambda: app.current_mode == "troubleshoot")
        pane = troubleshoot(app)
        await wait_for(pilot, lambda: bool(pane.infos))
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, ExplainDialog), what="the dialog")
        dialog = app.screen
        statement = "SELECT relname FROM pg_class WHERE relname = 'pg_proc'"
        dialog.query_one("#statement", Input).value = statement
        await pilot.press("enter")
        plan = dialog.query_one("#plan")
        await wait_for(pilot, lambda: "Scan" in static_text(plan), what="the plan")
        text = static_text(plan)
        assert text.startswith(f"-- {statement}") and "actual time" not in text

        # ANALYZE runs the statement: it asks first, and says so.
        dialog.query_one("#analyze", Checkbox).value = True
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog), what="consent")
        assert "Run this statement for real" in "\n".join(app.screen.plan.lines)
        await click_button(pilot)
        await wait_for(pilot, lambda: "actual time" in static_text(plan), what="the measured plan")
        assert "rolled back" in static_text(plan)

        # A statement the server refuses is one notification with the server's words.
        dialog.query_one("#analyze", Checkbox).value = False
        dialog.query_one("#statement", Input).value = "SELECT * FROM no_such_table"
        await pilot.press("enter")
        await wait_for(pilot, lambda: bool(notices(app, "error")), what="the refusal")
        assert notices(app, "error")[-1].startswith("Refused by the server: ")
        assert "no_such_table" in notices(app, "error")[-1]


async def test_embedded_qdrant_that_is_not_deployed_is_never_created(
    write_profile, pg: PgServer, redis, isolated_dirs: Path
) -> None:
    text = profile_text(pg, redis.port).replace("  qdrant:\n    enabled: false\n", "")
    app = fast_app(write_profile(text, name="no-store"))
    store = isolated_dirs / "data" / "no-store" / "qdrant"
    async with app.run_test(size=(80, 24)) as pilot:
        overview = app._panes["overview"]
        await wait_for(pilot, lambda: "redis" in overview.flags, what="the markers")
        assert "qdrant" not in overview.flags  # embedded: no marker, no store opened
        await pilot.press(key_of("troubleshoot"))
        await wait_for(pilot, lambda: app.current_mode == "troubleshoot")
        pane = troubleshoot(app)
        await wait_for(pilot, lambda: bool(pane.infos))
        assert [i.name for i in pane.infos][4:6] == ["qdrant-slow-searches", "qdrant-memory"]
        pane.open_runbook("qdrant-memory")
        await wait_for(
            pilot,
            lambda: pane.report is not None and pane.report.info.name == "qdrant-memory",
        )
        assert pane.report.verdict == Verdict.UNKNOWN
        assert "no embedded store" in pane.report.detection.summary
        assert "deploy it first" in pane.report.detection.summary
        assert f"no embedded store at {store}" in pane.report.detection.summary
        assert not store.exists()
