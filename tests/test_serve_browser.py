"""``alfred-tui serve`` in a real browser: Debian's headless chromium driven by Playwright.

What the operator does, and what an attacker's page tries:

* the login page appears; a wrong token is refused; the printed URL logs in
  and the token leaves the address bar; the cookie is HttpOnly and
  SameSite=Strict;
* the Overview's service rows appear, the header says SERVED READ-ONLY, and
  keys typed in the page switch panes;
* a websocket opened without the session cookie, or by a page of another
  origin in the logged-in browser (127.0.0.1 on another port: same site, so
  the Strict cookie *is* sent and only the Origin check stands), is refused;
* read-only: Scale is absent from the footer and the palette, and its key
  says why; with --allow-write it is offered;
* with a self-signed certificate made here, 0.0.0.0 is served over HTTPS and
  the cookie is Secure (``__Host-``).

The terminal's text is read from the page's accessibility tree (xterm.js's
screen-reader mode, turned on by the served page; tests/serve_support.py).
"""

from __future__ import annotations

import contextlib
import http.server
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from serve_support import (
    ServeProcess,
    audit_lines,
    chromium_missing,
    launch_chromium,
    screen_text,
    wait_for_screen,
)
from ui_helpers import key_of

pytestmark = [
    pytest.mark.timeout(180),
    pytest.mark.skipif(chromium_missing() is not None, reason=chromium_missing() or ""),
]

VIEWPORT = {"width": 1200, "height": 760}
OPENS = """(url) => new Promise((resolve) => {
    const socket = new WebSocket(url);
    socket.onopen = () => { socket.close(); resolve(true); };
    socket.onerror = () => resolve(false);
})"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


@contextlib.contextmanager
def another_site() -> Iterator[str]:
    """Another origin on this machine: a plain page on 127.0.0.1, another port."""

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"<p>another site</p>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    site = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=site.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{site.server_address[1]}/"
    finally:
        site.shutdown()
        site.server_close()


def _open_app(context: Any, server: ServeProcess, *texts: str) -> tuple[Any, str]:
    page = context.new_page()
    page.goto(server.url)
    return page, wait_for_screen(page, *texts)


def _type(page: Any, keys: str) -> None:
    page.focus(".xterm-helper-textarea")  # where xterm.js takes keys (no click: no mouse event)
    page.keyboard.type(keys)


def _session_cookie(context: Any) -> dict[str, Any]:
    (cookie,) = [c for c in context.cookies() if "alfred_tui_session" in c["name"]]
    return dict(cookie)


def test_login_overview_keys_and_read_only(browser, servers_profile, isolated_dirs) -> None:
    with ServeProcess("--profile", str(servers_profile)) as server:
        context = browser.new_context(viewport=VIEWPORT)
        page = context.new_page()
        assert page.goto(server.base).status == 200
        assert page.title() == "alfred-tui · log in · servers"
        page.fill("#token", "not-the-token")
        page.click("button[type=submit]")
        assert page.inner_text(".problem") == "Wrong token."
        assert context.cookies() == []

        page.goto(server.url)
        assert page.url == server.base  # the token left the address bar (and history)
        assert page.title() == "alfred-tui · servers · served read-only"
        screen = wait_for_screen(page, "postgres", "redis", "qdrant", "Last 10 min")
        header = screen.splitlines()[0]
        assert "profile servers" in header and "SERVED READ-ONLY" in header
        screen = wait_for_screen(page, "postgres OK", "redis OK")  # the real servers answer
        cookie = _session_cookie(context)
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and not cookie["secure"]

        footer = wait_for_screen(page, "/ Filter").splitlines()[-1]
        assert "Scale" not in footer and "Deploy" not in footer  # no mutating key
        _type(page, "s")
        wait_for_screen(page, "scale is disabled", "read-only unless --allow-write")
        _type(page, ":")
        wait_for_screen(page, "Search for commands")
        _type(page, "Deploy")
        wait_for_screen(page, "No matches found")  # no "Deploy postgres" in the palette
        page.keyboard.press("Escape")
        wait_for_screen(page, "Last 10 min", gone=("No matches found",))

        _type(page, key_of("profile"))
        wait_for_screen(page, "Field", "services.postgres.image")
        _type(page, "1")
        wait_for_screen(page, "Last 10 min")
        context.close()
    events = [(e["event"], e.get("reason")) for e in audit_lines(isolated_dirs / "state")]
    assert events[:3] == [("login_failed", "wrong token"), ("login", None), ("session_start", None)]
    assert events[3][0] == "session_end"  # browser closed, or the server stopped first


def test_websocket_without_login_or_from_another_origin_is_refused(
    browser, write_profile, isolated_dirs
) -> None:
    profile = write_profile("extends: local\n", name="quiet")
    with ServeProcess("--profile", str(profile)) as server:
        ws_url = server.base.replace("http://", "ws://") + "ws"
        stranger = browser.new_context()
        page = stranger.new_page()
        page.goto(server.base)  # the login page: same origin, no cookie
        assert page.evaluate(OPENS, ws_url) is False
        stranger.close()

        context = browser.new_context()
        page = context.new_page()
        page.goto(server.url)
        assert _session_cookie(context)
        with another_site() as elsewhere:  # a real server: Chromium's local-network checks
            page.goto(elsewhere)  # would block a page it cannot place on loopback
            assert page.evaluate(OPENS, ws_url) is False
        context.close()
    refusals = [e for e in audit_lines(isolated_dirs / "state") if e["event"] == "session_refused"]
    assert [e["reason"] for e in refusals] == ["no login session", "foreign origin"]
    assert refusals[1]["origin"] == elsewhere.rstrip("/")  # the cookie was sent: Origin refused


def test_allow_write_offers_scale_and_the_other_actions(browser, servers_profile) -> None:
    """The local backend cannot scale (processes, not replicas): the key is offered and
    says so; the actions it can do (deploy...) are in the palette."""
    with ServeProcess("--profile", str(servers_profile), "--allow-write") as server:
        context = browser.new_context(viewport=VIEWPORT)
        page, screen = _open_app(context, server, "postgres", "Last 10 min", "s Scale")
        assert "SERVED READ-WRITE" in screen.splitlines()[0]
        assert "d Deploy" in screen.splitlines()[-1]
        _type(page, "s")
        wait_for_screen(page, "the local backend cannot scale")  # not "read-only"
        _type(page, ":")
        wait_for_screen(page, "Search for commands")
        _type(page, "Deploy")
        wait_for_screen(page, "Deploy postgres")
        context.close()


def _self_signed(folder: Path) -> tuple[Path, Path]:
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "1", "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(cert),
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key


def test_https_with_a_self_signed_certificate_on_every_address(
    browser, write_profile, tmp_path
) -> None:
    profile = write_profile("extends: local\n", name="quiet")
    cert, key = _self_signed(tmp_path)
    tls = ["--tls-cert", str(cert), "--tls-key", str(key)]
    with ServeProcess("--profile", str(profile), "--host", "0.0.0.0", *tls) as server:
        assert server.url.startswith("https://")
        url = f"https://127.0.0.1:{server.port}/?token={server.token}"
        context = browser.new_context(viewport=VIEWPORT, ignore_https_errors=True)
        page = context.new_page()
        page.goto(url)
        screen = wait_for_screen(page, "Last 10 min", "SERVED READ-ONLY")
        assert "profile quiet" in screen
        cookie = _session_cookie(context)
        assert cookie["name"] == "__Host-alfred_tui_session"
        assert cookie["secure"] and cookie["httpOnly"] and cookie["sameSite"] == "Strict"
        plain = context.new_page()
        with pytest.raises(Exception, match="ERR_"):
            plain.goto(f"http://127.0.0.1:{server.port}/")  # no plain HTTP on that port
        assert screen_text(page)
        context.close()
