"""The data panes' plain parts: the reader's backoff and error words, and column fitting.

(The panes themselves are tested on real servers in test_ui_migrations.py,
test_ui_keyspace.py and test_ui_collections.py.)
"""

from __future__ import annotations

import asyncio

import pytest
from rich.text import Text

from alfred_tui.control.polling import Reader, is_down
from alfred_tui.databases.failures import DatabaseUnavailable
from alfred_tui.errors import AlfredError
from alfred_tui.widgets.columns import PAD, SPARE, Spec, cells, fit


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_reader_reports_failures_in_one_line_and_backs_off() -> None:
    clock = Clock()
    answers: list[object] = [
        DatabaseUnavailable("connection refused (127.0.0.1:5432)"),
        DatabaseUnavailable("connection refused (127.0.0.1:5432)"),
        AlfredError("0001_x.sql: not UTF-8 text", title="Migration error"),
        "data",
    ]

    async def read() -> str:
        answer = answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return str(answer)

    reader: Reader[str] = Reader(read, timeout=1.0, base=2.0, cap=5.0, clock=clock)
    reader.backoff.jitter = 0.0
    first = await reader.read()
    assert not first.ok and first.down and first.value is None
    assert first.title == "Unavailable" and first.error == "connection refused (127.0.0.1:5432)"
    assert reader.wait_after(first, 10.0) == pytest.approx(2.0)
    second = await reader.read()
    assert reader.wait_after(second, 10.0) == pytest.approx(4.0)  # doubled
    third = await reader.read()
    assert not third.down and third.title == "Migration error"  # refused, not down
    assert reader.wait_after(third, 10.0) == pytest.approx(5.0)  # capped
    fourth = await reader.read()
    assert fourth.ok and fourth.value == "data" and fourth.taken_at == 1000.0
    assert reader.wait_after(fourth, 10.0) == 10.0  # the interval again


async def test_reader_times_out_a_hung_read() -> None:
    async def hang() -> str:
        await asyncio.Event().wait()
        return ""

    outcome = await Reader(hang, timeout=0.05, base=1.0).read()
    assert outcome.down and outcome.error == "no answer within 0.05 s"


def test_down_errors_are_told_from_refusals() -> None:
    assert is_down(DatabaseUnavailable("x"))
    assert is_down(TimeoutError())
    assert not is_down(AlfredError("bad file"))


def test_columns_fit_their_content_and_give_way_in_order() -> None:
    specs = [
        Spec("Name", "name", flex=True, minimum=8),
        Spec("Source", "source", cap=16),
        Spec("Count", "count", right=True),
    ]
    rows = [["0003_processed_messages", "migrations/app", "12,345,678"], ["a", "b", "1"]]
    wide = fit(specs, rows, 200)
    assert [c.width for c in wide] == [23, 14, 10]  # as wide as the content, no wider
    narrow = fit(specs, rows, 40)
    widths = [c.width for c in narrow]
    assert sum(widths) + PAD * 3 + SPARE <= 40
    assert widths[2] == 10  # numbers are never cut
    assert widths[0] == 8  # the flexible column gave way first, to its minimum
    assert widths[1] == 40 - PAD * 3 - SPARE - 8 - 10  # then the text column
    row = cells(specs, rows[0])
    assert all(isinstance(cell, Text) and cell.no_wrap for cell in row)
    assert row[2].justify == "right" and row[2].overflow == "ellipsis"
