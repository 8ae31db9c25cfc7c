"""Column widths from the content: every column as wide as its widest cell, one column flexes.

The data panes' tables hold figures whose width depends on the data (``12``
or ``12.3k ±410``); fixed widths either waste a narrow terminal or cut a
figure. :func:`fit` sizes each column to its content (capped), gives the
flexible one what is left of the terminal, and never lets the table
overflow sideways.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.text import Text

from alfred_tui.widgets.filter_table import Cell, Column

PAD = 2
"""A DataTable cell's padding, left + right."""
SPARE = 2
"""A one-column vertical scrollbar and one column to spare."""


@dataclass(frozen=True)
class Spec:
    """A column to fit: its label and key, how wide it may get, and whether it gives way first."""

    label: str
    key: str
    cap: int = 40
    """Widest it gets, however long its cells."""
    flex: bool = False
    """Gives way first when the terminal is too narrow (long names, keys, notes)."""
    minimum: int = 6
    right: bool = False
    """Numbers: right-aligned, and never cut."""
    shrink: bool = True
    """Whether the column may be cut when the terminal is too narrow (not: times, states)."""


def cell_width(cell: Cell) -> int:
    """Width of a cell's text on screen."""
    return cell.cell_len if isinstance(cell, Text) else Text(cell).cell_len


def fit(specs: Sequence[Spec], rows: Sequence[Sequence[Cell]], width: int) -> list[Column]:
    """Columns for ``rows`` in ``width`` terminal columns.

    Each column is as wide as its widest cell (between its minimum and cap),
    so a table stays compact and figures sit next to their names. When that
    is too wide, the flexible columns give way first, then the widest text
    columns, one cell at a time, never below their minimum; numbers keep
    their width. Cut cells end in an ellipsis.
    """
    widths = []
    for index, spec in enumerate(specs):
        content = max((cell_width(row[index]) for row in rows if index < len(row)), default=0)
        widths.append(max(spec.minimum, min(spec.cap, max(len(spec.label), content))))
    excess = sum(widths) + PAD * len(specs) + SPARE - width
    for group in (
        [i for i, spec in enumerate(specs) if spec.flex],
        [i for i, spec in enumerate(specs) if not spec.flex and not spec.right and spec.shrink],
    ):
        while excess > 0:
            room = [i for i in group if widths[i] > specs[i].minimum]
            if not room:
                break
            widest = max(room, key=lambda i: widths[i])
            widths[widest] -= 1
            excess -= 1
    return [Column(spec.label, spec.key, w) for spec, w in zip(specs, widths, strict=True)]


def cells(specs: Sequence[Spec], values: Sequence[Cell]) -> tuple[Cell, ...]:
    """One row's cells: numbers right-aligned, every cell cut with an ellipsis, never wrapped."""
    out: list[Cell] = []
    for spec, value in zip(specs, values, strict=True):
        text = value.copy() if isinstance(value, Text) else Text(value)
        text.no_wrap = True
        text.overflow = "ellipsis"
        if spec.right:
            text.justify = "right"
        out.append(text)
    return tuple(out)
