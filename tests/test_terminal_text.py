"""Server text on a terminal: escapes shown or dropped, and nothing else changed."""

from __future__ import annotations

import io

from rich.console import Console
from rich.table import Table

from alfred_tui.render.safe_console import keep_controls_off
from alfred_tui.terminal_text import printable, without_controls


def test_printable_shows_each_control_character() -> None:
    assert printable("key\x1b]0;owned\x07\x9b2J") == "key\\x1b]0;owned\\x07\\x9b2J"
    assert printable("tab\tand\nnewline stay") == "tab\tand\nnewline stay"
    assert printable("été ✓") == "été ✓"


def test_without_controls_keeps_line_ends() -> None:
    assert without_controls("a\x1b[2J\nb\x7f\x9b") == "a[2J\nb"


def test_a_console_keeps_its_layout_and_colours_but_drops_server_escapes() -> None:
    out = io.StringIO()
    console = keep_controls_off(Console(file=out, width=60, force_terminal=True))
    table = Table("Key", "Value")
    table.add_row("\x1b]0;owned\x07name", "[red]not markup[/red]")
    table.add_row("second", "\x9b31mvalue")
    console.print(table, style="bold")
    text = out.getvalue()
    assert "owned" in text and "second" in text
    assert text.count("\n") >= 6  # every row on its own line
    assert "\x07" not in text and "\x9b" not in text
    assert "]0;owned" in text and "\x1b]0;" not in text  # the OSC is gone, its text stays
    assert "\x1b[1m" in text  # Rich's own styling still reaches the terminal
