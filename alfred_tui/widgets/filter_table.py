"""A DataTable that keeps every row and shows those matching a filter.

``/`` opens the pane's filter bar; what is typed is matched (case-insensitive,
every word must appear) against the plain text of each row of every
:class:`FilterableTable` in the pane. Rows are replaced wholesale on each
refresh; the cursor stays on the same row key, so a poll never moves the
operator's selection.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.cache import LRUCache
from textual.coordinate import Coordinate
from textual.widgets import DataTable

Cell = str | Text

#: Rendered cells kept per table (a 160x48 overview shows about 260).
RENDERED_CELLS = 4096


@dataclass(frozen=True)
class Column:
    """A column: its label, key and width (``None``: fit the content)."""

    label: str
    key: str
    width: int | None = None


@dataclass(frozen=True)
class Row:
    """A row: a stable key and one cell per column."""

    key: str
    cells: tuple[Cell, ...]

    @property
    def text(self) -> str:
        """The row's plain text, lower-cased, for filtering."""
        return " ".join(c.plain if isinstance(c, Text) else c for c in self.cells).lower()


def same_cell(a: Cell, b: Cell) -> bool:
    """Equal text *and* look (Rich's ``Text ==`` ignores the base style: a colour change)."""
    if isinstance(a, Text) and isinstance(b, Text):
        return a.plain == b.plain and a.style == b.style and a.spans == b.spans
    return type(a) is type(b) and a == b


def cell_look(cell: object) -> Hashable | None:
    """What a cell's rendering depends on, as a hashable key (``FilterableTable._render_cell``);
    None for a renderable that is neither text nor a string (rendered every time)."""
    if isinstance(cell, Text):
        return (
            cell.plain,
            cell.style,
            tuple(cell.spans),
            cell.justify,
            cell.overflow,
            cell.no_wrap,
        )
    if isinstance(cell, str):
        return cell
    return None


def matches(row: Row, query: str) -> bool:
    """Whether every word of ``query`` appears in ``row``."""
    return all(word in row.text for word in query.lower().split())


class FilterableTable(DataTable[Cell]):
    """A DataTable with stable row keys and a text filter."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes, cursor_type="row", zebra_stripes=False)
        self._columns_now: tuple[Column, ...] = ()
        self._rows: list[Row] = []
        self._shown_keys: list[str] = []
        self.filter_text = ""
        self._rendered_cells: LRUCache[Hashable, list[list[Segment]]] = LRUCache(RENDERED_CELLS)

    def set_columns(self, columns: Sequence[Column]) -> None:
        """Use ``columns`` (a no-op when they are the ones already shown)."""
        wanted = tuple(columns)
        if wanted == self._columns_now:
            return
        selected = self.selected_key
        self._columns_now = wanted
        self.clear(columns=True)
        self._shown_keys = []
        for column in wanted:
            self.add_column(column.label, key=column.key, width=column.width)
        self._show(selected)

    def set_rows(self, rows: Sequence[Row]) -> None:
        """Replace every row, keeping the cursor on the same key."""
        selected = self.selected_key
        old = {row.key: row for row in self._rows}
        self._rows = list(rows)
        shown = [
            row
            for row in self._rows
            if matches(row, self.filter_text) and len(row.cells) == len(self._columns_now)
        ]
        if [row.key for row in shown] == self._shown_keys:
            # Same rows as on screen: change the cells that changed, nothing else
            # (no flicker, the cursor and the scroll position stay put).
            for row in shown:
                before = old.get(row.key)
                for index, (column, cell) in enumerate(
                    zip(self._columns_now, row.cells, strict=False)
                ):
                    if before is None or not same_cell(before.cells[index], cell):
                        self.update_cell(row.key, column.key, cell)
            return
        self._show(selected)

    def set_filter(self, text: str) -> None:
        """Show only rows matching ``text`` (empty shows all)."""
        selected = self.selected_key
        self.filter_text = text
        self._show(selected)

    @property
    def visible_keys(self) -> list[str]:
        """Keys of the rows shown, top to bottom."""
        return list(self._shown_keys)

    @property
    def selected_key(self) -> str | None:
        """The key of the row under the cursor."""
        keys = self._shown_keys
        if not keys or not 0 <= self.cursor_row < len(keys):
            return None
        return keys[self.cursor_row]

    def row_text(self, key: str) -> str:
        """The plain text of a row's cells, joined by spaces (for tests and messages)."""
        row = next((r for r in self._rows if r.key == key), None)
        return (
            ""
            if row is None
            else " ".join(c.plain if isinstance(c, Text) else c for c in row.cells)
        )

    # --- rendering --------------------------------------------------------------

    def _render_cell(
        self,
        row_index: int,
        column_index: int,
        base_style: Style,
        width: int,
        cursor: bool = False,
        hover: bool = False,
    ) -> list[list[Segment]]:
        """A cell rendered through Rich, or the same cell's rendering from before.

        DataTable keys its cache of rendered cells on the table's update count,
        which every ``update_cell`` bumps: a refresh (or a replay's seek) that
        changes a few cells renders every visible cell through Rich again,
        more than half of a 160x48 overview's redraw. This cache keys a
        rendering on what the cell holds and everything else DataTable's key
        holds but the count, so only the cells that changed are rendered.
        """
        content: Hashable | None = None
        if row_index == -1:
            content = cell_look(self.ordered_columns[column_index].label)
        elif column_index != -1:  # (a row label: DataTable's own rendering, never used here)
            cell_key = self.coordinate_to_cell_key(Coordinate(row_index, column_index))
            content = cell_look(self.get_cell(*cell_key))
        if content is None:
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        key = (
            row_index,
            column_index,
            content,
            base_style,
            width,
            cursor,
            hover,
            self._show_hover_cursor,
            self._pseudo_class_state,
            self.show_cursor,
        )
        rendered = self._rendered_cells.get(key)
        if rendered is None:
            rendered = super()._render_cell(
                row_index, column_index, base_style, width, cursor, hover
            )
            self._rendered_cells[key] = rendered
        return rendered

    def _clear_caches(self) -> None:
        super()._clear_caches()
        self._rendered_cells.clear()

    def notify_style_update(self) -> None:
        self._rendered_cells.clear()  # a theme or a class changed what a cell looks like
        super().notify_style_update()

    def _show(self, selected: str | None) -> None:
        self.clear()
        shown = [
            row
            for row in self._rows
            if matches(row, self.filter_text) and len(row.cells) == len(self._columns_now)
        ]
        for row in shown:
            self.add_row(*row.cells, key=row.key)
        self._shown_keys = [row.key for row in shown]
        if selected is not None:
            keys = [row.key for row in shown]
            if selected in keys:
                self.move_cursor(row=keys.index(selected), animate=False, scroll=False)
