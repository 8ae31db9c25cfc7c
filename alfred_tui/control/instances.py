"""Each instance's replication and resource usage, read for the overview and ``status``.

:class:`InstanceReader` keeps one connection per instance (a replica's,
not only the primary's), reads each instance's replication view under a
short timeout, and retries an instance that does not answer with
:class:`~alfred_tui.control.backoff.Backoff` while showing its last reason,
so a frozen replica costs one timeout now and then, not one per refresh.
Usage comes from the engine (:class:`~alfred_tui.backends.capabilities.
UsageReporting`) in one call for every instance. An engine without these
capabilities simply yields none: the rows say so rather than guess.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from alfred_tui.backends.base import Backend, InstanceStatus, InstanceUsage
from alfred_tui.backends.capabilities import (
    InstanceAddressing,
    UsageReporting,
    capable,
    settled_usage,
)
from alfred_tui.checks.instances import REPLICATED, InstanceProbe, InstanceReplication, compose
from alfred_tui.config.models import ServiceKind
from alfred_tui.control.backoff import Backoff
from alfred_tui.databases.failures import DatabaseUnavailable
from alfred_tui.errors import AlfredError
from alfred_tui.redact import redact

#: Seconds one instance's replication read may take (a frozen replica costs this).
INSTANCE_TIMEOUT = 2.0


@dataclass
class _Instance:
    probe: InstanceProbe
    backoff: Backoff
    last: Any = None
    """The last view, or the reason the last read failed (a ``str``)."""


@dataclass
class InstanceReader:
    """Replication views and usage of every instance of a backend's services."""

    backend: Backend
    timeout: float = INSTANCE_TIMEOUT
    refresh_seconds: float = 2.0
    backoff_cap: float = 30.0
    clock: Callable[[], float] = time.monotonic
    _instances: dict[tuple[ServiceKind, str], _Instance] = field(default_factory=dict)

    async def replication(self, kind: ServiceKind) -> dict[str, InstanceReplication]:
        """One row per running instance of ``kind`` (empty when the engine cannot say).

        Raises :class:`~alfred_tui.errors.AlfredError` when the engine cannot
        list the instances (the caller shows it and retries).
        """
        addressing = capable(self.backend, kind, InstanceAddressing)
        if kind not in REPLICATED or addressing is None:
            return {}
        endpoints = await addressing.instance_endpoints(kind)
        for key in [key for key in self._instances if key[0] == kind and key[1] not in endpoints]:
            await self._instances.pop(key).probe.close()
        now = self.clock()
        jobs = {}
        for name, endpoint in endpoints.items():
            state = self._instances.get((kind, name))
            if state is not None and state.probe.endpoint != endpoint:
                await state.probe.close()
                state = None
            if state is None:
                probe = InstanceProbe(kind, self.backend.profile, endpoint, self.timeout)
                state = _Instance(probe, Backoff(self.refresh_seconds, self.backoff_cap))
                self._instances[(kind, name)] = state
            if state.backoff.due(now):
                jobs[name] = asyncio.ensure_future(self._read(state, now))
        if jobs:
            await asyncio.gather(*jobs.values())
        views = {}
        for name in endpoints:
            state = self._instances[(kind, name)]
            last = state.last
            if isinstance(last, str) and state.backoff.next_attempt > now:
                last = f"{last} - retry in {state.backoff.next_attempt - now:.0f} s"
            views[name] = last if last is not None else "not read yet"
        return compose(kind, views)

    async def _read(self, state: _Instance, now: float) -> None:
        try:
            async with asyncio.timeout(self.timeout * 2):
                state.last = await state.probe.read()
        except TimeoutError:
            state.last = f"timeout after {self.timeout:g} s ({state.probe.endpoint.address()})"
        except DatabaseUnavailable as exc:
            state.last = exc.reason
        except AlfredError as exc:
            state.last = exc.one_line()
        except Exception as exc:  # a library surprise: shown on the row, never a crash
            state.last = redact(f"{type(exc).__name__}: {exc}")[:200]
        else:
            state.backoff.succeeded()
            return
        await state.probe.close()
        state.backoff.failed(now)

    async def usage(self, services: Iterable[ServiceKind] | None = None) -> list[InstanceUsage]:
        """Every instance's usage in one engine call (empty when the engine cannot report it)."""
        reporting = capable(self.backend, None, UsageReporting)
        if reporting is None:
            return []
        return await reporting.usage(services)

    async def close(self) -> None:
        """Close every instance's connection."""
        instances, self._instances = list(self._instances.values()), {}
        for state in instances:
            await state.probe.close()


@dataclass(frozen=True)
class InstanceFacts:
    """Every instance's replication and usage, read once (``status``)."""

    replication: dict[ServiceKind, dict[str, InstanceReplication]] = field(default_factory=dict)
    usage: dict[str, InstanceUsage] = field(default_factory=dict)
    """By instance name."""
    problems: tuple[str, ...] = ()
    """What could not be read, one line each."""


async def read_once(
    backend: Backend, kinds: Iterable[ServiceKind], settle: float = 1.2
) -> InstanceFacts:
    """Replication and usage of every instance, for a command that runs once (``status``).

    Rates need two readings (:func:`~alfred_tui.backends.capabilities.settled_usage`).
    Problems are collected, not raised: ``status`` still prints everything else.
    """
    reader = InstanceReader(backend)
    problems: list[str] = []
    rows: dict[ServiceKind, dict[str, InstanceReplication]] = {}
    usage: list[InstanceUsage] = []
    try:
        for kind in kinds:
            try:
                rows[kind] = await reader.replication(kind)
            except AlfredError as exc:
                problems.append(f"{kind} replication: {exc.one_line()}")
        try:
            reporting = capable(backend, None, UsageReporting)
            usage = [] if reporting is None else await settled_usage(reporting, None, settle)
        except AlfredError as exc:
            problems.append(f"usage: {exc.one_line()}")
    finally:
        await reader.close()
    return InstanceFacts(rows, {u.instance: u for u in usage}, tuple(problems))


def usage_json(usage: InstanceUsage | None) -> dict[str, Any] | None:
    """One instance's usage as ``status``/``overview`` JSON (None when the engine has none)."""
    if usage is None:
        return None
    of_limit = usage.memory_of_limit
    cpu_of_limit = usage.cpu_of_limit
    return {
        "cpu_percent": None if usage.cpu_percent is None else round(usage.cpu_percent, 3),
        "cpu_limit": usage.cpu_limit,
        "cpu_percent_of_limit": None if cpu_of_limit is None else round(cpu_of_limit * 100, 3),
        "memory_bytes": usage.memory,
        "memory_limit_bytes": usage.memory_limit,
        "memory_request_bytes": usage.memory_request,
        "memory_percent_of_limit": None if of_limit is None else round(of_limit * 100, 3),
        "near_limit": near_limit(usage),
        "restarts": usage.restarts,
        "note": usage.note or None,
    }


#: Memory above this fraction of its limit earns an instance the ⚑ (the kernel's OOM
#: killer acts at the limit; page cache is already left out of the figure).
MEMORY_FLAG_RATIO = 0.9


def near_limit(usage: InstanceUsage) -> bool:
    """Whether an instance's memory is above :data:`MEMORY_FLAG_RATIO` of its limit."""
    ratio = usage.memory_of_limit
    return ratio is not None and ratio > MEMORY_FLAG_RATIO


def instance_json(
    instance: InstanceStatus,
    replication: InstanceReplication | None = None,
    usage: InstanceUsage | None = None,
) -> dict[str, Any]:
    """One instance for ``status`` and ``overview`` JSON: state, replication, usage."""
    return {
        "name": instance.name,
        "state": instance.state,
        "health": instance.health,
        "restarts": instance.restarts,
        "started_at": json_time(instance.started_at),
        "role": instance.role or None,
        "detail": instance.detail or None,
        "replication": None if replication is None else replication.to_json(),
        "usage": usage_json(usage),
    }


def json_time(value: datetime | None) -> str | None:
    """An aware time as ISO 8601 UTC with ``Z``."""
    return None if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")


# --- words for people (the overview's rows, the detail view, the status table) -------

#: Marks an instance whose memory is above MEMORY_FLAG_RATIO of its limit.
FLAG = "⚑"


def replication_text(row: InstanceReplication | None) -> str:
    """``primary (2 replicas)``, ``streaming``, ``not streaming``, ``not answering``; ``-``."""
    if row is None:
        return "-"
    if row.state == "primary":
        return f"primary ({row.replicas} repl.)" if row.replicas else "primary"
    return row.state


def lag_text(row: InstanceReplication | None) -> str:
    """``1.2 s, 340 B`` behind its primary; ``-`` for a primary or when unknown."""
    from alfred_tui.units import format_bytes, format_duration

    if row is None or row.state == "primary":
        return "-"
    parts = []
    if row.lag_seconds is not None:
        parts.append(format_duration(row.lag_seconds) if row.lag_seconds >= 1 else "0s")
    if row.lag_bytes is not None:
        parts.append(format_bytes(row.lag_bytes, 0))
    return ", ".join(parts) or "-"


def cpu_text(usage: InstanceUsage | None) -> str:
    """``45%`` of a core, with the limit in the same unit: ``45%/200%``; ``-`` unknown."""
    if usage is None or usage.cpu_percent is None:
        return "-"
    text = f"{usage.cpu_percent:.0f}%"
    if usage.cpu_limit:
        text += f"/{usage.cpu_limit * 100:.0f}%"
    return text


def memory_text(usage: InstanceUsage | None) -> str:
    """``1.2G/4.0G`` against the limit, ``⚑`` above 90% of it; ``-`` unknown."""
    if usage is None or usage.memory is None:
        return "-"
    text = _short_size(usage.memory)
    if usage.memory_limit:
        text += f"/{_short_size(usage.memory_limit)}"
    if near_limit(usage):
        text += f" {FLAG}"
    return text


def _short_size(value: int) -> str:
    """Bytes in four characters or so: ``512M``, ``1.2G``, ``96K``."""
    for unit, size in (("G", 1024**3), ("M", 1024**2), ("K", 1024)):
        if value >= size:
            amount = value / size
            return f"{amount:.1f}{unit}" if amount < 10 else f"{amount:.0f}{unit}"
    return f"{value}B"
