"""The schema view: schemas, and tables with their sizes and row estimates.

These are the spec's PostgreSQL debugging queries (database size; table sizes
by ``pg_total_relation_size``) widened to every schema and split into heap,
index and TOAST. Row counts are the planner's estimate (``reltuples``), not
``count(*)``: exact counts scan whole tables, which a monitoring view must
never do. A table never analysed has no estimate (``reltuples = -1``); the
statistics collector's live-tuple count stands in for it, and the row says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from alfred_tui.databases.postgres import PostgresClient

#: Schemas of the server itself, never shown.
SYSTEM_SCHEMA_FILTER = """
    n.nspname NOT IN ('pg_catalog', 'information_schema')
    AND n.nspname NOT LIKE 'pg\\_toast%'
    AND n.nspname NOT LIKE 'pg\\_temp\\_%'
"""

DATABASE_SQL = """
SELECT current_database() AS database,
       pg_database_size(current_database()) AS size_bytes,
       current_setting('server_version') AS server_version
"""

SCHEMAS_SQL = f"""
SELECT n.nspname AS name, pg_get_userbyid(n.nspowner) AS owner
  FROM pg_namespace n
 WHERE {SYSTEM_SCHEMA_FILTER}
 ORDER BY n.nspname
"""

TABLES_SQL = f"""
SELECT n.nspname AS schema,
       c.relname AS name,
       c.relkind::text AS kind,
       pg_total_relation_size(c.oid) AS total_bytes,
       pg_relation_size(c.oid) AS table_bytes,
       pg_indexes_size(c.oid) AS index_bytes,
       CASE WHEN c.reltuples >= 0 THEN c.reltuples::bigint END AS reltuples,
       s.n_live_tup AS live_tuples,
       greatest(s.last_analyze, s.last_autoanalyze) AS last_analyzed
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_stat_all_tables s ON s.relid = c.oid
 WHERE c.relkind IN ('r', 'p', 'm', 'f')
   AND {SYSTEM_SCHEMA_FILTER}
 ORDER BY total_bytes DESC, n.nspname, c.relname
"""

TableKind = Literal["table", "partitioned table", "materialized view", "foreign table"]
RowsSource = Literal["planner", "statistics", "none"]
_KINDS: dict[str, TableKind] = {
    "r": "table",
    "p": "partitioned table",
    "m": "materialized view",
    "f": "foreign table",
}


@dataclass(frozen=True)
class TableInfo:
    """One table's size and estimated rows."""

    schema: str
    name: str
    kind: TableKind
    total_bytes: int
    """Heap + indexes + TOAST (``pg_total_relation_size``)."""
    table_bytes: int
    index_bytes: int
    rows_estimate: int | None
    rows_source: RowsSource
    """``planner`` (reltuples, as of the last ANALYZE), ``statistics`` (live tuples), ``none``."""
    last_analyzed: datetime | None

    @property
    def qualified_name(self) -> str:
        """``schema.name``."""
        return f"{self.schema}.{self.name}"

    @property
    def toast_bytes(self) -> int:
        """What is neither heap nor index: TOAST and its index."""
        return max(0, self.total_bytes - self.table_bytes - self.index_bytes)


@dataclass(frozen=True)
class SchemaInfo:
    """One schema and the totals of its tables."""

    name: str
    owner: str
    tables: int
    total_bytes: int
    rows_estimate: int


@dataclass(frozen=True)
class SchemaView:
    """The database, its schemas, and its largest tables."""

    database: str
    address: str
    server_version: str
    size_bytes: int
    schemas: tuple[SchemaInfo, ...]
    tables: tuple[TableInfo, ...]
    """Largest first, at most the limit asked for."""
    tables_total: int
    """Tables matching the filter before the limit."""


def _table(row: dict[str, Any]) -> TableInfo:
    rows: int | None
    source: RowsSource
    if row["reltuples"] is not None:
        rows, source = int(row["reltuples"]), "planner"
    elif row["live_tuples"] is not None:
        rows, source = int(row["live_tuples"]), "statistics"
    else:
        rows, source = None, "none"
    return TableInfo(
        schema=row["schema"],
        name=row["name"],
        kind=_KINDS.get(row["kind"], "table"),
        total_bytes=int(row["total_bytes"] or 0),
        table_bytes=int(row["table_bytes"] or 0),
        index_bytes=int(row["index_bytes"] or 0),
        rows_estimate=rows,
        rows_source=source,
        last_analyzed=row["last_analyzed"],
    )


async def read_schema_view(
    client: PostgresClient, schemas: Sequence[str] = (), limit: int | None = None
) -> SchemaView:
    """Read the view in three short catalog queries (no table is scanned).

    ``schemas`` keeps only those schemas (all non-system ones when empty);
    ``limit`` keeps the largest tables (all when None or 0). A server that
    refuses a query raises :class:`DatabaseRefused` (its message and SQLSTATE).
    """
    import asyncpg  # the client is open already: no extra cost

    from alfred_tui.databases.failures import DatabaseRefused
    from alfred_tui.redact import redact

    try:
        database = (await client.fetch(DATABASE_SQL))[0]
        schema_rows = await client.fetch(SCHEMAS_SQL)
        tables = [_table(dict(row)) for row in await client.fetch(TABLES_SQL)]
    except asyncpg.PostgresError as exc:
        raise DatabaseRefused(f"{redact(str(exc))} [{exc.sqlstate}]") from None
    wanted = set(schemas)
    if wanted:
        tables = [table for table in tables if table.schema in wanted]
        schema_rows = [row for row in schema_rows if row["name"] in wanted]
    infos = []
    for row in schema_rows:
        own = [table for table in tables if table.schema == row["name"]]
        infos.append(
            SchemaInfo(
                name=row["name"],
                owner=row["owner"],
                tables=len(own),
                total_bytes=sum(table.total_bytes for table in own),
                rows_estimate=sum(table.rows_estimate or 0 for table in own),
            )
        )
    return SchemaView(
        database=database["database"],
        address=client.target.address,
        server_version=database["server_version"],
        size_bytes=int(database["size_bytes"]),
        schemas=tuple(infos),
        tables=tuple(tables[:limit] if limit else tables),
        tables_total=len(tables),
    )
