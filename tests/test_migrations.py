"""Migrations on the real PostgreSQL: status, up, the lock, drift, failures, idempotence."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import asyncpg
import pytest
from pydantic import SecretStr
from servers import PgServer

from alfred_tui.backends.base import Progress
from alfred_tui.databases.migration_files import MigrationSource, bundled_source, discover
from alfred_tui.databases.migration_model import (
    MigrationDrift,
    MigrationError,
    MigrationFailed,
    MigrationState,
)
from alfred_tui.databases.migrations import Migrator
from alfred_tui.databases.postgres import PostgresClient, PostgresTarget

BUNDLED = [
    "0001_extensions",
    "0002_tasks",
    "0003_processed_messages",
    "0004_agent_registry",
    "0005_auth",
    "0006_storage",
    "0007_model_registry",
]
SPEC_TABLES = {
    ("public", "tasks"),
    ("public", "task_results"),
    ("public", "processed_messages"),
    ("public", "agent_registry"),
    ("auth", "users"),
    ("model_registry", "models"),
    ("model_registry", "model_endpoints"),
    ("model_registry", "model_capabilities"),
}


def target(pg: PgServer, database: str) -> PostgresTarget:
    return PostgresTarget(pg.host, pg.port, pg.user, SecretStr(pg.password), database)


def migrator(pg: PgServer, database: str, folder: Path | None = None, **options) -> Migrator:  # type: ignore[no-untyped-def]
    source = MigrationSource("bundled", folder) if folder else bundled_source()
    client = PostgresClient(target(pg, database), query_timeout=10)
    return Migrator(client, discover([source]), **options)


async def connect(pg: PgServer, database: str) -> asyncpg.Connection:
    return await asyncpg.connect(pg.dsn(database))


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A copy of the bundled migrations a test may edit."""
    copy = tmp_path / "migrations"
    shutil.copytree(bundled_source().path, copy)
    return copy


async def test_fresh_database_all_pending_then_up_applies_all(
    pg: PgServer, fresh_database: str
) -> None:
    m = migrator(pg, fresh_database)
    try:
        before = await m.status()
        assert not before.tracking_table
        assert [(e.name, e.state) for e in before.entries] == [
            (name, MigrationState.PENDING) for name in BUNDLED
        ]
        steps: list[str] = []
        result = await m.up(lambda p: steps.append(p.step))
        assert result.ok and result.failure is None
        assert [a.name for a in result.applied] == BUNDLED
        assert steps[0] == "apply 0001_extensions" and steps[-1] == "applied 0007_model_registry"
        after = await m.status()
        assert after.tracking_table
        assert after.counts() == {"applied": 7, "pending": 0, "drifted": 0, "missing": 0}
        again = await m.up()
        assert again.applied == () and again.ok
    finally:
        await m.client.close()

    connection = await connect(pg, fresh_database)
    try:
        # The spec's deployment step reads exactly this.
        rows = await connection.fetch("SELECT * FROM migrations ORDER BY id DESC LIMIT 5")
        assert [r["name"] for r in rows] == BUNDLED[:-6:-1]
        assert all(len(r["checksum"]) == 64 and r["duration"] is not None for r in rows)
        tables = {
            (r["table_schema"], r["table_name"])
            for r in await connection.fetch(
                "SELECT table_schema, table_name FROM information_schema.tables"
            )
        }
        assert tables >= SPEC_TABLES
        assert await connection.fetchval("SELECT to_regnamespace('storage') IS NOT NULL")
        assert (
            await connection.fetchval(
                "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n "
                "ON n.oid = e.extnamespace WHERE e.extname = 'uuid-ossp'"
            )
            == "extensions"
        )
        task_id = await connection.fetchval(
            "INSERT INTO tasks (task_id, intent) VALUES ('t1', 'summarise') RETURNING id"
        )
        assert task_id is not None  # extensions.uuid_generate_v4() default
        with pytest.raises(asyncpg.CheckViolationError, match="tasks_status_check"):
            await connection.execute(
                "INSERT INTO tasks (task_id, intent, status) VALUES ('t2', 'x', 'bogus')"
            )
        with pytest.raises(asyncpg.CheckViolationError, match="tasks_priority_check"):
            await connection.execute(
                "INSERT INTO tasks (task_id, intent, priority) VALUES ('t3', 'x', 9)"
            )
        with pytest.raises(asyncpg.UniqueViolationError):
            await connection.execute("INSERT INTO tasks (task_id, intent) VALUES ('t1', 'again')")
        with pytest.raises(asyncpg.CheckViolationError, match="agent_registry_status_check"):
            await connection.execute(
                "INSERT INTO agent_registry (name, type, version, status) "
                "VALUES ('a', 'b', '1', 'sleeping')"
            )
        with pytest.raises(asyncpg.ForeignKeyViolationError):
            await connection.execute(
                "INSERT INTO tasks (task_id, intent, parent_task_id) "
                "VALUES ('t4', 'x', extensions.uuid_generate_v4())"
            )
        await connection.execute(
            "INSERT INTO task_results (task_id, result_type, content) VALUES ($1, 'text', '{}')",
            task_id,
        )
        await connection.execute("DELETE FROM tasks WHERE id = $1", task_id)
        assert await connection.fetchval("SELECT count(*) FROM task_results") == 0  # cascade
        model = await connection.fetchval(
            "INSERT INTO model_registry.models (name, display_name, provider, model_type) "
            "VALUES ('m', 'M', 'p', 'chat') RETURNING id"
        )
        await connection.execute(
            "INSERT INTO model_registry.model_capabilities (model_id, capability, "
            "capability_score) VALUES ($1, 'code', 0.9)",
            model,
        )
        with pytest.raises(asyncpg.UniqueViolationError):
            await connection.execute(
                "INSERT INTO model_registry.model_capabilities (model_id, capability, "
                "capability_score) VALUES ($1, 'code', 0.5)",
                model,
            )
    finally:
        await connection.close()


async def test_two_concurrent_runs_apply_each_migration_once(
    pg: PgServer, fresh_database: str, folder: Path
) -> None:
    # A slow migration in the middle keeps the first run busy while the second waits.
    slow = "SELECT pg_sleep(0.4);\nCREATE TABLE slow_done (x int);\n"
    (folder / "0008_slow.sql").write_text(slow)
    (folder / "0009_after.sql").write_text("CREATE TABLE after_slow (x int);\n")
    first, second = migrator(pg, fresh_database, folder), migrator(pg, fresh_database, folder)
    waits: list[str] = []
    try:

        def record(progress: Progress) -> None:
            if progress.step.startswith("waiting"):
                waits.append(progress.step)

        results = await asyncio.gather(first.up(record), second.up(record))
    finally:
        await first.client.close()
        await second.client.close()
    applied = [a.name for result in results for a in result.applied]
    assert sorted(applied) == sorted([*BUNDLED, "0008_slow", "0009_after"])
    assert len(applied) == len(set(applied))
    assert all(result.ok for result in results)
    connection = await connect(pg, fresh_database)
    try:
        names = [r["name"] for r in await connection.fetch("SELECT name FROM migrations")]
    finally:
        await connection.close()
    assert sorted(names) == sorted([*BUNDLED, "0008_slow", "0009_after"])
    waiter = results[0] if results[0].lock_wait_ms > results[1].lock_wait_ms else results[1]
    assert waiter.lock_wait_ms > 100
    assert waits and "pid" in waits[0]  # the waiting run names the holder


async def test_edited_file_shows_drift_and_up_refuses(
    pg: PgServer, fresh_database: str, folder: Path
) -> None:
    m = migrator(pg, fresh_database, folder)
    try:
        await m.up()
        edited = folder / "0003_processed_messages.sql"
        index = "\nCREATE INDEX ON processed_messages (expires_at);\n"
        edited.write_text(edited.read_text() + index)
        (folder / "0008_new.sql").write_text("CREATE TABLE newer (x int);\n")
        m = Migrator(m.client, discover([MigrationSource("bundled", folder)]))
        status = await m.status()
        drifted = status.drifted
        assert [e.name for e in drifted] == ["0003_processed_messages"]
        assert drifted[0].checksum != drifted[0].recorded_checksum
        assert "file changed since applied" in drifted[0].note
        assert [e.name for e in status.pending] == ["0008_new"]
        with pytest.raises(MigrationDrift, match="0003_processed_messages"):
            await m.up()
        assert [e.name for e in (await m.status()).pending] == ["0008_new"]  # nothing applied
        result = await m.up(allow_drift=True)
        assert [a.name for a in result.applied] == ["0008_new"]
    finally:
        await m.client.close()


async def test_deleted_file_shows_missing(pg: PgServer, fresh_database: str, folder: Path) -> None:
    m = migrator(pg, fresh_database, folder)
    try:
        await m.up()
        (folder / "0007_model_registry.sql").unlink()
        m = Migrator(m.client, discover([MigrationSource("bundled", folder)]))
        status = await m.status()
        missing = status.of(MigrationState.MISSING)
        assert [e.name for e in missing] == ["0007_model_registry"]
        assert missing[0].path is None and missing[0].recorded_checksum
        assert status.counts()["applied"] == 6
        assert (await m.up()).ok  # a missing file does not block
    finally:
        await m.client.close()


BROKEN = """-- line 1
CREATE TABLE half_done (x int);

-- line 4
SELECT * FROM   no_such_table;
CREATE TABLE never_made (x int);
"""


@pytest.mark.parametrize(
    ("body", "line", "column", "sqlstate"),
    [
        (BROKEN, 5, 17, "42P01"),  # a position PostgreSQL reports
        (
            "CREATE TABLE half_done (x int CHECK (x > 0));\n\nINSERT INTO half_done\n"
            "  VALUES (-1);\n",
            3,
            None,
            "23514",
        ),  # no position: the statement's line
        (
            "CREATE TABLE half_done (x int);\nDO $$\nBEGIN\n  PERFORM 1;\n"
            "  RAISE EXCEPTION 'stop here';\nEND\n$$;\n",
            5,
            None,
            "P0001",
        ),  # inside a DO block: PL/pgSQL's line, mapped to the file
    ],
)
async def test_broken_migration_is_rolled_back_and_named_with_its_line(
    pg: PgServer,
    fresh_database: str,
    folder: Path,
    body: str,
    line: int,
    column: int | None,
    sqlstate: str,
) -> None:
    (folder / "0008_ok.sql").write_text("CREATE TABLE kept (x int);\n")
    (folder / "0009_broken.sql").write_text(body)
    (folder / "0010_later.sql").write_text("CREATE TABLE later (x int);\n")
    m = migrator(pg, fresh_database, folder)
    try:
        result = await m.up()
    finally:
        await m.client.close()
    assert not result.ok
    assert [a.name for a in result.applied] == [*BUNDLED, "0008_ok"]
    failure = result.failure
    assert failure is not None
    assert (failure.name, failure.line, failure.column, failure.sqlstate) == (
        "0009_broken",
        line,
        column,
        sqlstate,
    )
    assert [e.name for e in result.status.pending] == ["0009_broken", "0010_later"]
    with pytest.raises(MigrationFailed) as caught:
        result.raise_for_failure()
    assert f"0009_broken.sql:{line}" in caught.value.one_line()
    assert "rolled back; 8 earlier migrations kept" in caught.value.one_line()
    connection = await connect(pg, fresh_database)
    try:
        assert await connection.fetchval("SELECT to_regclass('public.kept') IS NOT NULL")
        assert await connection.fetchval("SELECT to_regclass('public.half_done') IS NULL")
        assert await connection.fetchval("SELECT to_regclass('public.later') IS NULL")
    finally:
        await connection.close()


async def test_transaction_control_in_a_file_is_refused(
    pg: PgServer, fresh_database: str, folder: Path
) -> None:
    (folder / "0008_tx.sql").write_text("BEGIN;\nCREATE TABLE t (x int);\nCOMMIT;\n")
    m = migrator(pg, fresh_database, folder)
    try:
        result = await m.up()
    finally:
        await m.client.close()
    assert result.failure is not None and result.failure.line == 1
    assert "BEGIN controls transactions" in result.failure.message


async def test_up_succeeds_on_a_supabase_like_database(pg: PgServer, fresh_database: str) -> None:
    """What the Supabase image already has: extensions + uuid-ossp, GoTrue's auth.users,
    the storage schema with its tables, and a tasks table made from the spec's own SQL."""
    connection = await connect(pg, fresh_database)
    try:
        await connection.execute(
            """
            CREATE SCHEMA extensions;
            CREATE EXTENSION "uuid-ossp" WITH SCHEMA extensions;
            CREATE SCHEMA auth;
            CREATE TABLE auth.users (
                instance_id uuid, id uuid NOT NULL PRIMARY KEY, aud varchar(255),
                role varchar(255), email varchar(255), encrypted_password varchar(255),
                is_super_admin bool, created_at timestamptz, updated_at timestamptz);
            CREATE SCHEMA storage;
            CREATE TABLE storage.buckets (id text PRIMARY KEY, name text NOT NULL);
            CREATE TABLE tasks (
                id UUID PRIMARY KEY DEFAULT extensions.uuid_generate_v4(),
                task_id TEXT UNIQUE NOT NULL,
                intent TEXT NOT NULL,
                status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN
                    ('pending', 'processing', 'completed', 'failed', 'cancelled')),
                content JSONB DEFAULT '{}',
                priority INTEGER DEFAULT 1 CHECK (priority BETWEEN 1 AND 5),
                parent_task_id UUID REFERENCES tasks(id));
            """
        )
        constraints_before = await connection.fetchval(
            "SELECT count(*) FROM pg_constraint WHERE conrelid = 'public.tasks'::regclass"
        )
    finally:
        await connection.close()
    m = migrator(pg, fresh_database)
    try:
        result = await m.up()
    finally:
        await m.client.close()
    assert result.ok, result.failure and result.failure.describe()
    assert [a.name for a in result.applied] == BUNDLED
    notices = [n for a in result.applied for n in a.notices]
    assert any('relation "users" already exists' in n for n in notices)
    connection = await connect(pg, fresh_database)
    try:
        assert (
            await connection.fetchval(
                "SELECT count(*) FROM pg_constraint WHERE conrelid = 'public.tasks'::regclass"
            )
            == constraints_before
        )  # recognised by name, not duplicated
        columns = await connection.fetchval(
            "SELECT count(*) FROM information_schema.columns "
            "WHERE table_schema = 'auth' AND table_name = 'users'"
        )
        assert columns == 9  # GoTrue's table left as it was
        assert await connection.fetchval("SELECT to_regclass('storage.buckets') IS NOT NULL")
    finally:
        await connection.close()


async def test_uuid_ossp_installed_in_public_is_moved_to_extensions(
    pg: PgServer, fresh_database: str
) -> None:
    connection = await connect(pg, fresh_database)
    try:
        await connection.execute(
            'CREATE EXTENSION "uuid-ossp"; '
            "CREATE TABLE legacy (id uuid DEFAULT uuid_generate_v4(), x int)"
        )
    finally:
        await connection.close()
    m = migrator(pg, fresh_database)
    try:
        result = await m.up()
    finally:
        await m.client.close()
    assert result.ok
    assert any("moving uuid-ossp" in n for n in result.applied[0].notices)
    connection = await connect(pg, fresh_database)
    try:
        await connection.execute("INSERT INTO legacy (x) VALUES (1)")  # default still works
        assert await connection.fetchval("SELECT id FROM legacy") is not None
    finally:
        await connection.close()


async def test_cancelling_up_rolls_back_and_releases_the_lock(
    pg: PgServer, fresh_database: str, folder: Path
) -> None:
    (folder / "0008_slow.sql").write_text("CREATE TABLE partial (x int);\nSELECT pg_sleep(30);\n")
    m = migrator(pg, fresh_database, folder)
    steps: list[str] = []
    task = asyncio.create_task(m.up(lambda p: steps.append(p.step)))
    try:
        while "apply 0008_slow" not in steps:
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    finally:
        await m.client.close()
    other = migrator(pg, fresh_database, folder, lock_wait=2)
    try:
        status = await other.status()
        assert [e.name for e in status.pending] == ["0008_slow"]
        (folder / "0008_slow.sql").write_text("CREATE TABLE partial (x int);\n")
        other = Migrator(other.client, discover([MigrationSource("bundled", folder)]), lock_wait=2)
        result = await other.up()  # the lock was released: no wait, no timeout
        assert result.ok and result.lock_wait_ms < 1000
    finally:
        await other.client.close()


def test_discovery_rejects_ambiguous_folders(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    (one / "0001_a.sql").write_text("SELECT 1;")
    (one / "0001_b.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match="share the number 1"):
        discover([MigrationSource("one", one)])
    (one / "0001_b.sql").unlink()
    (two / "0001_a.sql").write_text("SELECT 2;")
    with pytest.raises(MigrationError, match="same name"):
        discover([MigrationSource("one", one), MigrationSource("two", two)])
    (two / "0001_a.sql").unlink()
    (two / "add-users.sql").write_text("SELECT 2;")
    with pytest.raises(MigrationError, match=r"add-users\.sql: a migration file is named"):
        discover([MigrationSource("two", two)])
    (two / "add-users.sql").unlink()
    (two / "0002_b.sql").write_text("SELECT 2;")
    (two / "README.md").write_text("not a migration")
    names = [f.name for f in discover([MigrationSource("one", one), MigrationSource("two", two)])]
    assert names == ["0001_a", "0002_b"]


def test_checksum_ignores_line_endings(tmp_path: Path) -> None:
    (tmp_path / "0001_a.sql").write_bytes(b"SELECT 1;\r\nSELECT 2;\r\n")
    crlf = discover([MigrationSource("x", tmp_path)])[0].checksum
    (tmp_path / "0001_a.sql").write_bytes(b"SELECT 1;\nSELECT 2;\n")
    assert discover([MigrationSource("x", tmp_path)])[0].checksum == crlf
