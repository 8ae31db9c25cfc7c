"""Turn a failed connection or query into one line a person can act on.

``check`` prints this as a down service's reason, so it must be short,
specific (connection refused, authentication failed, timeout after N s, DNS)
and never carry a secret: messages from the client libraries are not echoed
verbatim when they could contain a connection string.

The client libraries' errors stop here: :class:`DatabaseUnavailable` for a
server that cannot be reached, :class:`DatabaseRefused` (an
:class:`~alfred_tui.errors.AlfredError`) for one that answered no. The layers
above (control, the CLI) never import asyncpg or redis to catch their
errors; they ask :func:`refusal` (an import contract in pyproject.toml holds
them to it).
"""

from __future__ import annotations

import errno
import socket
import ssl

from alfred_tui.errors import AlfredError
from alfred_tui.redact import redact

#: The client libraries whose exceptions mean "the server refused".
_CLIENT_LIBRARIES = ("asyncpg", "redis", "httpx", "qdrant_client")


class DatabaseUnavailable(Exception):
    """A database could not be reached or queried; ``reason`` is one line."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class DatabaseRefused(AlfredError):
    """The server answered and refused (a statement, a command); the message is redacted."""

    title = "Refused by the server"


def refusal(exc: BaseException) -> DatabaseRefused | None:
    """``exc`` as a :class:`DatabaseRefused` when a database client library raised it."""
    if isinstance(exc, DatabaseRefused):
        return exc
    if not type(exc).__module__.startswith(_CLIENT_LIBRARIES):
        return None
    first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return DatabaseRefused(redact(first)[:300])


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def describe_failure(exc: BaseException, *, host: str, port: int | None, timeout: float) -> str:
    """One line for why reaching ``host:port`` failed, with any secret masked."""
    return redact(_describe(exc, host, port, timeout))


def _describe(exc: BaseException, host: str, port: int | None, timeout: float) -> str:
    where = f"{host}:{port}" if port else host
    for item in _chain(exc):
        name = type(item).__name__
        if isinstance(item, DatabaseUnavailable):
            return item.reason
        if isinstance(item, TimeoutError) or name in ("TimeoutError", "CancelledError"):
            return f"timeout after {timeout:g} s ({where})"
        if isinstance(item, ConnectionRefusedError) or getattr(item, "errno", None) in (
            errno.ECONNREFUSED,
        ):
            return f"connection refused ({where})"
        if isinstance(item, socket.gaierror):
            return f"DNS: cannot resolve {host} ({item.strerror})"
        if name in (
            "InvalidPasswordError",
            "InvalidAuthorizationSpecificationError",
            "AuthenticationError",
            "AuthenticationWrongNumberOfArgsError",
        ):
            return f"authentication failed ({where})"
        if name == "InvalidCatalogNameError":
            return f"database does not exist ({where}): {item}"
        if name == "TooManyConnectionsError":
            return f"too many connections ({where})"
        if name in ("CannotConnectNowError",):
            return f"server is starting up or shutting down ({where})"
        if isinstance(item, ssl.SSLError):
            return f"TLS error ({where}): {item.reason or item}"
        if isinstance(item, ConnectionResetError | BrokenPipeError):
            return f"connection reset by server ({where})"
        if isinstance(item, OSError) and item.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
            return f"host unreachable ({where})"
    message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if "refused" in message.lower():
        return f"connection refused ({where})"
    if "closed by server" in message.lower():
        return f"connection closed by server ({where})"
    if "auth" in message.lower() and "password" in message.lower():
        return f"authentication failed ({where})"
    return f"{type(exc).__name__}: {message[:160]} ({where})"
