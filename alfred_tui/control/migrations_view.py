"""The Migrations pane's data: migration status, the schema view, and ``up``.

:class:`MigrationsSource` is what ``alfred-tui migrate status``, ``migrate
up`` and ``schema`` do, for the UI: it keeps one PostgreSQL connection open
between reads (the overview does the same), re-reads the migration files on
every read (an edited file must show as drift at the next refresh), and
turns the data layer's results into plain rows (:class:`MigrationsView`)
that screens can show without importing a database module.

``up`` is refused here for a read-only session as well as in the UI, and it
holds the same lock as the reads, so a refresh never shares the connection
with a migration in flight.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import PurePath
from typing import TYPE_CHECKING, Protocol

from alfred_tui.backends.base import ProgressCallback, no_progress
from alfred_tui.control.data_targets import import_in_thread, postgres_target
from alfred_tui.control.deployment_actions import ActionPlan, ReadOnlyRefused
from alfred_tui.errors import AlfredError
from alfred_tui.units import format_bytes, format_duration

if TYPE_CHECKING:
    from alfred_tui.control.session import Session
    from alfred_tui.databases.migration_model import MigrationStatus, UpResult
    from alfred_tui.databases.migrations import Migrator
    from alfred_tui.databases.postgres import PostgresClient
    from alfred_tui.databases.schema_view import SchemaView

RESOURCE_KEY = "migrations"
#: Largest tables the schema view lists (the CLI's default is 50; a pane can scroll).
TABLES_LIMIT = 200
STATES = ("applied", "pending", "drifted", "missing")


@dataclass(frozen=True)
class MigrationRow:
    """One migration as the pane shows it."""

    name: str
    state: str
    """``applied``, ``pending``, ``drifted`` or ``missing``."""
    source: str
    path: str
    """The file (empty for a missing one)."""
    checksum: str
    """The file's checksum, first 12 hex digits (``-`` for a missing file)."""
    recorded_checksum: str
    """The tracking table's checksum, first 12 hex digits (``-`` when not applied)."""
    applied_at: str
    """``2025-05-13 11:58:02`` (UTC), empty when not applied."""
    took: str
    note: str


@dataclass(frozen=True)
class SchemaRow:
    """One schema with the totals of its tables."""

    name: str
    owner: str
    tables: int
    size: str
    rows: str


@dataclass(frozen=True)
class TableRow:
    """One table: sizes and the planner's row estimate."""

    name: str
    """``schema.table``."""
    kind: str
    total: str
    heap: str
    indexes: str
    toast: str
    rows: str
    """``1,234``; ``~1,234`` from the statistics collector; ``never analysed``."""
    rows_source: str


@dataclass(frozen=True)
class MigrationsView:
    """Everything the pane shows about one database."""

    database: str
    address: str
    server_version: str
    size: str
    tracking_table: bool
    migrations: tuple[MigrationRow, ...]
    schemas: tuple[SchemaRow, ...]
    tables: tuple[TableRow, ...]
    tables_total: int

    def of(self, state: str) -> list[MigrationRow]:
        """The migrations in ``state``, in apply order."""
        return [row for row in self.migrations if row.state == state]

    def counts(self) -> dict[str, int]:
        """How many migrations are in each state."""
        return {state: len(self.of(state)) for state in STATES}

    def summary(self) -> str:
        """``7 applied, 1 pending, 0 drifted, 0 missing``."""
        return ", ".join(f"{count} {state}" for state, count in self.counts().items())


@dataclass(frozen=True)
class UpPlan:
    """What the confirmation of ``up`` says, and what it needs."""

    plan: ActionPlan
    files: tuple[MigrationRow, ...]
    """The pending migrations, in the order they will run."""
    drifted: tuple[MigrationRow, ...]
    """Applied migrations whose file changed: ``up`` runs only if the operator allows it."""


@dataclass(frozen=True)
class AppliedItem:
    """A migration one run applied."""

    name: str
    took: str
    statements: int


@dataclass(frozen=True)
class UpOutcome:
    """What ``up`` did, in words."""

    applied: tuple[AppliedItem, ...]
    already_applied: tuple[str, ...]
    failure: str = ""
    """PostgreSQL's error with file:line, the rollback and what was kept; empty when it worked."""
    failed_migration: str = ""
    view_counts: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Whether every pending migration was applied."""
        return not self.failure

    def summary(self) -> str:
        """One line for the notification."""
        if self.failure:
            return self.failure
        parts = []
        if self.applied:
            names = ", ".join(item.name for item in self.applied)
            parts.append(f"applied {len(self.applied)}: {names}")
        if self.already_applied:
            parts.append(f"{len(self.already_applied)} applied by another run meanwhile")
        return "; ".join(parts) or "nothing to apply: the database is up to date"


class PostgresUnreachable(AlfredError):
    """PostgreSQL did not answer; the message says where and why."""

    title = "PostgreSQL unavailable"


# --- conversions (plain rows from the data layer's results) ---------------------------


def _utc(moment: datetime | None) -> str:
    from alfred_tui.render import iso

    return (iso(moment) or "")[:19].replace("T", " ")


def migration_rows(status: MigrationStatus) -> tuple[MigrationRow, ...]:
    """The status's entries as rows."""
    from alfred_tui.databases.migration_model import short

    return tuple(
        MigrationRow(
            name=entry.name,
            state=entry.state.value,
            source=entry.source or "",
            path=str(entry.path) if entry.path else "",
            checksum=short(entry.checksum),
            recorded_checksum=short(entry.recorded_checksum),
            applied_at=_utc(entry.applied_at),
            took=format_duration(entry.duration_ms / 1000) if entry.duration_ms is not None else "",
            note=entry.note,
        )
        for entry in status.entries
    )


def _rows_text(rows: int | None, source: str) -> str:
    if rows is None:
        return "never analysed"
    return f"~{rows:,}" if source == "statistics" else f"{rows:,}"


def build_view(status: MigrationStatus, schema: SchemaView) -> MigrationsView:
    """The pane's view of one database from the data layer's two results."""
    return MigrationsView(
        database=status.database,
        address=status.address,
        server_version=schema.server_version,
        size=format_bytes(schema.size_bytes),
        tracking_table=status.tracking_table,
        migrations=migration_rows(status),
        schemas=tuple(
            SchemaRow(
                s.name, s.owner, s.tables, format_bytes(s.total_bytes), f"{s.rows_estimate:,}"
            )
            for s in schema.schemas
        ),
        tables=tuple(
            TableRow(
                name=t.qualified_name,
                kind=t.kind,
                total=format_bytes(t.total_bytes),
                heap=format_bytes(t.table_bytes),
                indexes=format_bytes(t.index_bytes),
                toast=format_bytes(t.toast_bytes),
                rows=_rows_text(t.rows_estimate, t.rows_source),
                rows_source=t.rows_source,
            )
            for t in schema.tables
        ),
        tables_total=schema.tables_total,
    )


def up_outcome(result: UpResult) -> UpOutcome:
    """What ``up`` did, as plain data."""
    from alfred_tui.databases.migration_model import MigrationFailed

    failure = ""
    if result.failure is not None:
        failure = MigrationFailed(result.failure, len(result.applied)).message
    return UpOutcome(
        applied=tuple(
            AppliedItem(item.name, format_duration(item.duration_ms / 1000), item.statements)
            for item in result.applied
        ),
        already_applied=result.already_applied,
        failure=failure,
        failed_migration=result.failure.name if result.failure else "",
        view_counts=result.status.counts(),
    )


# --- the confirmation -------------------------------------------------------------------


def plan_up(session: Session, view: MigrationsView) -> UpPlan:
    """Exactly which files ``up`` will run, in order, and the drift it would run over."""
    pending = tuple(view.of("pending"))
    drifted = tuple(view.of("drifted"))
    where = f"database {view.database} at {view.address} (profile {session.profile_name})"
    noun = "migration" if len(pending) == 1 else "migrations"
    lines = [f"Apply {len(pending)} pending {noun} to {where}, in this order:"]
    folder = None
    for index, row in enumerate(pending, 1):
        path = PurePath(row.path)
        if (path.parent, row.source) != folder:
            folder = (path.parent, row.source)
            lines.append(f"  from {path.parent} ({row.source}):")
        lines.append(f"    {index}. {path.name}")
    lines.append(
        "Each runs in its own transaction, under a lock (another run waits). A failure "
        "rolls that one back, keeps the earlier ones and stops."
    )
    if drifted:
        names = ", ".join(row.name for row in drifted)
        lines.append(
            f"DRIFT: {names} changed on disk since applied: the database no longer matches "
            "its history. Restore the file, or tick to apply the pending ones anyway."
        )
    plan = ActionPlan(
        f"Apply {len(pending)} migration{'s' if len(pending) != 1 else ''}",
        tuple(lines),
        "Apply",
        destructive=bool(drifted),
    )
    return UpPlan(plan, pending, drifted)


def up_timeout(pending: int, statement_timeout: float, lock_wait: float) -> float:
    """Longest a whole ``up`` may take: the lock wait, then every statement's limit."""
    return lock_wait + max(1, pending) * statement_timeout + 30.0


# --- the source -------------------------------------------------------------------------


class MigrationsReader(Protocol):
    """What the pane needs from a migrations source (fixed data stands in for snapshots)."""

    async def read(self) -> MigrationsView:
        """Migration status and the schema view."""
        ...

    async def up(
        self, progress: ProgressCallback, allow_drift: bool, plan: Sequence[str] = ()
    ) -> UpOutcome:
        """Apply the pending migrations."""
        ...

    def timeout_for(self, pending: int) -> float:
        """The worker's timeout for an ``up`` of ``pending`` migrations."""
        ...

    async def close(self) -> None:
        """Release the connection."""
        ...


class MigrationsSource:
    """The session's PostgreSQL, through the migrations data layer."""

    def __init__(
        self,
        session: Session,
        *,
        statement_timeout: float = 300.0,
        lock_timeout: float = 10.0,
        lock_wait: float = 60.0,
        query_timeout: float = 10.0,
    ) -> None:
        self.session = session
        self.statement_timeout = statement_timeout
        self.lock_timeout = lock_timeout
        self.lock_wait = lock_wait
        self.query_timeout = query_timeout
        self._client: PostgresClient | None = None
        self._lock = asyncio.Lock()
        """Held by a read and by ``up``: one connection, one user at a time."""

    async def _open(self) -> PostgresClient:
        if self._client is None:
            target = await postgres_target(self.session)
            await import_in_thread("alfred_tui.databases.migrations")
            await import_in_thread("alfred_tui.databases.schema_view")
            from alfred_tui.databases.postgres import PostgresClient

            self._client = PostgresClient(
                target,
                connect_timeout=self.session.probe_timeout,
                query_timeout=self.query_timeout,
            )
        return self._client

    async def _migrator(self, client: PostgresClient) -> Migrator:
        from alfred_tui.databases.migration_files import discover, profile_sources
        from alfred_tui.databases.migrations import Migrator

        loaded = self.session.loaded
        files = await asyncio.to_thread(lambda: discover(profile_sources(loaded)))
        return Migrator(
            client,
            files,
            statement_timeout=self.statement_timeout,
            lock_timeout=self.lock_timeout,
            lock_wait=self.lock_wait,
        )

    async def _connect(self, client: PostgresClient) -> None:
        """Open the connection first, so "not answering" is told apart from a refusal."""
        from alfred_tui.databases.failures import DatabaseUnavailable

        try:
            await client.connection()
        except DatabaseUnavailable as exc:
            raise PostgresUnreachable(exc.reason) from None

    async def read(self) -> MigrationsView:
        """Status and schema view in one go (reads only; takes no migration lock)."""
        async with self._lock:
            client = await self._open()
            await self._connect(client)
            try:
                status = await (await self._migrator(client)).status()
                schema = await self._schema(client)
            except BaseException:
                await client.close()  # the next read reconnects (a restarted server)
                raise
            return build_view(status, schema)

    async def _schema(self, client: PostgresClient) -> SchemaView:
        from alfred_tui.databases.failures import DatabaseRefused, DatabaseUnavailable
        from alfred_tui.databases.migration_model import MigrationError
        from alfred_tui.databases.schema_view import read_schema_view

        try:
            return await read_schema_view(client, (), TABLES_LIMIT)
        except DatabaseUnavailable as exc:
            raise MigrationError(f"PostgreSQL at {client.target.address}: {exc.reason}") from None
        except DatabaseRefused as exc:
            raise MigrationError(f"PostgreSQL at {client.target.address}: {exc.message}") from None

    async def up(
        self,
        progress: ProgressCallback = no_progress,
        allow_drift: bool = False,
        plan: Sequence[str] = (),
    ) -> UpOutcome:
        """Apply every pending migration (see ``Migrator.up``); refused when read-only.

        ``plan`` is what the confirmation showed; the operator journal keeps it
        with the outcome.
        """
        if self.session.readonly:
            raise ReadOnlyRefused("migrate up refused: this session was opened with --readonly")
        async with self._lock:
            client = await self._open()
            await self._connect(client)
            migrator = await self._migrator(client)
            with self.session.journaled("migrate up", plan=plan, service="postgres") as journal:
                outcome = up_outcome(await migrator.up(progress, allow_drift=allow_drift))
                names = ", ".join(item.name for item in outcome.applied) or "nothing pending"
                if outcome.failure:
                    journal.failed(f"applied {names}; {outcome.failure}")
                else:
                    journal.succeeded(f"applied {names}")
            return outcome

    def timeout_for(self, pending: int) -> float:
        """The worker's timeout for an ``up`` of ``pending`` migrations."""
        return up_timeout(pending, self.statement_timeout, self.lock_wait)

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.close()


def source_for(session: Session) -> MigrationsReader:
    """The session's migrations source (kept with the session, closed with it)."""
    reader: MigrationsReader = session.resource(RESOURCE_KEY, MigrationsSource)
    return reader
