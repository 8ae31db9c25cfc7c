"""The local-process backend: the databases as processes on this machine.

PostgreSQL and Redis run from the binaries found on this machine; Qdrant runs
as a ``qdrant`` binary if one is on PATH, and is otherwise embedded through
qdrant-client's local mode (reported as "embedded", with every server-only
capability absent).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from alfred_tui import paths
from alfred_tui.backends.base import Backend, Capability, Endpoint
from alfred_tui.backends.endpoints import enabled_service, published_endpoint
from alfred_tui.config.models import ServiceKind


class LocalBackend(Backend):
    """Databases as background processes under the data dir (issue 3 fills in lifecycle)."""

    name = "local"

    @property
    def root(self) -> Path:
        """This profile's folder: databases, logs and pid files live below it."""
        configured = self.profile.local.data_dir
        base = Path(configured).expanduser() if configured else paths.data_dir()
        return base / self.profile.name

    def qdrant_binary(self) -> str | None:
        """The ``qdrant`` server binary on PATH, if any."""
        return shutil.which("qdrant")

    def qdrant_embedded(self) -> bool:
        """Whether Qdrant runs embedded (no server binary here)."""
        return self.qdrant_binary() is None

    def capabilities(self, service: ServiceKind) -> frozenset[Capability]:
        common = {Capability.DEPLOY, Capability.TEARDOWN, Capability.RESTART}
        if service == "qdrant" and self.qdrant_embedded():
            return frozenset(common)
        return frozenset(common | {Capability.LOGS, Capability.FOLLOW_LOGS, Capability.EXEC})

    async def endpoint(self, service: ServiceKind) -> Endpoint:
        enabled_service(self.profile, service)
        if service == "qdrant" and self.qdrant_embedded():
            return Endpoint(path=str(self.root / "qdrant"))
        return published_endpoint(self.profile, service)

    async def deploy(self, profile=None, services=None, progress=None) -> None:  # type: ignore[no-untyped-def]
        raise NotImplementedError

    async def teardown(self, remove_volumes: bool = False, progress=None) -> None:  # type: ignore[no-untyped-def]
        raise NotImplementedError

    async def status(self):  # type: ignore[no-untyped-def]
        raise NotImplementedError
