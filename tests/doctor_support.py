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
from alfred_tui.troubleshoot.context import TroubleshootContext


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
async def context_for(path: Path, **options: object) -> AsyncIterator[TroubleshootContext]:
    """A TroubleshootContext on the local backend for the profile at ``path``."""
    loaded = load_profile(str(path))
    backend = create_backend(loaded, "local")
    async with TroubleshootContext(backend, **options) as ctx:  # type: ignore[arg-type]
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


class LockChain:
    """Three real sessions: ``holder`` holds a row lock in an open transaction, ``first``
    waits for it, ``second`` waits behind ``first``."""

    def __init__(self, connections: list[asyncpg.Connection], tasks: list[asyncio.Task]) -> None:  # type: ignore[type-arg]
        self.holder, self.first, self.second = connections
        self.tasks = tasks

    @property
    def pids(self) -> tuple[int, int, int]:
        return (
            self.holder.get_server_pid(),
            self.first.get_server_pid(),
            self.second.get_server_pid(),
        )


async def _count(pg: PgServer, sql: str, expected: int, timeout: float = 10.0) -> None:
    connection = await asyncpg.connect(pg.dsn())
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            if await connection.fetchval(sql) >= expected:
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"condition not reached: {sql}")
    finally:
        await connection.close()


@contextlib.asynccontextmanager
async def lock_chain(pg: PgServer) -> AsyncIterator[LockChain]:
    """A real chain holder <- first <- second on a row of a table of its own."""
    import uuid

    table = f"lock_demo_{uuid.uuid4().hex[:8]}"
    setup = await asyncpg.connect(pg.dsn())
    await setup.execute(f"CREATE TABLE {table} (id int PRIMARY KEY, v int)")
    await setup.execute(f"INSERT INTO {table} VALUES (1, 0)")
    await setup.close()
    names = ("holder", "first-waiter", "second-waiter")
    connections = [
        await asyncpg.connect(pg.dsn(), server_settings={"application_name": name})
        for name in names
    ]
    holder, first, second = connections
    waiting = (
        "SELECT count(*) FROM pg_stat_activity "
        f"WHERE wait_event_type = 'Lock' AND query LIKE '%{table}%'"
    )
    await holder.execute("BEGIN")
    await holder.execute(f"UPDATE {table} SET v = v + 1 WHERE id = 1")
    update = f"UPDATE {table} SET v = v + 10 WHERE id = 1"
    tasks = [asyncio.create_task(first.execute(update))]
    await _count(pg, waiting, 1)
    tasks.append(asyncio.create_task(second.execute(update)))
    await _count(pg, waiting, 2)
    try:
        yield LockChain(connections, tasks)
    finally:
        for connection in connections:
            connection.terminate()
        await asyncio.gather(*tasks, return_exceptions=True)
        cleanup = await asyncpg.connect(pg.dsn())
        await cleanup.execute(f"DROP TABLE IF EXISTS {table}")
        await cleanup.close()
