"""The Collections pane's table: each collection's state against the profile and its figures.

State and status are words and colours: ok (success), drift (warning: the
vector size or distance is not the profile's, the profile's shown beside),
missing (error), extra (accent); Qdrant's green / yellow / grey / red.
Below 120 columns segments, optimizer and payload indexes move to the lines
under the table, about the selected collection.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from alfred_tui.control.collections_view import CollectionRow, CollectionsView
from alfred_tui.widgets.columns import Spec, cells, fit
from alfred_tui.widgets.filter_table import FilterableTable, Row
from alfred_tui.widgets.styles import AnyApp, theme_colour

WIDE = 120

STATE_ROLES = {"ok": "success", "drift": "warning", "missing": "error"}
"""An extra collection is information, not a problem: plain text (accent is a warning
colour in some themes)."""
STATUS_ROLES = {"green": "success", "yellow": "warning", "red": "error"}


def state_cell(app: AnyApp, state: str) -> Text:
    """ok / drift / missing / extra, coloured."""
    role = STATE_ROLES.get(state)
    style = theme_colour(app, role) if role else ""
    return Text(state, style=f"bold {style}" if state in ("drift", "missing") else style)


def status_cell(app: AnyApp, status: str) -> Text:
    """Qdrant's status word, coloured (grey: optimizations pending)."""
    if not status:
        return Text("-", style="dim")
    role = STATUS_ROLES.get(status)
    style = theme_colour(app, role) if role else "dim"
    return Text(status, style=f"bold {style}" if status == "red" else style)


def _vectors(app: AnyApp, row: CollectionRow, wide: bool) -> Text:
    if row.state == "missing":
        return Text(row.vectors, style="dim")
    text = Text(row.vectors)
    if row.drift:
        warning = theme_colour(app, "warning")
        text.stylize(f"bold {warning}")
        text.append(f" ≠ profile {row.expected}" if wide else " *", style=warning)
    return text


def _optimizer(app: AnyApp, value: str) -> Text:
    bad = value not in ("", "ok", "n/a")
    return Text(value, style=f"bold {theme_colour(app, 'error')}" if bad else "")


class CollectionsTable(FilterableTable):
    """The profile's collections in its order, then the extra ones."""

    def show(self, view: CollectionsView, width: int) -> None:
        wide = width >= WIDE
        specs = [
            Spec("Collection", "name", cap=32, minimum=10),
            Spec("State", "state", minimum=7),
            Spec("Status", "status", minimum=6),
            Spec("Points", "points", right=True, cap=14),
            Spec("Indexed", "indexed", right=True, cap=14),
        ]
        if wide:
            specs.append(Spec("Segments", "segments", right=True, cap=10))
        specs.append(Spec("Vectors", "vectors", cap=48 if wide else 14, minimum=10))
        if wide:
            specs += [
                Spec("Optimizer", "optimizer", cap=24, minimum=9),
                Spec("Payload indexes", "payload", flex=True, minimum=15, cap=80),
            ]
        app = self.app
        rows = []
        for row in view.collections:
            values: list[str | Text] = [
                row.name,
                state_cell(app, row.state),
                status_cell(app, row.status),
                row.points,
                row.indexed,
            ]
            if wide:
                values.append(row.segments)
            values.append(_vectors(app, row, wide))
            if wide:
                values += [_optimizer(app, row.optimizer), row.payload_indexes]
            rows.append(Row(row.name, cells(specs, values)))
        self.set_columns(fit(specs, [r.cells for r in rows], width))
        self.set_rows(rows)


def collection_detail(app: AnyApp, row: CollectionRow | None, embedded: bool) -> Text:
    """Everything about the selected collection the table may not have room for."""
    if row is None:
        return Text("no collections, and the profile expects none", style="dim")
    warning = theme_colour(app, "warning")
    text = Text(no_wrap=False, overflow="fold")
    text.append(row.name, style="bold")
    text.append(" ")
    text.append_text(state_cell(app, row.state))
    if row.purpose:
        text.append(f"  {row.purpose}", style="dim")
    if row.state == "missing":
        text.append(f"\nnot in Qdrant; the profile expects vectors {row.expected}. ")
        text.append("c creates it")
        return text
    text.append(f"\nsegments {row.segments}, optimizer ")
    text.append_text(_optimizer(app, row.optimizer))
    text.append(f", payload indexes {row.payload_indexes}")
    if row.state == "extra":
        text.append("\nnot in the profile (qdrant_collections)", style="dim")
    for phrase in row.drift:
        text.append("\ndrift: ", style=f"bold {warning}")
        text.append(phrase)
    if row.drift:
        text.append(" (fixing it means recreating the collection and re-indexing)", style="dim")
    if embedded:
        text.append(
            "\nembedded mode keeps no segments, index, optimizer or payload indexes", style="dim"
        )
    return text


class CollectionDetail(Static):
    """The lines under the table about the selected collection."""

    DEFAULT_CSS = """
    CollectionDetail { height: auto; max-height: 5; padding: 0 1; }
    """
