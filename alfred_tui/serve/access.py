"""Who may use the served UI: the login token, login sessions, the limit on wrong tokens.

Nothing here imports aiohttp: the server asks these questions and turns the
answers into HTTP. The rules:

* the token is 32 random bytes (URL-safe base64) made at start, or the
  operator's own from ``$ALFRED_TUI_SERVE_TOKEN`` (at least 16 characters),
  which is then removed from the environment so no app process inherits it;
* a token is compared in constant time (:func:`hmac.compare_digest`);
* a good token opens a *login session*: a second random id, kept in an
  HttpOnly cookie, stored here only as its SHA-256 (a lookup does not compare
  the secret itself), closed after the profile's ``serve.idle_timeout`` of no
  activity and forgotten when the server stops;
* after :data:`FAILURES_ALLOWED` wrong tokens from one address within
  :data:`FAILURE_WINDOW` seconds, that address is refused (even with the
  right token) until the oldest failure leaves the window.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import os
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from alfred_tui.errors import UsageError

TOKEN_ENV = "ALFRED_TUI_SERVE_TOKEN"
"""An operator-chosen login token (else one is made at start and printed once)."""
MIN_TOKEN_LENGTH = 16
FAILURES_ALLOWED = 5
FAILURE_WINDOW = 60.0

Clock = Callable[[], float]


def login_token(environ: dict[str, str] | os._Environ[str] = os.environ) -> tuple[str, bool]:
    """(token, made here): the token from ``$ALFRED_TUI_SERVE_TOKEN``, or a new random one.

    The variable is removed from ``environ`` once read: every app process the
    server starts inherits the environment, and none of them needs the token.
    """
    given = environ.pop(TOKEN_ENV, None)
    if given is None or not given.strip():
        return secrets.token_urlsafe(32), True
    token = given.strip()
    if len(token) < MIN_TOKEN_LENGTH:
        raise UsageError(
            f"${TOKEN_ENV} has {len(token)} characters; a login token needs at least "
            f"{MIN_TOKEN_LENGTH} (make one with: openssl rand -hex 32)"
        )
    if any(ord(character) < 33 or ord(character) > 126 for character in token):
        raise UsageError(f"${TOKEN_ENV} must be printable ASCII without spaces")
    return token, False


def token_matches(given: str, expected: str) -> bool:
    """Whether ``given`` is the token, in time that does not depend on where they differ."""
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode())


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8", "replace")).hexdigest()


@dataclass
class LoginSession:
    """One browser that gave the right token."""

    number: int
    """Names the session in the audit log (the id itself is a credential)."""
    client: str
    started: float
    last_seen: float
    terminals: int = 0
    """App processes this login has open now (a tab each)."""


@dataclass
class LoginSessions:
    """The logins of one server run, by the SHA-256 of their cookie."""

    idle_timeout: float
    clock: Clock = time.monotonic
    _by_digest: dict[str, LoginSession] = field(default_factory=dict)
    _numbers: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def open(self, client: str) -> tuple[str, LoginSession]:
        """A new login: (the cookie's value, the session)."""
        session_id = secrets.token_urlsafe(32)
        now = self.clock()
        session = LoginSession(next(self._numbers), client, now, now)
        self._by_digest[_digest(session_id)] = session
        return session_id, session

    def find(self, session_id: str | None) -> LoginSession | None:
        """The live login behind a cookie value, touched; None if unknown or expired."""
        if not session_id:
            return None
        self.expire()
        session = self._by_digest.get(_digest(session_id))
        if session is not None:
            session.last_seen = self.clock()
        return session

    def close(self, session_id: str | None) -> LoginSession | None:
        """Forget a login (log out); the session that was closed, if any."""
        if not session_id:
            return None
        return self._by_digest.pop(_digest(session_id), None)

    def expire(self) -> list[LoginSession]:
        """Drop the logins idle past the timeout with no app open; the ones dropped."""
        now = self.clock()
        gone = [
            digest
            for digest, session in self._by_digest.items()
            if session.terminals == 0 and now - session.last_seen > self.idle_timeout
        ]
        return [self._by_digest.pop(digest) for digest in gone]


@dataclass
class FailedLogins:
    """Wrong tokens per client address, and whether that address must wait."""

    allowed: int = FAILURES_ALLOWED
    window: float = FAILURE_WINDOW
    clock: Clock = time.monotonic
    _failures: dict[str, deque[float]] = field(default_factory=dict)
    _reported: set[str] = field(default_factory=set)

    def _recent(self, client: str) -> deque[float]:
        failures = self._failures.setdefault(client, deque())
        now = self.clock()
        while failures and now - failures[0] >= self.window:
            failures.popleft()
        if not failures:
            del self._failures[client]
            return deque()
        return failures

    def retry_after(self, client: str) -> float:
        """Seconds ``client`` must wait before another try (0: it may try now)."""
        failures = self._recent(client)
        if len(failures) < self.allowed:
            self._reported.discard(client)
            return 0.0
        return max(0.0, self.window - (self.clock() - failures[0]))

    def first_refusal(self, client: str) -> bool:
        """True once per lock-out of ``client``: log the refusal then, not every retry."""
        if client in self._reported:
            return False
        self._reported.add(client)
        return True

    def failed(self, client: str) -> None:
        """Count a wrong token from ``client``."""
        self._recent(client)
        self._failures.setdefault(client, deque()).append(self.clock())
