"""``alfred-tui serve`` over real HTTP, without a browser: refusals, login, limits, audit log.

Each server is the installed command in a subprocess (tests/serve_support.py);
requests go over loopback with aiohttp's client. The app processes behind the
websockets are real alfred-tui apps on a ``local`` profile with nothing
deployed (they start, and show every service down). The browser itself is in
test_serve_browser.py.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiohttp
import pytest
from conftest import run_cli
from serve_support import ServeProcess, audit_lines

from alfred_tui.serve.access import FailedLogins, LoginSessions, login_token, token_matches
from alfred_tui.serve.plan import is_loopback
from alfred_tui.serve.terminal import COLUMNS, ROWS, clamp

pytestmark = pytest.mark.timeout(120)

TOKEN = "operator-chosen-token-0123456789"


class Clock:
    """Time that moves only when told (the limits are about seconds)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def quiet_profile(write_profile) -> Path:
    """The local profile with nothing deployed, one or two sessions, a short idle timeout."""
    return write_profile(
        """
        extends: local
        serve:
          max_sessions: 1
          idle_timeout: 3s
        """,
        name="served",
    )


def _origin(server: ServeProcess) -> str:
    return server.base.rstrip("/")


def _client() -> aiohttp.ClientSession:
    """A client that keeps cookies of an IP address (aiohttp's default jar drops them)."""
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def _logged_in(http: aiohttp.ClientSession, server: ServeProcess) -> str:
    """Log in with the printed URL; the Set-Cookie header it answered."""
    async with http.get(server.url, allow_redirects=False) as reply:
        assert reply.status == 303 and reply.headers["Location"] == "/"
        return reply.headers["Set-Cookie"]


# --- the command line: refused before anything starts --------------------------------


def test_a_non_loopback_address_without_tls_is_refused_in_one_line(cli) -> None:
    result = cli("serve", "--host", "0.0.0.0")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "--host 0.0.0.0 is not a loopback address" in lines[0]
    assert "--tls-cert and --tls-key" in lines[0] and "ssh -L" in lines[0]
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--tls-cert", "/nonexistent.pem"], "--tls-cert and --tls-key go together"),
        (["--tls-cert", "/nonexistent.pem", "--tls-key", "/k.pem"], "no such file"),
        (["--tls-cert", "/etc/hostname", "--tls-key", "/etc/hostname"], "not a certificate"),
        (["--allow-write"], "contradict"),  # after a root --readonly
    ],
)
def test_bad_tls_files_and_contradictions_are_one_line_errors(cli, args, says) -> None:
    root = ["--readonly"] if args == ["--allow-write"] else []
    result = cli(*root, "serve", *args)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and says in result.stderr, result.stderr


def test_a_short_token_from_the_environment_is_refused(cli) -> None:
    result = cli("serve", "--port", "0", env={"ALFRED_TUI_SERVE_TOKEN": "short"})
    assert result.returncode == 2
    assert "needs at least 16" in result.stderr and "short" not in result.stderr.split(":", 1)[1]


PRODUCTION_ENV = {
    "DB_USER": "alfred",
    "DB_PASSWORD": "a-real-password-for-the-test",
    "DB_NAME": "alfred",
    "DB_JWT_SECRET": "a-real-jwt-secret-for-the-test",
    "DB_JWT_EXP": "3600",
}


def test_production_needs_the_extra_flag_for_write(cli) -> None:
    refused = cli("serve", "--profile", "prod", "--allow-write", env=PRODUCTION_ENV)
    assert refused.returncode == 2
    assert "policy: production" in refused.stderr
    assert "--i-understand-this-exposes-production" in refused.stderr
    with ServeProcess(
        "--profile", "prod", "--allow-write", "--i-understand-this-exposes-production",
        env=PRODUCTION_ENV,
    ) as server:  # fmt: skip
        assert "read-write" in server.banner[0] and "profile prod" in server.banner[0]
    with ServeProcess("--profile", "prod", env=PRODUCTION_ENV) as server:
        assert "read-only" in server.banner[0]


def test_loopback_names() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("::") and not is_loopback("10.1.2.3")


def test_terminal_sizes_from_the_page_become_bounded_numbers() -> None:
    """Query strings and resize messages are the browser's: anything JSON holds is survived."""
    assert clamp("120", COLUMNS, 80) == 120 and clamp(30.7, ROWS, 24) == 30
    assert clamp(10_000, COLUMNS, 80) == COLUMNS[1] and clamp(1, ROWS, 24) == ROWS[0]
    # json.loads takes Infinity and NaN; int() of them raised past the resize handler
    for junk in (None, "wide", [80], {"width": 80}, float("inf"), float("nan")):
        assert clamp(junk, COLUMNS, 80) == 80


# --- the login rules (clock-driven) ---------------------------------------------------


def test_tokens_compare_exactly() -> None:
    assert token_matches("abc", "abc")
    assert not token_matches("abd", "abc") and not token_matches("", "abc")
    assert not token_matches("abc\u00e9", "abc")  # non-ASCII input is just wrong


def test_the_environment_token_is_taken_and_removed() -> None:
    environ = {"ALFRED_TUI_SERVE_TOKEN": f"  {TOKEN}\n"}
    assert login_token(environ) == (TOKEN, False)
    assert "ALFRED_TUI_SERVE_TOKEN" not in environ  # no app process inherits it
    made, was_made = login_token({})
    assert was_made and len(made) >= 40


def test_wrong_tokens_lock_an_address_out_for_the_window() -> None:
    clock = Clock()
    failures = FailedLogins(allowed=3, window=60, clock=clock)
    for _ in range(3):
        assert failures.retry_after("10.0.0.1") == 0
        failures.failed("10.0.0.1")
    assert failures.retry_after("10.0.0.1") == 60
    assert failures.retry_after("10.0.0.2") == 0  # another address is not locked out
    assert failures.first_refusal("10.0.0.1") and not failures.first_refusal("10.0.0.1")
    clock.now += 59
    assert failures.retry_after("10.0.0.1") == pytest.approx(1)
    clock.now += 1
    assert failures.retry_after("10.0.0.1") == 0
    assert failures.first_refusal("10.0.0.1")  # a new lock-out is reported again


def test_idle_logins_expire_unless_a_session_is_open() -> None:
    clock = Clock()
    logins = LoginSessions(idle_timeout=10, clock=clock)
    idle_id, _ = logins.open("127.0.0.1")
    busy_id, busy = logins.open("127.0.0.1")
    busy.terminals = 1
    clock.now += 11
    assert logins.find(idle_id) is None
    assert logins.find(busy_id) is busy
    assert logins.find("not-a-session") is None and logins.find(None) is None


# --- over HTTP --------------------------------------------------------------------------


async def test_login_rate_limit_host_and_origin_checks(quiet_profile, isolated_dirs) -> None:
    with ServeProcess("--profile", str(quiet_profile)) as server:
        async with _client() as http:
            async with http.get(server.base) as reply:
                page = await reply.text()
                assert reply.status == 200 and 'action="/login"' in page
                assert "frame-ancestors 'none'" in reply.headers["Content-Security-Policy"]
                assert reply.headers["Cache-Control"] == "no-store"
            # DNS rebinding: a foreign name pointed at 127.0.0.1.
            async with http.get(server.base, headers={"Host": "attacker.example"}) as reply:
                assert reply.status == 421
            # The form only from this origin.
            async with http.post(
                f"{server.base}login", data={"token": server.token},
                headers={"Origin": "http://attacker.example"},
            ) as reply:  # fmt: skip
                assert reply.status == 403
            for _ in range(5):
                async with http.get(server.base, params={"token": "wrong"}) as reply:
                    assert reply.status == 401 and "Wrong token." in await reply.text()
            async with http.get(server.url, allow_redirects=False) as reply:
                assert reply.status == 429  # locked out: even the right token waits
                assert 0 < int(reply.headers["Retry-After"]) <= 60
            assert not http.cookie_jar.filter_cookies(server.base)
    events = audit_lines(isolated_dirs / "state")
    assert [e["reason"] for e in events if e["event"] == "login_failed"] == [
        "foreign origin", *["wrong token"] * 5, "rate limited",
    ]  # fmt: skip
    assert all(e["client"] == "127.0.0.1" for e in events)
    log = isolated_dirs / "state" / "serve.log"
    assert server.token and server.token not in log.read_text()
    assert log.stat().st_mode & 0o777 == 0o600  # who reached the control plane: owner only
    # The same refusals are operator actions on the incident timeline.
    timeline = run_cli(
        "timeline", "--profile", str(quiet_profile), "--kind", "action", "-o", "json"
    )
    assert timeline.returncode == 0, timeline.stderr
    refused = [
        e for e in json.loads(timeline.stdout)["entries"] if "serve login failed" in e["title"]
    ]
    assert len(refused) == 7 and all(e["severity"] == "WARNING" for e in refused)
    assert all("by 127.0.0.1 (serve)" in e["title"] for e in refused)
    journal = isolated_dirs / "state" / "operator-journal.jsonl"
    assert server.token not in journal.read_text()


async def test_websocket_needs_a_login_and_this_origin(quiet_profile, isolated_dirs) -> None:
    with ServeProcess("--profile", str(quiet_profile)) as server:
        ws_url = f"{server.base}ws"
        async with _client() as http:
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await http.ws_connect(ws_url, origin=_origin(server))
            assert refused.value.status == 403
            cookie = await _logged_in(http, server)
            assert cookie.startswith("alfred_tui_session=")
            assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
            assert "Secure" not in cookie  # plain HTTP on loopback; the TLS test sees Secure
            with pytest.raises(aiohttp.WSServerHandshakeError) as foreign:
                await http.ws_connect(ws_url, origin="http://127.0.0.1:1")
            assert foreign.value.status == 403
            with pytest.raises(aiohttp.WSServerHandshakeError) as no_origin:
                await http.ws_connect(ws_url)
            assert no_origin.value.status == 403
            socket = await http.ws_connect(ws_url, origin=_origin(server))
            frame = await socket.receive(timeout=30)
            assert frame.type == aiohttp.WSMsgType.BINARY  # the app's first bytes
            await socket.close()
    reasons = [e.get("reason") for e in audit_lines(isolated_dirs / "state")]
    assert reasons[:3] == ["no login session", None, "foreign origin"]


async def test_session_limit_idle_timeout_and_server_stop(quiet_profile, isolated_dirs) -> None:
    """max_sessions 1 and idle_timeout 3s from the profile; Ctrl+C ends open sessions."""
    server = ServeProcess("--profile", str(quiet_profile), env={"ALFRED_TUI_SERVE_TOKEN": TOKEN})
    try:
        assert server.token is None and TOKEN not in "\n".join(server.banner)
        assert "$ALFRED_TUI_SERVE_TOKEN" in server.banner[-1]
        async with _client() as http:
            async with http.post(
                f"{server.base}login", data={"token": TOKEN},
                headers={"Origin": _origin(server)}, allow_redirects=False,
            ) as reply:  # fmt: skip
                assert reply.status == 303
            ws_url, origin = f"{server.base}ws", _origin(server)
            idle = await http.ws_connect(ws_url, origin=origin)
            with pytest.raises(aiohttp.WSServerHandshakeError) as full:
                await http.ws_connect(ws_url, origin=origin)
            assert full.value.status == 503
            async with http.get(server.base) as reply:
                assert reply.status == 503 and "All sessions in use" in await reply.text()
            while (await idle.receive(timeout=30)).type != aiohttp.WSMsgType.CLOSE:
                pass  # the app's frames, until the idle timeout closes the socket
            await _session_ended(isolated_dirs / "state", 1)  # its app process is gone
            busy = await http.ws_connect(ws_url, origin=origin)  # the slot is free again
            for _ in range(5):  # keys keep it alive past the idle timeout
                await busy.send_json(["stdin", "r"])
                await asyncio.sleep(1)
            assert not busy.closed
            assert server.stop() == 0
            await busy.close()
    finally:
        server.stop()
    ends = [e for e in audit_lines(isolated_dirs / "state") if e["event"] == "session_end"]
    assert [e["reason"] for e in ends] == ["idle timeout", "server stopped"]
    assert ends[0]["seconds"] >= 3 and ends[1]["seconds"] >= 5
    assert "session_end from 127.0.0.1" in server.stderr


async def _session_ended(state_dir: Path, count: int) -> None:
    for _ in range(300):
        if sum(e["event"] == "session_end" for e in audit_lines(state_dir)) >= count:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"no session_end in {audit_lines(state_dir)}")
