"""Colours for verdicts and states, taken from the current Textual theme.

Every status is written as a word (OK, WARNING, CRITICAL, DOWN) and coloured
as well, so it reads on a 256-colour terminal, a monochrome one, or to a
colour-blind operator. Colours come from the theme's success / warning /
error / accent so every theme (``ui.theme``) gets matching ones.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import App

#: Any app: colours come from its theme whatever it returns (App is invariant in that).
AnyApp = App[Any]

_FALLBACK = {
    "success": "green",
    "warning": "yellow",
    "error": "red",
    "accent": "magenta",
    "primary": "blue",
}

_ROLE = {
    "OK": "success",
    "WARNING": "warning",
    "CRITICAL": "error",
    "DOWN": "error",
    "UNKNOWN": "accent",
    "READ-ONLY": "error",
}
_BOLD = {"CRITICAL", "DOWN"}


def theme_colour(app: AnyApp, role: str) -> str:
    """The theme's colour for ``role`` (success, warning, error, accent)."""
    theme = app.current_theme
    colour = getattr(theme, role, None)
    return colour or _FALLBACK[role]


def state_style(app: AnyApp, word: str) -> str:
    """A Rich style for a state word; ``dim`` for states with no colour."""
    role = _ROLE.get(word)
    if role is None:
        return "dim"
    bold = "bold " if word in _BOLD else ""
    return f"{bold}{theme_colour(app, role)}"


def state_text(app: AnyApp, word: str) -> Text:
    """``word`` coloured by what it means."""
    return Text(word, style=state_style(app, word), no_wrap=True)
