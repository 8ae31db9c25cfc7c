"""PostgreSQL: ``pg_dump -F c`` of the profile's database, restored with ``pg_restore -c``.

The rows are counted in the very snapshot pg_dump dumps: a repeatable-read
transaction exports its snapshot (``pg_export_snapshot()``), counts every
table in it, and stays open while ``pg_dump --snapshot`` runs. The counts in
the manifest are therefore exactly what the dump holds, even while the
platform keeps writing, and a restore is verified against them row for row.

The restore runs in one transaction (``--single-transaction``): if any
statement fails, the database is left as it was.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import asyncpg

from alfred_tui.backends.base import ProgressCallback, no_progress
from alfred_tui.backup.engine import (
    Capture,
    Engine,
    EngineContext,
    FileReport,
    RestoreError,
    Unreachable,
)
from alfred_tui.backup.manifest import Count, Manifest
from alfred_tui.backup.pg_tools import HostPgTools, PgTools, choose_tools, host_bindir
from alfred_tui.config.models import PostgresService
from alfred_tui.databases.failures import describe_failure
from alfred_tui.databases.postgres import PostgresTarget

if TYPE_CHECKING:
    from alfred_tui.backup.catalog import CatalogEntry

DUMP_FILE = "postgres.dump"
CONNECT_TIMEOUT = 10.0
COUNT_TIMEOUT = 3600.0
COUNT_BATCH = 100

#: Ordinary tables of the database, without catalogs and without tables that
#: belong to an extension (CREATE EXTENSION makes those, pg_dump leaves them out).
TABLES_SQL = """
SELECT n.nspname || '.' || c.relname AS name,
       quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS ident,
       quote_literal(n.nspname || '.' || c.relname) AS literal,
       greatest(c.reltuples, coalesce(pg_stat_get_live_tuples(c.oid), 0), 0)::bigint AS estimate
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind = 'r'
   AND n.nspname NOT IN ('pg_catalog', 'information_schema')
   AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'
   AND NOT EXISTS (SELECT 1 FROM pg_depend d
                    WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
 ORDER BY 1
"""

_DUMPED_FROM = re.compile(r"^;\s+Dumped from database version:\s+(\d+)(?:\.(\d+))?", re.M)
_DUMPED_BY = re.compile(r"^;\s+Dumped by pg_dump version:\s+(\S+)", re.M)
_DATABASE = re.compile(r"^;\s+dbname:\s+(.+)$", re.M)


def major_of(version: str) -> int:
    """``15.18 (Debian ...)`` -> 15; ``9.6.24`` -> 9."""
    match = re.match(r"\s*(\d+)", version)
    return int(match.group(1)) if match else 0


class PostgresEngine(Engine):
    """Backup and restore of the profile's PostgreSQL database."""

    def __init__(self, context: EngineContext) -> None:
        super().__init__(context)
        assert isinstance(context.spec, PostgresService)
        self.spec: PostgresService = context.spec
        self.target = PostgresTarget.from_profile(self.spec, context.endpoint)

    @property
    def database(self) -> str:
        return self.target.database

    async def connect(self, database: str | None = None) -> asyncpg.Connection:
        """A connection to the endpoint; failures become one line naming the address."""
        try:
            return await asyncio.wait_for(
                asyncpg.connect(
                    host=self.target.host,
                    port=self.target.port,
                    user=self.target.user,
                    password=self.target.password.get_secret_value(),
                    database=database or self.database,
                    ssl=self.target.sslmode,
                    timeout=CONNECT_TIMEOUT,
                    server_settings={"application_name": "alfred-tui-backup"},
                ),
                CONNECT_TIMEOUT,
            )
        except Exception as exc:
            reason = describe_failure(
                exc, host=self.target.host, port=self.target.port, timeout=CONNECT_TIMEOUT
            )
            raise Unreachable(f"PostgreSQL: {reason}") from None

    async def server_version(self) -> str:
        connection = await self.connect()
        try:
            return str(await connection.fetchval("SHOW server_version", timeout=CONNECT_TIMEOUT))
        finally:
            await connection.close(timeout=2)

    # --- counting ---------------------------------------------------------------------

    @staticmethod
    async def _count_tables(connection: asyncpg.Connection) -> list[Count]:
        tables = await connection.fetch(TABLES_SQL, timeout=COUNT_TIMEOUT)
        counts: list[Count] = []
        for start in range(0, len(tables), COUNT_BATCH):
            batch = tables[start : start + COUNT_BATCH]
            sql = " UNION ALL ".join(
                f"SELECT {row['literal']} AS name, count(*) AS n FROM ONLY {row['ident']}"
                for row in batch
            )
            for row in await connection.fetch(sql, timeout=COUNT_TIMEOUT):
                counts.append(Count(kind="table_rows", name=row["name"], count=int(row["n"])))
        return counts

    async def count(self) -> list[Count]:
        connection = await self.connect()
        try:
            async with connection.transaction(isolation="repeatable_read", readonly=True):
                return await self._count_tables(connection)
        finally:
            await connection.close(timeout=2)

    # --- capture ----------------------------------------------------------------------

    async def capture(self, staging: Path, progress: ProgressCallback = no_progress) -> Capture:
        connection = await self.connect()
        try:
            version = str(await connection.fetchval("SHOW server_version"))
            version_num = int(await connection.fetchval("SHOW server_version_num"))
            tools = choose_tools(self.context, version_num // 10000)
            destination = staging / DUMP_FILE
            async with connection.transaction(isolation="repeatable_read", readonly=True):
                snapshot = await connection.fetchval("SELECT pg_export_snapshot()")
                counts = await self._count_tables(connection)
                await tools.dump(self.database, snapshot, destination, progress)
        finally:
            await connection.close(timeout=2)
        return Capture(
            files=[DUMP_FILE],
            contents=counts,
            server_version=version,
            method=f"pg_dump -F c ({tools.where})",
            details={
                "database": self.database,
                "server_version_num": version_num,
                "tables": len(counts),
            },
        )

    # --- reading a dump back ----------------------------------------------------------

    def _reading_tools(self, dump_major: int) -> PgTools:
        """pg_restore here when one at least as new as the dump is installed (it reads the
        archive without a server), else the one in the instance."""
        bindir = host_bindir(dump_major)
        if bindir is not None:
            return HostPgTools(self.context, bindir)
        return choose_tools(self.context, dump_major)

    async def check_files(
        self, folder: Path, manifest: Manifest | None, details: dict[str, Any]
    ) -> FileReport:
        dump_major = int(details.get("server_version_num", 0)) // 10000
        tools = self._reading_tools(dump_major)
        result = await tools.list_archive(folder / DUMP_FILE)
        how = f"pg_restore --list ({tools.where})"
        if not result.ok:
            return FileReport(how, [f"pg_restore cannot read the dump: {result.last_lines()}"])
        listing = result.stdout.decode("utf-8", "replace")
        facts: dict[str, Any] = {
            "toc_entries": sum(
                1 for line in listing.splitlines() if line.strip() and not line.startswith(";")
            )
        }
        if match := _DUMPED_FROM.search(listing):
            facts["dumped_from_major"] = int(match.group(1))
        if match := _DUMPED_BY.search(listing):
            facts["dumped_by"] = match.group(1)
        if match := _DATABASE.search(listing):
            facts["dbname"] = match.group(1).strip()
        problems = []
        if "dumped_from_major" not in facts:
            problems.append("the dump's header names no source server version")
        return FileReport(how, problems, facts)

    def compatibility(self, manifest: Manifest, facts: dict[str, Any], server: str) -> list[str]:
        source = facts.get("dumped_from_major") or major_of(manifest.server_version)
        target = major_of(server)
        if target < source:
            return [
                f"the dump comes from PostgreSQL {source} and the server runs {target}: "
                "a dump restores into the same or a newer major version only"
            ]
        return []

    # --- restoring --------------------------------------------------------------------

    async def plan(self, manifest: Manifest) -> list[str]:
        connection = await self.connect()
        try:
            version = await connection.fetchval("SHOW server_version")
            current = await connection.fetch(TABLES_SQL)
            sessions = await connection.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
            )
        finally:
            await connection.close(timeout=2)
        in_backup = {c.name for c in manifest.contents if c.kind == "table_rows"}
        now = {row["name"]: int(row["estimate"]) for row in current}
        rows = sum(c.count for c in manifest.contents if c.kind == "table_rows")
        lines = [
            f"database '{self.database}' at {self.target.address} (PostgreSQL {version})",
            f"drop and recreate every object of the dump ({len(in_backup)} tables, "
            f"{rows:,} rows); the tables now hold about "
            f"{sum(v for k, v in now.items() if k in in_backup):,} rows",
        ]
        kept = sorted(set(now) - in_backup)
        if kept:
            shown = ", ".join(kept[:8]) + (f" and {len(kept) - 8} more" if len(kept) > 8 else "")
            lines.append(f"tables that are not in the backup are kept as they are: {shown}")
        if sessions:
            lines.append(
                f"{sessions} other session(s) are connected to '{self.database}'; "
                "the restore waits up to 2 min for tables they hold, then gives up"
            )
        lines.append(
            "in one transaction (pg_restore --single-transaction): a failure changes nothing"
        )
        return lines

    async def restore(self, entry: CatalogEntry, progress: ProgressCallback = no_progress) -> None:
        manifest = entry.require()
        dump_major = int(manifest.details.get("server_version_num", 0)) // 10000
        server_major = major_of(await self.server_version())
        tools = choose_tools(self.context, max(server_major, dump_major))
        database = str(manifest.details.get("database") or self.database)
        result = await tools.restore(entry.path(DUMP_FILE), database, progress)
        if not result.ok:
            raise RestoreError(
                f"pg_restore into '{database}' failed and was rolled back: {result.last_lines()}"
            )
        connection = await self.connect(database)
        try:
            await connection.execute("ANALYZE", timeout=COUNT_TIMEOUT)
        finally:
            await connection.close(timeout=2)
