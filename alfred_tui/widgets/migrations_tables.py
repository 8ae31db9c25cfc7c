"""The Migrations pane's tables: migrations with their state, schemas, tables by size.

Each state is a word and a colour: applied (success), pending (warning),
drifted (bold error), missing (accent); while ``up`` runs, the migration in
flight reads ``applying…`` and a failed one ``failed``. Below 120 columns the
migrations table leaves checksums and notes to the detail lines under it.
"""

from __future__ import annotations

from collections.abc import Mapping

from rich.text import Text
from textual.widgets import Static

from alfred_tui.control.migrations_view import MigrationRow, MigrationsView
from alfred_tui.widgets.columns import Spec, cells, fit
from alfred_tui.widgets.filter_table import FilterableTable, Row
from alfred_tui.widgets.styles import AnyApp, theme_colour

WIDE = 120

#: State -> theme role; "applying…" and "failed" exist only while ``up`` runs.
STATE_ROLES = {
    "applied": "success",
    "pending": "warning",
    "drifted": "error",
    "missing": "accent",
    "applying…": "primary",
    "failed": "error",
}
_BOLD = {"drifted", "failed", "applying…"}


def state_cell(app: AnyApp, state: str) -> Text:
    """A migration state as a coloured word."""
    role = STATE_ROLES.get(state)
    style = theme_colour(app, role) if role else "dim"
    if state in _BOLD:
        style = f"bold {style}"
    return Text(state, style=style)


class MigrationsTable(FilterableTable):
    """One row per migration: files in apply order, then records without a file."""

    def show(self, view: MigrationsView, width: int, live: Mapping[str, str]) -> None:
        """Render ``view``; ``live`` overrides states while ``up`` runs (name -> state)."""
        wide = width >= WIDE
        specs = [
            Spec("Migration", "name", cap=40, minimum=12, flex=True),
            Spec("Source", "source", cap=16),
            Spec("State", "state", minimum=9, shrink=False),
            Spec("Applied (UTC)", "applied", minimum=13, shrink=False),
            Spec("Took", "took", right=True, minimum=5),
        ]
        if wide:
            specs += [
                Spec("Checksum", "checksum", cap=12),
                Spec("Note", "note", flex=True, minimum=10, cap=90),
            ]
        rows = []
        for migration in view.migrations:
            state = live.get(migration.name, migration.state)
            values: list[str | Text] = [
                migration.name,
                migration.source,
                state_cell(self.app, state),
                migration.applied_at if wide else migration.applied_at[:16],
                migration.took,
            ]
            if wide:
                values += [migration.checksum, Text(migration.note, style="dim")]
            rows.append(Row(migration.name, cells(specs, values)))
        self.set_columns(fit(specs, [row.cells for row in rows], width))
        self.set_rows(rows)


def migration_detail(migration: MigrationRow | None, app: AnyApp) -> Text:
    """The selected migration in full: file, checksums, when, and what is wrong."""
    if migration is None:
        return Text("no migration files, and nothing recorded", style="dim")
    text = Text(no_wrap=False, overflow="fold")
    text.append(migration.name, style="bold")
    text.append(" ")
    text.append_text(state_cell(app, migration.state))
    text.append(f"  {migration.path or '(no file)'}", style="dim")
    text.append("\nchecksum: file ")
    text.append(migration.checksum)
    text.append(", recorded ")
    text.append(migration.recorded_checksum)
    if migration.applied_at:
        text.append(f"; applied {migration.applied_at} UTC in {migration.took or '?'}")
    if migration.note:
        text.append("\n")
        text.append(migration.note, style=theme_colour(app, "warning"))
    return text


class MigrationDetail(Static):
    """The lines under the migrations table about the selected one."""

    DEFAULT_CSS = """
    MigrationDetail { height: auto; max-height: 4; padding: 0 1; }
    """


class SchemasTable(FilterableTable):
    """Each schema: owner, tables, size, estimated rows."""

    def show(self, view: MigrationsView, width: int) -> None:
        specs = [
            Spec("Schema", "name", cap=30, minimum=8),
            Spec("Owner", "owner", cap=28),
            Spec("Tables", "tables", right=True),
            Spec("Size", "size", right=True, minimum=9),
            Spec("Rows (est.)", "rows", right=True, minimum=11),
        ]
        rows = [
            Row(
                f"schema/{schema.name}",
                cells(
                    specs,
                    [schema.name, schema.owner, str(schema.tables), schema.size, schema.rows],
                ),
            )
            for schema in view.schemas
        ]
        self.set_columns(fit(specs, [row.cells for row in rows], width))
        self.set_rows(rows)


class TablesTable(FilterableTable):
    """Tables largest first: total, heap, indexes, TOAST, estimated rows."""

    def show(self, view: MigrationsView, width: int) -> None:
        wide = width >= WIDE
        specs = [Spec("Table", "name", flex=True, minimum=16)]
        specs += [
            Spec("Total", "total", right=True, minimum=9),
            Spec("Heap", "heap", right=True, minimum=9),
            Spec("Indexes", "indexes", right=True, minimum=9),
        ]
        if wide:
            specs += [Spec("TOAST", "toast", right=True, minimum=9), Spec("Kind", "kind", cap=18)]
        specs.append(Spec("Rows (est.)", "rows", right=True, minimum=11, cap=16))
        rows = []
        for table in view.tables:
            rows_cell = Text(table.rows, style="" if table.rows_source == "planner" else "dim")
            values: list[str | Text] = [table.name, table.total, table.heap, table.indexes]
            if wide:
                values += [table.toast, table.kind]
            values.append(rows_cell)
            rows.append(Row(f"table/{table.name}", cells(specs, values)))
        self.set_columns(fit(specs, [row.cells for row in rows], width))
        self.set_rows(rows)
