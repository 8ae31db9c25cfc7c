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
from pathlib import Path
from typing import Protocol

from alfred_tui.backends.base import Backend, InstanceUsage, NotDeployed, ServiceStatus
from alfred_tui.checks.instances import InstanceReplication
from alfred_tui.checks.probes import ServiceProbe, make_probe
from alfred_tui.checks.report import ServiceReport
from alfred_tui.checks.runner import guarded_probe
from alfred_tui.config.models import ServiceKind
from alfred_tui.control.instances import InstanceReader

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

    async def replication(self, kind: ServiceKind) -> dict[str, InstanceReplication]:
        """Each instance's part in replication (may raise an AlfredError)."""
        ...

    async def usage(self) -> list[InstanceUsage]:
        """Each instance's CPU and memory against its limits (may raise an AlfredError)."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


class LiveSource:
    """The real thing: ``Backend.status()`` and probes kept open between polls."""

    def __init__(self, backend: Backend, timeout: float = 5.0) -> None:
        self.backend = backend
        self.timeout = timeout
        self._probes: dict[ServiceKind, ServiceProbe] = {}
        self.instances = InstanceReader(backend, timeout=min(timeout, 2.0))

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
        report, probe = await guarded_probe(kind, self.timeout, lambda: self._open(kind))
        if not report.up or self._is_embedded(probe):
            # A down service gets a fresh endpoint and connection on the next attempt.
            # An embedded Qdrant store admits one client at a time, so it is released
            # after every reading and `alfred-tui check` elsewhere can still read it.
            await self._drop(kind)
        return report

    async def replication(self, kind: ServiceKind) -> dict[str, InstanceReplication]:
        return await self.instances.replication(kind)

    async def usage(self) -> list[InstanceUsage]:
        return await self.instances.usage()

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
        await self.instances.close()
