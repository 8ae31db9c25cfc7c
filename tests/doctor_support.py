"""Helpers for the doctor, activity and audit tests: profiles for given servers, held sessions.

Real servers only: a profile points alfred-tui at a server started by
``servers.py``, and sessions are real asyncpg connections the test holds open
(idle, idle in a transaction, waiting on a lock) to induce each condition.
"""

from __future__ import annotations

import asyncio
import contextlib
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
from servers import PgServer, RedisServer

from alfred_tui.backends import create_backend
from alfred_tui.config.loader import load_profile
from alfred_tui.troubleshoot.context import DoctorContext


def profile_text(
    pg: PgServer | None = None, redis: RedisServer | None = None, extra: str = ""
) -> str:
    """A profile extending ``local`` that points at the given servers."""
    services = []
    if pg is not None:
        services.append(
            f"""
  postgres:
    ports: ["127.0.0.1:{pg.port}:5432"]
    environment:
      POSTGRES_PASSWORD: {pg.password}"""
        )
    if redis is not None:
        services.append(
            f"""
  redis:
    ports: ["127.0.0.1:{redis.port}:6379"]"""
        )
    body = "extends: local\nservices:" + "".join(services) + "\n"
    return body + textwrap.dedent(extra)


def write(tmp_path: Path, text: str, name: str = "doctor") -> Path:
    """Write a profile file and return its path."""
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    return path


@contextlib.asynccontextmanager
async def context_for(path: Path, **options: object) -> AsyncIterator[DoctorContext]:
    """A DoctorContext on the local backend for the profile at ``path``."""
    loaded = load_profile(str(path))
    backend = create_backend(loaded, "local")
    async with DoctorContext(backend, **options) as ctx:  # type: ignore[arg-type]
        yield ctx


@contextlib.asynccontextmanager
async def connections(
    pg: PgServer, count: int, application: str = "agent-core"
) -> AsyncIterator[list[asyncpg.Connection]]:
    """``count`` open, idle connections with an application_name."""
    opened = await asyncio.gather(
        *(
            asyncpg.connect(pg.dsn(), server_settings={"application_name": application})
            for _ in range(count)
        )
    )
    try:
        yield list(opened)
    finally:
        for connection in opened:
            connection.terminate()


async def fill_redis(
    host: str, port: int, prefix: str = "alfred:cache:item:", limit: int = 4000
) -> int:
    """Write 1 KiB values until Redis refuses them (full, noeviction) or ``limit``; keys written."""
    import redis.asyncio as aioredis

    client = aioredis.Redis(host=host, port=port)
    written = 0
    try:
        for index in range(limit):
            try:
                await client.set(f"{prefix}{index}", "x" * 1024)
            except aioredis.ResponseError as exc:
                assert "maxmemory" in str(exc)
                break
            written += 1
    finally:
        await client.aclose()
    return written
