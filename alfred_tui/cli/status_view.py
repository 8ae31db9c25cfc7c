"""``status`` output: a table for people, a versioned JSON document for scripts.

The JSON document (``"schema": "alfred-tui/status", "version": 1``) is
described by ``assets/schemas/status.v1.schema.json``; within a version
fields are only ever added. It carries each service's capabilities, so a
script (or the UI) can ask what it may do before trying.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from alfred_tui.backends.capabilities import capabilities
from alfred_tui.control.instances import InstanceFacts, instance_json, json_time
from alfred_tui.units import format_bytes, format_duration

if TYPE_CHECKING:
    from rich.table import Table

    from alfred_tui.backends.base import Backend, ResourceAmounts, ServiceStatus

JSON_SCHEMA_ID = "alfred-tui/status"
JSON_SCHEMA_VERSION = 1

STATE_STYLES = {
    "healthy": "green",
    "running": "green",
    "starting": "yellow",
    "unhealthy": "bold red",
    "exited": "bold red",
    "down": "dim",
    "unknown": "magenta",
}


def _amounts(amounts: ResourceAmounts) -> dict[str, Any]:
    return {"cpus": amounts.cpus, "memory_bytes": amounts.memory}


def service_json(
    status: ServiceStatus, backend: Backend, now: datetime, facts: InstanceFacts | None = None
) -> dict[str, Any]:
    """One service as JSON; ``facts`` adds each instance's replication and usage."""
    facts = facts or InstanceFacts()
    rows = facts.replication.get(status.service, {})
    uptime = status.uptime_seconds(now)
    return {
        "service": status.service,
        "deployed": status.deployed,
        "embedded": status.embedded,
        "desired": status.desired,
        "ready": status.ready,
        "image": status.image or None,
        "endpoints": list(status.endpoints),
        "started_at": json_time(status.started_at),
        "uptime_seconds": None if uptime is None else round(uptime, 3),
        "restarts": status.restarts,
        "limits": _amounts(status.limits),
        "reservations": _amounts(status.reservations),
        "capabilities": sorted(c.value for c in capabilities(backend, status.service)),
        "note": status.note or None,
        "instances": [
            instance_json(i, rows.get(i.name), facts.usage.get(i.name)) for i in status.instances
        ],
    }


def status_document(
    statuses: list[ServiceStatus],
    backend: Backend,
    now: datetime | None = None,
    facts: InstanceFacts | None = None,
) -> dict[str, Any]:
    """The versioned JSON document of ``status`` (``facts``: replication and usage)."""
    moment = now or datetime.now(UTC)
    target = backend.target()
    return {
        "schema": JSON_SCHEMA_ID,
        "version": JSON_SCHEMA_VERSION,
        "profile": backend.profile.name,
        "backend": backend.name,
        "target": target.where or None,
        "generated_at": json_time(moment),
        "services": [service_json(s, backend, moment, facts) for s in statuses],
        "problems": list(facts.problems) if facts else [],
    }


def _health(status: ServiceStatus) -> str:
    if not status.instances:
        return "none"
    healths = {i.health for i in status.instances}
    for worst in ("unhealthy", "starting", "unknown", "healthy"):
        if worst in healths:
            return worst
    return "none"


def _state(status: ServiceStatus) -> str:
    """One word a person reads first: healthy, starting, unhealthy, exited, down."""
    if not status.instances:
        return "down"
    states = {i.state for i in status.instances}
    if states <= {"running"}:
        health = _health(status)
        return "running" if health == "none" else health
    return ", ".join(sorted(states))


def _resources(status: ServiceStatus) -> str:
    limits = status.limits
    parts = []
    if limits.cpus is not None:
        parts.append(f"{limits.cpus:g} cpu")
    if limits.memory is not None:
        parts.append(format_bytes(limits.memory))
    return " / ".join(parts)


def _endpoint(status: ServiceStatus) -> str:
    if status.embedded:
        return "embedded"
    return ", ".join(status.endpoints) or "-"


def status_notes(statuses: list[ServiceStatus]) -> list[str]:
    """The lines printed under the table: each instance's detail, then each note."""
    lines = []
    for status in statuses:
        for instance in status.instances:
            if instance.detail:
                lines.append(f"{status.service}: {instance.name}: {instance.detail}")
        if status.note:
            lines.append(f"{status.service}: {status.note}")
    return lines


def status_table(statuses: list[ServiceStatus], now: datetime | None = None) -> Table:
    """The status as a compact Rich table, one row per service (fits 80 columns)."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    moment = now or datetime.now(UTC)
    with_limits = any(_resources(s) for s in statuses)
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 1, 0, 0))
    for column in ("Service", "Ready", "State", "Restarts", "Uptime"):
        table.add_column(column, no_wrap=True)
    table.add_column("Endpoint", no_wrap=True, overflow="ellipsis")
    table.add_column("Image", min_width=16, overflow="fold")
    if with_limits:
        table.add_column("Limits", no_wrap=True)
    for status in statuses:
        state = _state(status)
        row: list[str | Text] = [
            status.service,
            f"{status.ready}/{status.desired}",
            Text(state, style=STATE_STYLES.get(state, "")),
            str(status.restarts),
            format_duration(status.uptime_seconds(moment)),
            _endpoint(status),
            status.image or "-",
        ]
        if with_limits:
            row.append(_resources(status) or "-")
        table.add_row(*row)
    return table


def instances_table(statuses: list[ServiceStatus], facts: InstanceFacts) -> Table | None:
    """Each instance's role, replication, lag, CPU and memory; None when nothing was read."""
    from rich import box
    from rich.table import Table

    from alfred_tui.control.instances import cpu_text, lag_text, memory_text, replication_text

    if not facts.replication and not facts.usage:
        return None
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 1, 0, 0))
    for column in ("Service", "Instance", "Replication", "Lag", "CPU", "Memory"):
        table.add_column(column, no_wrap=column != "Instance", overflow="fold")
    for status in statuses:
        rows = facts.replication.get(status.service, {})
        for instance in status.instances:
            row, usage = rows.get(instance.name), facts.usage.get(instance.name)
            table.add_row(
                status.service,
                instance.name,
                replication_text(row),
                lag_text(row),
                cpu_text(usage),
                memory_text(usage),
            )
    return table


def instance_notes(facts: InstanceFacts) -> list[str]:
    """Why a replica does not stream, why usage is missing, what could not be read."""
    lines = [f"{kind}: {name}: {row.reason}" for kind, rows in facts.replication.items()
             for name, row in rows.items() if row.reason]  # fmt: skip
    notes = {u.note for u in facts.usage.values() if u.note and u.memory is None}
    lines += [f"usage: {note}" for note in sorted(notes)]
    return lines + list(facts.problems)
