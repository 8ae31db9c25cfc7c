"""Redis client: one long-lived redis.asyncio connection and the probe.

A single ``INFO`` gives every metric of the spec's table plus keys and
expires per database and the memory policy, in one round trip.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import redis.asyncio as aioredis
from pydantic import SecretStr
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from alfred_tui.databases.failures import DatabaseUnavailable, describe_failure
from alfred_tui.databases.redis_replication import (
    RedisReplication,
    parse_replication,
    replication_metrics,
)
from alfred_tui.units import format_bytes

if TYPE_CHECKING:
    from alfred_tui.backends.base import Endpoint
    from alfred_tui.config.models import RedisService

CLIENT_NAME = "alfred-tui"


@dataclass(frozen=True)
class RedisTarget:
    """How to reach one Redis server; the password stays masked."""

    host: str
    port: int
    password: SecretStr | None = None

    @classmethod
    def from_profile(cls, service: RedisService, endpoint: Endpoint) -> RedisTarget:
        """The target for a profile's service at the endpoint a backend gave."""
        assert endpoint.host is not None and endpoint.port is not None
        return cls(endpoint.host, endpoint.port, service.password)

    @property
    def address(self) -> str:
        """``host:port``."""
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class KeyspaceEntry:
    """Keys of one database, from ``INFO keyspace``."""

    keys: int
    expires: int
    avg_ttl_ms: int


@dataclass(frozen=True)
class RedisSample:
    """One reading of the server's state."""

    taken_at: float
    connected_clients: int
    used_memory: int
    maxmemory: int
    maxmemory_policy: str
    ops_per_sec: float
    """Redis's own instantaneous estimate."""
    commands_total: int
    evicted_keys: int
    version: str
    role: str
    aof_enabled: bool
    uptime_seconds: int
    keyspace: dict[int, KeyspaceEntry] = field(default_factory=dict)
    replication: RedisReplication | None = None
    """Role, master link and replicas; not kept between ``check`` runs (rates need none)."""


def _int(info: dict[str, Any], key: str) -> int:
    try:
        return int(info.get(key, 0))
    except (TypeError, ValueError):
        return 0


def parse_info(info: dict[str, Any], taken_at: float) -> RedisSample:
    """A :class:`RedisSample` from redis-py's parsed ``INFO`` reply."""
    keyspace = {
        int(key[2:]): KeyspaceEntry(
            keys=int(value.get("keys", 0)),
            expires=int(value.get("expires", 0)),
            avg_ttl_ms=int(value.get("avg_ttl", 0)),
        )
        for key, value in info.items()
        if key.startswith("db") and key[2:].isdigit() and isinstance(value, dict)
    }
    return RedisSample(
        taken_at=taken_at,
        connected_clients=_int(info, "connected_clients"),
        used_memory=_int(info, "used_memory"),
        maxmemory=_int(info, "maxmemory"),
        maxmemory_policy=str(info.get("maxmemory_policy", "")),
        ops_per_sec=float(info.get("instantaneous_ops_per_sec", 0) or 0),
        commands_total=_int(info, "total_commands_processed"),
        evicted_keys=_int(info, "evicted_keys"),
        version=str(info.get("redis_version", "")),
        role=str(info.get("role", "")),
        aof_enabled=bool(_int(info, "aof_enabled")),
        uptime_seconds=_int(info, "uptime_in_seconds"),
        keyspace=keyspace,
        replication=parse_replication(info),
    )


class RedisClient:
    """A lazily opened, reused connection to one server (database 0 by default)."""

    def __init__(
        self,
        target: RedisTarget,
        *,
        db: int = 0,
        connect_timeout: float = 5.0,
        query_timeout: float = 5.0,
    ) -> None:
        self.target = target
        self.db = db
        self.connect_timeout = connect_timeout
        self.query_timeout = query_timeout
        self._client: aioredis.Redis | None = None

    def client(self) -> aioredis.Redis:
        """The redis-py client (connections open on first command and are pooled)."""
        if self._client is None:
            password = self.target.password
            self._client = aioredis.Redis(
                host=self.target.host,
                port=self.target.port,
                db=self.db,
                password=password.get_secret_value() if password else None,
                socket_connect_timeout=self.connect_timeout,
                socket_timeout=self.query_timeout,
                client_name=CLIENT_NAME,
                # No silent retries: redis-py 6+ retries a refused connection three
                # times with backoff (about 4 s), which turns "connection refused"
                # into a timeout. Callers decide when to try again.
                retry=Retry(NoBackoff(), 0),
                single_connection_client=True,
            )
        return self._client

    async def call(self, *args: Any) -> Any:
        """Run one command with the client's timeouts; failures become one line."""
        timeout = self.connect_timeout + self.query_timeout
        try:
            return await asyncio.wait_for(self.client().execute_command(*args), timeout)
        except Exception as exc:
            if type(exc).__name__ == "ResponseError":
                raise
            await self._discard()
            raise DatabaseUnavailable(
                describe_failure(exc, host=self.target.host, port=self.target.port, timeout=timeout)
            ) from None

    async def sample(self) -> RedisSample:
        """One reading of the server (one ``INFO``)."""
        timeout = self.connect_timeout + self.query_timeout
        try:
            info = await asyncio.wait_for(self.client().info(), timeout)
        except Exception as exc:
            await self._discard()
            raise DatabaseUnavailable(
                describe_failure(exc, host=self.target.host, port=self.target.port, timeout=timeout)
            ) from None
        return parse_info(info, time.time())

    async def replication(self) -> RedisReplication:
        """Replication as this server sees it (``INFO replication`` alone)."""
        timeout = self.connect_timeout + self.query_timeout
        try:
            info = await asyncio.wait_for(self.client().info("replication"), timeout)
        except Exception as exc:
            await self._discard()
            raise DatabaseUnavailable(
                describe_failure(exc, host=self.target.host, port=self.target.port, timeout=timeout)
            ) from None
        return parse_replication(info)

    async def _discard(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.aclose(), 0.5)

    async def close(self) -> None:
        """Close the connection; never waits long on a server that stopped answering."""
        await self._discard()

    async def __aenter__(self) -> RedisClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


def commands_per_second(current: RedisSample, previous: RedisSample | None) -> float:
    """Commands per second between two samples, or Redis's own instantaneous figure."""
    if previous is not None:
        elapsed = current.taken_at - previous.taken_at
        delta = current.commands_total - previous.commands_total
        if elapsed > 0 and delta >= 0 and current.uptime_seconds >= elapsed:
            return delta / elapsed
    return current.ops_per_sec


def redis_metrics(
    sample: RedisSample, previous: RedisSample | None
) -> dict[str, tuple[float | None, str]]:
    """The spec's Redis metrics from a sample: name -> (value, note)."""
    memory_note = (
        f"maxmemory {format_bytes(sample.maxmemory)} ({sample.maxmemory_policy})"
        if sample.maxmemory
        else ""
    )
    return {
        "redis_up": (1.0, ""),
        "redis_connected_clients": (float(sample.connected_clients), ""),
        "redis_memory_used_bytes": (float(sample.used_memory), memory_note),
        "redis_commands_per_second": (commands_per_second(sample, previous), ""),
        **replication_metrics(sample.replication),
    }
