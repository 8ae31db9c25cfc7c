"""Reading a service's state out of ``docker inspect`` documents.

Pure functions over the engine's JSON (``Container.attrs``), so what status
shows is exactly what ``docker inspect`` says: State (status, health,
OOMKilled, exit code), RestartCount, HostConfig resources and the published
ports in NetworkSettings.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import datetime
from typing import Any

from alfred_tui.backends.base import (
    Health,
    InstanceState,
    InstanceStatus,
    ResourceAmounts,
    ServiceStatus,
)
from alfred_tui.backends.docker.logs import parse_timestamp
from alfred_tui.backends.docker.spec import MANAGED_BY, NUMBER, ROLE, SHARES_PER_CPU
from alfred_tui.config.models import ServiceKind, ServiceSpec
from alfred_tui.redact import redact

_STATES: dict[str, InstanceState] = {
    "running": "running",
    "created": "starting",
    "restarting": "restarting",
    "paused": "stopped",
    "exited": "exited",
    "removing": "stopped",
    "dead": "failed",
}
_HEALTH: dict[str, Health] = {
    "healthy": "healthy",
    "unhealthy": "unhealthy",
    "starting": "starting",
}


def number_of(attrs: dict[str, Any]) -> int:
    """The Compose container number (1 when the label is missing or odd)."""
    try:
        return int(attrs["Config"]["Labels"].get(NUMBER, "1"))
    except (KeyError, TypeError, ValueError):
        return 1


#: How a failover renames the old primary it fences off: ``<name>-fenced-<UTC time>``
#: (``docker ps -a`` shows it; the time keeps a second fencing of the same number apart).
FENCED = re.compile(r"-fenced-\d{8}T\d{6}Z$")


def fenced_name(name: str, at: datetime) -> str:
    """The name a fenced container gets."""
    return f"{name}-fenced-{at.strftime('%Y%m%dT%H%M%SZ')}"


def is_fenced(attrs: dict[str, Any]) -> bool:
    """Whether the container is an old primary a failover stopped for good."""
    return FENCED.search(container_name(attrs)) is not None


def unfenced_name(name: str) -> str:
    """The instance name a fenced container had."""
    return FENCED.sub("", name)


def primary_first(attrs: dict[str, Any]) -> tuple[int, int]:
    """Sort key: the instance labelled primary first, then by number."""
    return (0 if labels_of(attrs).get(ROLE) == "primary" else 1, number_of(attrs))


def primary_number(containers: list[dict[str, Any]]) -> int:
    """The number of the instance labelled primary (1 when none is)."""
    for attrs in containers:
        if labels_of(attrs).get(ROLE) == "primary":
            return number_of(attrs)
    return 1


def labels_of(attrs: dict[str, Any]) -> dict[str, str]:
    """The container's labels."""
    return (attrs.get("Config") or {}).get("Labels") or {}


def is_adopted(attrs: dict[str, Any]) -> bool:
    """Made by something else (the platform's Compose file), not by alfred-tui."""
    return MANAGED_BY not in labels_of(attrs)


def container_name(attrs: dict[str, Any]) -> str:
    """The name without Docker's leading slash."""
    return str(attrs.get("Name", "")).lstrip("/")


def _time(value: str | None) -> datetime | None:
    if not value or value.startswith("0001-01-01"):
        return None
    return parse_timestamp(value)


def health_of(attrs: dict[str, Any]) -> Health:
    """The engine's health verdict, ``none`` without a health check."""
    health = (attrs.get("State") or {}).get("Health")
    if not health:
        return "none"
    return _HEALTH.get(health.get("Status", ""), "unknown")


def state_of(attrs: dict[str, Any]) -> InstanceState:
    """The container's state in the contract's words."""
    return _STATES.get((attrs.get("State") or {}).get("Status", ""), "unknown")


def is_ready(attrs: dict[str, Any]) -> bool:
    """Running, and healthy when it has a health check."""
    return state_of(attrs) == "running" and health_of(attrs) in ("healthy", "none")


def exit_reason(exit_code: int | None, oom: bool = False, error: str = "") -> str:
    """``exit 137 (killed)``, ``OOMKilled``..., as a person reads it."""
    if oom:
        return f"OOMKilled (exit {exit_code})" if exit_code is not None else "OOMKilled"
    if exit_code is None:
        return error
    meaning = {0: "", 1: "error", 137: "killed", 139: "segfault", 143: "terminated"}
    text = f"exit {exit_code}"
    if meaning.get(exit_code):
        text += f" ({meaning[exit_code]})"
    return f"{text}: {error}" if error else text


def detail_of(attrs: dict[str, Any], last_exit: str = "") -> str:
    """A short reason beside the state: why it stopped, or why it restarted."""
    state = attrs.get("State") or {}
    status = state_of(attrs)
    if state.get("Status") == "paused" or state.get("Paused"):
        return "paused (docker unpause resumes it)"
    if status in ("exited", "failed", "stopped"):
        return exit_reason(
            state.get("ExitCode"), bool(state.get("OOMKilled")), state.get("Error", "")
        )
    if status == "restarting":
        return exit_reason(state.get("ExitCode"), bool(state.get("OOMKilled")))
    if health_of(attrs) == "unhealthy":
        log = (state.get("Health") or {}).get("Log") or []
        output = str(log[-1].get("Output", "")).strip() if log else ""
        last_line = output.splitlines()[-1][:120] if output else ""
        return f"unhealthy: {redact(last_line)}" if last_line else "unhealthy"
    if attrs.get("RestartCount") and last_exit:
        return f"last exit: {last_exit}"
    return ""


def instance_status(attrs: dict[str, Any], last_exit: str = "") -> InstanceStatus:
    """One container as the contract's instance."""
    state = attrs.get("State") or {}
    running = state_of(attrs) == "running"
    role = labels_of(attrs).get(ROLE, "")
    return InstanceStatus(
        name=container_name(attrs),
        state=state_of(attrs),
        health=health_of(attrs),
        restarts=int(attrs.get("RestartCount") or 0),
        started_at=_time(state.get("StartedAt")) if running else None,
        role=role,
        detail=detail_of(attrs, last_exit),
    )


def published(attrs: dict[str, Any]) -> list[str]:
    """``host:port`` of every published port, as a client here would connect."""
    ports = ((attrs.get("NetworkSettings") or {}).get("Ports")) or {}
    found: list[str] = []
    for bindings in ports.values():
        for binding in bindings or []:
            host_ip, host_port = binding.get("HostIp") or "0.0.0.0", binding.get("HostPort")
            if not host_port:
                continue
            address = ipaddress.ip_address(host_ip)
            if address.version == 6 and address.is_unspecified:
                continue  # the IPv6 twin of a 0.0.0.0 binding
            host = "127.0.0.1" if address.is_unspecified else host_ip
            entry = f"{host}:{host_port}"
            if entry not in found:
                found.append(entry)
    return found


def resources_of(attrs: dict[str, Any]) -> tuple[ResourceAmounts, ResourceAmounts]:
    """Limits and reservations as the engine applies them now (after any resize)."""
    host = attrs.get("HostConfig") or {}
    nano = host.get("NanoCpus") or 0
    if not nano and host.get("CpuQuota") and host.get("CpuPeriod"):
        nano = host["CpuQuota"] / host["CpuPeriod"] * 1e9
    shares = host.get("CpuShares") or 0
    limits = ResourceAmounts(cpus=nano / 1e9 if nano else None, memory=host.get("Memory") or None)
    reservations = ResourceAmounts(
        cpus=shares / SHARES_PER_CPU if shares else None,
        memory=host.get("MemoryReservation") or None,
    )
    return limits, reservations


def service_status(
    kind: ServiceKind,
    spec: ServiceSpec,
    containers: list[dict[str, Any]],
    last_exits: dict[str, str] | None = None,
) -> ServiceStatus:
    """A service from the inspect documents of its containers (any state)."""
    containers = sorted(containers, key=primary_first)
    last_exits = last_exits or {}
    instances = tuple(
        instance_status(attrs, last_exits.get(attrs.get("Id", ""), "")) for attrs in containers
    )
    if not containers:
        return ServiceStatus(service=kind, desired=spec.replicas, ready=0, image=spec.image)
    first = containers[0]
    limits, reservations = resources_of(first)
    endpoints: list[str] = []
    for attrs in containers:
        endpoints.extend(e for e in published(attrs) if e not in endpoints)
    started = [i.started_at for i in instances if i.started_at is not None]
    notes = []
    if any(is_adopted(attrs) for attrs in containers):
        notes.append("made by docker compose; managed here too")
    return ServiceStatus(
        service=kind,
        desired=len(containers),
        ready=sum(1 for attrs in containers if is_ready(attrs)),
        instances=instances,
        image=(first.get("Config") or {}).get("Image", spec.image),
        endpoints=tuple(endpoints),
        limits=limits,
        reservations=reservations,
        started_at=min(started) if started else None,
        note="; ".join(notes),
    )
