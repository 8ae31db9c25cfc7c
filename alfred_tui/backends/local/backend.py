"""The local-process backend: the databases as processes on this machine.

PostgreSQL and Redis run from the binaries found here; Qdrant runs as a
``qdrant`` binary if one is on PATH, and is otherwise embedded through
qdrant-client's local mode (reported as "embedded", with every server-only
capability absent).

Everything of a profile lives in one folder, ``<data dir>/<profile name>/``::

    postgres/      data/, postgres.log, postgres.pid       (owned by postgres when root)
    redis/         data/, redis.conf (0600), redis.log, redis.pid
    qdrant/        the embedded store (qdrant-client local mode)
    qdrant-server/ storage/, snapshots/, config.yaml (0600), qdrant.log  (with a binary)
    safety/        safety copies of removed data, one folder per action
    .lock          held while up/down/restart change the deployment

Servers outlive the command that started them; ``up``, ``status`` and
``down`` recognise them by pid file *and* identity (see :mod:`.processes`),
so a stale pid file never fools them. Scale and resize are not offered: one
process per service, with no cgroup limits.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alfred_tui.backends.base import (
    Backend,
    BackendError,
    Endpoint,
    ExecResult,
    InstanceUsage,
    LogRecord,
    OperationTimeout,
    Progress,
    ProgressCallback,
    ServiceStatus,
    TargetInfo,
    no_progress,
)
from alfred_tui.backends.capabilities import Capability, require_capability, supports
from alfred_tui.backends.endpoints import enabled_service, published_endpoint
from alfred_tui.backends.local.qdrant import EmbeddedQdrant, QdrantServerRunner, qdrant_binary
from alfred_tui.backends.local.runner import ServiceRunner
from alfred_tui.backends.local.usage import TreeSample, sample_trees, usage_between
from alfred_tui.config.models import SERVICE_KINDS, Profile, QdrantService, ServiceKind
from alfred_tui.safety import folder_size, move_into, profile_root
from alfred_tui.units import format_bytes

if TYPE_CHECKING:
    from alfred_tui.backends.local.pgdata import HostDataDirectory
    from alfred_tui.config.loader import LoadedProfile

#: How long up/down/restart wait for another alfred-tui changing the same deployment.
LOCK_WAIT_SECONDS = 300.0
DEFAULT_EXEC_TIMEOUT = 600.0


class LocalBackend(Backend):
    """Databases as background processes under the profile's data folder."""

    name = "local"
    exec_runs_here = True

    def __init__(self, loaded: LoadedProfile, **_engine_options: Any) -> None:
        super().__init__(loaded)
        self._profile: Profile | None = None
        self._runners: dict[ServiceKind, ServiceRunner] = {}
        self._usage_samples: dict[str, TreeSample] = {}

    @property
    def profile(self) -> Profile:
        return self._profile or self.loaded.profile

    @property
    def root(self) -> Path:
        """This profile's folder: databases, logs and pid files live below it."""
        return profile_root(self.profile)

    def target(self) -> TargetInfo:
        return TargetInfo(self.name, str(self.root), {"data_dir": str(self.root)})

    # --- Qdrant's two shapes ------------------------------------------------------

    def qdrant_binary(self) -> str | None:
        """The ``qdrant`` server binary on PATH, if any."""
        return qdrant_binary()

    def qdrant_embedded(self) -> bool:
        """Whether Qdrant runs embedded (no server binary here)."""
        return self.qdrant_binary() is None

    def embedded_qdrant(self) -> EmbeddedQdrant:
        spec = enabled_service(self.profile, "qdrant")
        assert isinstance(spec, QdrantService)  # Services.qdrant holds nothing else
        return EmbeddedQdrant(spec, self.root / "qdrant")

    def runner(self, service: ServiceKind) -> ServiceRunner:
        """The process runner of an enabled service (not for embedded Qdrant)."""
        spec = enabled_service(self.profile, service)
        cached = self._runners.get(service)
        if cached is not None and cached.spec is spec and cached.profile is self.profile:
            return cached
        from alfred_tui.backends.local.postgres import PostgresRunner
        from alfred_tui.backends.local.redis import RedisRunner

        made: ServiceRunner
        if service == "postgres":
            made = PostgresRunner(self.profile, spec, self.root / "postgres")
        elif service == "redis":
            made = RedisRunner(self.profile, spec, self.root / "redis")
        else:
            made = QdrantServerRunner(self.profile, spec, self.root / "qdrant-server")
        self._runners[service] = made
        return made

    def _is_embedded(self, service: ServiceKind) -> bool:
        return service == "qdrant" and self.qdrant_embedded()

    # --- capabilities and endpoints -------------------------------------------------

    def withheld(self, service: ServiceKind) -> frozenset[Capability]:
        """Embedded Qdrant is no process: only deploy and teardown apply to it."""
        if self._is_embedded(service):
            return frozenset(Capability) - {Capability.DEPLOY, Capability.TEARDOWN}
        return frozenset()

    async def endpoint(self, service: ServiceKind) -> Endpoint:
        enabled_service(self.profile, service)
        if self._is_embedded(service):
            return Endpoint(path=str(self.root / "qdrant"))
        return published_endpoint(self.profile, service)

    def _services(self, services: Iterable[ServiceKind] | None) -> list[ServiceKind]:
        """The requested services (all enabled by default) in the spec's order."""
        enabled = [kind for kind, _ in self.profile.services.enabled()]
        if services is None:
            return enabled
        wanted = set(services)
        for kind in wanted:
            enabled_service(self.profile, kind)  # raises ServiceNotFound naming what exists
        return [kind for kind in SERVICE_KINDS if kind in wanted]

    # --- one change at a time ------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _exclusive(self, action: str) -> AsyncIterator[None]:
        """Hold ``<root>/.lock`` while changing the deployment (another alfred-tui waits)."""
        await asyncio.to_thread(self.root.mkdir, parents=True, exist_ok=True)
        with open(self.root / ".lock", "a+") as handle:  # closing releases the lock
            loop = asyncio.get_running_loop()
            deadline = loop.time() + LOCK_WAIT_SECONDS
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if loop.time() > deadline:
                        raise OperationTimeout(
                            f"another alfred-tui has been changing {self.root} for "
                            f"{LOCK_WAIT_SECONDS:g} s; {action} gave up waiting"
                        ) from None
                    await asyncio.sleep(0.2)
            try:
                yield
            except PermissionError as exc:
                raise BackendError(
                    f"permission denied on {exc.filename}: this deployment belongs to another "
                    "user; run as that user (or root), or use another ALFRED_TUI_DATA_DIR",
                    title="Permission denied",
                ) from None

    # --- lifecycle ---------------------------------------------------------------------

    async def deploy(
        self,
        profile: Profile | None = None,
        services: Sequence[ServiceKind] | None = None,
        progress: ProgressCallback = no_progress,
    ) -> None:
        if profile is not None:
            self._profile = profile
        chosen = [kind for kind in self._services(services) if self._desired(kind)]
        async with self._exclusive("up"):
            for index, kind in enumerate(chosen, start=1):
                progress(Progress(f"deploy {kind}", index, len(chosen), "steps", kind))
                if self._is_embedded(kind):
                    await self.embedded_qdrant().deploy(progress)
                else:
                    await self.runner(kind).start(progress)

    def _desired(self, kind: ServiceKind) -> bool:
        spec = self.profile.service(kind)
        return spec is not None and spec.replicas > 0

    async def teardown(
        self,
        remove_volumes: bool = False,
        progress: ProgressCallback = no_progress,
        safety_dir: Path | None = None,
    ) -> None:
        async with self._exclusive("down"):
            stopped = await self._stop_all(progress)
            if not stopped:
                progress(Progress("nothing was running"))
            if remove_volumes:
                await asyncio.to_thread(self._remove_data, progress, safety_dir)

    async def _stop_all(self, progress: ProgressCallback) -> list[ServiceKind]:
        """Stop every server of this profile, newest dependency first."""
        stopped: list[ServiceKind] = []
        for kind in reversed(self._services(None)):
            if self._is_embedded(kind):
                store = self.embedded_qdrant()
                if await asyncio.to_thread(store.mark_stopped):
                    progress(
                        Progress(f"{store.instance}: embedded store marked stopped", service=kind)
                    )
                    stopped.append(kind)
                continue
            if await self.runner(kind).stop(progress):
                stopped.append(kind)
        return stopped

    def _data_folders(self) -> list[tuple[str, Path]]:
        """Every service folder that exists, with the instance it belongs to."""
        names = {kind: spec.name for kind, spec in self.profile.services.enabled()}
        folders = [
            (names.get("postgres", "postgres"), self.root / "postgres"),
            (names.get("redis", "redis"), self.root / "redis"),
            (names.get("qdrant", "qdrant"), self.root / "qdrant"),
            (names.get("qdrant", "qdrant"), self.root / "qdrant-server"),
        ]
        return [(name, path) for name, path in folders if path.exists()]

    def _remove_data(self, progress: ProgressCallback, safety_dir: Path | None) -> None:
        if (self.root / "qdrant").exists() and self.profile.service("qdrant") is not None:
            self.embedded_qdrant().check_free("run down --volumes")
        (self.root / ".qdrant-embedded-stopped").unlink(missing_ok=True)
        for name, folder in self._data_folders():
            if safety_dir is not None:
                moved = move_into(safety_dir, folder)
                progress(Progress(f"{name}: data moved to {moved}"))
            else:
                import shutil

                shutil.rmtree(folder)
                progress(Progress(f"{name}: data deleted ({folder})"))

    async def describe_teardown(self, remove_volumes: bool = False) -> list[str]:
        """Exactly what ``down`` will do here, one line per effect."""

        def describe() -> list[str]:
            lines: list[str] = []
            for kind in reversed(self._services(None)):
                if self._is_embedded(kind):
                    continue
                runner = self.runner(kind)
                pid = runner.running_pid()
                if pid is not None:
                    lines.append(f"stop {runner.instance} (pid {pid}, {runner.stop_signal.name})")
            if remove_volumes:
                for name, folder in self._data_folders():
                    size = format_bytes(folder_size(folder))
                    lines.append(f"remove {name}'s data: {folder} ({size})")
            return lines or ["nothing: no server runs and no data exists"]

        return await asyncio.to_thread(describe)

    async def restart(self, service: ServiceKind, progress: ProgressCallback = no_progress) -> None:
        require_capability(self, service, Capability.RESTART)
        async with self._exclusive("restart"):
            await self.runner(service).restart(progress)

    async def stop(self, service: ServiceKind, progress: ProgressCallback = no_progress) -> None:
        """Stop one server cleanly; it stays stopped (no supervisor here) until :meth:`start`."""
        require_capability(self, service, Capability.STOP_START)
        async with self._exclusive(f"stop {service}"):
            await self.runner(service).stop(progress)

    async def start(self, service: ServiceKind, progress: ProgressCallback = no_progress) -> None:
        """Start one server with the profile's settings and wait until it is ready."""
        require_capability(self, service, Capability.STOP_START)
        async with self._exclusive(f"start {service}"):
            await self.runner(service).start(progress)

    # --- observation ---------------------------------------------------------------------

    async def status(self) -> list[ServiceStatus]:
        async def one(kind: ServiceKind) -> ServiceStatus:
            if self._is_embedded(kind):
                return await self.embedded_qdrant().status()
            return await self.runner(kind).status()

        return list(await asyncio.gather(*(one(kind) for kind in self._services(None))))

    async def instance_endpoints(self, service: ServiceKind) -> dict[str, Endpoint]:
        """One process per service: its instance is reached at the service's endpoint."""
        require_capability(self, service, Capability.INSTANCE_ENDPOINTS)
        runner = self.runner(service)
        running = await asyncio.to_thread(runner.running_pid)
        return {} if running is None else {runner.instance: runner.endpoint()}

    async def usage(self, services: Iterable[ServiceKind] | None = None) -> list[InstanceUsage]:
        """Each server's process tree from /proc (see :mod:`.usage`); no limits apply."""
        kinds = [k for k in self._services(services) if supports(self, k, Capability.USAGE)]

        def read() -> list[InstanceUsage]:
            found = []
            runners = [(kind, self.runner(kind)) for kind in kinds]
            pids = {kind: runner.running_pid() for kind, runner in runners}
            samples = sample_trees(pid for pid in pids.values() if pid is not None)
            for kind, runner in runners:
                pid = pids[kind]
                sample = samples.get(pid) if pid is not None else None
                if sample is None:
                    self._usage_samples.pop(runner.instance, None)
                    continue
                previous = self._usage_samples.get(runner.instance)
                self._usage_samples[runner.instance] = sample
                found.append(usage_between(kind, runner.instance, sample, previous))
            return found

        return await asyncio.to_thread(read)

    def logs(
        self,
        services: Iterable[ServiceKind] | None = None,
        follow: bool = False,
        since: datetime | None = None,
        tail: int | None = None,
    ) -> AsyncIterator[LogRecord]:
        from alfred_tui.backends.logfiles import stream_logs

        if services is None:
            kinds = [k for k in self._services(None) if supports(self, k, Capability.LOGS)]
        else:
            kinds = self._services(services)
            for kind in kinds:
                require_capability(
                    self, kind, Capability.FOLLOW_LOGS if follow else Capability.LOGS
                )
        sources = [self.runner(kind).log_source() for kind in kinds]
        return stream_logs(sources, follow=follow, since=since, tail=tail)

    # --- commands and files ------------------------------------------------------------

    async def exec(
        self,
        service: ServiceKind,
        argv: Sequence[str],
        stdin: bytes | None = None,
        instance: str | None = None,
        timeout: float | None = None,
    ) -> ExecResult:
        """Run ``argv`` on this machine, aimed at the instance (see ``Executable.exec``)."""
        require_capability(self, service, Capability.EXEC)
        if not argv:
            raise BackendError("exec needs a command")
        runner = self.runner(service)
        if await asyncio.to_thread(runner.running_pid) is None:
            from alfred_tui.backends.base import NotDeployed

            raise NotDeployed(f"{runner.instance} is not running; run alfred-tui up")
        command, env = runner.client_command(list(argv))
        limit = DEFAULT_EXEC_TIMEOUT if timeout is None else timeout
        try:
            process = await asyncio.create_subprocess_exec(
                *command,
                stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=env,
                cwd=runner.folder,
            )
        except OSError as exc:
            raise BackendError(
                f"cannot run {command[0]}: {exc.strerror or exc}", title="Command not found"
            ) from None
        try:
            stdout, stderr = await asyncio.wait_for(process.communicate(stdin), limit)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
            raise OperationTimeout(
                f"{command[0]} did not finish within {limit:g} s and was killed"
            ) from None
        return ExecResult(process.returncode or 0, stdout, stderr)

    def postgres_data_directory(self) -> HostDataDirectory:
        """PostgreSQL's data directory and WAL archive: folders on this machine."""
        from alfred_tui.backends.local.pgdata import HostDataDirectory

        return HostDataDirectory(self, self.profile)

    async def copy_from(
        self,
        service: ServiceKind,
        path: str,
        destination: Path,
        instance: str | None = None,
    ) -> Path:
        require_capability(self, service, Capability.FILES)
        return await asyncio.to_thread(self.runner(service).copy_out, path, destination)

    async def copy_to(
        self,
        service: ServiceKind,
        source: Path,
        path: str,
        instance: str | None = None,
    ) -> None:
        require_capability(self, service, Capability.FILES)
        await asyncio.to_thread(self.runner(service).copy_in, source, path)
