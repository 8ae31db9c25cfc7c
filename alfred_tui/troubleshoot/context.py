"""The connections and settings one doctor run (or one UI session) shares.

Runbooks never open their own connections: they ask the context, which opens
one client per service on first use, keeps it for the next runbook, and
closes everything at the end. The UI keeps one context alive between polls,
so a runbook's rates (evictions per second) come from the previous poll
instead of a second sample taken on the spot.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING, Any

from alfred_tui.backends.base import BackendError, ServiceStatus
from alfred_tui.config.models import MetricThreshold, Profile, ServiceKind
from alfred_tui.redact import redact

if TYPE_CHECKING:
    from alfred_tui.backends.base import Backend
    from alfred_tui.databases.postgres import PostgresClient
    from alfred_tui.databases.qdrant import QdrantClient
    from alfred_tui.databases.redis import RedisClient


class TroubleshootContext:
    """Lazily opened clients for the profile's services, and what runbooks remember."""

    def __init__(
        self,
        backend: Backend,
        *,
        timeout: float = 5.0,
        sample_seconds: float = 1.0,
        readonly: bool = False,
        scan_limit: int = 2000,
        application_name: str = "alfred-tui",
    ) -> None:
        self.backend = backend
        self.timeout = timeout
        """Seconds any one call may take."""
        self.sample_seconds = sample_seconds
        """Gap between two samples when a rate has no recent previous sample."""
        self.readonly = readonly
        self.scan_limit = scan_limit
        """Keys sampled per Redis database when looking for big keys and prefixes."""
        self.previous: dict[str, tuple[float, Any]] = {}
        """Samples kept for rates: key -> (time.monotonic(), sample)."""
        self.application_name = application_name
        """PostgreSQL's application_name for this context's connection (``alfred-tui
        activity``), so an operator can tell the UI's connections apart."""
        self._postgres: PostgresClient | None = None
        self._redis: dict[int, RedisClient] = {}
        self._qdrant: QdrantClient | None = None
        self._status: list[ServiceStatus] | None = None
        self._status_note = ""
        self._lock = asyncio.Lock()

    @property
    def profile(self) -> Profile:
        """The profile the backend serves."""
        return self.backend.profile

    @property
    def thresholds(self) -> dict[str, MetricThreshold]:
        """The profile's metric thresholds (the spec's table unless overridden)."""
        return self.profile.metrics

    def threshold(self, name: str) -> MetricThreshold | None:
        """The profile's threshold for metric ``name``, if it has one."""
        return self.profile.metrics.get(name)

    async def postgres(self) -> PostgresClient:
        """The PostgreSQL client (opened on first use)."""
        if self._postgres is None:
            from alfred_tui.databases.postgres import PostgresClient, PostgresTarget

            endpoint = await self.backend.endpoint("postgres")
            assert self.profile.postgres is not None
            self._postgres = PostgresClient(
                PostgresTarget.from_profile(self.profile.postgres, endpoint),
                connect_timeout=self.timeout,
                query_timeout=self.timeout,
                application_name=self.application_name,
            )
        return self._postgres

    async def redis(self, db: int = 0) -> RedisClient:
        """A Redis client on database ``db`` (one per database, opened on first use)."""
        if db not in self._redis:
            from alfred_tui.databases.redis import RedisClient, RedisTarget

            endpoint = await self.backend.endpoint("redis")
            assert self.profile.redis is not None
            self._redis[db] = RedisClient(
                RedisTarget.from_profile(self.profile.redis, endpoint),
                db=db,
                connect_timeout=self.timeout,
                query_timeout=self.timeout,
            )
        return self._redis[db]

    async def qdrant(self) -> QdrantClient:
        """The Qdrant client, server or embedded (opened on first use)."""
        if self._qdrant is None:
            from alfred_tui.databases.qdrant import QdrantClient, QdrantTarget

            endpoint = await self.backend.endpoint("qdrant")
            assert self.profile.qdrant is not None
            self._qdrant = QdrantClient(
                QdrantTarget.from_profile(self.profile.qdrant, endpoint), timeout=self.timeout
            )
        return self._qdrant

    async def status(self, kind: ServiceKind) -> tuple[ServiceStatus | None, str]:
        """The backend's view of ``kind`` (limits, restarts), or None and why not.

        Asked once per context: the Docker or Kubernetes call is the slowest
        thing a runbook does, and the state it reports does not change
        between two runbooks of the same run.
        """
        async with self._lock:
            if self._status is None and not self._status_note:
                try:
                    self._status = await asyncio.wait_for(self.backend.status(), self.timeout)
                except NotImplementedError:
                    self._status_note = (
                        f"the {self.backend.name} backend cannot report service status yet"
                    )
                except TimeoutError:
                    self._status_note = (
                        f"the {self.backend.name} backend did not report status within "
                        f"{self.timeout:g} s"
                    )
                except BackendError as exc:
                    self._status_note = exc.one_line()
                except Exception as exc:  # an engine SDK error we did not foresee
                    self._status_note = redact(f"{type(exc).__name__}: {exc}")[:200]
        if self._status is None:
            return None, self._status_note
        found = next((s for s in self._status if s.service == kind), None)
        return found, "" if found else f"the {self.backend.name} backend does not list {kind}"

    def forget_status(self) -> None:
        """Ask the backend again next time: a context kept for a UI pane's life must see
        restarts and OOM kills that happen while it is open."""
        self._status = None
        self._status_note = ""

    async def release_embedded(self) -> None:
        """Close an embedded Qdrant store: it admits one client at a time, and the
        overview's probe (or ``alfred-tui check``) must be able to open it between runs."""
        client = self._qdrant
        if client is not None and client.target.embedded:
            self._qdrant = None
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.close(), 2.0)

    def remember(self, key: str, sample: Any) -> tuple[float, Any] | None:
        """Store ``sample`` under ``key``; return the one it replaces (time, sample)."""
        previous = self.previous.get(key)
        self.previous[key] = (time.monotonic(), sample)
        return previous

    async def close(self) -> None:
        """Close every client; never waits long on a server that stopped answering."""
        clients: list[Any] = [self._postgres, self._qdrant, *self._redis.values()]
        self._postgres, self._qdrant, self._redis = None, None, {}
        for client in clients:
            if client is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(client.close(), 2.0)

    async def __aenter__(self) -> TroubleshootContext:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
