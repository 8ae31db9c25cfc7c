"""Qdrant on this machine: a ``qdrant`` server process when the binary is on PATH,
otherwise an embedded store (qdrant-client's local mode) in a folder.

The server gets a 0600 config file (ports, storage, API key) and logs to
``qdrant.log``. The embedded store is not a process: ``up`` creates it,
status reports it as "embedded", and everything only a server has
(snapshots, metrics, logs, exec) is absent from its capabilities, never
imitated. qdrant-client is imported only for the embedded store.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import re
import shutil
from importlib import metadata
from pathlib import Path

from alfred_tui.backends.base import (
    BackendError,
    Health,
    InstanceStatus,
    OperationFailed,
    Progress,
    ProgressCallback,
    ServiceStatus,
)
from alfred_tui.backends.local.processes import Account
from alfred_tui.backends.local.runner import Launch, ServiceRunner, base_environment
from alfred_tui.backends.readiness import Readiness, http_ready
from alfred_tui.config.models import QdrantService


def qdrant_binary() -> str | None:
    """The ``qdrant`` server binary on PATH, if any."""
    return shutil.which("qdrant")


class QdrantServerRunner(ServiceRunner):
    """A ``qdrant`` binary under ``<root>/qdrant-server``: storage, snapshots, log."""

    kind = "qdrant"
    program = "Qdrant"
    start_timeout = 60.0
    stop_timeout = 30.0
    port_env = "ALFRED_LOCAL_QDRANT_PORT"

    spec: QdrantService

    @property
    def workdir(self) -> Path:
        return self.folder

    @property
    def account(self) -> Account | None:
        return None  # there is no conventional qdrant system user; it runs as we do

    @property
    def config_file(self) -> Path:
        return self.folder / "config.yaml"

    def binary(self) -> Path:
        found = qdrant_binary()
        if found is None:
            raise BackendError("qdrant not found on PATH")
        return Path(found)

    def version_command(self) -> list[str]:
        return [str(self.binary()), "--version"]

    def format_version(self, output: str) -> str:
        match = re.search(r"(\d+\.\d+\.\d+\S*)", output)
        return f"Qdrant {match.group(1)}" if match else output or self.program

    def config_text(self) -> str:
        """Qdrant's config as JSON (a YAML subset Qdrant reads); the API key stays in it."""
        ports = self.spec.ports
        service: dict[str, object] = {
            "host": ports[0].host_ip,
            "http_port": ports[0].host_port,
        }
        if len(ports) > 1:
            service["grpc_port"] = ports[1].host_port
        if self.spec.api_key is not None:
            service["api_key"] = self.spec.api_key.get_secret_value()
        config = {
            "log_level": "INFO",
            "storage": {
                "storage_path": str(self.folder / "storage"),
                "snapshots_path": str(self.folder / "snapshots"),
            },
            "service": service,
            "telemetry_disabled": True,
        }
        return json.dumps(config, indent=2) + "\n"

    async def prepare(self, progress: ProgressCallback) -> None:
        await asyncio.to_thread(self._write_files)

    def _write_files(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        temporary = self.config_file.with_suffix(".tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(self.config_text())
        temporary.replace(self.config_file)

    def launch(self) -> Launch:
        env = base_environment()
        for key in self.spec.environment:  # QDRANT__* settings; secrets stay in the config
            value = self.spec.env(key)
            if value is not None and key not in ("QDRANT__SERVICE__API_KEY",):
                env[key] = value
        argv = [str(self.binary()), "--config-path", str(self.config_file)]
        return Launch(argv=argv, env=env, cwd=self.folder)

    def fingerprint_inputs(self, launch: Launch) -> list[str]:
        return [*launch.argv, self.config_text(), json.dumps(launch.env, sort_keys=True)]

    async def readiness(self, timeout: float = 3.0) -> Readiness:
        endpoint = self.endpoint()
        assert endpoint.host is not None and endpoint.port is not None
        return await http_ready(endpoint.host, endpoint.port, "/healthz", timeout)

    def client_command(self, argv: list[str]) -> tuple[list[str], dict[str, str]]:
        """Any program, with ``QDRANT_URL`` (and ``QDRANT_API_KEY``) aimed at the server."""
        env = {**os.environ, "QDRANT_URL": self.endpoint().url("http")}
        if self.spec.api_key is not None:
            env["QDRANT_API_KEY"] = self.spec.api_key.get_secret_value()
        return argv, env


class EmbeddedQdrant:
    """Qdrant's storage in a folder, opened in-process by whoever reads it.

    qdrant-client lets one process hold the folder at a time (an exclusive
    ``flock`` on ``.lock``); status tells whether another process holds it.
    """

    def __init__(self, spec: QdrantService, path: Path) -> None:
        self.spec = spec
        self.path = path

    @property
    def stopped_marker(self) -> Path:
        """Written by ``down``: the store is kept but not part of the deployment."""
        return self.path.with_name(".qdrant-embedded-stopped")

    def mark_stopped(self) -> bool:
        """Record a ``down`` (there is no process to stop); True when it was up."""
        if not self.initialised() or self.stopped_marker.exists():
            return False
        self.stopped_marker.write_text("stopped by alfred-tui down\n")
        return True

    @property
    def instance(self) -> str:
        return self.spec.name

    def initialised(self) -> bool:
        """Whether ``up`` has created the store (qdrant-client's meta.json exists)."""
        return (self.path / "meta.json").is_file()

    def held_elsewhere(self) -> bool:
        """Whether another process has the store open right now (blocking, instant)."""
        lock = self.path / ".lock"
        try:
            with open(lock, "r+") as handle:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    return True
                fcntl.flock(handle, fcntl.LOCK_UN)
                return False
        except OSError:
            return False

    @staticmethod
    def client_version() -> str:
        """``embedded (qdrant-client X)``, without importing qdrant-client."""
        try:
            return f"embedded (qdrant-client {metadata.version('qdrant-client')})"
        except metadata.PackageNotFoundError:
            return "embedded (qdrant-client missing)"

    async def deploy(self, progress: ProgressCallback) -> None:
        """Create the store folder and let qdrant-client initialise it."""
        progress(Progress(step=f"embedded Qdrant store at {self.path}", service="qdrant"))
        await asyncio.to_thread(self._initialise)

    def _initialise(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        self.stopped_marker.unlink(missing_ok=True)
        if self.initialised():
            return  # created before (qdrant-client's import alone costs about a second)
        from qdrant_client import QdrantClient

        try:
            client = QdrantClient(path=str(self.path))
        except Exception as exc:
            raise OperationFailed(
                f"cannot open the embedded Qdrant store {self.path}: {exc}"
            ) from None
        client.close()

    def check_free(self, action: str) -> None:
        """Refuse to move the store while another process has it open."""
        if self.initialised() and self.held_elsewhere():
            raise BackendError(
                f"the embedded Qdrant store {self.path} is open in another process "
                f"(an alfred-tui UI?); close it, then {action}"
            )

    async def status(self) -> ServiceStatus:
        """Embedded: one instance when the store exists; health is whether it reads."""
        initialised, held, stopped = await asyncio.to_thread(
            lambda: (self.initialised(), self.held_elsewhere(), self.stopped_marker.exists())
        )
        instances: tuple[InstanceStatus, ...] = ()
        ready = 0
        note = "embedded: no qdrant binary on PATH; snapshots and metrics need a server"
        if initialised and stopped:
            note = f"stopped (down); embedded store kept in {self.path}"
        elif initialised:
            health: Health = "healthy"
            detail = "embedded store (no server process)"
            try:
                json.loads((self.path / "meta.json").read_text())
            except (OSError, ValueError) as exc:
                health, detail = "unhealthy", f"meta.json unreadable: {exc}"
            if held:
                detail += "; open in another process"
            instances = (
                InstanceStatus(
                    name=self.instance,
                    state="running",
                    health=health,
                    detail=detail,
                ),
            )
            ready = 1 if health == "healthy" else 0
        return ServiceStatus(
            service="qdrant",
            desired=min(self.spec.replicas, 1),
            ready=ready,
            instances=instances,
            image=self.client_version(),
            endpoints=(f"embedded:{self.path}",),
            embedded=True,
            note=note,
        )
