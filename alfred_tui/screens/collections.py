"""The Collections pane: Qdrant's collections against the profile, and creating missing ones.

One row per collection, the profile's first (in its order), then extra ones:
state (ok / drift / missing / extra), Qdrant's status, points, indexed
vectors, segments, vectors (drift flagged against the profile's), optimizer
and payload indexes; the lines under the table say everything about the
selected one. Read every ``POLL_SECONDS`` while shown, retried with backoff
while Qdrant does not answer. Each read opens the target and closes it, so
an embedded store is never held between reads.

``c`` creates the profile's missing collections after a confirmation that
names them (the spec's deployment step 3); existing ones, drifted included,
are never changed. Read-only sessions neither show nor run it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable, Static

from alfred_tui.control.collections_view import CollectionsView, plan_create, source_for
from alfred_tui.control.polling import Outcome
from alfred_tui.control.session import Session
from alfred_tui.screens.base import PaletteCommand
from alfred_tui.screens.data_pane import DataAction, DataPane, DataRead, selected_row
from alfred_tui.screens.dialogs import ConfirmDialog
from alfred_tui.screens.io import run_io
from alfred_tui.widgets.action_progress import ActionProgress
from alfred_tui.widgets.collections_table import (
    CollectionDetail,
    CollectionsTable,
    collection_detail,
)
from alfred_tui.widgets.source_line import SourceLine
from alfred_tui.widgets.styles import theme_colour


class CollectionsCreated(Message):
    """Missing collections were created."""

    def __init__(self, generation: int, created: list[str], view: CollectionsView) -> None:
        super().__init__()
        self.generation = generation
        self.created = created
        self.view = view


class CollectionsSummary(Static):
    """What is missing, drifted or extra, in words, under the table."""

    DEFAULT_CSS = """
    CollectionsSummary { height: auto; max-height: 4; padding: 0 1; }
    CollectionsSummary.-empty { display: none; }
    """


class CollectionsPane(DataPane):
    """Collections against the profile; ``c`` creates the missing ones."""

    pane_id = "collections"
    DOWN_TITLE = "Qdrant DOWN"
    MUTATING = frozenset({"create_missing"})
    POLL_SECONDS = 5.0
    BINDINGS: ClassVar[list[Any]] = [
        Binding(
            "c",
            "create_missing",
            "Create missing",
            id="collections_create",
            tooltip="Create the profile's missing collections (asks first)",
        ),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.view: CollectionsView | None = None
        self.outcome: Outcome[CollectionsView] | None = None

    def compose_body(self) -> ComposeResult:
        yield SourceLine(id="source")
        yield CollectionsTable(id="collections")
        yield CollectionsSummary("", id="collections-summary", classes="-empty")
        yield CollectionDetail("", id="collection-detail")
        yield ActionProgress(id="progress")

    # --- loading and reading -----------------------------------------------------------

    def load(self, session: Session) -> None:
        super().load(session)
        self.forget_data()
        self.query_one(SourceLine).show_reading("Qdrant")
        self._redraw()
        self.start_polling(session, self.make_reader(session, source_for(session).read))

    def on_data_read(self, message: DataRead[CollectionsView]) -> None:
        if self.keep_outcome(message.generation, message.outcome):
            self._redraw()

    # --- rendering ------------------------------------------------------------------------

    def on_resize(self, event: events.Resize) -> None:
        self._redraw()

    def _redraw(self) -> None:
        if not self.is_mounted:
            return
        self._render_source()
        view = self.view
        self.show_state(view is not None, self.outcome is None or self.outcome.ok)
        if view is None:
            return
        self.query_one(CollectionsTable).show(view, self.size.width or self.app.size.width)
        self._render_summary(view)
        self._render_detail()
        self.call_after_refresh(self.relayout)

    def _render_source(self) -> None:
        self.show_source(self._source_parts)

    def _source_parts(self, view: CollectionsView) -> list[str | Text]:
        where = (
            f"embedded store {view.address.removeprefix('embedded:')}"
            if view.embedded
            else (f"Qdrant {view.address}")
        )
        parts: list[str | Text] = [where, view.summary()]
        if view.note:
            parts.insert(0, Text(view.note, style=theme_colour(self.app, "warning")))
        return parts

    def _render_summary(self, view: CollectionsView) -> None:
        text = Text(no_wrap=False, overflow="fold")
        missing = view.of("missing")
        if missing:
            names = ", ".join(row.name for row in missing)
            text.append(f"Missing: {names}", style=f"bold {theme_colour(self.app, 'error')}")
            text.append(" - c creates them" if not self.session.readonly else " (read-only)")
        drifted = view.of("drift")
        if drifted:
            if text:
                text.append("\n")
            names = ", ".join(row.name for row in drifted)
            text.append(
                f"Drift: {names} (vector size or distance not the profile's; left as is)",
                style=theme_colour(self.app, "warning"),
            )
        extra = view.of("extra")
        if extra:
            if text:
                text.append("\n")
            names = ", ".join(row.name for row in extra)
            text.append("Not in the profile: ", style="dim")
            text.append(names)
        if not view.collections:
            text.append("No collections, and the profile expects none.", style="dim")
        summary = self.query_one(CollectionsSummary)
        summary.set_class(not text, "-empty")
        summary.update(text)

    @on(DataTable.RowHighlighted, "#collections")
    def _highlighted(self) -> None:
        self._render_detail()

    def _render_detail(self) -> None:
        view = self.view
        if view is None:
            return
        key = self.query_one(CollectionsTable).selected_key
        selected = selected_row(view.collections, key, lambda row: row.name)
        self.query_one(CollectionDetail).update(
            collection_detail(self.app, selected, view.embedded)
        )

    # --- creating missing collections --------------------------------------------------

    def commands(self) -> Iterable[PaletteCommand]:
        yield PaletteCommand("Refresh collections now", "Read Qdrant again", "refresh")
        yield PaletteCommand(
            "Create missing collections…",
            "The profile's collections Qdrant does not have (c)",
            "create_missing",
            True,
        )

    def action_create_missing(self) -> None:
        if self.blocked("create_missing"):
            return
        if self._job is not None:
            self.notify("collections are being created", title="Busy", severity="warning")
            return
        view: CollectionsView | None = self.readable_view("missing", "Collections")
        if view is None:
            return
        if not view.of("missing"):
            self.notify(
                "nothing to create: every collection of the profile exists",
                title="Collections",
                markup=False,
            )
            return
        session = self.session

        def decided(confirmed: bool | None) -> None:
            if confirmed and session is self.session:
                self._create(session, plan.lines)

        plan = plan_create(session, view)
        self.app.push_screen(ConfirmDialog(plan), decided)

    def _create(self, session: Session, plan: tuple[str, ...] = ()) -> None:
        if self.blocked("create_missing"):
            return
        generation = session.generation
        source = source_for(session)

        async def work() -> None:
            created, view = await source.create_missing(plan)
            self.post_message(CollectionsCreated(generation, created, view))

        self.start_action(DataAction.CREATE_COLLECTIONS, "Create missing collections")
        run_io(self, work, context="create collections", timeout=self.READ_TIMEOUT, group="action")

    def on_collections_created(self, message: CollectionsCreated) -> None:
        if message.generation != self.session.generation:
            return
        created = message.created
        text = f"created {len(created)}: {', '.join(created)}" if created else "nothing created"
        self.notify(text, title="Collections", markup=False)
        self.view = message.view
        self._redraw()
