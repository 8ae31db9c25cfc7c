"""A Rich console that writes no control character taken from a server.

Rich lays a table out and then writes each segment; its own colours and
cursor moves are *control* segments or styles, never text. So dropping
control characters from every text segment, after layout, removes what a
server smuggled in (an ESC in a Redis key, an OSC in a query) and nothing
of Rich's, and keeps every column in place (control characters take no
cell). :func:`alfred_tui.terminal_text.printable` is for text a command
builds itself, where the operator should see the escape as ``\\x1b``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import RenderHook
from rich.segment import Segment

from alfred_tui.terminal_text import without_controls

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions, ConsoleRenderable, RenderResult


class _WithoutControls:
    """``renderable`` as Rich renders it, with control characters dropped from its text."""

    def __init__(self, renderable: ConsoleRenderable) -> None:
        self.renderable = renderable

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        for segment in console.render(self.renderable, options):
            text, style, control = segment
            yield segment if control else Segment(without_controls(text), style)


class _Hook(RenderHook):
    def process_renderables(self, renderables: list[ConsoleRenderable]) -> list[ConsoleRenderable]:
        return [_WithoutControls(renderable) for renderable in renderables]


def keep_controls_off(console: Console) -> Console:
    """``console``, with every text segment it writes stripped of control characters."""
    console.push_render_hook(_Hook())
    return console
