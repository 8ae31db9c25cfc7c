"""Where the overview's data comes from: the backend's status and the service probes.

:class:`LiveSource` keeps one :class:`~alfred_tui.checks.probes.ServiceProbe`
per service open between polls (a probe on an open connection costs about
0.1 ms, a new connection 4-19 ms) and drops it only when the service stops
answering, so the next attempt resolves the endpoint again (a restarted
container or a re-opened port-forward may have moved it).

Anything that produces the same data can stand in for it: snapshot tests
inject fixed data through the :class:`OverviewSource` protocol.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import time
from pathlib import Path
from typing import Protocol

from alfred_tui.backends.base import Backend, NotDeployed, ServiceStatus
from alfred_tui.checks.probes import ServiceProbe, make_probe
from alfred_tui.checks.report import ServiceReport
from alfred_tui.config.models import ServiceKind
from alfred_tui.errors import AlfredError
from alfred_tui.metrics import Reading, Verdict
from alfred_tui.redact import redact

#: The client module each probe needs; imported in a thread before first use so
#: the UI's event loop never stalls on a 100-200 ms import.
_CLIENT_MODULES: dict[ServiceKind, str] = {
    "postgres": "alfred_tui.databases.postgres",
    "redis": "alfred_tui.databases.redis",
    "qdrant": "alfred_tui.databases.qdrant",
}


class OverviewSource(Protocol):
    """Deployment state and health of a profile's services."""

    async def status(self) -> list[ServiceStatus]:
        """The backend's view of every service (may raise a BackendError)."""
        ...

    async def probe(self, kind: ServiceKind) -> ServiceReport:
        """One health reading of ``kind``; a failure is a DOWN report, never an exception."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


def failed_report(
    kind: ServiceKind,
    address: str,
    reason: str,
    started: float,
    verdict: Verdict = Verdict.CRITICAL,
) -> ServiceReport:
    """A report for a service that could not be probed at all."""
    critical = verdict == Verdict.CRITICAL
    up = Reading(f"{kind}_up", 0.0 if critical else None, verdict if critical else None, reason)
    return ServiceReport(
        service=kind,
        address=address,
        up=False,
        verdict=verdict,
        reason=reason,
        readings=(up,),
        duration_ms=(time.perf_counter() - started) * 1000,
        checked_at=time.time(),
    )


class LiveSource:
    """The real thing: ``Backend.status()`` and probes kept open between polls."""

    def __init__(self, backend: Backend, timeout: float = 5.0) -> None:
        self.backend = backend
        self.timeout = timeout
        self._probes: dict[ServiceKind, ServiceProbe] = {}

    async def status(self) -> list[ServiceStatus]:
        return await self.backend.status()

    async def _open(self, kind: ServiceKind) -> ServiceProbe:
        probe = self._probes.get(kind)
        if probe is None:
            endpoint = await self.backend.endpoint(kind)
            if endpoint.embedded and not await asyncio.to_thread(Path(str(endpoint.path)).exists):
                # Opening it would create an empty store where the deployment has none.
                raise NotDeployed(f"no embedded store at {endpoint.path} (deploy it first)")
            await asyncio.to_thread(importlib.import_module, _CLIENT_MODULES[kind])
            probe = make_probe(kind, self.backend.profile, endpoint, self.timeout)
            self._probes[kind] = probe
        return probe

    async def probe(self, kind: ServiceKind) -> ServiceReport:
        started = time.perf_counter()
        probe: ServiceProbe | None = None
        try:
            async with asyncio.timeout(self.timeout):
                probe = await self._open(kind)
                report = await probe.probe()
        except TimeoutError:
            address = probe.address if probe else "endpoint"
            report = failed_report(
                kind, address, f"timeout after {self.timeout:g} s ({address})", started
            )
        except AlfredError as exc:
            report = failed_report(kind, "-", exc.one_line(), started)
        except Exception as exc:  # a library surprise: UNKNOWN with its words, never a crash
            message = redact(f"{type(exc).__name__}: {exc}")[:200]
            address = probe.address if probe else "-"
            report = failed_report(kind, address, message, started, Verdict.UNKNOWN)
        if not report.up or self._is_embedded(probe):
            # A down service gets a fresh endpoint and connection on the next attempt.
            # An embedded Qdrant store admits one client at a time, so it is released
            # after every reading and `alfred-tui check` elsewhere can still read it.
            await self._drop(kind)
        return report

    @staticmethod
    def _is_embedded(probe: ServiceProbe | None) -> bool:
        return probe is not None and probe.endpoint.embedded

    async def _drop(self, kind: ServiceKind) -> None:
        probe = self._probes.pop(kind, None)
        if probe is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(probe.close(), 1.0)

    async def close(self) -> None:
        for kind in list(self._probes):
            await self._drop(kind)
