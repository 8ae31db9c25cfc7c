"""Every runbook, by name, and running a set of them against one context.

Runbooks of one service run one after the other (they share that service's
connection, and asyncpg runs one query at a time on a connection); the
services run concurrently. :func:`detect_services` is what the overview
polls to put a marker on a service and know which runbook to open.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from alfred_tui.config.models import Profile
from alfred_tui.errors import UsageError
from alfred_tui.metrics import Verdict, worst
from alfred_tui.troubleshoot.context import TroubleshootContext
from alfred_tui.troubleshoot.limits import InstanceLimits
from alfred_tui.troubleshoot.model import Detection, RunbookReport
from alfred_tui.troubleshoot.pg_connections import PostgresConnections
from alfred_tui.troubleshoot.pg_slow_queries import PostgresSlowQueries
from alfred_tui.troubleshoot.qdrant_memory import QdrantMemory
from alfred_tui.troubleshoot.qdrant_search import QdrantSlowSearches
from alfred_tui.troubleshoot.redis_latency import RedisLatency
from alfred_tui.troubleshoot.redis_memory import RedisMemory
from alfred_tui.troubleshoot.replicas import ReplicaHealth
from alfred_tui.troubleshoot.runbook import Runbook

#: The spec's Troubleshooting table, in its order, then replicas and limits per service.
RUNBOOKS: tuple[Runbook, ...] = (
    PostgresConnections(),
    PostgresSlowQueries(),
    RedisMemory(),
    RedisLatency(),
    QdrantSlowSearches(),
    QdrantMemory(),
    ReplicaHealth("postgres"),
    ReplicaHealth("redis"),
    InstanceLimits("postgres"),
    InstanceLimits("redis"),
    InstanceLimits("qdrant"),
)


def runbook_names() -> list[str]:
    """Names ``doctor --runbook`` accepts."""
    return [r.name for r in RUNBOOKS]


def get_runbook(name: str) -> Runbook:
    """The runbook called ``name`` (a UsageError lists the known ones)."""
    for runbook in RUNBOOKS:
        if runbook.name == name:
            return runbook
    raise UsageError(f"no runbook named '{name}' (known: {', '.join(runbook_names())})")


def select_runbooks(
    profile: Profile,
    names: Sequence[str] | None = None,
    services: Sequence[str] | None = None,
) -> list[Runbook]:
    """The runbooks asked for, of services the profile enables (all of them by default)."""
    enabled = [kind for kind, _ in profile.services.enabled()]
    if names:
        chosen = [get_runbook(name) for name in dict.fromkeys(names)]
        off = [r.name for r in chosen if r.service not in enabled]
        if off:
            raise UsageError(
                f"profile '{profile.name}' does not enable the service of {', '.join(off)} "
                f"(enabled: {', '.join(enabled) or 'none'})"
            )
    else:
        chosen = [r for r in RUNBOOKS if r.service in enabled]
    if services:
        unknown = [s for s in services if s not in enabled]
        if unknown:
            raise UsageError(
                f"profile '{profile.name}' has no enabled {', '.join(unknown)} "
                f"(enabled: {', '.join(enabled) or 'none'})"
            )
        chosen = [r for r in chosen if r.service in services]
    return chosen


@dataclass(frozen=True)
class TroubleshootReport:
    """A doctor run: one report per runbook, in the registry's order."""

    profile: str
    backend: str
    checked_at: datetime
    reports: tuple[RunbookReport, ...]

    @property
    def verdict(self) -> Verdict:
        """The worst runbook verdict (OK when none ran)."""
        return worst(r.verdict for r in self.reports)

    @property
    def exit_code(self) -> int:
        """0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN, as ``check``."""
        return int(self.verdict)


async def run_runbooks(ctx: TroubleshootContext, runbooks: Iterable[Runbook]) -> TroubleshootReport:
    """Run ``runbooks`` in full: services concurrently, a service's runbooks in turn."""
    chosen = list(runbooks)
    by_service: dict[str, list[Runbook]] = {}
    for runbook in chosen:
        by_service.setdefault(runbook.service, []).append(runbook)

    async def run_service(items: list[Runbook]) -> list[RunbookReport]:
        return [await runbook.run(ctx) for runbook in items]

    results = await asyncio.gather(*(run_service(items) for items in by_service.values()))
    reports = {report.info.name: report for group in results for report in group}
    return TroubleshootReport(
        profile=ctx.profile.name,
        backend=ctx.backend.name,
        checked_at=datetime.now(UTC),
        reports=tuple(reports[r.name] for r in chosen),
    )


@dataclass(frozen=True)
class ServiceMarker:
    """What the overview shows on a service: the worst runbook verdict and which to open."""

    service: str
    verdict: Verdict
    runbook: str
    """The runbook to open (the worst one; the first on a tie)."""
    summary: str
    detections: dict[str, Detection]


async def detect_services(
    ctx: TroubleshootContext, services: Sequence[str] | None = None
) -> dict[str, ServiceMarker]:
    """Every enabled service's marker (or only ``services``'), from each runbook's light
    detection."""
    runbooks = select_runbooks(ctx.profile)
    if services is not None:
        runbooks = [r for r in runbooks if r.service in services]
    by_service: dict[str, list[Runbook]] = {}
    for runbook in runbooks:
        by_service.setdefault(runbook.service, []).append(runbook)

    async def detect_service(service: str, items: list[Runbook]) -> ServiceMarker:
        detections = {runbook.name: await runbook.detect(ctx) for runbook in items}
        rank = {Verdict.OK: 0, Verdict.WARNING: 1, Verdict.UNKNOWN: 2, Verdict.CRITICAL: 3}
        name, detection = max(detections.items(), key=lambda item: rank[item[1].verdict])
        return ServiceMarker(service, detection.verdict, name, detection.summary, detections)

    markers = await asyncio.gather(
        *(detect_service(service, items) for service, items in by_service.items())
    )
    return {marker.service: marker for marker in markers}
