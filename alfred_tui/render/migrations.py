"""``migrate status``, ``migrate up`` and ``schema``: JSON documents and tables."""

from __future__ import annotations

from typing import Any

from alfred_tui.databases.migration_model import (
    MigrationEntry,
    MigrationFailure,
    MigrationState,
    MigrationStatus,
    UpResult,
)
from alfred_tui.databases.schema_view import SchemaView
from alfred_tui.render import iso, now_iso
from alfred_tui.units import format_bytes, format_duration

STATUS_SCHEMA = "alfred-tui/migrate-status"
UP_SCHEMA = "alfred-tui/migrate-up"
SCHEMA_VIEW_SCHEMA = "alfred-tui/schema"
VERSION = 1

STATE_STYLES = {
    MigrationState.APPLIED: "green",
    MigrationState.PENDING: "yellow",
    MigrationState.DRIFTED: "bold red",
    MigrationState.MISSING: "magenta",
}


# --- JSON -------------------------------------------------------------------


def _entry_json(entry: MigrationEntry) -> dict[str, Any]:
    return {
        "name": entry.name,
        "state": entry.state.value,
        "source": entry.source,
        "path": str(entry.path) if entry.path else None,
        "checksum": entry.checksum,
        "recorded_checksum": entry.recorded_checksum,
        "id": entry.id,
        "applied_at": iso(entry.applied_at),
        "duration_ms": round(entry.duration_ms, 3) if entry.duration_ms is not None else None,
        "note": entry.note or None,
    }


def _failure_json(failure: MigrationFailure | None) -> dict[str, Any] | None:
    if failure is None:
        return None
    return {
        "name": failure.name,
        "path": str(failure.path),
        "line": failure.line,
        "column": failure.column,
        "statement_line": failure.statement_line,
        "message": failure.message,
        "sqlstate": failure.sqlstate,
        "detail": failure.detail,
        "hint": failure.hint,
    }


def status_json(status: MigrationStatus, profile: str) -> dict[str, Any]:
    """``alfred-tui/migrate-status`` v1."""
    return {
        "schema": STATUS_SCHEMA,
        "version": VERSION,
        "profile": profile,
        "database": status.database,
        "address": status.address,
        "checked_at": now_iso(),
        "tracking_table": status.tracking_table,
        "counts": status.counts(),
        "migrations": [_entry_json(entry) for entry in status.entries],
    }


def up_json(result: UpResult, profile: str) -> dict[str, Any]:
    """``alfred-tui/migrate-up`` v1."""
    return {
        "schema": UP_SCHEMA,
        "version": VERSION,
        "profile": profile,
        "database": result.status.database,
        "address": result.status.address,
        "finished_at": now_iso(),
        "ok": result.ok,
        "lock_wait_ms": round(result.lock_wait_ms, 3),
        "applied": [
            {
                "name": item.name,
                "source": item.source,
                "duration_ms": round(item.duration_ms, 3),
                "statements": item.statements,
                "notices": list(item.notices),
            }
            for item in result.applied
        ],
        "already_applied": list(result.already_applied),
        "failure": _failure_json(result.failure),
        "counts": result.status.counts(),
    }


def schema_view_json(view: SchemaView, profile: str) -> dict[str, Any]:
    """``alfred-tui/schema`` v1."""
    return {
        "schema": SCHEMA_VIEW_SCHEMA,
        "version": VERSION,
        "profile": profile,
        "database": view.database,
        "address": view.address,
        "server_version": view.server_version,
        "checked_at": now_iso(),
        "size_bytes": view.size_bytes,
        "schemas": [
            {
                "name": schema.name,
                "owner": schema.owner,
                "tables": schema.tables,
                "total_bytes": schema.total_bytes,
                "rows_estimate": schema.rows_estimate,
            }
            for schema in view.schemas
        ],
        "tables_total": view.tables_total,
        "tables": [
            {
                "schema": table.schema,
                "name": table.name,
                "kind": table.kind,
                "total_bytes": table.total_bytes,
                "table_bytes": table.table_bytes,
                "index_bytes": table.index_bytes,
                "toast_bytes": table.toast_bytes,
                "rows_estimate": table.rows_estimate,
                "rows_source": table.rows_source,
                "last_analyzed": iso(table.last_analyzed),
            }
            for table in view.tables
        ],
    }


# --- tables -----------------------------------------------------------------


def summary_line(status: MigrationStatus) -> str:
    """``postgres at 127.0.0.1:5432: 7 applied, 0 pending, 0 drifted, 0 missing``."""
    counts = status.counts()
    parts = ", ".join(f"{counts[state.value]} {state.value}" for state in MigrationState)
    return f"database {status.database} at {status.address}: {parts}"


def status_table(status: MigrationStatus) -> Any:
    """A Rich table of the status, one row per migration."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("Migration", no_wrap=True)
    table.add_column("Source", no_wrap=True, overflow="ellipsis", max_width=24)
    table.add_column("State", no_wrap=True)
    table.add_column("Applied (UTC)", no_wrap=True)
    table.add_column("Took", justify="right", no_wrap=True)
    notes = any(entry.note for entry in status.entries)
    if notes:
        table.add_column("Note", overflow="fold", min_width=12)
    for entry in status.entries:
        applied = (iso(entry.applied_at) or "")[:19].replace("T", " ")
        took = format_duration(entry.duration_ms / 1000) if entry.duration_ms is not None else ""
        table.add_row(
            entry.name,
            entry.source or "",
            Text(entry.state.value, STATE_STYLES[entry.state]),
            applied,
            took,
            *([Text(entry.note, "dim")] if notes else []),
        )
    return table


def up_lines(result: UpResult) -> list[str]:
    """What ``up`` did, one line per migration, then the summary."""
    lines = [
        f"applied  {item.name}  ({format_duration(item.duration_ms / 1000)}, "
        f"{item.statements} statement{'s' if item.statements != 1 else ''})"
        for item in result.applied
    ]
    lines += [
        f"skipped  {name}  (applied by another run meanwhile)" for name in result.already_applied
    ]
    if result.failure is not None:
        lines.append(f"FAILED   {result.failure.name}  {result.failure.describe()} (rolled back)")
    if not result.applied and not result.already_applied and result.failure is None:
        lines.append("nothing to apply: the database is up to date")
    lines.append(summary_line(result.status))
    return lines


def schema_view_table(view: SchemaView) -> Any:
    """Rich renderables: the database line, the schemas, the largest tables."""
    from rich import box
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    header = Text.assemble(
        ("database ", "dim"),
        (view.database, "bold"),
        f" at {view.address}  ",
        ("size ", "dim"),
        format_bytes(view.size_bytes),
        ("  PostgreSQL ", "dim"),
        view.server_version,
    )
    schemas = Table(title="Schemas", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    schemas.add_column("Schema", no_wrap=True)
    schemas.add_column("Owner", no_wrap=True)
    schemas.add_column("Tables", justify="right")
    schemas.add_column("Size", justify="right", no_wrap=True)
    schemas.add_column("Rows (est.)", justify="right")
    for schema in view.schemas:
        schemas.add_row(
            schema.name,
            schema.owner,
            str(schema.tables),
            format_bytes(schema.total_bytes),
            f"{schema.rows_estimate:,}",
        )
    shown = len(view.tables)
    title = "Tables by size" + (
        f" (largest {shown} of {view.tables_total})" if shown < view.tables_total else ""
    )
    tables = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    tables.add_column("Table", overflow="fold")
    tables.add_column("Total", justify="right", no_wrap=True)
    tables.add_column("Heap", justify="right", no_wrap=True)
    tables.add_column("Indexes", justify="right", no_wrap=True)
    tables.add_column("TOAST", justify="right", no_wrap=True)
    tables.add_column("Rows (est.)", justify="right", no_wrap=True)
    for table in view.tables:
        if table.rows_estimate is None:
            rows = Text("never analysed", "dim")
        elif table.rows_source == "statistics":
            rows = Text(f"~{table.rows_estimate:,}", "dim")
        else:
            rows = Text(f"{table.rows_estimate:,}")
        tables.add_row(
            table.qualified_name,
            format_bytes(table.total_bytes),
            format_bytes(table.table_bytes),
            format_bytes(table.index_bytes),
            format_bytes(table.toast_bytes),
            rows,
        )
    return Group(header, schemas, tables)
