"""Progress of a long command on stderr, so stdout keeps only the result.

At a terminal one line is rewritten in place; elsewhere (a log, CI) each new
step is printed once.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from alfred_tui.cli.common import diagnostic

if TYPE_CHECKING:
    from alfred_tui.backends.base import Progress


class ProgressLine:
    """Progress on stderr: one rewritten line at a terminal, step changes only elsewhere."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.last_step = ""
        self.width = 0

    def __call__(self, item: Progress) -> None:
        from alfred_tui.units import format_bytes

        if item.unit == "bytes" and item.current is not None:
            done = format_bytes(item.current)
            text = f"{item.step}: {done}" + (
                f" of {format_bytes(item.total)}" if item.total else ""
            )
        else:
            text = item.step
        if self.tty:
            padded = text[:120].ljust(self.width)
            self.width = len(text[:120])
            sys.stderr.write("\r" + padded)
            sys.stderr.flush()
        elif item.step != self.last_step:
            diagnostic(f"  ... {item.step}")
        self.last_step = item.step

    def done(self) -> None:
        if self.tty and self.width:
            sys.stderr.write("\r" + " " * self.width + "\r")
            sys.stderr.flush()
            self.width = 0
