"""PostgreSQL runbooks on real servers, each triggered by a real induced condition.

A server with max_connections 20 (17 usable, 3 reserved for superusers) and
pg_stat_statements preloaded is shared by the module; tests that restart a
server or need the extension missing start their own.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import uuid
from collections.abc import Iterator

import asyncpg
import pytest
from doctor_support import connections, context_for, profile_text, write
from localdeploy import LocalDeployment
from pydantic import SecretStr
from servers import PgServer, _as_owner, postgres_server

from alfred_tui.database_actions import ActionRefused
from alfred_tui.databases.activity import signal_sessions
from alfred_tui.databases.postgres import PostgresClient, PostgresTarget
from alfred_tui.databases.statements import (
    explain,
    statement_text,
    statements_status,
    top_statements,
)
from alfred_tui.metrics import Verdict
from alfred_tui.troubleshoot.pg_connections import PostgresConnections
from alfred_tui.troubleshoot.pg_slow_queries import PostgresSlowQueries

#: Tighter transaction-duration thresholds so the tests wait 0.7 s, not 2 s.
FAST_THRESHOLDS = """
metrics:
  postgres_transaction_duration_seconds:
    unit: s
    normal: {min: 0.001, max: 0.2}
    alert: {above: 0.5}
    warn: above
"""


@pytest.fixture(scope="module")
def pg20() -> Iterator[PgServer]:
    with postgres_server(
        {"max_connections": "20", "shared_preload_libraries": "pg_stat_statements"}
    ) as server:
        server.psql("CREATE EXTENSION pg_stat_statements")
        yield server


async def test_most_connections_in_use_warns_then_goes_critical(pg20: PgServer, tmp_path) -> None:
    runbook = PostgresConnections()
    async with context_for(write(tmp_path, profile_text(pg20))) as ctx:
        assert (await runbook.detect(ctx)).verdict == Verdict.OK
        async with connections(pg20, 13, "agent-financial"):  # 13 + ours = 14 of 17: 82%
            report = await runbook.run(ctx)
            assert report.verdict == Verdict.WARNING
            assert "14 of 17 usable" in report.detection.evidence[0].value
            by_app = report.table("By application")
            assert by_app is not None and by_app.rows[0] == ("agent-financial", 13)
            ids = [r.id for r in report.remedies]
            assert "connection-pooler" in ids and "raise-max-connections" in ids
            assert report.notes == (
                "the profile asks for max_connections 1000 but the server runs with 20: "
                "changed outside the profile, or not restarted since",
            )
            raise_it = report.remedy("raise-max-connections")
            assert raise_it.needs_restart and "max_connections=40" in raise_it.profile_yaml
            assert "restart" in raise_it.cost
            async with connections(pg20, 3, "agent-legal"):  # 17 of 17
                detection = await runbook.detect(ctx)
                assert detection.verdict == Verdict.CRITICAL
                assert "17 of 17 usable" in detection.summary


async def test_every_slot_taken_is_critical(pg20: PgServer, tmp_path) -> None:
    path = write(tmp_path, profile_text(pg20))
    async with connections(pg20, 20, "leaky-worker"), context_for(path) as ctx:
        detection = await PostgresConnections().detect(ctx)
    assert detection.verdict == Verdict.CRITICAL
    assert "refuses new connections" in detection.summary


async def test_idle_in_transaction_is_found_and_terminated(pg20: PgServer, tmp_path) -> None:
    stuck = await asyncpg.connect(pg20.dsn(), server_settings={"application_name": "forgetful"})
    await stuck.execute("BEGIN")
    await stuck.fetchval("SELECT 1")
    await asyncio.sleep(0.7)
    path = write(tmp_path, profile_text(pg20, extra=FAST_THRESHOLDS))
    try:
        async with context_for(path) as ctx:
            report = await PostgresConnections().run(ctx)
            assert report.verdict == Verdict.WARNING
            assert "idle in transaction" in report.detection.summary
            idle = report.table("Idle in transaction")
            assert idle is not None and idle.rows[0][0] == stuck.get_server_pid()
            assert idle.rows[0][2] == "forgetful"
            remedy = report.remedy("terminate-idle-in-transaction")
            assert remedy is not None and remedy.destructive
            assert remedy.parameters == {"pids": [stuck.get_server_pid()]}
            assert remedy.command == f"alfred-tui activity terminate {stuck.get_server_pid()} --yes"
            timeout = report.remedy("idle-in-transaction-timeout")
            assert "idle_in_transaction_session_timeout=60s" in timeout.profile_yaml
            outcome = await signal_sessions(
                await ctx.postgres(),
                remedy.parameters["pids"],
                "terminate",
                confirm=True,
                readonly=False,
            )
            assert outcome.applied
            assert (await PostgresConnections().detect(ctx)).verdict == Verdict.OK
    finally:
        stuck.terminate()


async def test_slow_query_running_now_is_critical_and_history_warns(
    pg20: PgServer, tmp_path
) -> None:
    pg20.psql("SELECT pg_sleep(0.3)")  # history: past the 0.2 s warning line
    slow = await asyncpg.connect(pg20.dsn(), server_settings={"application_name": "report-job"})
    task = asyncio.create_task(slow.fetch("SELECT pg_sleep(20)"))
    await asyncio.sleep(0.8)
    try:
        path = write(tmp_path, profile_text(pg20, extra=FAST_THRESHOLDS))
        async with context_for(path) as ctx:
            report = await PostgresSlowQueries().run(ctx)
        assert report.verdict == Verdict.CRITICAL
        evidence = {e.label: e for e in report.detection.evidence}
        assert evidence["running now"].verdict == Verdict.CRITICAL
        assert evidence["history (pg_stat_statements)"].verdict == Verdict.WARNING
        running = report.table("Running now")
        assert running.rows[0][0] == slow.get_server_pid()
        assert "pg_sleep" in running.rows[0][5]
        by_mean = report.table("Top statements by mean time")
        assert any("pg_sleep" in row[5] for row in by_mean.rows)
        assert not any("alfred-tui" in str(row[5]) for row in by_mean.rows)  # not our own
        cancel = report.remedy(f"cancel-{slow.get_server_pid()}")
        assert cancel.command == f"alfred-tui activity cancel {slow.get_server_pid()} --yes"
        explain_remedy = report.remedy("explain")
        assert explain_remedy.command.startswith("alfred-tui doctor explain --query-id ")
    finally:
        slow.terminate()
        await asyncio.gather(task, return_exceptions=True)


async def test_explain_by_query_id_and_analyze_only_with_consent(
    pg20: PgServer, tmp_path, cli, validate_schema
) -> None:
    table = f"orders_{uuid.uuid4().hex[:6]}"
    scanner = await asyncpg.connect(pg20.dsn())
    await scanner.execute(f"CREATE TABLE {table} (id int, customer int, total numeric)")
    await scanner.execute(
        f"INSERT INTO {table} SELECT g, g % 500, g * 1.5 FROM generate_series(1, 20000) g"
    )
    await scanner.execute(f"ANALYZE {table}")
    for customer in range(5):
        await scanner.fetch(f"SELECT * FROM {table} WHERE customer = $1", customer)
    await scanner.fetchval("SELECT pg_stat_force_next_flush()")
    await scanner.fetchval("SELECT 1")
    path = write(tmp_path, profile_text(pg20))
    try:
        async with context_for(path) as ctx:
            client = await ctx.postgres()
            status = await statements_status(client)
            assert status.ready and status.version_num >= 150000
            statement = next(
                s
                for s in await top_statements(client, status, "total", 50)
                if f"FROM {table} WHERE customer" in s.query
            )
            assert statement.calls == 5
            sql = await statement_text(client, status, statement.queryid)
            plan = await explain(client, sql)
            assert plan.generic and not plan.analyzed
            assert any("Seq Scan" in line for line in plan.plan)

            with pytest.raises(ActionRefused, match="consent"):
                await explain(client, f"DELETE FROM {table}", analyze=True)
            analyzed = await explain(
                client, f"DELETE FROM {table} WHERE customer = 1", analyze=True, consent=True
            )
            assert any("actual time" in line for line in analyzed.plan)
            assert await scanner.fetchval(f"SELECT count(*) FROM {table}") == 20000  # rolled back
            with pytest.raises(asyncpg.PostgresSyntaxError):
                await explain(client, f"SELECT 1; DROP TABLE {table}")
            assert await scanner.fetchval(f"SELECT count(*) FROM {table}") == 20000

            report = await PostgresSlowQueries().run(ctx)
            candidates = report.table("Index candidates")
            assert any(row[0] == f"public.{table}" and row[1] >= 5 for row in candidates.rows)
            assert report.remedy("add-index") is not None

        result = await asyncio.to_thread(
            cli,
            "doctor",
            "explain",
            "--query-id",
            str(statement.queryid),
            "--profile",
            str(path),
            "-o",
            "json",
        )
        assert result.returncode == 0, result.stderr
        document = json.loads(result.stdout)
        validate_schema(document, "explain")
        assert document["generic"] and any("Seq Scan" in line for line in document["plan"])

        refused = await asyncio.to_thread(
            cli,
            "doctor",
            "explain",
            f"SELECT count(*) FROM {table}",
            "--analyze",
            "--profile",
            str(path),
        )
        assert refused.returncode == 2 and "add --yes" in refused.stderr
    finally:
        await scanner.execute(f"DROP TABLE {table}")
        await scanner.close()


def _restart(server: PgServer) -> None:
    subprocess.run(
        _as_owner(
            [
                str(server.bindir / "pg_ctl"),
                "-D",
                str(server.data_dir),
                "-w",
                "-t",
                "60",
                "-l",
                str(server.data_dir.parent / "server.log"),
                "restart",
            ],
            server.owner,
        ),
        check=True,
        capture_output=True,
        timeout=90,
    )


async def test_missing_pg_stat_statements_is_enabled_after_a_restart(
    tmp_path, cli, validate_schema
) -> None:
    with postgres_server() as server:
        path = write(tmp_path, profile_text(server))
        async with context_for(path) as ctx:
            report = await PostgresSlowQueries().run(ctx)
        assert report.verdict == Verdict.OK
        assert any("shared_preload_libraries" in note for note in report.notes)
        assert report.table("Top statements by total time") is None
        enable = report.remedy("enable-pg-stat-statements")
        assert enable.needs_restart
        assert "shared_preload_libraries=pg_stat_statements" in enable.profile_yaml
        assert enable.command == "alfred-tui doctor enable-pg-stat-statements --yes"

        result = await asyncio.to_thread(
            cli,
            "doctor",
            "enable-pg-stat-statements",
            "--yes",
            "--profile",
            str(path),
            "-o",
            "json",
        )
        assert result.returncode == 0, result.stderr
        outcome = json.loads(result.stdout)
        validate_schema(outcome, "action")
        assert outcome["restart_needed"] and outcome["previous"] == {"shared_preload_libraries": ""}
        await asyncio.to_thread(_restart, server)
        server.psql("SELECT pg_sleep(0.1)")
        async with context_for(path) as ctx:
            status = await statements_status(await ctx.postgres())
            assert status.ready
            report = await PostgresSlowQueries().run(ctx)
        assert report.table("Top statements by total time").rows
        assert not report.notes


def test_enabling_is_refused_when_the_server_command_line_sets_the_libraries(cli) -> None:
    """ALTER SYSTEM cannot override ``-c`` on the command line: the profile's command is the way.

    Where the value comes from is read only when enabling (pg_settings builds
    every setting's row), so this path has a test of its own.
    """
    command = ["postgres", "-c", "listen_addresses=127.0.0.1"]
    command += ["-c", "shared_preload_libraries=auto_explain"]
    overrides = {
        "services": {
            "postgres": {"command": command},
            "redis": {"enabled": False},
            "qdrant": {"enabled": False},
        }
    }
    with LocalDeployment(name="preload-on-command-line", overrides=overrides) as local:
        local.up()
        path = str(local.profile_path)
        result = cli("doctor", "enable-pg-stat-statements", "--yes", "--profile", path)
        preload = local.postgres_value("SHOW shared_preload_libraries")
    assert result.returncode == 2, result.stderr
    assert "set on the server's command line" in result.stderr
    assert "Traceback" not in result.stderr
    assert preload == "auto_explain"  # nothing was changed


async def test_the_probe_reads_the_database_size_once_every_30_seconds(monkeypatch) -> None:
    """pg_database_size stats every file of the database: half of a probe's server time."""
    import alfred_tui.databases.postgres as postgres_module

    with postgres_server() as server:
        target = PostgresTarget(
            "127.0.0.1", server.port, server.user, SecretStr(server.password), "postgres"
        )
        client = PostgresClient(target, query_timeout=10)
        try:
            first = await client.sample()
            server.psql(
                "CREATE TABLE padding AS "
                "SELECT g, repeat('x', 500) AS filler FROM generate_series(1, 20000) g"
            )
            kept = await client.sample()
            monkeypatch.setattr(postgres_module, "DATABASE_SIZE_SECONDS", 0.0)
            read_again = await client.sample()
        finally:
            await client.close()
    assert first.database_size_bytes > 0
    assert kept.database_size_bytes == first.database_size_bytes
    assert read_again.database_size_bytes > first.database_size_bytes + 5_000_000
    assert kept.transactions_total > first.transactions_total  # the rest is read every time
