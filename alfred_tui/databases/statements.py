"""PostgreSQL query statistics: pg_stat_statements, sequential scans, EXPLAIN.

pg_stat_statements is the only record of which queries were slow in the
past; it needs the library in ``shared_preload_libraries`` (a restart) and
the extension created in the database we read. Its columns were renamed in
PostgreSQL 13 (``total_time`` -> ``total_exec_time``); both are handled. The
Supabase image installs it in the ``extensions`` schema, so the view is
found through ``pg_extension`` rather than assumed to be in ``public``.

EXPLAIN never executes the statement unless the caller passes both
``analyze=True`` and ``consent=True``; even then it runs in a transaction
that is rolled back, read-only when alfred-tui is, under a statement timeout.
"""

from __future__ import annotations

import re
import time
import weakref
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from alfred_tui.database_actions import ActionOutcome, ActionRefused, ReadOnlyRefused, record
from alfred_tui.databases.activity import SQL_MARKER, scrub_query

if TYPE_CHECKING:
    from alfred_tui.databases.postgres import PostgresClient

EXTENSION = "pg_stat_statements"

STATUS_SQL = (
    SQL_MARKER
    + """
SELECT current_setting('server_version_num')::int AS version_num,
       current_setting('shared_preload_libraries') AS preload,
       current_database() AS database,
       (SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
         WHERE e.extname = 'pg_stat_statements') AS schema
"""
)

#: Whether the extension's files are on the server. pg_available_extensions reads
#: every extension's control file from disk (about a millisecond of server time, the
#: most of any statement the UI runs every few seconds), so it is asked only while the
#: extension is not created, and its answer kept for AVAILABLE_KEPT_SECONDS.
AVAILABLE_SQL = (
    SQL_MARKER
    + "SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_stat_statements')"
)
#: The files appear only when a package is installed on the server.
AVAILABLE_KEPT_SECONDS = 300.0
_available: weakref.WeakKeyDictionary[PostgresClient, tuple[float, bool]] = (
    weakref.WeakKeyDictionary()
)

SEQ_SCAN_SQL = (
    SQL_MARKER
    + """
SELECT schemaname, relname, seq_scan, seq_tup_read, coalesce(idx_scan, 0) AS idx_scan,
       n_live_tup, pg_total_relation_size(relid) AS size_bytes
  FROM pg_stat_user_tables
 WHERE seq_scan > 0 AND n_live_tup >= $1
 ORDER BY seq_tup_read DESC
 LIMIT $2
"""
)

_PARAMETER = re.compile(r"\$(\d+)")
_DML = re.compile(r"^\s*(select|insert|update|delete|with|merge|values|table)\b", re.IGNORECASE)


@dataclass(frozen=True)
class StatementsStatus:
    """Whether pg_stat_statements can be read here, and what is missing if not."""

    version_num: int
    preload: str
    """``shared_preload_libraries`` as the server runs it."""
    database: str
    schema: str | None
    """Schema the extension is installed in, or None if it is not created here."""
    available: bool
    """Whether the server has the extension's files (contrib) at all."""

    @property
    def library_loaded(self) -> bool:
        """The library is in shared_preload_libraries (needed before it records anything)."""
        return EXTENSION in [part.strip().strip('"') for part in self.preload.split(",")]

    @property
    def ready(self) -> bool:
        """Loaded and created: the view can be read."""
        return self.library_loaded and self.schema is not None

    @property
    def view(self) -> str:
        """The view's qualified name."""
        schema = (self.schema or "public").replace('"', '""')
        return f'"{schema}".pg_stat_statements'

    def missing(self) -> str:
        """What is missing, in words; empty when ready."""
        if not self.available:
            return (
                "the server lacks the pg_stat_statements extension files (install the "
                "PostgreSQL contrib package in the image)"
            )
        if not self.library_loaded:
            return (
                "pg_stat_statements is not in shared_preload_libraries (a restart is needed "
                "to load it)"
            )
        if self.schema is None:
            return f"the pg_stat_statements extension is not created in database {self.database}"
        return ""


@dataclass(frozen=True)
class Statement:
    """One normalised statement's cumulative figures."""

    queryid: int
    query: str
    calls: int
    total_seconds: float
    mean_seconds: float
    rows: int

    @property
    def is_query(self) -> bool:
        """A data statement (not DDL or maintenance like CREATE INDEX or VACUUM)."""
        return bool(_DML.match(self.query))


@dataclass(frozen=True)
class SeqScanTable:
    """A table read by sequential scans: an index candidate when large and scanned often."""

    schema: str
    table: str
    seq_scan: int
    seq_tup_read: int
    idx_scan: int
    live_rows: int
    size_bytes: int

    @property
    def name(self) -> str:
        """``schema.table``."""
        return f"{self.schema}.{self.table}"

    @property
    def rows_per_scan(self) -> float:
        """Rows read by an average sequential scan."""
        return self.seq_tup_read / self.seq_scan if self.seq_scan else 0.0


async def statements_status(client: PostgresClient) -> StatementsStatus:
    """Whether pg_stat_statements is loaded, created and where."""
    row = (await client.fetch(STATUS_SQL))[0]
    return StatementsStatus(
        version_num=row["version_num"],
        preload=row["preload"] or "",
        database=row["database"],
        schema=row["schema"],
        available=row["schema"] is not None or await _files_available(client),
    )


async def _preload_source(client: PostgresClient) -> str:
    """Where ``shared_preload_libraries`` comes from (``configuration file``, ``command line``...).

    Asked only when enabling: pg_settings builds every setting's row to answer.
    """
    rows = await client.fetch(
        SQL_MARKER + "SELECT source FROM pg_settings WHERE name = 'shared_preload_libraries'"
    )
    return str(rows[0]["source"]) if rows else ""


async def _files_available(client: PostgresClient) -> bool:
    """Whether the server has the extension's files (kept a while: see AVAILABLE_SQL)."""
    now = time.monotonic()
    kept = _available.get(client)
    if kept is not None and now - kept[0] < AVAILABLE_KEPT_SECONDS:
        return kept[1]
    available = bool((await client.fetch(AVAILABLE_SQL))[0][0])
    _available[client] = (now, available)
    return available


async def top_statements(
    client: PostgresClient, status: StatementsStatus, order: str = "total", limit: int = 10
) -> list[Statement]:
    """The statements with the most total (or mean) execution time.

    alfred-tui's own queries and asyncpg's type introspection are left out:
    they are the observer, not the load.
    """
    if not status.ready:
        return []
    if order not in ("total", "mean"):
        raise ValueError("order must be 'total' or 'mean'")
    total, mean = (
        ("total_exec_time", "mean_exec_time")
        if status.version_num >= 130000
        else ("total_time", "mean_time")
    )
    column = total if order == "total" else mean
    rows = await client.fetch(
        f"{SQL_MARKER}SELECT queryid, query, calls, {total} AS total_ms, {mean} AS mean_ms, "
        f"rows FROM {status.view} WHERE queryid IS NOT NULL "
        "AND query NOT LIKE '%/* alfred-tui */%' AND query NOT LIKE '%typeinfo_tree%' "
        f"ORDER BY {column} DESC LIMIT $1",
        limit,
    )
    return [
        Statement(
            queryid=row["queryid"],
            query=scrub_query(row["query"] or ""),
            calls=row["calls"],
            total_seconds=float(row["total_ms"]) / 1000,
            mean_seconds=float(row["mean_ms"]) / 1000,
            rows=row["rows"],
        )
        for row in rows
    ]


async def statement_text(client: PostgresClient, status: StatementsStatus, queryid: int) -> str:
    """The normalised text of statement ``queryid`` (raises ActionRefused if unknown)."""
    if not status.ready:
        raise ActionRefused(f"cannot look up query {queryid}: {status.missing()}")
    rows = await client.fetch(
        f"{SQL_MARKER}SELECT query FROM {status.view} WHERE queryid = $1 LIMIT 1", queryid
    )
    if not rows:
        raise ActionRefused(
            f"pg_stat_statements has no query with id {queryid} (statistics may have "
            "been reset); give the query text instead"
        )
    query: str = rows[0]["query"]
    return query


async def seq_scan_tables(
    client: PostgresClient, min_rows: int = 1000, limit: int = 10
) -> list[SeqScanTable]:
    """Tables of at least ``min_rows`` rows read by sequential scans, most rows read first."""
    rows = await client.fetch(SEQ_SCAN_SQL, min_rows, limit)
    return [
        SeqScanTable(
            schema=row["schemaname"],
            table=row["relname"],
            seq_scan=row["seq_scan"],
            seq_tup_read=row["seq_tup_read"],
            idx_scan=row["idx_scan"],
            live_rows=row["n_live_tup"],
            size_bytes=row["size_bytes"],
        )
        for row in rows
    ]


# --- EXPLAIN ------------------------------------------------------------------


@dataclass(frozen=True)
class Explanation:
    """A query plan and how it was obtained."""

    statement: str
    plan: tuple[str, ...]
    analyzed: bool
    generic: bool
    """Planned without parameter values (the statement had $1, $2...)."""
    note: str = ""

    def to_json(self) -> dict[str, object]:
        """Plain data."""
        return {
            "statement": self.statement,
            "plan": list(self.plan),
            "analyzed": self.analyzed,
            "generic": self.generic,
            "note": self.note or None,
        }


def parameter_count(sql: str) -> int:
    """The highest ``$N`` placeholder in ``sql`` (0 when there is none)."""
    return max((int(n) for n in _PARAMETER.findall(sql)), default=0)


async def explain(
    client: PostgresClient,
    sql: str,
    *,
    analyze: bool = False,
    consent: bool = False,
    readonly: bool = False,
    statement_timeout: float = 30.0,
) -> Explanation:
    """The plan of ``sql``; executes it only with ``analyze`` and ``consent``.

    A statement from pg_stat_statements has ``$1``-style placeholders; its
    generic plan is obtained with ``EXPLAIN (GENERIC_PLAN)`` on PostgreSQL 16
    and later, and before that by preparing it with ``plan_cache_mode =
    force_generic_plan`` (the parameter values are then ignored). Only one
    statement is accepted: the extended protocol refuses a second one.
    """
    if analyze and not consent:
        raise ActionRefused(
            "EXPLAIN ANALYZE runs the statement for real (its time, its locks, and for "
            "INSERT/UPDATE/DELETE its writes until the rollback); it needs explicit consent"
        )
    params = parameter_count(sql)
    if analyze and params:
        raise ActionRefused(
            "EXPLAIN ANALYZE needs real values: this statement has placeholders ($1...); "
            "paste it with the values filled in"
        )
    version = (await client.fetch("SELECT current_setting('server_version_num')::int AS v"))[0]["v"]
    connection = await client.connection()
    options = "ANALYZE, BUFFERS" if analyze else ""
    transaction = connection.transaction(readonly=readonly or not analyze)
    timeout = statement_timeout + 5
    note = ""
    prepared = False
    await transaction.start()
    try:
        await connection.execute(f"SET LOCAL statement_timeout = {int(statement_timeout * 1000)}")
        if params and version >= 160000:
            rows = await connection.fetch(f"EXPLAIN (GENERIC_PLAN) {sql}", timeout=timeout)
        elif params:
            await connection.execute("SET LOCAL plan_cache_mode = force_generic_plan")
            await connection.fetch(f"PREPARE alfred_tui_explain AS {sql}", timeout=timeout)
            prepared = True
            nulls = ", ".join(["NULL"] * params)
            rows = await connection.fetch(
                f"EXPLAIN EXECUTE alfred_tui_explain({nulls})", timeout=timeout
            )
            note = "generic plan: the placeholders' values are not known"
        else:
            prefix = f"EXPLAIN ({options}) " if options else "EXPLAIN "
            rows = await connection.fetch(prefix + sql, timeout=timeout)
    finally:
        await transaction.rollback()
        if prepared:  # PREPARE outlives the rollback; only ours goes (asyncpg keeps its own)
            await connection.execute("DEALLOCATE alfred_tui_explain")
    if analyze:
        note = "the statement was executed and its transaction rolled back"
    return Explanation(
        statement=scrub_query(sql),
        plan=tuple(row[0] for row in rows),
        analyzed=analyze,
        generic=bool(params),
        note=note,
    )


# --- enabling the extension ---------------------------------------------------


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def preload_with_extension(preload: str) -> str:
    """``shared_preload_libraries`` with pg_stat_statements added, the rest kept."""
    parts = [part.strip() for part in preload.split(",") if part.strip()]
    if EXTENSION not in [p.strip('"') for p in parts]:
        parts.append(EXTENSION)
    return ",".join(parts)


async def enable_statements(
    client: PostgresClient, *, confirm: bool, readonly: bool
) -> ActionOutcome:
    """Make pg_stat_statements readable: create the extension, and preload it if needed.

    When the library is not preloaded, it is added to
    ``shared_preload_libraries`` with ``ALTER SYSTEM`` (keeping the libraries
    already there) and a restart is needed; if the value comes from the
    server's command line, ALTER SYSTEM would be overridden, so the action
    refuses and the profile's command is the way.
    """
    if readonly:
        raise ReadOnlyRefused("enable pg_stat_statements")
    status = await statements_status(client)
    if status.ready:
        raise ActionRefused(
            f"pg_stat_statements is already enabled (schema {status.schema} of database "
            f"{status.database})"
        )
    if not status.available:
        raise ActionRefused(status.missing())
    new_preload = preload_with_extension(status.preload)
    steps: list[str] = []
    restart = False
    if not status.library_loaded:
        if await _preload_source(client) == "command line":
            raise ActionRefused(
                "shared_preload_libraries is set on the server's command line, which "
                "ALTER SYSTEM cannot override: add pg_stat_statements to it in the "
                "profile's command and redeploy"
            )
        steps.append(f"ALTER SYSTEM SET shared_preload_libraries = {_literal(new_preload)}")
        restart = True
    steps.append("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    summary = (
        f"Create the pg_stat_statements extension in database {status.database}"
        + (
            f" and add it to shared_preload_libraries (now '{status.preload or 'empty'}'); "
            "PostgreSQL must then be restarted to load it, which drops every connection for "
            "a few seconds"
            if restart
            else "; the library is already loaded, so no restart is needed"
        )
        + ". It costs a little CPU per statement and a few MB of shared memory."
    )
    outcome = ActionOutcome(
        action="enable-pg-stat-statements",
        service="postgres",
        applied=False,
        summary=summary,
        steps=tuple(steps),
        previous={"shared_preload_libraries": status.preload},
        undo=(
            f"ALTER SYSTEM SET shared_preload_libraries = {_literal(status.preload)} and "
            "restart; "
            "DROP EXTENSION pg_stat_statements"
            if restart
            else "DROP EXTENSION pg_stat_statements"
        ),
        restart_needed=restart,
    )
    if not confirm:
        return outcome
    journal = record(outcome, status.database)
    results = []
    if restart:
        await client.fetch(f"ALTER SYSTEM SET shared_preload_libraries = {_literal(new_preload)}")
        results.append(f"shared_preload_libraries set to '{new_preload}' (after a restart)")
    await client.fetch("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    results.append(f"extension created in database {status.database}")
    if restart:
        results.append("restart PostgreSQL now to start recording statements")
    return replace(outcome, applied=True, results=tuple(results), journal=journal)
