"""PostgreSQL client: one long-lived asyncpg connection and the probe queries.

The UI keeps a :class:`PostgresClient` open between polls (a query on an open
connection costs about 0.1 ms; a new connection 4-19 ms). Every metric of the
spec's table comes from one round trip (:data:`SAMPLE_SQL`).
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import asyncpg
from pydantic import SecretStr

from alfred_tui.databases.failures import DatabaseUnavailable, describe_failure
from alfred_tui.databases.pg_replication import (
    REPLICATION_COLUMNS,
    PostgresReplication,
    parse_replication,
    replication_metrics,
)

if TYPE_CHECKING:
    from alfred_tui.backends.base import Endpoint
    from alfred_tui.config.models import PostgresService, SslMode

APPLICATION_NAME = "alfred-tui"

#: How long a database size is shown before it is read again. Reading it
#: stats every file of the database (about half a millisecond of server time,
#: more with many tables, half of the whole sample), and it changes slowly.
DATABASE_SIZE_SECONDS = 30.0

#: Every probe value in one round trip, replication included
#: (:mod:`~alfred_tui.databases.pg_replication`). The probe's own backend is left
#: out of the lock and transaction figures so that looking does not change them.
SAMPLE_SQL = (
    """
SELECT
  a.connections,
  current_setting('max_connections')::int AS max_connections,
  (SELECT count(*) FROM pg_locks WHERE pid IS DISTINCT FROM pg_backend_pid()) AS locks,
  a.longest_transaction_seconds,
  (SELECT coalesce(sum(xact_commit + xact_rollback), 0) FROM pg_stat_database)
      AS transactions_total,
  CASE WHEN $1 THEN pg_database_size(current_database()) END AS database_size_bytes,
  current_setting('server_version') AS server_version,
  pg_is_in_recovery() AS in_recovery,
  extract(epoch FROM clock_timestamp()) AS server_time,
"""
    + REPLICATION_COLUMNS
    + """
FROM (SELECT count(*) AS connections,
             coalesce(extract(epoch FROM max(clock_timestamp() - xact_start)
                              FILTER (WHERE xact_start IS NOT NULL
                                        AND pid <> pg_backend_pid())), 0)
               AS longest_transaction_seconds
        FROM pg_stat_activity
       WHERE backend_type = 'client backend') AS a
"""
)


#: The replication view alone, for each instance of a service (replicas included).
REPLICATION_SQL = "SELECT pg_is_in_recovery() AS in_recovery," + REPLICATION_COLUMNS


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class PostgresTarget:
    """How to reach one PostgreSQL server; the password stays masked."""

    host: str
    port: int
    user: str
    password: SecretStr
    database: str
    sslmode: SslMode = "prefer"

    @classmethod
    def from_profile(cls, service: PostgresService, endpoint: Endpoint) -> PostgresTarget:
        """The target for a profile's service at the endpoint a backend gave.

        TLS on a loopback address protects nothing (the bytes never leave the
        machine) and costs a TLS context per connection, so the default there
        is ``disable``; anywhere else it is libpq's ``prefer``.
        """
        assert endpoint.host is not None and endpoint.port is not None
        sslmode = service.sslmode or ("disable" if _is_loopback(endpoint.host) else "prefer")
        return cls(
            endpoint.host, endpoint.port, service.user, service.password, service.database, sslmode
        )

    @property
    def address(self) -> str:
        """``host:port``."""
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class PostgresSample:
    """One reading of the server's state."""

    taken_at: float
    """Wall-clock time (``time.time()``) of the reading."""
    connections: int
    max_connections: int
    locks: int
    longest_transaction_seconds: float
    transactions_total: int
    database_size_bytes: int
    server_version: str
    in_recovery: bool
    replication: PostgresReplication | None = None
    """Standbys, slots and WAL receiver; not kept between ``check`` runs (rates need none)."""


class PostgresClient:
    """A lazily opened, reused connection to one server, with timeouts on everything."""

    def __init__(
        self,
        target: PostgresTarget,
        *,
        connect_timeout: float = 5.0,
        query_timeout: float = 5.0,
        application_name: str = APPLICATION_NAME,
    ) -> None:
        self.target = target
        self.connect_timeout = connect_timeout
        self.query_timeout = query_timeout
        self.application_name = application_name
        """What pg_stat_activity shows for this connection (which part of alfred-tui it is)."""
        self._connection: asyncpg.Connection | None = None
        self._size: tuple[float, int] | None = None
        """The last database size read, with its monotonic time (see DATABASE_SIZE_SECONDS)."""

    async def connection(self) -> asyncpg.Connection:
        """The open connection, opening one if there is none (or it broke)."""
        if self._connection is not None and not self._connection.is_closed():
            return self._connection
        self._connection = None
        try:
            connection = self._connection = await asyncio.wait_for(
                asyncpg.connect(
                    host=self.target.host,
                    port=self.target.port,
                    user=self.target.user,
                    password=self.target.password.get_secret_value(),
                    database=self.target.database,
                    ssl=self.target.sslmode,
                    timeout=self.connect_timeout,
                    command_timeout=self.query_timeout,
                    server_settings={"application_name": self.application_name},
                ),
                self.connect_timeout,
            )
        except Exception as exc:
            raise DatabaseUnavailable(self._describe(exc, self.connect_timeout)) from None
        return connection

    def _describe(self, exc: BaseException, timeout: float) -> str:
        return describe_failure(exc, host=self.target.host, port=self.target.port, timeout=timeout)

    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        """Run a query; a broken connection is dropped so the next call reconnects."""
        connection = await self.connection()
        try:
            return await connection.fetch(sql, *args, timeout=self.query_timeout)
        except (OSError, asyncpg.exceptions.ConnectionDoesNotExistError, TimeoutError) as exc:
            await self._discard()
            raise DatabaseUnavailable(self._describe(exc, self.query_timeout)) from None

    async def sample(self) -> PostgresSample:
        """Every probe value in one round trip (the database size at most every 30 s)."""
        now = time.monotonic()
        size_due = self._size is None or now - self._size[0] >= DATABASE_SIZE_SECONDS
        row = (await self.fetch(SAMPLE_SQL, size_due))[0]
        if row["database_size_bytes"] is not None:
            self._size = (now, row["database_size_bytes"])
        assert self._size is not None
        return PostgresSample(
            taken_at=time.time(),
            connections=row["connections"],
            max_connections=row["max_connections"],
            locks=row["locks"],
            longest_transaction_seconds=float(row["longest_transaction_seconds"]),
            transactions_total=int(row["transactions_total"]),
            database_size_bytes=self._size[1],
            server_version=row["server_version"],
            in_recovery=row["in_recovery"],
            replication=parse_replication(row, row["in_recovery"]),
        )

    async def replication(self) -> PostgresReplication:
        """Replication as this server sees it, alone (one round trip, a few catalog views)."""
        row = (await self.fetch(REPLICATION_SQL))[0]
        return parse_replication(row, row["in_recovery"])

    async def _discard(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.terminate()

    async def close(self) -> None:
        """Close the connection; never waits on a server that stopped answering."""
        connection, self._connection = self._connection, None
        if connection is None or connection.is_closed():
            return
        try:
            await asyncio.wait_for(connection.close(), 1.0)
        except Exception:
            connection.terminate()

    async def __aenter__(self) -> PostgresClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


def transaction_rate(current: PostgresSample, previous: PostgresSample | None) -> float | None:
    """Transactions per second between two samples; None without a usable pair."""
    if previous is None:
        return None
    elapsed = current.taken_at - previous.taken_at
    delta = current.transactions_total - previous.transactions_total
    if elapsed <= 0 or delta < 0:  # clock went back, or statistics were reset
        return None
    return delta / elapsed


def postgres_metrics(
    sample: PostgresSample, previous: PostgresSample | None
) -> dict[str, tuple[float | None, str]]:
    """The spec's PostgreSQL metrics from a sample: name -> (value, note)."""
    rate = transaction_rate(sample, previous)
    return {
        "postgres_up": (1.0, ""),
        "postgres_connections": (float(sample.connections), f"of max {sample.max_connections}"),
        "postgres_locks": (float(sample.locks), ""),
        "postgres_transaction_duration_seconds": (
            sample.longest_transaction_seconds,
            "longest open transaction",
        ),
        "postgres_transaction_rate": (
            rate,
            "" if rate is not None else "needs a previous sample",
        ),
        **replication_metrics(sample.replication),
    }
