"""The overview as a versioned JSON document (``alfred-tui overview --output json``).

The document carries ``"schema": "alfred-tui/overview", "version": 1`` and
is described by ``assets/schemas/overview.v1.schema.json``; fields are only
ever added within a version. Each service's ``health`` is the same object
``alfred-tui check --output json`` prints for it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from alfred_tui.backends.base import ResourceAmounts, ServiceStatus
from alfred_tui.checks.output import report_json
from alfred_tui.checks.report import CheckReport
from alfred_tui.config.models import MetricThreshold
from alfred_tui.control.instances import instance_json, json_time
from alfred_tui.control.monitor import OverviewSnapshot

SCHEMA_ID = "alfred-tui/overview"
SCHEMA_VERSION = 1


def _amounts(amounts: ResourceAmounts) -> dict[str, Any]:
    return {"cpus": amounts.cpus, "memory_bytes": amounts.memory}


def _deployment(status: ServiceStatus, now: datetime, snapshot: OverviewSnapshot) -> dict[str, Any]:
    rows = snapshot.replication.get(status.service, {})
    return {
        "desired": status.desired,
        "ready": status.ready,
        "image": status.image or None,
        "endpoints": list(status.endpoints),
        "embedded": status.embedded,
        "restarts": status.restarts,
        "started_at": json_time(status.started_at),
        "uptime_seconds": status.uptime_seconds(now),
        "limits": _amounts(status.limits),
        "reservations": _amounts(status.reservations),
        "note": status.note or None,
        "instances": [
            instance_json(i, rows.get(i.name), snapshot.usage.get(i.name)) for i in status.instances
        ],
    }


def overview_document(
    snapshot: OverviewSnapshot, thresholds: dict[str, MetricThreshold]
) -> dict[str, Any]:
    """``snapshot`` as the versioned JSON document."""
    now = datetime.fromtimestamp(snapshot.taken_at, UTC)
    reports = tuple(view.report for view in snapshot.services if view.report is not None)
    health = {
        entry["service"]: entry
        for entry in report_json(
            CheckReport(snapshot.profile, snapshot.backend, now, reports), thresholds
        )["services"]
    }
    return {
        "schema": SCHEMA_ID,
        "version": SCHEMA_VERSION,
        "profile": snapshot.profile,
        "backend": snapshot.backend,
        "taken_at": json_time(now),
        "status_error": snapshot.status_error or None,
        "instances_error": snapshot.instances_error or None,
        "services": [
            {
                "service": view.kind,
                "state": view.state,
                "reason": (view.report.reason or None) if view.report else None,
                "deployment": (
                    None if view.status is None else _deployment(view.status, now, snapshot)
                ),
                "health": health.get(view.kind),
            }
            for view in snapshot.services
        ],
    }
