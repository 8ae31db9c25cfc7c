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
    Capability,
    Endpoint,
    InstanceStatus,
    ResourceAmounts,
    ServiceStatus,
    TargetInfo,
)
from alfred_tui.checks.report import ServiceReport
from alfred_tui.config.loader import load_profile
from alfred_tui.config.models import ServiceKind
from alfred_tui.control.monitor import history_key
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
    },
    "redis": {
        "redis_up": (1.0, ""),
        "redis_connected_clients": (23.0, ""),
        "redis_memory_used_bytes": (1.4 * GIB, "maxmemory 2147483648 (allkeys-lru)"),
        "redis_commands_per_second": (1250.0, ""),
    },
    "qdrant": {
        "qdrant_up": (1.0, ""),
        "qdrant_collections_count": (4.0, ""),
        "qdrant_request_duration_seconds": (0.0042, "mean since start, from metrics"),
        "qdrant_queries_per_second": (37.5, ""),
    },
}

DETAILS: dict[ServiceKind, dict[str, object]] = {
    "postgres": {"server_version": "15.1", "max_connections": 1000, "in_recovery": False},
    "redis": {"version": "7.2.4", "role": "master", "maxmemory_policy": "allkeys-lru"},
    "qdrant": {"version": "1.7.4", "collections": ["general-knowledge", "legal-knowledge"]},
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
        1,
        1,
        (_instance("alfred-db-postgres-1", timedelta(hours=3, minutes=12), role="primary"),),
        "supabase/postgres:15.1.0.117",
        ("127.0.0.1:5432",),
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


class FixedBackend(Backend):
    """A frozen Docker-like deployment for snapshots; it runs no action (they raise)."""

    name = "docker"

    def capabilities(self, service: ServiceKind) -> frozenset[Capability]:
        return frozenset(
            {
                Capability.DEPLOY,
                Capability.TEARDOWN,
                Capability.SCALE,
                Capability.RESIZE,
                Capability.RESTART,
            }
        )

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


def fixed_report(kind: ServiceKind, thresholds: dict, down: str | None = None) -> ServiceReport:  # type: ignore[type-arg]
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
    readings = tuple(read(name, v, thresholds, note) for name, (v, note) in VALUES[kind].items())
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


class FixedSource:
    """Frozen readings for the overview (see the module docstring)."""

    def __init__(self, backend: Backend, down: Sequence[ServiceKind] = ()) -> None:
        self.backend = backend
        self.down = set(down)

    async def status(self) -> list[ServiceStatus]:
        return await self.backend.status()

    async def probe(self, kind: ServiceKind) -> ServiceReport:
        reason = f"connection refused ({ADDRESSES[kind].split('//')[-1]})"
        return fixed_report(
            kind, self.backend.profile.metrics, reason if kind in self.down else None
        )

    async def close(self) -> None:
        return None


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
                wave = 1 + 0.35 * math.sin(step / 18 + phase) + 0.15 * math.sin(step / 5)
                samples.append((at, value if name.endswith("_up") else value * wave))
            history.extend(history_key(kind, name), samples)


def fixed_app(
    profile: str = "dev",
    readonly: bool = False,
    down: Sequence[ServiceKind] = (),
    path: Path | None = None,
    flags: bool = False,
    panes: tuple[PaneSpec, ...] = PANES,
) -> AlfredApp:
    """The real app on fixed data (profile ``dev``, a frozen Docker-like deployment).

    ``flags``: the runbooks find problems on postgres and redis (⚑ markers);
    the troubleshooting panes' data is ui_fixed_doctor's either way.
    """
    from ui_fixed_doctor import fixed_diagnostics

    loaded = load_profile(str(path) if path else profile)
    session = Session(
        loaded,
        FixedBackend(loaded),
        readonly=readonly,
        clock=lambda: NOW,
        source_factory=lambda backend, _timeout: FixedSource(backend, down),
        diagnostics_factory=fixed_diagnostics(flags),
    )
    seed_history(session)
    return AlfredApp(session, panes=panes)
