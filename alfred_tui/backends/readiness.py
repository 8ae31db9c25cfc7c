"""Readiness probes that speak each server's own protocol, with no client library.

What an engine's health check does (``pg_isready``, ``redis-cli ping``,
``curl /healthz``), done over a raw asyncio socket so that ``status`` costs
one round trip and imports nothing heavy. Each returns a
:class:`Readiness`: ``healthy``, ``starting`` (the server says it is not
ready yet) or ``unhealthy`` (it does not answer, or answers wrongly).
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from pydantic import SecretStr

ProbeHealth = Literal["healthy", "starting", "unhealthy"]

#: SQLSTATE PostgreSQL sends while it starts up, shuts down or recovers.
_PG_CANNOT_CONNECT_NOW = "57P03"


@dataclass(frozen=True)
class Readiness:
    """A probe's answer and, when not healthy, why."""

    health: ProbeHealth
    detail: str = ""


def _any_bytes(answer: bytes) -> bool:
    return bool(answer)


async def _exchange(
    host: str,
    port: int,
    request: bytes,
    timeout: float,
    complete: Callable[[bytes], bool] = _any_bytes,
) -> bytes:
    """Send ``request``; read until ``complete(answer)`` or the server closes."""
    async with asyncio.timeout(timeout):
        reader, writer = await asyncio.open_connection(host, port)
        try:
            writer.write(request)
            await writer.drain()
            answer = b""
            while not complete(answer):
                chunk = await reader.read(4096)
                if not chunk:
                    break
                answer += chunk
            return answer
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


def _failure(exc: BaseException, host: str, port: int, timeout: float) -> Readiness:
    if isinstance(exc, TimeoutError):
        return Readiness("unhealthy", f"no answer within {timeout:g} s on {host}:{port}")
    if isinstance(exc, ConnectionRefusedError):
        return Readiness("unhealthy", f"connection refused on {host}:{port}")
    return Readiness("unhealthy", f"{type(exc).__name__} on {host}:{port}")


async def postgres_ready(
    host: str, port: int, user: str, database: str, timeout: float = 3.0
) -> Readiness:
    """``pg_isready``: send a startup packet; any answer but 57P03 means accepting."""
    params = f"user\0{user}\0database\0{database}\0application_name\0alfred-tui-probe\0\0"
    body = struct.pack("!I", 196608) + params.encode()
    packet = struct.pack("!I", len(body) + 4) + body
    try:
        answer = await _exchange(host, port, packet, timeout)
    except (OSError, TimeoutError) as exc:
        return _failure(exc, host, port, timeout)
    if not answer:
        return Readiness("unhealthy", "closed the connection without answering")
    if answer[:1] == b"E":
        fields = dict(
            (item[:1].decode(), item[1:].decode(errors="replace"))
            for item in answer[5:].split(b"\0")
            if item
        )
        if fields.get("C") == _PG_CANNOT_CONNECT_NOW:
            return Readiness("starting", fields.get("M", "not accepting connections yet"))
    if answer[:1] in (b"R", b"E"):
        return Readiness("healthy")
    return Readiness("unhealthy", "answered with something other than the PostgreSQL protocol")


def _resp(*words: str) -> bytes:
    parts = [f"*{len(words)}\r\n".encode()]
    for word in words:
        data = word.encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


async def redis_ready(
    host: str, port: int, password: SecretStr | None, timeout: float = 3.0
) -> Readiness:
    """``redis-cli ping`` (after AUTH when a password is set)."""
    request = _resp("PING")
    replies = 1
    if password is not None:
        request = _resp("AUTH", password.get_secret_value()) + request
        replies = 2

    def complete(answer: bytes) -> bool:  # every reply to AUTH and PING is one line
        return answer.count(b"\r\n") >= replies

    try:
        answer = await _exchange(host, port, request, timeout, complete)
    except (OSError, TimeoutError) as exc:
        return _failure(exc, host, port, timeout)
    text = answer.decode(errors="replace")
    if "+PONG" in text:
        return Readiness("healthy")
    if "-LOADING" in text:
        return Readiness("starting", "loading the dataset into memory")
    if "WRONGPASS" in text or "invalid password" in text:
        return Readiness("unhealthy", "the profile's password is refused")
    if "NOAUTH" in text:
        return Readiness("unhealthy", "a password is required but the profile sets none")
    first = text.strip().splitlines()[0][:120] if text.strip() else "no reply"
    return Readiness("unhealthy", first)


async def http_ready(
    host: str, port: int, path: str = "/healthz", timeout: float = 3.0
) -> Readiness:
    """``curl -f http://host:port/healthz``: a 2xx status is healthy."""
    request = f"GET {path} HTTP/1.0\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n".encode()
    try:
        answer = await _exchange(host, port, request, timeout)
    except (OSError, TimeoutError) as exc:
        return _failure(exc, host, port, timeout)
    status_line = answer.split(b"\r\n", 1)[0].decode(errors="replace")
    parts = status_line.split()
    if len(parts) >= 2 and parts[0].startswith("HTTP/") and parts[1].startswith("2"):
        return Readiness("healthy")
    return Readiness("unhealthy", f"GET {path}: {status_line or 'no reply'}")
