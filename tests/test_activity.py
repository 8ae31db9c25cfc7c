"""PostgreSQL activity on a real server: sessions, a real lock chain, cancel and terminate."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from doctor_support import context_for, profile_text, write
from servers import PgServer

from alfred_tui.database_actions import ActionRefused, ReadOnlyRefused, read_journal
from alfred_tui.databases.activity import (
    Session,
    blocking_tree,
    fetch_activity,
    filter_sessions,
    scrub_query,
    signal_sessions,
    sort_sessions,
)


async def _wait_for(pg: PgServer, sql: str, expected: int, timeout: float = 10.0) -> None:
    connection = await asyncpg.connect(pg.dsn())
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            if await connection.fetchval(sql) >= expected:
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"condition not reached: {sql}")
    finally:
        await connection.close()


class LockChain:
    """Three real sessions: ``holder`` holds a row lock, ``first`` waits, ``second`` waits too."""

    def __init__(
        self,
        holder: asyncpg.Connection,
        first: asyncpg.Connection,
        second: asyncpg.Connection,
        tasks: list[asyncio.Task[object]],
    ) -> None:
        self.holder, self.first, self.second, self.tasks = holder, first, second, tasks

    @property
    def pids(self) -> tuple[int, int, int]:
        return (
            self.holder.get_server_pid(),
            self.first.get_server_pid(),
            self.second.get_server_pid(),
        )


@pytest.fixture
async def lock_chain(pg: PgServer) -> AsyncIterator[LockChain]:
    table = f"lock_demo_{uuid.uuid4().hex[:8]}"
    setup = await asyncpg.connect(pg.dsn())
    await setup.execute(f"CREATE TABLE {table} (id int PRIMARY KEY, v int)")
    await setup.execute(f"INSERT INTO {table} VALUES (1, 0)")
    await setup.close()
    names = ("holder", "first-waiter", "second-waiter")
    holder, first, second = [
        await asyncpg.connect(pg.dsn(), server_settings={"application_name": name})
        for name in names
    ]
    await holder.execute("BEGIN")
    await holder.execute(f"UPDATE {table} SET v = v + 1 WHERE id = 1")
    update = f"UPDATE {table} SET v = v + 10 WHERE id = 1"
    tasks: list[asyncio.Task[object]] = [asyncio.create_task(first.execute(update))]
    await _wait_for(pg, "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'", 1)
    tasks.append(asyncio.create_task(second.execute(update)))
    await _wait_for(pg, "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'", 2)
    chain = LockChain(holder, first, second, tasks)
    try:
        yield chain
    finally:
        for connection in (holder, first, second):
            connection.terminate()
        await asyncio.gather(*tasks, return_exceptions=True)
        cleanup = await asyncpg.connect(pg.dsn())
        await cleanup.execute(f"DROP TABLE IF EXISTS {table}")
        await cleanup.close()


async def test_blocking_tree_of_a_real_lock_chain(pg: PgServer, tmp_path, lock_chain) -> None:
    holder, first, second = lock_chain.pids
    async with context_for(write(tmp_path, profile_text(pg))) as ctx:
        activity = await fetch_activity(await ctx.postgres())
    by_pid = {s.pid: s for s in activity.sessions}
    assert by_pid[holder].state == "idle in transaction"
    assert by_pid[first].wait_event_type == "Lock"
    assert holder in by_pid[first].blocked_by
    assert by_pid[second].blocked_by  # waits behind the first waiter (and the holder)
    assert activity.own_pid not in by_pid  # our own session is left out

    trees = blocking_tree(activity.sessions)
    assert len(trees) == 1
    root = trees[0]
    assert root.session.pid == holder
    assert root.total_waiting == 2
    chain = [(depth, s.pid) for depth, s in root.walk()]
    assert chain == [(0, holder), (1, first), (2, second)]


def test_blocking_tree_cuts_a_wait_cycle_and_keeps_it_visible() -> None:
    def session(pid: int, blocked_by: tuple[int, ...]) -> Session:
        return Session(
            pid,
            "u",
            "db",
            "app",
            "local",
            "client backend",
            "active",
            "Lock",
            "transactionid",
            "UPDATE t",
            1.0,
            1.0,
            1.0,
            1.0,
            blocked_by,
        )

    trees = blocking_tree([session(10, (11,)), session(11, (10,)), session(12, ())])
    assert [t.session.pid for t in trees] == [10]
    assert [(d, s.pid) for d, s in trees[0].walk()] == [(0, 10), (1, 11)]


async def test_sort_filter_and_scrub(pg: PgServer, tmp_path) -> None:
    marker = f"scrub_{uuid.uuid4().hex[:6]}"
    busy = await asyncpg.connect(pg.dsn(), server_settings={"application_name": marker})
    task = asyncio.create_task(busy.execute("SELECT pg_sleep(5)"))
    try:
        await _wait_for(
            pg,
            f"SELECT count(*) FROM pg_stat_activity WHERE application_name = '{marker}' "
            "AND state = 'active'",
            1,
        )
        async with context_for(write(tmp_path, profile_text(pg))) as ctx:
            activity = await fetch_activity(await ctx.postgres())
        mine = filter_sessions(activity.clients, marker.upper())
        assert [s.application for s in mine] == [marker]
        assert "pg_sleep" in mine[0].query
        ordered = sort_sessions(activity.clients, "duration")
        durations = [s.duration_seconds or 0 for s in ordered]
        assert durations == sorted(durations, reverse=True)
        with pytest.raises(ValueError, match="sort key"):
            sort_sessions(activity.clients, "colour")
    finally:
        # End the server side too: a closed socket alone leaves pg_sleep running until
        # it finishes, and later tests (the slow-query runbook) would see it.
        pg.psql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            f"WHERE application_name = '{marker}'"
        )
        busy.terminate()
        await asyncio.gather(task, return_exceptions=True)
    text = scrub_query("ALTER ROLE app PASSWORD 'hunter2-secret' VALID UNTIL 'infinity'")
    assert "hunter2" not in text and "********" in text and "infinity" in text


async def test_terminate_is_planned_then_applied_with_a_safety_copy(
    pg: PgServer, tmp_path, lock_chain
) -> None:
    holder = lock_chain.pids[0]
    async with context_for(write(tmp_path, profile_text(pg))) as ctx:
        client = await ctx.postgres()
        plan = await signal_sessions(client, [holder], "terminate", confirm=False, readonly=False)
        assert not plan.applied and plan.destructive
        assert plan.steps == (f"SELECT pg_terminate_backend({holder})",)
        assert "rolled back" in plan.summary
        assert (await fetch_activity(client)).session(holder) is not None  # nothing happened

        with pytest.raises(ReadOnlyRefused):
            await signal_sessions(client, [holder], "terminate", confirm=True, readonly=True)
        with pytest.raises(ActionRefused, match="own connection"):
            await signal_sessions(
                client,
                [client._connection.get_server_pid()],
                "terminate",  # type: ignore[union-attr]
                confirm=True,
                readonly=False,
            )

        done = await signal_sessions(client, [holder], "terminate", confirm=True, readonly=False)
        assert done.applied
        assert done.results == (f"pid {holder}: terminated",)
        after = await fetch_activity(client)
        assert after.session(holder) is None
        # the first waiter got the lock and finished its UPDATE
        await asyncio.wait_for(lock_chain.tasks[0], 5)
    journal = read_journal()
    assert journal[-1]["action"] == "terminate"
    assert journal[-1]["previous"]["sessions"][0]["pid"] == holder
    assert journal[-1]["previous"]["sessions"][0]["state"] == "idle in transaction"


async def test_cancel_stops_a_running_query_and_refuses_an_idle_one(pg: PgServer, tmp_path) -> None:
    busy = await asyncpg.connect(pg.dsn(), server_settings={"application_name": "long-report"})
    idle = await asyncpg.connect(pg.dsn())
    task = asyncio.create_task(busy.fetch("SELECT pg_sleep(30)"))
    try:
        await _wait_for(
            pg,
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'long-report' "
            "AND state = 'active'",
            1,
        )
        async with context_for(write(tmp_path, profile_text(pg))) as ctx:
            client = await ctx.postgres()
            with pytest.raises(ActionRefused, match="runs no query"):
                await signal_sessions(
                    client, [idle.get_server_pid()], "cancel", confirm=True, readonly=False
                )
            done = await signal_sessions(
                client, [busy.get_server_pid()], "cancel", confirm=True, readonly=False
            )
        assert done.results == (f"pid {busy.get_server_pid()}: query cancelled",)
        with pytest.raises(asyncpg.QueryCanceledError):
            await asyncio.wait_for(task, 5)
        assert await busy.fetchval("SELECT 1") == 1  # still connected
    finally:
        busy.terminate()
        idle.terminate()
        await asyncio.gather(task, return_exceptions=True)


async def test_activity_cli_json_shows_the_tree(
    pg: PgServer, tmp_path, lock_chain, cli, validate_schema
) -> None:
    holder, first, second = lock_chain.pids
    path = write(tmp_path, profile_text(pg))
    result = await asyncio.to_thread(cli, "activity", "--profile", str(path), "-o", "json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    validate_schema(document, "activity")
    pids = [s["pid"] for s in document["sessions"]]
    assert {holder, first, second} <= set(pids)
    root = document["blocking"][0]
    assert root["pid"] == holder and root["total_waiting"] == 2
    assert root["waiting"][0]["pid"] == first
    assert root["waiting"][0]["waiting"][0]["pid"] == second

    filtered = await asyncio.to_thread(
        cli, "activity", "--profile", str(path), "-o", "json", "--filter", "second-WAITER"
    )
    assert [s["pid"] for s in json.loads(filtered.stdout)["sessions"]] == [second]

    table = await asyncio.to_thread(cli, "activity", "--profile", str(path))
    assert table.returncode == 0
    assert "Blocking tree" in table.stdout and f"pid {holder}" in table.stdout


async def test_terminate_cli_needs_yes_and_is_refused_read_only(
    pg: PgServer, tmp_path, lock_chain, cli, validate_schema
) -> None:
    holder = lock_chain.pids[0]
    path = str(write(tmp_path, profile_text(pg)))

    refused = await asyncio.to_thread(cli, "activity", "terminate", str(holder), "--profile", path)
    assert refused.returncode == 2
    assert "add --yes" in refused.stderr and "Plan: Terminate 1 session" in refused.stderr

    readonly = await asyncio.to_thread(
        cli, "--readonly", "activity", "terminate", str(holder), "--yes", "--profile", path
    )
    assert readonly.returncode == 2
    assert "Read-only mode" in readonly.stderr
    assert await lock_chain.holder.fetchval("SELECT 1") == 1  # still alive after both refusals

    done = await asyncio.to_thread(
        cli, "activity", "terminate", str(holder), "--yes", "--profile", path, "-o", "json"
    )
    assert done.returncode == 0, done.stderr
    outcome = json.loads(done.stdout)
    validate_schema(outcome, "action")
    assert outcome["applied"] and outcome["results"] == [f"pid {holder}: terminated"]
    with pytest.raises(
        (
            asyncpg.ConnectionDoesNotExistError,
            asyncpg.AdminShutdownError,
            asyncpg.InterfaceError,
            ConnectionError,
        )
    ):
        await lock_chain.holder.fetchval("SELECT 1")
