"""The web server of ``alfred-tui serve``: routes, checks on every request, and running it.

Requests, in the order they are judged:

1. **Host** (bound to loopback only): the Host header must name loopback
   (``localhost``, ``127.0.0.1``, ``[::1]``, any port, so ``ssh -L`` to any
   local port works). A page of another site whose name was re-pointed at
   127.0.0.1 (DNS rebinding) gets 421. Under TLS the certificate does this job.
2. **Origin** on ``POST /login`` and on the websocket: it must be this
   server's own origin (scheme and Host); anything else is 403.
3. **Login**: ``/?token=...`` or the form's ``POST /login``; the right token
   (constant time) sets the session cookie (HttpOnly, SameSite=Strict, Secure
   and ``__Host-`` under TLS) and redirects to ``/``, so the token leaves the
   address bar; a wrong one counts against the address (429 past the limit).
4. **Websocket** ``/ws``: no valid login cookie is 403 before the upgrade; at
   ``serve.max_sessions`` open sessions it is 503.

Every response carries :data:`~alfred_tui.serve.page.SECURITY_HEADERS`;
pages are ``no-store``. aiohttp's access log is off: it would write the
``?token=`` of the login URL.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import re
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web
from aiohttp.typedefs import Handler
from textual_serve.download_manager import DownloadManager

from alfred_tui.operator_journal import record_access
from alfred_tui.serve.access import FailedLogins, LoginSession, LoginSessions, token_matches
from alfred_tui.serve.events import log_path, record_event
from alfred_tui.serve.page import (
    ASSETS,
    DOWNLOAD_POLICY,
    SECURITY_HEADERS,
    app_page,
    client_script,
    login_page,
    mode_words,
    notice_page,
)
from alfred_tui.serve.plan import ServePlan, names_loopback
from alfred_tui.serve.terminal import Terminal

COOKIE = "alfred_tui_session"
MAX_REQUEST_BYTES = 64 * 1024
HEARTBEAT_SECONDS = 15.0


def textual_serve_static() -> Path:
    """textual-serve's static folder: xterm.css, the fonts, textual.js."""
    import textual_serve

    return Path(textual_serve.__file__).resolve().parent / "static"


#: Events that turned someone away (a failed outcome in the operator journal).
REFUSALS = frozenset({"login_failed", "session_refused"})


def format_seconds(seconds: float) -> str:
    """``15m``, ``90s``, ``2h`` as the console says an idle timeout."""
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


@dataclass
class ServeState:
    """One server run: its plan, token, logins and open sessions."""

    plan: ServePlan
    token: str
    logins: LoginSessions
    failures: FailedLogins = field(default_factory=FailedLogins)
    terminals: set[Terminal] = field(default_factory=set)
    downloads: DownloadManager = field(default_factory=DownloadManager)
    numbers: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    echo: bool = True
    """Also say each event on stderr (the operator watching the server)."""

    @property
    def cookie(self) -> str:
        # __Host-: the browser accepts it only over HTTPS, for this host, on path /.
        return f"__Host-{COOKIE}" if self.plan.tls is not None else COOKIE

    def record(self, event: str, client: str, **fields: object) -> None:
        record_event(event, client, **fields)
        record_access(
            event,
            client,
            profile=self.plan.profile_name,
            backend=self.plan.backend,
            detail=" ".join(f"{key}={value}" for key, value in fields.items()),
            refused=event in REFUSALS,
        )
        if self.echo:
            details = " ".join(f"{key}={value}" for key, value in fields.items())
            print(f"alfred-tui serve: {event} from {client} {details}".rstrip(), file=sys.stderr)

    def login_of(self, request: web.Request) -> LoginSession | None:
        return self.logins.find(request.cookies.get(self.cookie))

    def same_origin(self, request: web.Request) -> bool:
        origin = request.headers.get("Origin")
        return origin is not None and origin == f"{self.plan.scheme}://{request.host}"

    def full(self) -> bool:
        return len(self.terminals) >= self.plan.max_sessions


def _client(request: web.Request) -> str:
    return request.remote or "unknown"


def _page(html: str, status: int = 200) -> web.Response:
    return web.Response(text=html, status=status, content_type="text/html", charset="utf-8")


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Host check first; security headers on every answer, errors included."""
    state: ServeState = request.app["state"]
    try:
        if state.plan.loopback_only and not names_loopback(request.url.host):
            response: web.StreamResponse = _page(
                notice_page(
                    "Misdirected request",
                    "This server answers to loopback names only (localhost, 127.0.0.1, [::1]).",
                ),
                status=421,
            )
        else:
            response = await handler(request)
    except web.HTTPException as error:
        response = error
    if not response.prepared:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if response.content_type == "text/html":
            response.headers["Cache-Control"] = "no-store"
    return response


async def index(request: web.Request) -> web.StreamResponse:
    """The app for a logged-in browser; the login (``?token=``) or its form otherwise."""
    state: ServeState = request.app["state"]
    plan = state.plan
    token = request.query.get("token")
    if token is not None:
        return _log_in(request, token)
    if state.login_of(request) is None:
        return _page(login_page(plan.profile_name, plan.readonly))
    if state.full():
        return _page(_full_notice(state), status=503)
    websocket_url = f"{'wss' if plan.tls else 'ws'}://{request.host}/ws"
    return _page(app_page(plan.profile_name, plan.readonly, websocket_url))


def _full_notice(state: ServeState) -> str:
    count = state.plan.max_sessions
    return notice_page(
        "All sessions in use",
        f"{count} of {count} sessions are open (the profile's serve.max_sessions); "
        "close one, or wait for an idle one to time out.",
    )


async def login_form(request: web.Request) -> web.StreamResponse:
    """The login form's POST: the same check as ``?token=``, from this origin only."""
    state: ServeState = request.app["state"]
    if not state.same_origin(request):
        state.record("login_failed", _client(request), reason="foreign origin")
        raise web.HTTPForbidden(text="cross-origin login refused")
    form = await request.post()
    token = form.get("token")
    return _log_in(request, token if isinstance(token, str) else "")


def _log_in(request: web.Request, given: str) -> web.StreamResponse:
    state: ServeState = request.app["state"]
    plan = state.plan
    client = _client(request)
    wait = state.failures.retry_after(client)
    if wait > 0:
        seconds = math.ceil(wait)
        if state.failures.first_refusal(client):
            state.record("login_failed", client, reason="rate limited", retry_after=seconds)
        response = _page(
            login_page(
                plan.profile_name,
                plan.readonly,
                f"Too many wrong tokens from {client}: try again in {seconds} s.",
            ),
            status=429,
        )
        response.headers["Retry-After"] = str(seconds)
        return response
    if not token_matches(given, state.token):
        state.failures.failed(client)
        state.record("login_failed", client, reason="wrong token")
        return _page(login_page(plan.profile_name, plan.readonly, "Wrong token."), status=401)
    session_id, session = state.logins.open(client)
    state.record("login", client, login=session.number)
    response = web.HTTPSeeOther("/")
    response.set_cookie(
        state.cookie,
        session_id,
        httponly=True,
        samesite="Strict",
        secure=plan.tls is not None,
        path="/",
    )
    return response


async def websocket(request: web.Request) -> web.StreamResponse:
    """One session: refused (403) without a login or from another origin, 503 when full."""
    state: ServeState = request.app["state"]
    plan = state.plan
    client = _client(request)
    login = state.login_of(request)
    if login is None:
        state.record("session_refused", client, reason="no login session")
        raise web.HTTPForbidden(text="log in first")
    if not state.same_origin(request):
        origin = re.sub(r"[^\w:/.\[\]-]", "?", request.headers.get("Origin", "none"))[:100]
        state.record("session_refused", client, reason="foreign origin", origin=origin)
        raise web.HTTPForbidden(text="cross-origin websocket refused")
    if state.full():
        state.record("session_refused", client, reason="all sessions in use")
        raise web.HTTPServiceUnavailable(text="all sessions in use")
    socket = web.WebSocketResponse(heartbeat=HEARTBEAT_SECONDS, max_msg_size=64 * 1024)
    await socket.prepare(request)
    terminal = Terminal(next(state.numbers), login, client, socket)
    state.terminals.add(terminal)
    login.terminals += 1
    state.record(
        "session_start", client, session=terminal.number, login=login.number,
        mode=mode_words(plan.readonly),
    )  # fmt: skip
    reason = "error"
    try:
        reason = await terminal.run(
            plan.app_argv(),
            request.query.get("width", 80),
            request.query.get("height", 24),
            plan.idle_timeout,
            state.downloads,
        )
    finally:
        state.terminals.discard(terminal)
        login.terminals -= 1
        login.last_seen = state.logins.clock()
        state.record(
            "session_end", client, session=terminal.number, login=login.number, reason=reason,
            seconds=round(terminal.clock() - terminal.started, 1),
        )  # fmt: skip
    return socket


async def download(request: web.Request) -> web.StreamResponse:
    """A file the app delivers (a screenshot), to the login whose session made it."""
    state: ServeState = request.app["state"]
    login = state.login_of(request)
    if login is None:
        raise web.HTTPForbidden(text="log in first")
    key = request.match_info["key"]
    try:
        meta = await state.downloads.get_download_metadata(key)
    except KeyError:
        raise web.HTTPNotFound(text="no such download") from None
    owners = {t.process for t in state.terminals if t.login is login}
    if meta.app_service not in owners:
        raise web.HTTPNotFound(text="no such download")
    name = re.sub(r"[^\w.-]", "_", meta.file_name)[:120] or "download"
    response = web.StreamResponse()
    response.content_type = re.sub(r"[^\w.+/-]", "", meta.mime_type) or "application/octet-stream"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Content-Security-Policy"] = DOWNLOAD_POLICY
    for header, value in SECURITY_HEADERS.items():
        response.headers.setdefault(header, value)
    await response.prepare(request)
    async for chunk in state.downloads.download(key):
        await response.write(chunk)
    await response.write_eof()
    return response


async def client_js(request: web.Request) -> web.StreamResponse:
    """textual.js with screen-reader mode on (see :mod:`alfred_tui.serve.page`)."""
    return web.Response(
        body=client_script(textual_serve_static()),
        content_type="application/javascript",
        headers={"Cache-Control": "no-cache"},
    )


async def _close_sessions(app: web.Application) -> None:
    state: ServeState = app["state"]
    await asyncio.gather(
        *(terminal.stop("server stopped") for terminal in list(state.terminals)),
        return_exceptions=True,
    )


def build_app(state: ServeState) -> web.Application:
    """The aiohttp application of one server run."""
    client_script(textual_serve_static())  # fail now, not at the first browser
    app = web.Application(middlewares=[guard], client_max_size=MAX_REQUEST_BYTES)
    app["state"] = state
    app.add_routes(
        [
            web.get("/", index),
            web.post("/login", login_form),
            web.get("/ws", websocket),
            web.get("/download/{key}", download),
            web.get("/assets/textual.js", client_js),
            web.static("/assets", ASSETS, show_index=False, follow_symlinks=False),
            web.static("/static", textual_serve_static(), show_index=False),
        ]
    )
    app.on_shutdown.append(_close_sessions)
    return app


def _banner(state: ServeState, port: int, token_made: bool) -> str:
    plan = state.plan
    base = f"{plan.scheme}://{plan.url_host()}:{port}/"
    lines = [
        f"alfred-tui serve: profile {plan.profile_name} on the {plan.backend} backend, "
        f"{mode_words(plan.readonly)}; at most {plan.max_sessions} sessions, idle ones "
        f"closed after {format_seconds(plan.idle_timeout)}",
        f"audit log: {log_path()}",
    ]
    if token_made:
        lines.append(f"open: {base}?token={state.token}")
        lines.append("(the token is shown only this once; Ctrl+C stops the server)")
    else:
        lines.append(f"open: {base} and log in with the token in $ALFRED_TUI_SERVE_TOKEN")
    return "\n".join(lines)


async def run_server(state: ServeState, token_made: bool) -> None:
    """Listen until SIGINT or SIGTERM; then end every session and stop."""
    from alfred_tui.errors import UsageError

    plan = state.plan
    runner = web.AppRunner(build_app(state), handle_signals=False, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, plan.host, plan.port, ssl_context=plan.tls)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise UsageError(
            f"cannot listen on {plan.host}:{plan.port}: {exc.strerror or exc}"
        ) from None
    port = runner.addresses[0][1]
    print(_banner(state, port, token_made), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def serve(plan: ServePlan, token: str, token_made: bool) -> None:
    """Run the server of ``plan`` with ``token`` until it is stopped."""
    state = ServeState(plan, token, LoginSessions(plan.idle_timeout))
    asyncio.run(run_server(state, token_made))
