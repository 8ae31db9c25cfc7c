"""The Activity pane driven by Pilot on a real PostgreSQL: sessions, the blocking tree, terminate.

A real lock chain (holder <- first <- second) must show as a chain, and
terminating the holder through the dialog must end it and let the waiters
through. A session idle in a transaction shows as such with its age; sort,
filter and the idle toggle work by key; read-only refuses; a PostgreSQL that
does not answer is shown DOWN with its reason while the UI keeps moving.
"""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from doctor_support import lock_chain
from servers import PgServer, free_port
from ui_helpers import click_button, fast_app, key_of, settle, wait_for

from alfred_tui.screens.activity import ActivityPane
from alfred_tui.screens.dialogs import ConfirmDialog
from alfred_tui.screens.troubleshoot_dialogs import SessionDetailScreen
from alfred_tui.widgets.activity_tables import TREE_KEY, BlockingTable, SessionsTable

pytestmark = pytest.mark.timeout(180)


def profile_text(pg_port: int, password: str, redis_port: int) -> str:
    return (
        "extends: local\n"
        "ui:\n  refresh_seconds: 0.3\n"
        "services:\n"
        "  postgres:\n"
        f'    ports: ["127.0.0.1:{pg_port}:5432"]\n'
        "    environment:\n"
        f"      POSTGRES_PASSWORD: {password}\n"
        "  redis:\n"
        f'    ports: ["127.0.0.1:{redis_port}:6379"]\n'
        "  qdrant:\n    enabled: false\n"
    )


def activity(app) -> ActivityPane:  # type: ignore[no-untyped-def]
    pane = app._panes["activity"]
    assert isinstance(pane, ActivityPane)
    return pane


def notices(app, severity: str | None = None) -> list[str]:  # type: ignore[no-untyped-def]
    return [
        f"{title}: {message}"
        for level, title, message in app.notification_log
        if severity is None or level == severity
    ]


async def open_activity(pilot, app) -> ActivityPane:  # type: ignore[no-untyped-def]
    await pilot.press(key_of("activity"))
    await wait_for(pilot, lambda: app.current_mode == "activity", what="the activity pane")
    pane = activity(app)
    await wait_for(pilot, lambda: pane.view is not None, what="a first reading")
    return pane


async def test_lock_chain_shows_as_a_tree_and_terminating_the_holder_frees_it(
    write_profile, pg: PgServer, redis
) -> None:
    path = write_profile(profile_text(pg.port, pg.password, redis.port), name="locks")
    async with lock_chain(pg) as chain:
        holder, first, second = chain.pids
        app = fast_app(path)
        async with app.run_test(size=(80, 24)) as pilot:
            pane = await open_activity(pilot, app)
            tree = pane.query_one(BlockingTable)
            await wait_for(pilot, lambda: len(tree.visible_keys) == 3, what="the tree")
            assert tree.visible_keys == [f"{TREE_KEY}{p}" for p in (holder, first, second)]
            assert tree.row_text(f"{TREE_KEY}{holder}").startswith(f"{holder} holder")
            assert "2 wait" in tree.row_text(f"{TREE_KEY}{holder}")
            assert tree.row_text(f"{TREE_KEY}{first}").startswith(f"└─ {first} first-waiter")
            assert tree.row_text(f"{TREE_KEY}{second}").startswith(f"   └─ {second} second-waiter")
            summary = str(pane.query_one("#activity-summary").render())
            assert "2 waiting on a lock" in summary and "1 idle in transaction" in summary
            sessions = pane.query_one(SessionsTable)
            assert "Lock:" in sessions.row_text(str(first))

            # Select the holder in the tree and terminate it through the dialog.
            tree.focus()
            tree.move_cursor(row=0)
            await settle(pilot)
            assert pane.selected_pid == holder
            await pilot.press("K")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog), what="dialog")
            dialog = app.screen
            plan = "\n".join(dialog.plan.lines)
            assert dialog.plan.title == f"Terminate session {holder}"
            assert f"pid {holder} (holder, idle in transaction for" in plan
            assert f"SELECT pg_terminate_backend({holder})" in plan
            assert dialog.plan.destructive  # the focus starts on Cancel
            assert app.focused is not None and app.focused.id == "cancel"
            await click_button(pilot)
            await wait_for(
                pilot,
                lambda: any(f"pid {holder}: terminated" in n for n in notices(app)),
                what="terminated",
            )
            # The waiters got their lock: the first update finished, the tree is gone.
            await asyncio.wait_for(chain.tasks[0], 10)
            await wait_for(pilot, lambda: tree.visible_keys == [], what="an empty tree")
            assert pane.session.generation == app.session.generation
            assert pg.psql(f"SELECT count(*) FROM pg_stat_activity WHERE pid = {holder}") == "0"
            assert not notices(app, "error")


async def test_idle_in_transaction_sort_filter_idle_toggle_and_details(
    write_profile, pg: PgServer, redis
) -> None:
    stuck = await asyncpg.connect(pg.dsn(), server_settings={"application_name": "forgetful"})
    idle = await asyncpg.connect(pg.dsn(), server_settings={"application_name": "sleepy"})
    await stuck.execute("BEGIN")
    await stuck.fetchval("SELECT 42 AS answer")
    await idle.fetchval("SELECT 1")
    pid, idle_pid = stuck.get_server_pid(), idle.get_server_pid()
    await asyncio.sleep(1.2)
    try:
        app = fast_app(write_profile(profile_text(pg.port, pg.password, redis.port), name="idle"))
        async with app.run_test(size=(160, 48)) as pilot:
            pane = await open_activity(pilot, app)
            sessions = pane.query_one(SessionsTable)
            await wait_for(pilot, lambda: str(pid) in sessions.visible_keys)
            row = sessions.row_text(str(pid))
            assert "forgetful" in row and "idle in transaction" in row
            assert "SELECT 42 AS answer" in row
            session = pane.view.session(pid)
            assert session is not None and session.duration_seconds >= 1.0
            # Longest first by default: the stuck transaction is above the fresh sessions.
            keys = sessions.visible_keys
            assert keys.index(str(pid)) < keys.index(str(idle_pid)) or (
                pane.view.session(idle_pid).duration_seconds >= session.duration_seconds
            )

            await pilot.press("s")  # duration -> pid
            await settle(pilot)
            assert pane.sort == "pid"
            assert sessions.visible_keys == sorted(sessions.visible_keys, key=int)
            await pilot.press("S")
            assert pane.sort == "duration"

            await pilot.press("i")  # hide idle
            await wait_for(pilot, lambda: str(idle_pid) not in sessions.visible_keys)
            assert str(pid) in sessions.visible_keys  # idle *in transaction* stays
            await pilot.press("i")
            await wait_for(pilot, lambda: str(idle_pid) in sessions.visible_keys)

            await pilot.press("slash", *"forgetful")
            await wait_for(pilot, lambda: sessions.visible_keys == [str(pid)], what="filtered")
            await pilot.press("enter")  # keep the filter, back to the table
            await settle(pilot)
            await pilot.press("enter")  # details of the selected session
            await wait_for(pilot, lambda: isinstance(app.screen, SessionDetailScreen))
            assert app.screen.pg_session.pid == pid
            await pilot.press("escape")
            # The filter keeps working across refreshes.
            polls_later = pane.activity
            await wait_for(pilot, lambda: pane.activity is not polls_later, what="a refresh")
            assert sessions.visible_keys == [str(pid)]

            # Hidden, it stops reading (three refresh periods without a new reading).
            await pilot.press("1")
            await wait_for(pilot, lambda: app.current_mode == "overview")
            await settle(pilot, 0.4)
            hidden = pane.activity
            await settle(pilot, 1.0)
            assert pane.activity is hidden
            await pilot.press(key_of("activity"))
            await wait_for(pilot, lambda: pane.activity is not hidden, what="reading again")
    finally:
        stuck.terminate()
        idle.terminate()


async def test_read_only_refuses_cancel_and_terminate(write_profile, pg: PgServer, redis) -> None:
    stuck = await asyncpg.connect(pg.dsn(), server_settings={"application_name": "keep-me"})
    await stuck.execute("BEGIN")
    await stuck.fetchval("SELECT 1")
    pid = stuck.get_server_pid()
    try:
        path = write_profile(profile_text(pg.port, pg.password, redis.port), name="ro-activity")
        app = fast_app(path, readonly=True)
        async with app.run_test(size=(80, 24)) as pilot:
            pane = await open_activity(pilot, app)
            sessions = pane.query_one(SessionsTable)
            await wait_for(pilot, lambda: str(pid) in sessions.visible_keys)
            sessions.move_cursor(row=sessions.visible_keys.index(str(pid)))
            assert pane.check_action("terminate", ()) is False
            assert pane.check_action("cancel_query", ()) is False
            titles = [t for t, _, _ in app.palette_entries(app.screen)]
            assert not [t for t in titles if t.startswith(("Terminate", "Cancel"))]
            for key in ("K", "C"):
                await pilot.press(key)
            pane.action_terminate()
            await settle(pilot)
            refusals = [n for n in notices(app, "warning") if n.startswith("Read-only")]
            assert len(refusals) == 3
            assert not isinstance(app.screen, ConfirmDialog)
            assert pg.psql(f"SELECT count(*) FROM pg_stat_activity WHERE pid = {pid}") == "1"
    finally:
        stuck.terminate()


async def test_postgres_that_does_not_answer_is_down_with_its_reason(write_profile, redis) -> None:
    port = free_port()  # nothing listens there
    app = fast_app(write_profile(profile_text(port, "unused", redis.port), name="no-pg"))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press(key_of("activity"))
        await wait_for(pilot, lambda: app.current_mode == "activity")
        pane = activity(app)
        await wait_for(pilot, lambda: bool(pane.down), what="DOWN")
        summary = str(pane.query_one("#activity-summary").render())
        assert summary.startswith("PostgreSQL DOWN: ")
        assert f"127.0.0.1:{port}" in summary and "retry in" in summary
        # Retried with backoff, not at the refresh rate; the UI still moves meanwhile.
        await wait_for(pilot, lambda: pane._backoff.failures >= 2, what="a second attempt")
        assert pane._backoff.next_attempt > 0
        await pilot.press("1")
        await wait_for(pilot, lambda: app.current_mode == "overview")
        await pilot.press(key_of("activity"))
        await wait_for(pilot, lambda: app.current_mode == "activity")
        assert not [n for n in notices(app, "error") if "activity" in n.lower()]
