"""FilterableTable draws what its rows hold, while rendering only the cells that changed.

Its cells are kept rendered by what they hold (DataTable's own cache is
dropped on every ``update_cell``): these tests drive a real Textual app and
read the lines the table draws, to show that a changed cell, the cursor
moving, focus, and a new theme are all drawn, and that a refresh changing
one cell renders that cell alone.
"""

from __future__ import annotations

from typing import Any

import pytest
from rich.text import Text
from textual.app import App, ComposeResult
from textual.widgets import DataTable

from alfred_tui.widgets.filter_table import Column, FilterableTable, Row

COLUMNS = [Column("Name", "name", 8), Column("State", "state", 10)]


class OneTable(App[None]):
    def compose(self) -> ComposeResult:
        yield FilterableTable(id="table")


def rows(redis: Text | str = "OK") -> list[Row]:
    return [Row("postgres", ("postgres", "OK")), Row("redis", ("redis", redis))]


def line(table: FilterableTable, y: int) -> str:
    """The text the table draws on its line ``y`` (0 is the header)."""
    return table.render_line(y).text


def styles(table: FilterableTable, y: int) -> list[Any]:
    """The looks of the line's text, without the row and column each segment names."""
    drawn = table.render_line(y)
    return [s.style.clear_meta_and_links() for s in drawn if s.text.strip() and s.style]


async def test_a_changed_cell_is_drawn_and_only_it_is_rendered_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = OneTable()
    async with app.run_test(size=(40, 8)) as pilot:
        table = app.query_one(FilterableTable)
        table.set_columns(COLUMNS)
        table.set_rows(rows())
        await pilot.pause()
        assert "redis" in line(table, 2) and "OK" in line(table, 2)

        rendered: list[tuple[int, int]] = []
        original = DataTable._render_cell  # Rich's rendering of one cell, uncached here

        def counting(self: FilterableTable, row: int, column: int, *rest: Any) -> Any:
            rendered.append((row, column))
            return original(self, row, column, *rest)

        monkeypatch.setattr(DataTable, "_render_cell", counting)
        table.set_rows(rows(Text("DOWN", style="bold red")))
        await pilot.pause()
        drawn = [line(table, y) for y in range(3)]
        monkeypatch.undo()
        assert "DOWN" in drawn[2] and "OK" not in drawn[2]
        assert "postgres" in drawn[1] and "OK" in drawn[1]
        assert set(rendered) == {(1, 1)}  # the redis state cell, nothing else

        # Same words, another look: drawn again (Rich's Text == ignores the style).
        before = styles(table, 2)
        table.set_rows(rows(Text("DOWN", style="green")))
        await pilot.pause()
        assert styles(table, 2) != before


async def test_the_cursor_focus_and_theme_are_drawn_over_kept_cells() -> None:
    app = OneTable()
    async with app.run_test(size=(40, 8)) as pilot:
        table = app.query_one(FilterableTable)
        table.set_columns(COLUMNS)
        table.set_rows(rows())
        table.focus()
        await pilot.pause()
        first_row, second_row = styles(table, 1), styles(table, 2)
        assert first_row != second_row  # the cursor's row

        table.move_cursor(row=1)
        await pilot.pause()
        assert styles(table, 2) == first_row and styles(table, 1) == second_row

        table.blur()
        await pilot.pause()
        assert styles(table, 2) != first_row  # an unfocused cursor looks different

        table.focus()
        await pilot.pause()
        focused = styles(table, 2)
        app.theme = "textual-light" if app.theme != "textual-light" else "nord"
        await pilot.pause()
        assert styles(table, 2) != focused
        assert "redis" in line(table, 2)
