"""The pages ``alfred-tui serve`` sends, their security headers, and the browser client.

The pages are ours, not textual-serve's template: they load nothing from
another site (textual-serve's page fetches a Google font), carry no inline
script (so the Content-Security-Policy can forbid every inline script), and
say in the tab title that the UI is served and whether it is read-only.

The browser client is textual-serve's ``textual.js`` (xterm.js and the
websocket protocol), served with one option turned on: xterm.js's
screen-reader mode, which keeps the terminal's text in the page as an
accessibility tree (``.xterm-accessibility-tree``, one row per line). Screen
readers read the served UI through it, and so do the browser tests.
"""

from __future__ import annotations

import re
from functools import cache
from html import escape
from pathlib import Path

from alfred_tui.errors import AlfredError

ASSETS = Path(__file__).resolve().parent / "assets"

#: Every response. The pages need scripts and styles from this origin only
#: (xterm.js sets element styles and adds <style> elements, hence
#: 'unsafe-inline' for styles alone), the websocket to this origin, and no framing.
#: Referrer-Policy is same-origin, not no-referrer: under no-referrer Chromium
#: sends ``Origin: null`` with the login form, which the Origin check refuses.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}
#: Files the app hands to the browser (a screenshot): shown, never run.
DOWNLOAD_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox"

_SCREEN_READER_OPTION = re.compile(r"(new \w+\.Terminal\(\{)(allowProposedApi:!0,)")


class ClientMismatch(AlfredError):
    """textual-serve's client is not the one this module knows how to configure."""

    title = "Install error"


@cache
def client_script(textual_serve_static: Path) -> bytes:
    """textual-serve's ``textual.js`` with xterm.js's ``screenReaderMode`` turned on."""
    source = (textual_serve_static / "js" / "textual.js").read_text(encoding="utf-8")
    patched, count = _SCREEN_READER_OPTION.subn(r"\1screenReaderMode:!0,\2", source, count=1)
    if count != 1:
        raise ClientMismatch(
            "textual-serve's textual.js no longer creates its terminal as expected; "
            "alfred-tui pins the textual-serve version it was built for (pyproject.toml)"
        )
    return patched.encode("utf-8")


def _document(title: str, body: str, scripts: str = "") -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n"
        '<link rel="stylesheet" href="/static/css/xterm.css">\n'
        '<link rel="stylesheet" href="/assets/serve.css">\n'
        f"{scripts}</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


def mode_words(readonly: bool) -> str:
    """``read-only`` or ``read-write``, as the pages and the console say it."""
    return "read-only" if readonly else "read-write"


def login_page(profile: str, readonly: bool, problem: str | None = None) -> str:
    """The form that asks for the token (for a URL without one, or a wrong one)."""
    problem_html = f'<p class="problem">{escape(problem)}</p>' if problem else ""
    body = (
        '<main class="panel">\n'
        f"<h1>alfred-tui · profile {escape(profile)} · served {mode_words(readonly)}</h1>\n"
        f"{problem_html}"
        '<form method="post" action="/login">\n'
        '<label for="token">Login token (printed by <code>alfred-tui serve</code> when it '
        "started, or the one in <code>$ALFRED_TUI_SERVE_TOKEN</code>)</label>\n"
        '<input id="token" name="token" type="password" autocomplete="off" autofocus required>\n'
        '<button type="submit">Log in</button>\n</form>\n'
        '<p class="note">Every login, failed login and session end is logged with the '
        "address it came from.</p>\n</main>"
    )
    return _document(f"alfred-tui · log in · {profile}", body)


def notice_page(title: str, message: str) -> str:
    """A page that only says why (too many sessions, a refused request)."""
    body = (
        f'<main class="panel">\n<h1>{escape(title)}</h1>\n<p>{escape(message)}</p>\n'
        '<a class="button" href="/">Try again</a>\n</main>'
    )
    return _document(f"alfred-tui · {title}", body)


def app_page(profile: str, readonly: bool, websocket_url: str, font_size: int = 16) -> str:
    """The terminal: textual.js connects to ``websocket_url`` and draws the app."""
    body = (
        '<div id="terminal" class="textual-terminal" '
        f'data-session-websocket-url="{escape(websocket_url)}" '
        f'data-font-size="{font_size}"></div>\n'
        '<div class="closed-dialog"><main class="panel">\n'
        "<h1>Session ended</h1>\n"
        "<p>The app quit, the session was idle too long, or the server stopped.</p>\n"
        '<a class="button" href="/">Open a new session</a>\n</main></div>'
    )
    return _document(
        f"alfred-tui · {profile} · served {mode_words(readonly)}",
        body,
        scripts='<script src="/assets/textual.js"></script>\n',
    )
