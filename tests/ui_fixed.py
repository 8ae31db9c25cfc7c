"""Fixed data for the UI's snapshot tests: the same picture every run.

Nothing here talks to a server and nothing here is a stand-in for an engine:
:class:`FixedBackend` and :class:`FixedSource` hand the real app a frozen
deployment (three services on a Docker-like backend) and frozen probe
readings, with ten minutes of history and a frozen clock, so that the SVG
snapshots change only when the UI does. Behaviour is tested elsewhere
against real servers (test_ui_app.py, test_ui_actions.py).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from alfred_tui.app import AlfredApp
from alfred_tui.backends.base import (
    Backend,
    Endpoint,
    InstanceStatus,
    InstanceUsage,
    ProgressCallback,
    ResourceAmounts,
    ServiceStatus,
    TargetInfo,
    no_progress,
)
from alfred_tui.checks.instances import InstanceReplication
from alfred_tui.checks.report import ServiceReport
from alfred_tui.config.loader import load_profile
from alfred_tui.config.models import ServiceKind
from alfred_tui.control.monitor import history_key, instance_key
from alfred_tui.control.session import Session
from alfred_tui.metrics import Reading, Verdict, read, worst
from alfred_tui.screens.panes import PANES, PaneSpec

NOW_DT = datetime(2025, 5, 13, 12, 0, 0, tzinfo=UTC)
NOW = NOW_DT.timestamp()
GIB = 1024**3

VALUES: dict[ServiceKind, dict[str, tuple[float | None, str]]] = {
    "postgres": {
        "postgres_up": (1.0, ""),
        "postgres_connections": (42.0, "of max 1000"),
        "postgres_locks": (12.0, ""),
        "postgres_transaction_duration_seconds": (0.012, "longest open transaction"),
        "postgres_transaction_rate": (183.4, ""),
        "postgres_replication_lag_seconds": (
            0.4,
            "worst of 1 standby(s): alfred-db-postgres-2 (streaming)",
        ),
        "postgres_replication_lag_bytes": (
            2048.0,
            "worst of 1 standby(s): alfred-db-postgres-2 2.0 KiB behind",
        ),
    },
    "redis": {
        "redis_up": (1.0, ""),
        "redis_connected_clients": (23.0, ""),
        "redis_memory_used_bytes": (1.4 * GIB, "maxmemory 2147483648 (allkeys-lru)"),
        "redis_commands_per_second": (1250.0, ""),
        "redis_replication_lag_bytes": (
            182.0,
            "worst of 1 replica(s): 172.18.0.5:6379 (online, last ack 0 s ago)",
        ),
        "redis_master_link_up": (1.0, "1 replica(s) online"),
    },
    "qdrant": {
        "qdrant_up": (1.0, ""),
        "qdrant_collections_count": (4.0, ""),
        "qdrant_request_duration_seconds": (0.0042, "mean since start, from metrics"),
        "qdrant_queries_per_second": (37.5, ""),
    },
}

_STANDBY = {
    "name": "alfred-db-postgres-2",
    "client": "172.18.0.4",
    "state": "streaming",
    "sync_state": "async",
    "sent_lsn": "0/5A3F1C8",
    "write_lsn": "0/5A3F1C8",
    "flush_lsn": "0/5A3F1C8",
    "replay_lsn": "0/5A3E9C8",
    "write_lag_seconds": 0.001,
    "flush_lag_seconds": 0.002,
    "replay_lag_seconds": 0.4,
    "lag_seconds": 0.4,
    "lag_bytes": 2048,
    "reply_age_seconds": 0.3,
}

DETAILS: dict[ServiceKind, dict[str, object]] = {
    "postgres": {
        "server_version": "15.1",
        "max_connections": 1000,
        "in_recovery": False,
        "replication": {
            "role": "primary",
            "current_lsn": "0/5A3F1C8",
            "standbys": [_STANDBY],
            "slots": [
                {
                    "name": "old_reporting",
                    "type": "physical",
                    "active": False,
                    "wal_status": "extended",
                    "retained_bytes": 2147483648,
                }
            ],
            "receiver": None,
        },
    },
    "redis": {
        "version": "7.2.4",
        "role": "master",
        "maxmemory_policy": "allkeys-lru",
        "replication": {
            "role": "primary",
            "offset": 981234,
            "replicas": [
                {
                    "address": "172.18.0.5:6379",
                    "state": "online",
                    "offset": 981052,
                    "ack_age_seconds": 0,
                    "lag_bytes": 182,
                }
            ],
        },
    },
    "qdrant": {
        "version": "1.7.4",
        "collections": ["general-knowledge", "legal-knowledge"],
        "cluster": {"enabled": False, "summary": "single node (cluster mode off)"},
    },
}

ADDRESSES: dict[ServiceKind, str] = {
    "postgres": "127.0.0.1:5432",
    "redis": "127.0.0.1:6379",
    "qdrant": "http://127.0.0.1:6333",
}


def _instance(
    name: str, age: timedelta, restarts: int = 0, role: str = "", health: str = "healthy"
) -> InstanceStatus:
    return InstanceStatus(
        name,
        "running",
        health,
        restarts,
        NOW_DT - age,
        role,  # type: ignore[arg-type]
    )


STATUSES: dict[ServiceKind, ServiceStatus] = {
    "postgres": ServiceStatus(
        "postgres",
        2,
        2,
        (
            _instance("alfred-db-postgres-1", timedelta(hours=3, minutes=12), role="primary"),
            _instance("alfred-db-postgres-2", timedelta(hours=1, minutes=5), role="replica"),
        ),
        "supabase/postgres:15.1.0.117",
        ("127.0.0.1:5432", "127.0.0.1:32771"),
        ResourceAmounts(2.0, 4 * GIB),
        ResourceAmounts(1.0, 2 * GIB),
        NOW_DT - timedelta(hours=3, minutes=12),
    ),
    "redis": ServiceStatus(
        "redis",
        2,
        2,
        (
            _instance("alfred-redis-1", timedelta(minutes=47), restarts=3, role="primary"),
            _instance("alfred-redis-2", timedelta(hours=2), role="replica"),
        ),
        "redis:7-alpine",
        ("127.0.0.1:6379",),
        ResourceAmounts(1.0, 3 * GIB),
        ResourceAmounts(0.5, 1 * GIB),
        NOW_DT - timedelta(hours=2),
    ),
    "qdrant": ServiceStatus(
        "qdrant",
        1,
        1,
        (_instance("alfred-vector-db-1", timedelta(days=5, hours=4)),),
        "qdrant/qdrant:v1.7.4",
        ("127.0.0.1:6333", "127.0.0.1:6334"),
        started_at=NOW_DT - timedelta(days=5, hours=4),
    ),
}


#: Each instance's part in replication, as the overview's reader would join it.
REPLICATION: dict[ServiceKind, dict[str, InstanceReplication]] = {
    "postgres": {
        "alfred-db-postgres-1": InstanceReplication(
            "alfred-db-postgres-1", "primary", "primary", replicas=1
        ),
        "alfred-db-postgres-2": InstanceReplication(
            "alfred-db-postgres-2",
            "replica",
            "streaming",
            lag_seconds=0.4,
            lag_bytes=2048,
            link_up=True,
            upstream="db-postgres:5432",
        ),
    },
    "redis": {
        "alfred-redis-1": InstanceReplication("alfred-redis-1", "primary", "primary", replicas=1),
        "alfred-redis-2": InstanceReplication(
            "alfred-redis-2",
            "replica",
            "streaming",
            lag_bytes=182,
            link_up=True,
            upstream="redis:6379",
        ),
    },
}

#: CPU (percent of a core) and memory of each instance; redis-1 is near its memory limit.
USAGE: dict[str, InstanceUsage] = {
    u.instance: u
    for u in (
        InstanceUsage("postgres", "alfred-db-postgres-1", 37.5, 2.0, int(1.6 * GIB), 4 * GIB,
                      2 * GIB, 0, NOW),
        InstanceUsage("postgres", "alfred-db-postgres-2", 8.2, 2.0, int(0.9 * GIB), 4 * GIB,
                      2 * GIB, 0, NOW),
        InstanceUsage("redis", "alfred-redis-1", 61.0, 1.0, int(2.8 * GIB), 3 * GIB, 1 * GIB,
                      3, NOW),
        InstanceUsage("redis", "alfred-redis-2", 12.0, 1.0, int(1.4 * GIB), 3 * GIB, 1 * GIB,
                      0, NOW),
        InstanceUsage("qdrant", "alfred-vector-db-1", 4.0, None, int(0.7 * GIB), None, None,
                      0, NOW),
    )
}  # fmt: skip


class FixedBackend(Backend):
    """A frozen Docker-like deployment for snapshots; it runs no action (they raise)."""

    name = "docker"

    def target(self) -> TargetInfo:
        return TargetInfo("docker", "unix:///var/run/docker.sock")

    async def status(self) -> list[ServiceStatus]:
        return [STATUSES[kind] for kind, _ in self.profile.services.enabled()]

    async def endpoint(self, service: ServiceKind) -> Endpoint:
        host, port = ADDRESSES[service].rsplit("/", 1)[-1].split(":")
        return Endpoint(host, int(port))

    async def describe_teardown(self, remove_volumes: bool = False) -> list[str]:
        lines = [
            "stop and remove containers alfred-db-postgres-1, alfred-redis-1, alfred-redis-2, "
            "alfred-vector-db-1",
            "remove network alfred-network",
        ]
        if remove_volumes:
            lines.append(
                "export, then remove volumes db-postgres-data (1.2 GiB), redis-data "
                "(310.0 MiB), vector-db-data (2.4 GiB)"
            )
        return lines

    async def deploy(self, profile=None, services=None, progress=None) -> None:  # type: ignore[no-untyped-def]
        raise AssertionError("fixed data: snapshot tests run no actions")

    async def teardown(self, remove_volumes=False, progress=None, safety_dir=None) -> None:  # type: ignore[no-untyped-def]
        raise AssertionError("fixed data: snapshot tests run no actions")

    # Scalable, Resizable, Restartable: the overview offers these actions (never runs them).
    async def scale(
        self,
        service: ServiceKind,
        replicas: int,
        progress: ProgressCallback = no_progress,
        safety_dir: Path | None = None,
    ) -> None:
        raise AssertionError("fixed data: snapshot tests run no actions")

    async def resize(
        self,
        service: ServiceKind,
        cpus: float | None = None,
        memory: int | None = None,
        progress: ProgressCallback = no_progress,
    ) -> None:
        raise AssertionError("fixed data: snapshot tests run no actions")

    async def restart(self, service: ServiceKind, progress: ProgressCallback = no_progress) -> None:
        raise AssertionError("fixed data: snapshot tests run no actions")


def fixed_report(
    kind: ServiceKind,
    thresholds: dict,  # type: ignore[type-arg]
    down: str | None = None,
    overrides: dict[str, tuple[float | None, str]] | None = None,
) -> ServiceReport:
    if down is not None:
        readings = [Reading(f"{kind}_up", 0.0, Verdict.CRITICAL, down)]
        readings += [
            Reading(name, None, None, "service is down")
            for name in VALUES[kind]
            if name != f"{kind}_up"
        ]
        return ServiceReport(
            kind, ADDRESSES[kind], False, Verdict.CRITICAL, down, tuple(readings), checked_at=NOW
        )
    values = {**VALUES[kind], **(overrides or {})}
    readings = tuple(read(name, v, thresholds, note) for name, (v, note) in values.items())
    return ServiceReport(
        kind,
        ADDRESSES[kind],
        True,
        worst(r.verdict for r in readings if r.verdict is not None),
        readings=readings,
        details=DETAILS[kind],
        duration_ms=0.4,
        checked_at=NOW,
    )


#: A frozen PostgreSQL standby and a Redis replica whose link broke (``frozen_replica``).
FROZEN_VALUES: dict[ServiceKind, dict[str, tuple[float | None, str]]] = {
    "postgres": {
        "postgres_replication_lag_seconds": (
            47.0,
            "worst of 1 standby(s): alfred-db-postgres-2 (streaming), behind and silent for 47 s",
        ),
        "postgres_replication_lag_bytes": (
            12.5 * 1024**2,
            "worst of 1 standby(s): alfred-db-postgres-2 12.5 MiB behind",
        ),
    },
    "redis": {
        "redis_replication_lag_bytes": (
            3.1 * 1024**2,
            "worst of 1 replica(s): 172.18.0.5:6379 (online, last ack 31 s ago)",
        ),
        "redis_master_link_up": (
            0.0,
            "1 of 1 replica(s) not following: 172.18.0.5:6379 online, last ack 31 s ago",
        ),
    },
}
FROZEN_REPLICATION: dict[ServiceKind, dict[str, InstanceReplication]] = {
    "postgres": {
        **REPLICATION["postgres"],
        "alfred-db-postgres-2": InstanceReplication(
            "alfred-db-postgres-2",
            "",
            "not answering",
            lag_seconds=47.0,
            lag_bytes=int(12.5 * 1024**2),
            reason="timeout after 2 s (127.0.0.1:32771) - retry in 16 s",
        ),
    },
    "redis": {
        **REPLICATION["redis"],
        "alfred-redis-2": InstanceReplication(
            "alfred-redis-2", "", "not answering", reason="timeout after 2 s (127.0.0.1:32772)"
        ),
    },
}


class FixedSource:
    """Frozen readings for the overview (see the module docstring)."""

    def __init__(
        self, backend: Backend, down: Sequence[ServiceKind] = (), frozen_replica: bool = False
    ) -> None:
        self.backend = backend
        self.down = set(down)
        self.frozen_replica = frozen_replica

    async def status(self) -> list[ServiceStatus]:
        return await self.backend.status()

    async def probe(self, kind: ServiceKind) -> ServiceReport:
        reason = f"connection refused ({ADDRESSES[kind].split('//')[-1]})"
        overrides = FROZEN_VALUES.get(kind, {}) if self.frozen_replica else {}
        return fixed_report(
            kind, self.backend.profile.metrics, reason if kind in self.down else None, overrides
        )

    async def replication(self, kind: ServiceKind) -> dict[str, InstanceReplication]:
        return (FROZEN_REPLICATION if self.frozen_replica else REPLICATION).get(kind, {})

    async def usage(self) -> list[InstanceUsage]:
        return list(USAGE.values())

    async def close(self) -> None:
        return None


def _wave(step: int, phase: int) -> float:
    return 1 + 0.35 * math.sin(step / 18 + phase) + 0.15 * math.sin(step / 5)


def seed_history(session: Session) -> None:
    """Ten minutes of samples, one every two seconds, in a slow wave around each value."""
    history = session.monitor.history
    for kind, metrics in VALUES.items():
        for phase, (name, (value, _)) in enumerate(metrics.items()):
            if value is None:
                continue
            samples = []
            for step in range(300):
                at = NOW - 600 + step * 2
                wave = _wave(step, phase)
                samples.append((at, value if name.endswith("_up") else value * wave))
            history.extend(history_key(kind, name), samples)
    for phase, usage in enumerate(USAGE.values()):
        for measure, value in (("cpu", usage.cpu_percent), ("memory", usage.memory)):
            assert value is not None
            key = instance_key(usage.service, usage.instance, measure)
            history.extend(
                key, [(NOW - 600 + step * 2, value * _wave(step, phase)) for step in range(300)]
            )


def fixed_app(
    profile: str = "dev",
    readonly: bool = False,
    down: Sequence[ServiceKind] = (),
    path: Path | None = None,
    flags: bool = False,
    panes: tuple[PaneSpec, ...] = PANES,
    served: bool = False,
    frozen_replica: bool = False,
) -> AlfredApp:
    """The real app on fixed data (profile ``dev``, a frozen Docker-like deployment).

    ``served``: as ``alfred-tui serve`` shows it in a browser.

    ``flags``: the runbooks find problems on postgres and redis (⚑ markers);
    the troubleshooting panes' data is ui_fixed_doctor's either way.

    ``frozen_replica``: the PostgreSQL standby and the Redis replica stopped
    answering (as ``docker pause`` leaves them): lag grows, the link is down.
    """
    from ui_fixed_doctor import fixed_troubleshoot

    loaded = load_profile(str(path) if path else profile)
    session = Session(
        loaded,
        FixedBackend(loaded),
        readonly=readonly,
        clock=lambda: NOW,
        source_factory=lambda backend, _timeout: FixedSource(backend, down, frozen_replica),
        troubleshoot_factory=fixed_troubleshoot(flags),
    )
    seed_history(session)
    return AlfredApp(session, panes=panes, served=served)
