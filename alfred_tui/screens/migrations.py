"""The Migrations pane: applied / pending / drifted / missing migrations, ``up``, the schema view.

Two sub-views (``[`` ``]``): *Migrations* (every migration with its state,
when it was applied and how long it took, and under the table the selected
one's file, checksums and what is wrong) and *Schema* (schemas, then tables
largest first with sizes and the planner's row estimate). Both come from one
read of the session's PostgreSQL, repeated every ``POLL_SECONDS`` while the
pane is shown (an edited file shows as drift at the next read) and retried
with backoff while PostgreSQL does not answer.

``u`` applies the pending migrations after a confirmation that lists the
files in order; drift makes it refuse unless the operator ticks that they
apply anyway. Progress shows per migration (the row in flight reads
``applying…``); a failure shows PostgreSQL's error with file:line under the
table until the next run. Read-only sessions neither show nor run ``u``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Label, Static

from alfred_tui.backends.base import Progress
from alfred_tui.control.migrations_view import (
    MigrationsView,
    UpOutcome,
    plan_up,
    source_for,
)
from alfred_tui.control.polling import Outcome
from alfred_tui.control.session import Session
from alfred_tui.screens.base import PaletteCommand
from alfred_tui.screens.data_dialogs import MigrateUpDialog
from alfred_tui.screens.data_pane import (
    DataAction,
    DataPane,
    DataProgressed,
    DataRead,
    selected_row,
)
from alfred_tui.screens.io import run_io
from alfred_tui.widgets.action_progress import ActionProgress
from alfred_tui.widgets.migrations_tables import (
    MigrationDetail,
    MigrationsTable,
    SchemasTable,
    TablesTable,
    migration_detail,
)
from alfred_tui.widgets.source_line import SourceLine
from alfred_tui.widgets.styles import state_style
from alfred_tui.widgets.subviews import SubviewBar


class MigrateFinished(Message):
    """``up`` returned (every migration applied, or one failed and was rolled back)."""

    def __init__(self, generation: int, outcome: UpOutcome) -> None:
        super().__init__()
        self.generation = generation
        self.outcome = outcome


class FailureNote(Static):
    """The last failed run: PostgreSQL's error with file:line; stays until the next run."""

    DEFAULT_CSS = """
    FailureNote { height: auto; max-height: 5; padding: 0 1; background: $error 15%; }
    FailureNote.-empty { display: none; }
    """


class MigrationsPane(DataPane):
    """Migration status, ``up`` with progress, and the schema view."""

    pane_id = "migrations"
    DOWN_TITLE = "PostgreSQL DOWN"
    MUTATING = frozenset({"migrate_up"})
    POLL_SECONDS = 10.0
    STACK_AT = 40

    BINDINGS: ClassVar[list[Any]] = [
        Binding(
            "u",
            "migrate_up",
            "Apply pending",
            id="migrate_up",
            tooltip="Apply the pending migrations (asks first)",
        ),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.view: MigrationsView | None = None
        self.outcome: Outcome[MigrationsView] | None = None
        self.live: dict[str, str] = {}
        """States shown while ``up`` runs (name -> ``applying…`` / ``applied`` / ``failed``)."""

    def compose_body(self) -> ComposeResult:
        yield SourceLine(id="source")
        yield SubviewBar([("migrations-view", "Migrations"), ("schema-view", "Schema")])
        with Vertical(id="subviews"):
            with Vertical(id="migrations-view", classes="subview -current"):
                yield Label("Migrations", classes="subview-title")
                yield MigrationsTable(id="migrations")
                yield MigrationDetail("", id="migration-detail")
            with Vertical(id="schema-view", classes="subview"):
                yield Label("Schemas, and tables by size", classes="subview-title")
                yield SchemasTable(id="schemas")
                yield TablesTable(id="tables")
        yield FailureNote("", id="failure", classes="-empty")
        yield ActionProgress(id="progress")

    # --- loading and reading --------------------------------------------------------

    def load(self, session: Session) -> None:
        super().load(session)  # cancels the previous session's poller and run
        self.forget_data()
        self.live = {}
        self._show_failure("")
        self.query_one(SourceLine).show_reading(_postgres_where(session))
        self._redraw()
        source = source_for(session)
        self.start_polling(session, self.make_reader(session, source.read))

    def on_data_read(self, message: DataRead[MigrationsView]) -> None:
        if not self.keep_outcome(message.generation, message.outcome):
            return  # a read of the previous target, finished after the switch
        if message.outcome.value is not None and self._job is None:
            self.live = {}  # the database's own states from now on
        self._redraw()

    # --- rendering --------------------------------------------------------------------

    def on_resize(self, event: events.Resize) -> None:
        self._redraw()

    def _width(self) -> int:
        return self.size.width or self.app.size.width

    def _redraw(self) -> None:
        if not self.is_mounted:
            return
        self._render_source()
        view = self.view
        self.show_state(view is not None, self.outcome is None or self.outcome.ok)
        if view is None:
            return
        width = self._width()
        self.query_one(MigrationsTable).show(view, width, self.live)
        self.query_one(SchemasTable).show(view, width)
        self.query_one(TablesTable).show(view, width)
        self._render_detail()
        self.call_after_refresh(self.relayout)

    def _render_source(self) -> None:
        self.show_source(self._source_parts)

    def _source_parts(self, view: MigrationsView) -> list[str | Text]:
        counts = Text()
        for index, (state, count) in enumerate(view.counts().items()):
            if index:
                counts.append(", ")
            style = ""
            if count and state != "applied":
                style = state_style(self.app, "CRITICAL" if state == "drifted" else "WARNING")
            counts.append(f"{count} {state}", style=style)
        parts: list[str | Text] = [
            counts,
            Text.assemble(("database ", "dim"), (view.database, "bold"), f" at {view.address}"),
            f"{view.size}, PostgreSQL {view.server_version}",
        ]
        if not view.tracking_table:
            parts.append(Text("no migrations table yet (u creates it)", style="dim"))
        return parts

    @on(DataTable.RowHighlighted, "#migrations")
    def _highlighted(self) -> None:
        self._render_detail()

    def _render_detail(self) -> None:
        view = self.view
        if view is None:
            return
        key = self.query_one(MigrationsTable).selected_key
        selected = selected_row(view.migrations, key, lambda migration: migration.name)
        self.query_one(MigrationDetail).update(migration_detail(selected, self.app))

    def _show_failure(self, text: str) -> None:
        note = self.query_one(FailureNote)
        note.set_class(not text, "-empty")
        if text:
            message = Text(no_wrap=False, overflow="fold")
            message.append("Migration failed: ", style=state_style(self.app, "CRITICAL"))
            message.append(text)
            note.update(message)
        else:
            note.update("")

    # --- up ---------------------------------------------------------------------------

    def commands(self) -> Iterable[PaletteCommand]:
        yield PaletteCommand("Refresh migrations now", "Read status and schema again", "refresh")
        yield PaletteCommand(
            "Apply pending migrations…", "migrate up, after a confirmation", "migrate_up", True
        )
        yield PaletteCommand("Show the schema view", "Schemas and tables by size", "show_schema")

    def action_show_schema(self) -> None:
        self.query_one(SubviewBar).select("schema-view")

    def action_migrate_up(self) -> None:
        if self.blocked("migrate_up"):
            return
        if self._job is not None:
            self.notify("migrate up is running", title="Busy", severity="warning", markup=False)
            return
        view: MigrationsView | None = self.readable_view("pending", "Migrations")
        if view is None:
            return
        up_plan = plan_up(self.session, view)
        if not up_plan.files:
            self.notify(
                "nothing to apply: the database is up to date",
                title="Migrations",
                markup=False,
            )
            return
        session = self.session

        def decided(allow_drift: bool | None) -> None:
            if allow_drift is not None and session is self.session:
                self._run_up(session, len(up_plan.files), allow_drift, up_plan.plan.lines)

        self.app.push_screen(MigrateUpDialog(up_plan), decided)

    def _run_up(
        self, session: Session, pending: int, allow_drift: bool, plan: tuple[str, ...] = ()
    ) -> None:
        if self.blocked("migrate_up"):
            return
        generation = session.generation
        source = source_for(session)

        def progress(update: Progress) -> None:
            self.post_message(DataProgressed(generation, update))

        async def work() -> None:
            outcome = await source.up(progress, allow_drift, plan)
            self.post_message(MigrateFinished(generation, outcome))

        self.live = {}
        self._show_failure("")
        self.start_action(DataAction.MIGRATE_UP, "Migrate up")
        run_io(
            self,
            work,
            context="migrate up",
            timeout=source.timeout_for(pending),
            group="action",
        )

    def on_data_progressed(self, message: DataProgressed) -> None:
        if message.generation != self.session.generation:
            return
        update = message.progress
        verb, _, name = update.step.partition(" ")
        total = update.total or 0
        if verb == "apply" and name:
            self.live[name] = "applying…"
            step = f"apply {name} ({(update.current or 0) + 1} of {total})"
        elif verb in ("applied", "failed") and name:
            self.live[name] = verb
            step = f"{verb} {name} ({update.current or 0} of {total} done)"
        else:
            step = update.step  # waiting for another run's lock
        self.query_one(ActionProgress).show(step, update.current, update.total)
        self._redraw()

    def on_migrate_finished(self, message: MigrateFinished) -> None:
        if message.generation != self.session.generation:
            return
        outcome = message.outcome
        if outcome.ok:
            self.notify(outcome.summary(), title="Migrations", markup=False)
        else:
            self._show_failure(outcome.failure)
            self.notify(
                outcome.failure,
                title="Migration failed",
                severity="error",
                timeout=15,
                markup=False,
            )


def _postgres_where(session: Session) -> str:
    service = session.profile.postgres
    database = service.database if service is not None else "?"
    return f"PostgreSQL (database {database})"
