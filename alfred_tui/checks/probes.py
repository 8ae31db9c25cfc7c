"""Service probes: a client, the previous sample, and a :class:`ServiceReport` per poll.

A probe keeps its connection open between polls (the UI's case) and its
previous sample for rates; ``check`` creates one, polls once and closes it.
Each database module is imported only when a probe for it is made.
"""

from __future__ import annotations

import abc
import dataclasses
import time
from collections.abc import Callable
from typing import Any, Protocol

from alfred_tui.backends.base import Endpoint
from alfred_tui.checks.report import ServiceReport
from alfred_tui.config.models import Profile, ServiceKind
from alfred_tui.databases.failures import DatabaseUnavailable
from alfred_tui.metrics import Reading, Verdict, read, worst

Metrics = dict[str, tuple[float | None, str]]
"""The spec's metrics of one sample: name -> (value, note)."""


class _Target(Protocol):
    @property
    def address(self) -> str: ...


class ProbeClient(Protocol):
    """What a probe needs of a database client (each one in ``databases/`` is one)."""

    @property
    def target(self) -> _Target: ...

    async def sample(self) -> Any: ...

    async def close(self) -> None: ...


class ServiceProbe(abc.ABC):
    """Polls one service and judges it against the profile's thresholds.

    A subclass names its client and how its samples become metrics; reading,
    judging, reporting a service that is down and keeping the previous sample
    for rates are the same for every database.
    """

    kind: ServiceKind

    def __init__(
        self,
        profile: Profile,
        endpoint: Endpoint,
        timeout: float,
        client: ProbeClient,
        metrics: Callable[[Any, Any], Metrics],
    ) -> None:
        self.profile = profile
        self.endpoint = endpoint
        self.timeout = timeout
        self.client = client
        self._metrics_of = metrics
        """``metrics(sample, previous)``: the spec's metrics, rates from the previous sample."""
        self.previous: Any = None

    @property
    def address(self) -> str:
        """Where the probe connects, for reports."""
        return self.client.target.address

    async def _sample(self) -> Any:
        """Read the server (raises :class:`DatabaseUnavailable`)."""
        return await self.client.sample()

    def _metrics(self, sample: Any) -> Metrics:
        """The spec's metrics from ``sample`` and ``self.previous``."""
        return self._metrics_of(sample, self.previous)

    @abc.abstractmethod
    def _details(self, sample: Any) -> dict[str, Any]:
        """Facts besides the metrics, JSON-serialisable."""

    @abc.abstractmethod
    def _sample_from_dict(self, data: dict[str, Any]) -> Any:
        """Rebuild a sample saved by :meth:`export_previous`."""

    async def close(self) -> None:
        """Close the probe's connection."""
        await self.client.close()

    def export_previous(self) -> dict[str, Any] | None:
        """The last sample's counters as plain data (no secrets), for the sample store.

        Replication views are left out: rates need only counters, and a view
        from minutes ago would say nothing true about the next run.
        """
        if self.previous is None:
            return None
        data = dataclasses.asdict(self.previous)
        data.pop("replication", None)
        return data

    def import_previous(self, data: dict[str, Any] | None) -> None:
        """Restore a sample saved by :meth:`export_previous` (ignored if malformed)."""
        if data is None:
            return
        try:
            self.previous = self._sample_from_dict(data)
        except (TypeError, KeyError, ValueError):
            self.previous = None

    async def probe(self) -> ServiceReport:
        """Poll once: a report with every metric judged, or the service DOWN with its reason."""
        started = time.perf_counter()
        try:
            sample = await self._sample()
        except DatabaseUnavailable as exc:
            return self.down(exc.reason, busy=type(exc).__name__ == "QdrantBusy", started=started)
        thresholds = self.profile.metrics
        readings = tuple(
            read(name, value, thresholds, note)
            for name, (value, note) in self._metrics(sample).items()
        )
        self.previous = sample
        return ServiceReport(
            service=self.kind,
            address=self.address,
            up=True,
            verdict=worst(r.verdict for r in readings if r.verdict is not None),
            readings=readings,
            details=self._details(sample),
            duration_ms=(time.perf_counter() - started) * 1000,
            checked_at=time.time(),
        )

    def down(
        self, reason: str, *, busy: bool = False, started: float | None = None
    ) -> ServiceReport:
        """A report for a service that did not answer (UNKNOWN when it is merely busy)."""
        up_metric = f"{self.kind}_up"
        readings = [Reading(up_metric, 0.0, Verdict.CRITICAL, reason)]
        if busy:
            readings = [Reading(up_metric, None, None, reason)]
        names = [name for name in self.profile.metrics if name.startswith(f"{self.kind}_")]
        readings += [Reading(n, None, None, "service is down") for n in names if n != up_metric]
        elapsed = 0.0 if started is None else (time.perf_counter() - started) * 1000
        return ServiceReport(
            service=self.kind,
            address=self.address,
            up=False,
            verdict=Verdict.UNKNOWN if busy else Verdict.CRITICAL,
            reason=reason,
            readings=tuple(readings),
            duration_ms=elapsed,
            checked_at=time.time(),
        )


class PostgresProbe(ServiceProbe):
    """PostgreSQL: connections, locks, longest transaction, transaction rate."""

    kind: ServiceKind = "postgres"

    def __init__(self, profile: Profile, endpoint: Endpoint, timeout: float) -> None:
        from alfred_tui.databases import postgres

        assert profile.postgres is not None
        self._module = postgres
        client = postgres.PostgresClient(
            postgres.PostgresTarget.from_profile(profile.postgres, endpoint),
            connect_timeout=timeout,
            query_timeout=timeout,
        )
        super().__init__(profile, endpoint, timeout, client, postgres.postgres_metrics)

    def _details(self, sample: Any) -> dict[str, Any]:
        return {
            "server_version": sample.server_version,
            "max_connections": sample.max_connections,
            "database_size_bytes": sample.database_size_bytes,
            "in_recovery": sample.in_recovery,
            "replication": None if sample.replication is None else sample.replication.to_json(),
        }

    def _sample_from_dict(self, data: dict[str, Any]) -> Any:
        data = {key: value for key, value in data.items() if key != "replication"}
        return self._module.PostgresSample(**data)


class RedisProbe(ServiceProbe):
    """Redis: clients, memory, commands per second, keys per database."""

    kind: ServiceKind = "redis"

    def __init__(self, profile: Profile, endpoint: Endpoint, timeout: float) -> None:
        from alfred_tui.databases import redis

        assert profile.redis is not None
        self._module = redis
        client = redis.RedisClient(
            redis.RedisTarget.from_profile(profile.redis, endpoint),
            connect_timeout=timeout,
            query_timeout=timeout,
        )
        super().__init__(profile, endpoint, timeout, client, redis.redis_metrics)

    def _details(self, sample: Any) -> dict[str, Any]:
        return {
            "version": sample.version,
            "role": sample.role,
            "maxmemory_bytes": sample.maxmemory,
            "maxmemory_policy": sample.maxmemory_policy,
            "aof_enabled": sample.aof_enabled,
            "evicted_keys": sample.evicted_keys,
            "keyspace": {
                str(db): dataclasses.asdict(entry) for db, entry in sorted(sample.keyspace.items())
            },
            "replication": None if sample.replication is None else sample.replication.to_json(),
        }

    def _sample_from_dict(self, data: dict[str, Any]) -> Any:
        keyspace = {
            int(db): self._module.KeyspaceEntry(**entry)
            for db, entry in (data.get("keyspace") or {}).items()
        }
        data = {key: value for key, value in data.items() if key != "replication"}
        return self._module.RedisSample(**{**data, "keyspace": keyspace})


class QdrantProbe(ServiceProbe):
    """Qdrant: collections, request duration and queries per second where exposed."""

    kind: ServiceKind = "qdrant"

    def __init__(self, profile: Profile, endpoint: Endpoint, timeout: float) -> None:
        from alfred_tui.databases import qdrant

        assert profile.qdrant is not None
        self._module = qdrant
        client = qdrant.QdrantClient(
            qdrant.QdrantTarget.from_profile(profile.qdrant, endpoint), timeout=timeout
        )
        super().__init__(profile, endpoint, timeout, client, qdrant.qdrant_metrics)
        self._qdrant = client  # the same client, typed as Qdrant's (for the cluster read)
        self._cluster: dict[str, Any] | None = None

    async def _sample(self) -> Any:
        from alfred_tui.databases.qdrant_cluster import read_cluster

        sample = await self._qdrant.sample()
        # After the sample: its request counters are read first (the cluster's paths
        # are not counted either way, see PROBE_PATHS).
        self._cluster = await read_cluster(self._qdrant, sample.collections)
        return sample

    def _details(self, sample: Any) -> dict[str, Any]:
        expected = [c.name for c in self.profile.qdrant_collections]
        return {
            "version": sample.version,
            "embedded": sample.embedded,
            "collections": sample.collections,
            "missing_collections": [name for name in expected if name not in sample.collections],
            "cluster": self._cluster,
        }

    def _sample_from_dict(self, data: dict[str, Any]) -> Any:
        requests = data.get("requests")
        stats = self._module.RequestStats(**requests) if requests else None
        return self._module.QdrantSample(**{**data, "requests": stats})


_PROBES: dict[ServiceKind, Callable[[Profile, Endpoint, float], ServiceProbe]] = {
    "postgres": PostgresProbe,
    "redis": RedisProbe,
    "qdrant": QdrantProbe,
}


def make_probe(
    kind: ServiceKind, profile: Profile, endpoint: Endpoint, timeout: float
) -> ServiceProbe:
    """A probe of the right kind for ``endpoint``."""
    return _PROBES[kind](profile, endpoint, timeout)
