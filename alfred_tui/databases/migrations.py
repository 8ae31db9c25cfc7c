"""Schema migrations: ordered SQL files, a tracking table, status and ``up``.

The bundled files (``assets/migrations/NNNN_name.sql``) create the spec's
schemas; a profile adds folders of its own (``migrations.folders``), applied
after them. What was applied is recorded in ``public.migrations`` (id, name,
checksum, applied_at, duration), the table the spec's deployment step reads
with ``SELECT * FROM migrations ORDER BY id DESC LIMIT 5``.

Status compares the files with that table: *applied*, *pending*, *drifted*
(the file changed since it was applied: its checksum differs) and *missing*
(recorded, but no file has that name, e.g. applied by another tool).

``up`` takes a session advisory lock first, so two operators running it at
once cannot apply a migration twice: the second waits, then finds the work
done. Each migration runs in its own transaction, statement by statement
(see :mod:`sqlsplit`), with ``lock_timeout`` set so DDL never queues behind a
long application transaction and stalls the tables it wants; a failure rolls
that migration back, keeps the earlier ones, and names the file and line.

The files and their comparison are :mod:`.migration_files`', the results and
errors :mod:`.migration_model`'s; this module talks to the server. It is
UI-free: everything is ``async``, cancellable (cancelling
stops the statement in flight and rolls its migration back), reports
through a :data:`ProgressCallback` and returns typed results, so a Textual
worker drives it as it is.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from alfred_tui.backends.base import Progress, ProgressCallback, no_progress
from alfred_tui.databases.migration_files import MigrationFile, checksum_of, compare
from alfred_tui.databases.migration_model import (
    AppliedMigration,
    AppliedRecord,
    MigrationDrift,
    MigrationError,
    MigrationFailure,
    MigrationLockTimeout,
    MigrationStatus,
    UpResult,
)
from alfred_tui.databases.sqlsplit import (
    SqlSplitError,
    Statement,
    column_of,
    line_of,
    split_statements,
)
from alfred_tui.redact import redact

if TYPE_CHECKING:
    import asyncpg

    from alfred_tui.databases.postgres import PostgresClient
TRACKING_TABLE = "public.migrations"

#: The advisory lock every ``up`` holds: a fixed 64-bit key derived from a name,
#: so other tools' advisory locks do not collide with it.
LOCK_KEY = int.from_bytes(hashlib.sha256(b"alfred-tui:migrations").digest()[:8], "big", signed=True)
_PLPGSQL_LINE = re.compile(r"PL/pgSQL function inline_code_block line (\d+)")
_TRANSACTION_KEYWORDS = {"BEGIN", "COMMIT", "ROLLBACK", "END", "START", "SAVEPOINT", "ABORT"}

TRACKING_DDL = f"""
CREATE TABLE IF NOT EXISTS {TRACKING_TABLE} (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    checksum TEXT,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    duration INTERVAL,
    source TEXT,
    applied_by TEXT DEFAULT current_user
);
ALTER TABLE {TRACKING_TABLE} ADD COLUMN IF NOT EXISTS checksum TEXT;
ALTER TABLE {TRACKING_TABLE} ADD COLUMN IF NOT EXISTS applied_at TIMESTAMPTZ DEFAULT now();
ALTER TABLE {TRACKING_TABLE} ADD COLUMN IF NOT EXISTS duration INTERVAL;
ALTER TABLE {TRACKING_TABLE} ADD COLUMN IF NOT EXISTS source TEXT;
ALTER TABLE {TRACKING_TABLE} ADD COLUMN IF NOT EXISTS applied_by TEXT DEFAULT current_user;
"""
"""The tracking table. A table of that name made by another tool is kept and
given the columns it lacks (it must have ``id`` and ``name``)."""

_TRACKED_COLUMNS = ("id", "name", "checksum", "applied_at", "duration", "source")


@dataclass(eq=False)
class _Notices:
    """Collects server notices (hashable by identity, as asyncpg's listener set needs)."""

    messages: list[str] = field(default_factory=list)

    def __call__(self, _connection: Any, message: Any) -> None:
        self.messages.append(redact(str(getattr(message, "message", message))))


class Migrator:
    """Status and ``up`` for one database, over a :class:`PostgresClient`.

    The client's connection is used for everything; the advisory lock is
    a session lock on it, released when ``up`` finishes, fails or is
    cancelled (and by the server if the connection drops).
    """

    def __init__(
        self,
        client: PostgresClient,
        files: Sequence[MigrationFile],
        *,
        statement_timeout: float = 300.0,
        lock_timeout: float = 10.0,
        lock_wait: float = 60.0,
    ) -> None:
        self.client = client
        self.files = list(files)
        self.statement_timeout = statement_timeout
        """Seconds one statement may run before it is cancelled (and its migration rolled back)."""
        self.lock_timeout = lock_timeout
        """Seconds a statement may wait for a table lock (PostgreSQL's ``lock_timeout``)."""
        self.lock_wait = lock_wait
        """Seconds to wait for another run's advisory lock."""

    async def _connection(self) -> asyncpg.Connection:
        from alfred_tui.databases.failures import DatabaseUnavailable

        try:
            return await self.client.connection()
        except DatabaseUnavailable as exc:
            raise MigrationError(f"PostgreSQL unavailable: {exc.reason}") from None

    async def records(self) -> tuple[bool, list[AppliedRecord]]:
        """Whether the tracking table exists, and its rows by id."""
        connection = await self._connection()
        timeout = self.client.query_timeout
        columns = {
            row["column_name"]
            for row in await connection.fetch(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_schema = 'public' AND table_name = 'migrations'",
                timeout=timeout,
            )
        }
        if not columns:
            return False, []
        if not {"id", "name"} <= columns:
            raise MigrationError(
                f"{TRACKING_TABLE} exists but has no id/name columns; it was made by another "
                "tool for another purpose. Rename it, then run migrate again"
            )
        expressions = {
            "duration": "extract(epoch FROM duration) * 1000",
            "checksum": "checksum::text",
            "source": "source::text",
        }
        select = ", ".join(
            f"{expressions.get(column, column) if column in columns else 'NULL'} AS {column}"
            for column in _TRACKED_COLUMNS
        )
        rows = await connection.fetch(
            f"SELECT {select} FROM {TRACKING_TABLE} ORDER BY id", timeout=timeout
        )
        return True, [
            AppliedRecord(
                id=int(row["id"]),
                name=str(row["name"]),
                checksum=row["checksum"],
                applied_at=row["applied_at"],
                duration_ms=float(row["duration"]) if row["duration"] is not None else None,
                source=row["source"],
            )
            for row in rows
        ]

    async def status(self) -> MigrationStatus:
        """Files against the tracking table (reads only; takes no lock)."""
        async with _database_errors(self.client):
            exists, records = await self.records()
        return MigrationStatus(
            database=self.client.target.database,
            address=self.client.target.address,
            tracking_table=exists,
            entries=tuple(compare(self.files, records)),
        )

    async def up(
        self, progress: ProgressCallback = no_progress, *, allow_drift: bool = False
    ) -> UpResult:
        """Apply every pending migration in order, each in its own transaction.

        Raises :class:`MigrationDrift` (before applying anything) when an
        applied file changed, unless ``allow_drift``; a failing migration is
        returned in :attr:`UpResult.failure` after its rollback.
        """
        before = await self.status()
        if before.drifted and not allow_drift:
            names = ", ".join(entry.name for entry in before.drifted)
            raise MigrationDrift(
                f"applied migration{'s' if len(before.drifted) > 1 else ''} changed on disk: "
                f"{names}. Restore the file(s), or add a new migration for the change "
                "(--allow-drift applies the pending ones anyway)"
            )
        async with _database_errors(self.client):
            return await self._up_locked(before, progress, allow_drift)

    async def _up_locked(
        self, before: MigrationStatus, progress: ProgressCallback, allow_drift: bool
    ) -> UpResult:
        connection = await self._connection()
        waited = await self._lock(connection, progress)
        try:
            await connection.execute(TRACKING_DDL, timeout=self.client.query_timeout)
            current = await self.status()
            if current.drifted and not allow_drift:
                names = ", ".join(entry.name for entry in current.drifted)
                raise MigrationDrift(f"applied migrations changed on disk: {names}")
            pending_names = {entry.name for entry in current.pending}
            already = tuple(
                entry.name for entry in before.pending if entry.name not in pending_names
            )
            todo = [migration for migration in self.files if migration.name in pending_names]
            applied: list[AppliedMigration] = []
            failure: MigrationFailure | None = None
            for index, migration in enumerate(todo, start=1):
                progress(Progress(f"apply {migration.name}", index - 1, len(todo)))
                outcome = await self._apply(connection, migration)
                if isinstance(outcome, MigrationFailure):
                    failure = outcome
                    progress(Progress(f"failed {migration.name}", index - 1, len(todo)))
                    break
                applied.append(outcome)
                progress(Progress(f"applied {migration.name}", index, len(todo)))
            after = await self.status()
        finally:
            await self._unlock(connection)
        return UpResult(tuple(applied), already, failure, after, waited * 1000)

    async def _lock(self, connection: asyncpg.Connection, progress: ProgressCallback) -> float:
        """Take the advisory lock, waiting up to ``lock_wait``; seconds waited."""
        started = time.monotonic()
        delay = 0.05
        timeout = self.client.query_timeout
        while True:
            if await connection.fetchval(
                "SELECT pg_try_advisory_lock($1)", LOCK_KEY, timeout=timeout
            ):
                return time.monotonic() - started
            waited = time.monotonic() - started
            holder = await self._lock_holder(connection)
            if waited >= self.lock_wait:
                raise MigrationLockTimeout(
                    f"another migration run ({holder}) held the lock for {waited:.0f} s; "
                    "wait for it to finish, or raise --lock-wait"
                )
            progress(Progress(f"waiting for another migration run ({holder})"))
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)

    async def _lock_holder(self, connection: asyncpg.Connection) -> str:
        row = await connection.fetchrow(
            """
            SELECT a.pid, a.application_name, a.client_addr::text AS client, a.usename
              FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
             WHERE l.locktype = 'advisory' AND l.granted
               AND l.classid = (($1::bigint >> 32) & 4294967295)::oid
               AND l.objid = ($1::bigint & 4294967295)::oid
               AND l.objsubid = 1
            """,
            LOCK_KEY,
            timeout=self.client.query_timeout,
        )
        if row is None:
            return "holder unknown"
        who = row["application_name"] or "unknown application"
        where = f" from {row['client']}" if row["client"] else ""
        return f"pid {row['pid']}, {who}, user {row['usename']}{where}"

    async def _unlock(self, connection: asyncpg.Connection) -> None:
        if connection.is_closed():
            return  # the server released the session lock with the session
        try:
            await asyncio.shield(
                connection.execute(
                    "SELECT pg_advisory_unlock($1)", LOCK_KEY, timeout=self.client.query_timeout
                )
            )
        except Exception:
            connection.terminate()  # closing the session releases the lock

    async def _apply(
        self, connection: asyncpg.Connection, migration: MigrationFile
    ) -> AppliedMigration | MigrationFailure:
        import asyncpg

        text = migration.read()
        if checksum_of(text) != migration.checksum:
            return MigrationFailure(
                migration.name,
                migration.path,
                None,
                None,
                "file changed while migrations were running; run migrate up again",
            )
        try:
            statements = split_statements(text)
        except SqlSplitError as exc:
            return MigrationFailure(migration.name, migration.path, exc.line, None, exc.reason)
        for statement in statements:
            if statement.keyword in _TRANSACTION_KEYWORDS:
                return MigrationFailure(
                    migration.name,
                    migration.path,
                    statement.line,
                    None,
                    f"{statement.keyword} controls transactions; alfred-tui runs each migration "
                    "in one transaction, so remove it",
                )
        notices = _Notices()
        connection.add_log_listener(notices)
        started = time.perf_counter()
        current: Statement | None = None
        try:
            async with connection.transaction():
                await connection.execute(
                    f"SET LOCAL lock_timeout = '{int(self.lock_timeout * 1000)}ms'"
                )
                for current in statements:
                    await connection.execute(current.text, timeout=self.statement_timeout)
                duration = time.perf_counter() - started
                await connection.execute(
                    f"INSERT INTO {TRACKING_TABLE} (name, checksum, applied_at, duration, source) "
                    "VALUES ($1, $2, now(), make_interval(secs => $3), $4)",
                    migration.name,
                    migration.checksum,
                    duration,
                    migration.source,
                    timeout=self.client.query_timeout,
                )
        except asyncpg.PostgresError as exc:
            return _failure_from(exc, migration, text, current)
        except TimeoutError:
            line = current.line if current else None
            return MigrationFailure(
                migration.name,
                migration.path,
                line,
                None,
                f"statement did not finish within {self.statement_timeout:g} s and was cancelled",
                statement_line=line,
            )
        finally:
            with contextlib.suppress(Exception):
                connection.remove_log_listener(notices)
        return AppliedMigration(
            name=migration.name,
            source=migration.source,
            duration_ms=(time.perf_counter() - started) * 1000,
            statements=len(statements),
            notices=tuple(notices.messages),
        )


@contextlib.asynccontextmanager
async def _database_errors(client: PostgresClient) -> AsyncIterator[None]:
    """Turn a lost connection or a refused catalog query into one :class:`MigrationError`."""
    import asyncpg

    try:
        yield
    except (OSError, TimeoutError, asyncpg.InterfaceError, asyncpg.PostgresConnectionError) as exc:
        await client.close()
        reason = redact(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        raise MigrationError(f"PostgreSQL at {client.target.address}: {reason}") from None
    except asyncpg.PostgresError as exc:
        raise MigrationError(
            f"PostgreSQL at {client.target.address}: {redact(str(exc))} [{exc.sqlstate}]"
        ) from None


def _failure_from(
    exc: Any, migration: MigrationFile, text: str, statement: Statement | None
) -> MigrationFailure:
    """A failure pinned to the file: PostgreSQL's position, a PL/pgSQL line, or the statement."""
    line: int | None = None
    column: int | None = None
    statement_line = statement.line if statement else None
    position = _int_or_none(getattr(exc, "position", None))
    context = getattr(exc, "context", None) or ""
    plpgsql = _PLPGSQL_LINE.search(context)
    if statement is not None and position is not None:
        offset = statement.offset + position - 1
        line, column = line_of(text, offset), column_of(text, offset)
    elif statement is not None and plpgsql and statement.body_offset is not None:
        # PL/pgSQL counts lines of the body from 1 = the line of the opening $$.
        body_line = line_of(text, statement.offset + statement.body_offset)
        line = body_line + int(plpgsql.group(1)) - 1
    else:
        line = statement_line
    return MigrationFailure(
        name=migration.name,
        path=migration.path,
        line=line,
        column=column,
        message=redact(str(getattr(exc, "message", None) or exc)),
        sqlstate=getattr(exc, "sqlstate", None),
        detail=redact(exc.detail) if getattr(exc, "detail", None) else None,
        hint=redact(exc.hint) if getattr(exc, "hint", None) else None,
        statement_line=statement_line,
    )


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None
