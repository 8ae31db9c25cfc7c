"""The Docker backend: the profile's databases as containers on a Docker engine.

It deploys what the spec's Compose files describe (named volumes, a bridge
network, environment, command, health checks, ports, resources, restart
policy) with Compose's names and labels, so the platform's own Compose file,
``docker ps`` and ``docker compose ls`` all see one deployment; containers
that file made (same project and service names) are found by those labels
and managed too. See :mod:`.docker_spec` for names and labels.

Scaling: Redis and Qdrant get more containers; Redis instances 2..N are read
replicas (``--replicaof``) of instance 1. PostgreSQL instances 2..N are hot
standbys streaming from the primary: each one's volume is filled by
``pg_basebackup -R`` run from the profile's own image in a throwaway
container, then a container of that image starts on it as a standby (see
:mod:`.docker_replicas`).

The SDK is imported on first use, blocking calls run in worker threads, and
every engine call has a timeout; ``endpoint()`` reads the profile only, so
``alfred-tui check`` never imports docker.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import threading
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from alfred_tui import paths
from alfred_tui.backends import docker_io
from alfred_tui.backends import docker_spec as spec_mod
from alfred_tui.backends.base import (
    Backend,
    BackendEvent,
    Capability,
    Endpoint,
    ExecResult,
    Forbidden,
    LogRecord,
    NotDeployed,
    OperationFailed,
    OperationTimeout,
    Progress,
    ProgressCallback,
    ServiceStatus,
    TargetInfo,
    no_progress,
)
from alfred_tui.backends.docker_engine import (
    DEFAULT_TIMEOUT,
    EngineLocation,
    connect,
    locate_engine,
    unreachable,
)
from alfred_tui.backends.docker_logs import LogSource, merged_logs
from alfred_tui.backends.docker_spec import ContainerPlan, ResourcePlan, plan_container
from alfred_tui.backends.docker_status import (
    exit_reason,
    health_of,
    is_adopted,
    is_ready,
    labels_of,
    number_of,
    service_status,
    state_of,
)
from alfred_tui.backends.endpoints import enabled_service, published_endpoint
from alfred_tui.config.models import PostgresService, RedisService, ServiceKind, ServiceSpec
from alfred_tui.errors import UsageError
from alfred_tui.redact import redact

if TYPE_CHECKING:
    import docker

    from alfred_tui.config.loader import LoadedProfile
    from alfred_tui.config.models import Profile

T = TypeVar("T")

#: Seconds a deploy, scale or restart waits for instances to become healthy.
READY_TIMEOUT = 180.0
#: Seconds the engine gives a container to stop before it kills it (Compose's default).
STOP_TIMEOUT = 10
#: Seconds an image pull may take.
PULL_TIMEOUT = 900.0
#: Seconds an exec'd command may run unless the caller says otherwise.
EXEC_TIMEOUT = 600.0

#: PostgreSQL client tools that read PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE.
PG_TOOLS = frozenset(
    {
        "psql",
        "pg_dump",
        "pg_dumpall",
        "pg_restore",
        "pg_isready",
        "pg_basebackup",
        "vacuumdb",
        "reindexdb",
        "clusterdb",
        "createdb",
        "dropdb",
        "pgbench",
    }
)

_ALL_CAPABILITIES = frozenset(
    {
        Capability.DEPLOY,
        Capability.TEARDOWN,
        Capability.SCALE,
        Capability.RESIZE,
        Capability.RESTART,
        Capability.LOGS,
        Capability.FOLLOW_LOGS,
        Capability.EXEC,
        Capability.EVENTS,
        Capability.FILES,
    }
)


def _threadsafe(progress: ProgressCallback) -> ProgressCallback:
    """A callback a worker thread may call: the report runs on the caller's loop."""
    loop = asyncio.get_running_loop()

    def report(item: Progress) -> None:
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(progress, item)

    return report


class DockerBackend(Backend):
    """The profile's services as Compose-labelled containers on a Docker engine."""

    name = "docker"

    def __init__(
        self, loaded: LoadedProfile, host: str | None = None, timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        super().__init__(loaded)
        self._host = host
        self.timeout = timeout
        self._client: docker.DockerClient | None = None
        self._location: EngineLocation | None = None
        self._connect_lock = asyncio.Lock()
        self.safety_copies: list[Path] = []
        """Tarballs of volumes that ``teardown(remove_volumes=True)`` saved, newest last."""
        try:
            self.project = spec_mod.project_name(self.profile.docker.project)
        except ValueError as exc:
            raise UsageError(f"profile '{self.profile.name}' docker.project: {exc}") from None

    # --- engine ------------------------------------------------------------

    @property
    def location(self) -> EngineLocation:
        """Where the engine is, by the profile, DOCKER_HOST, the docker context or the socket."""
        if self._location is None:
            self._location = locate_engine(self._host or self.profile.docker.host)
        return self._location

    def target(self) -> TargetInfo:
        return TargetInfo(
            self.name, self.location.url, {"project": self.project, "source": self.location.source}
        )

    async def client(self) -> docker.DockerClient:
        """The connected SDK client (connects on first use)."""
        async with self._connect_lock:
            if self._client is None:
                location = self.location
                try:
                    self._client = await asyncio.wait_for(
                        asyncio.to_thread(connect, location, self.timeout), self.timeout + 5
                    )
                except TimeoutError:
                    raise unreachable(location, f"no answer within {self.timeout:g} s") from None
        return self._client

    async def _call(self, func: Callable[..., T], *args: Any, timeout: float | None = None) -> T:
        """Run a blocking SDK call in a thread, under a timeout, with our errors."""
        limit = self.timeout if timeout is None else timeout
        try:
            return await asyncio.wait_for(asyncio.to_thread(func, *args), limit)
        except TimeoutError:
            raise OperationTimeout(
                f"the Docker engine at {self.location.url} did not finish within {limit:g} s; "
                "it may be overloaded (`docker info`, `docker ps`)"
            ) from None
        except Exception as exc:
            raise self._translate(exc) from None

    def _translate(self, exc: Exception) -> Exception:
        from docker.errors import APIError, DockerException
        from requests.exceptions import ConnectionError as RequestsConnectionError

        from alfred_tui.errors import AlfredError

        if isinstance(exc, AlfredError):
            return exc
        if isinstance(exc, RequestsConnectionError):
            return unreachable(self.location, str(exc))
        if isinstance(exc, APIError):
            message = redact(str(exc.explanation or exc))
            if exc.status_code == 403:
                return Forbidden(f"the Docker engine refused: {message}")
            if exc.status_code == 404:
                return NotDeployed(f"{message} (it was removed meanwhile?)")
            return OperationFailed(f"the Docker engine said: {message}")
        if isinstance(exc, DockerException):
            return OperationFailed(redact(str(exc)))
        return exc

    async def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.to_thread(client.close), 5)

    # --- the profile -------------------------------------------------------

    def capabilities(self, service: ServiceKind) -> frozenset[Capability]:
        if service == "qdrant":
            return _ALL_CAPABILITIES | {Capability.SNAPSHOTS, Capability.METRICS}
        return _ALL_CAPABILITIES

    async def endpoint(self, service: ServiceKind) -> Endpoint:
        """Instance 1's first published port: it needs no engine call and no docker import."""
        return published_endpoint(self.profile, service)

    def _kinds(self, services: Iterable[ServiceKind] | None) -> list[ServiceKind]:
        if services is None:
            return [kind for kind, _ in self.profile.services.enabled()]
        kinds = list(services)
        for kind in kinds:
            enabled_service(self.profile, kind)
        return kinds

    def _plan(
        self,
        kind: ServiceKind,
        number: int,
        resources: ResourcePlan | None = None,
        extra_args: tuple[str, ...] = (),
        role: str | None = None,
    ) -> ContainerPlan:
        spec = enabled_service(self.profile, kind)
        if role is None:
            role = self._role(kind, number)
        return plan_container(
            self.profile,
            kind,
            spec,
            number,
            project=self.project,
            profile_path=self.loaded.source.path,
            role=role,
            extra_args=extra_args,
            resources=resources,
        )

    @staticmethod
    def _role(kind: ServiceKind, number: int) -> str:
        if kind == "qdrant":
            return ""
        return "primary" if number == 1 else "replica"

    # --- inventory -----------------------------------------------------------

    def _list_blocking(self, client: docker.DockerClient) -> list[dict[str, Any]]:
        containers = client.containers.list(
            all=True, filters={"label": [f"{spec_mod.PROJECT}={self.project}"]}
        )
        return [c.attrs for c in containers if labels_of(c.attrs).get(spec_mod.ONEOFF) != "True"]

    async def _inventory(self) -> dict[str, list[dict[str, Any]]]:
        """The project's service containers (any state), by Compose service name, by number."""
        client = await self.client()
        found: dict[str, list[dict[str, Any]]] = {}
        for attrs in await self._call(self._list_blocking, client):
            found.setdefault(labels_of(attrs).get(spec_mod.SERVICE, ""), []).append(attrs)
        for group in found.values():
            group.sort(key=number_of)
        return found

    async def _instances(self, kind: ServiceKind) -> list[dict[str, Any]]:
        spec = enabled_service(self.profile, kind)
        return (await self._inventory()).get(spec.name, [])

    async def _inspect(self, container_id: str) -> dict[str, Any]:
        client = await self.client()
        return await self._call(client.api.inspect_container, container_id)

    # --- images, network, volumes --------------------------------------------

    async def _ensure_image(
        self, kind: ServiceKind, image: str, progress: ProgressCallback
    ) -> None:
        """Pull ``image`` unless the engine already has it."""
        client = await self.client()
        if await self._call(_has_image, client, image):
            return
        await self._call(
            docker_io.pull_image,
            client.api,
            image,
            _threadsafe(progress),
            kind,
            timeout=PULL_TIMEOUT,
        )

    def _ensure_network_blocking(self, client: docker.DockerClient, name: str) -> None:
        from docker.errors import NotFound

        try:
            client.api.inspect_network(name)
        except NotFound:
            client.api.create_network(
                name,
                driver="bridge",
                labels=spec_mod.resource_labels(
                    self.project, **{spec_mod.NETWORK: self.profile.docker.network}
                ),
            )

    def _ensure_volumes_blocking(self, client: docker.DockerClient, plan: ContainerPlan) -> None:
        from docker.errors import NotFound

        for name, short in plan.volumes.items():
            try:
                client.api.inspect_volume(name)
            except NotFound:
                client.api.create_volume(
                    name,
                    driver="local",
                    labels=spec_mod.resource_labels(self.project, **{spec_mod.VOLUME: short}),
                )

    # --- containers ------------------------------------------------------------

    def _create_blocking(
        self, client: docker.DockerClient, plan: ContainerPlan, network: str | None = None
    ) -> str:
        """Create (not start) the container of ``plan``; returns its id."""
        api = client.api
        self._ensure_volumes_blocking(client, plan)
        port_bindings: dict[str, list[tuple[Any, ...]]] = {}
        for port in plan.ports:
            key = f"{port.container_port}/{port.protocol}"
            binding = (port.host_ip, port.host_port) if port.host_port else (port.host_ip,)
            port_bindings.setdefault(key, []).append(binding)
        host_config = api.create_host_config(
            binds=plan.binds,
            port_bindings=port_bindings,
            restart_policy=plan.restart_policy,
            **plan.resources.host_config(),
        )
        network = network or plan.network
        networking = api.create_networking_config(
            {network: api.create_endpoint_config(aliases=list(plan.aliases))}
        )
        created = api.create_container(
            plan.image,
            command=plan.command,
            name=plan.name,
            environment=plan.environment,
            labels=plan.labels,
            ports=[(p.container_port, p.protocol) for p in plan.ports],
            host_config=host_config,
            healthcheck=plan.healthcheck,
            networking_config=networking,
            detach=True,
        )
        return created["Id"]

    def _remove_blocking(
        self, client: docker.DockerClient, container_id: str, anonymous_volumes: bool = False
    ) -> None:
        """Stop (grace period, then kill) and remove a container.

        Anonymous volumes (an image's VOLUME the profile does not mount) go
        only with ``anonymous_volumes``, as ``docker compose down -v`` does.
        """
        from docker.errors import NotFound

        with contextlib.suppress(NotFound):
            client.api.stop(container_id, timeout=STOP_TIMEOUT)
        with contextlib.suppress(NotFound):
            client.api.remove_container(container_id, v=anonymous_volumes, force=True)

    async def _start_instance(
        self,
        kind: ServiceKind,
        plan: ContainerPlan,
        existing: dict[str, Any] | None,
        progress: ProgressCallback,
        network: str | None = None,
    ) -> str:
        """Make instance ``plan.number`` run ``plan``: keep, start, or recreate it."""
        client = await self.client()
        if existing is not None:
            labels = labels_of(existing)
            same = labels.get(spec_mod.CONFIG_HASH) == plan.labels[spec_mod.CONFIG_HASH]
            if same or is_adopted(existing):
                if state_of(existing) != "running":
                    progress(Progress(f"start {plan.name}", service=kind))
                    await self._call(client.api.start, existing["Id"])
                return existing["Id"]
            progress(Progress(f"recreate {plan.name} (configuration changed)", service=kind))
            await self._call(
                self._remove_blocking, client, existing["Id"], timeout=STOP_TIMEOUT + 30
            )
        else:
            progress(Progress(f"create {plan.name}", service=kind))
        container_id = await self._call(self._create_blocking, client, plan, network)
        await self._call(client.api.start, container_id)
        return container_id

    async def _wait_ready(
        self,
        kind: ServiceKind,
        container_ids: Sequence[str],
        progress: ProgressCallback,
        timeout: float = READY_TIMEOUT,
    ) -> None:
        """Wait until every container runs and is healthy; a clear error when one cannot."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        pending = list(container_ids)
        total = len(pending)
        reported = -1
        while pending:
            still: list[str] = []
            for container_id in pending:
                attrs = await self._inspect(container_id)
                if is_ready(attrs):
                    continue
                if state_of(attrs) in ("exited", "failed") and (
                    attrs.get("HostConfig", {}).get("RestartPolicy", {}).get("Name") in ("", "no")
                ):
                    raise OperationFailed(await self._why_not_ready(attrs))
                still.append(container_id)
            pending = still
            if total - len(pending) != reported:
                reported = total - len(pending)
                progress(
                    Progress(
                        f"wait for {kind} to be healthy",
                        current=reported,
                        total=total,
                        service=kind,
                    )
                )
            if not pending:
                return
            if loop.time() > deadline:
                attrs = await self._inspect(pending[0])
                raise OperationTimeout(f"{await self._why_not_ready(attrs)} (waited {timeout:g} s)")
            await asyncio.sleep(0.5)

    async def _why_not_ready(self, attrs: dict[str, Any]) -> str:
        name = attrs.get("Name", "").lstrip("/")
        state = state_of(attrs)
        health = health_of(attrs)
        raw = attrs.get("State") or {}
        what = f"{name} is {state}"
        if state in ("exited", "failed", "restarting"):
            what += f" ({exit_reason(raw.get('ExitCode'), bool(raw.get('OOMKilled')))})"
        elif health != "none":
            what += f", health {health}"
            log = (raw.get("Health") or {}).get("Log") or []
            if log and str(log[-1].get("Output", "")).strip():
                what += f": {redact(str(log[-1]['Output']).strip().splitlines()[-1][:160])}"
        tail = await self._log_tail(attrs["Id"], 3)
        if tail:
            what += f"; last log lines: {' | '.join(tail)}"
        return what + f"; see `docker logs {name}`"

    async def _log_tail(self, container_id: str, lines: int) -> list[str]:
        client = await self.client()
        try:
            raw = await self._call(
                functools.partial(client.api.logs, container_id, tail=lines), timeout=10
            )
        except Exception:
            return []
        return [redact(line.strip())[:200] for line in raw.decode("utf-8", "replace").splitlines()]

    # --- lifecycle -------------------------------------------------------------

    async def deploy(
        self,
        profile: Profile | None = None,
        services: Sequence[ServiceKind] | None = None,
        progress: ProgressCallback = no_progress,
    ) -> None:
        """Create or update the services: idempotent, like ``docker compose up -d``.

        Instances 1..``replicas`` of each service are made to match the profile;
        instances a ``scale`` added beyond that are left running. Containers the
        platform's Compose file made are adopted as they are (started if stopped),
        never recreated behind its back.
        """
        if profile is not None and profile is not self.profile:
            self.loaded = dataclasses.replace(self.loaded, profile=profile)
        kinds = self._kinds(services)
        client = await self.client()
        for kind in kinds:
            await self._ensure_image(kind, enabled_service(self.profile, kind).image, progress)
        network = spec_mod.network_name(self.project, self.profile.docker.network)
        progress(Progress(f"network {network}"))
        await self._call(self._ensure_network_blocking, client, network)
        inventory = await self._inventory()
        started: dict[ServiceKind, list[str]] = {}
        for kind in kinds:
            spec = enabled_service(self.profile, kind)
            existing = {number_of(attrs): attrs for attrs in inventory.get(spec.name, [])}
            wanted = max(spec.replicas, 1)
            ids = [await self._start_instance(kind, self._plan(kind, 1), existing.get(1), progress)]
            started[kind] = ids
            if wanted > 1:
                await self._wait_ready(kind, ids, progress)
                await self._add_instances(kind, range(2, wanted + 1), existing, progress)
        for kind, ids in started.items():
            await self._wait_ready(kind, ids, progress)
        progress(Progress("deployed", current=len(kinds), total=len(kinds)))

    async def teardown(
        self,
        remove_volumes: bool = False,
        progress: ProgressCallback = no_progress,
        safety_dir: Path | None = None,
    ) -> None:
        """Stop and remove the project's containers and network; volumes only if asked.

        With ``remove_volumes`` each volume is first exported as
        ``<volume>.tar`` into ``safety_dir`` (the CLI makes one per action;
        without one, ``<data dir>/docker/<project>/safety/<time>/``), listed in
        :attr:`safety_copies` and reported through ``progress``.
        """
        client = await self.client()
        containers = await self._call(
            lambda: client.containers.list(
                all=True, filters={"label": [f"{spec_mod.PROJECT}={self.project}"]}
            )
        )
        for index, container in enumerate(containers, 1):
            progress(Progress(f"remove {container.name}", current=index, total=len(containers)))
            await self._call(
                self._remove_blocking, client, container.id, remove_volumes,
                timeout=STOP_TIMEOUT + 30,
            )  # fmt: skip
        networks = await self._call(
            client.api.networks, None, None, {"label": [f"{spec_mod.PROJECT}={self.project}"]}
        )
        for network in networks:
            progress(Progress(f"remove network {network['Name']}"))
            with contextlib.suppress(OperationFailed, NotDeployed):
                await self._call(client.api.remove_network, network["Id"])
        if remove_volumes:
            await self._remove_volumes(progress, safety_dir)

    async def describe_teardown(self, remove_volumes: bool = False) -> list[str]:
        """What :meth:`teardown` would remove, by name, for the confirmation prompt."""
        client = await self.client()
        label = {"label": [f"{spec_mod.PROJECT}={self.project}"]}
        containers = await self._call(
            lambda: [c.name for c in client.containers.list(all=True, filters=label)]
        )
        where = self.location.url
        lines = [
            f"stop and remove {len(containers)} container(s) of Compose project "
            f"'{self.project}' on {where}: {', '.join(sorted(containers)) or 'none'}",
            "remove the project's network(s); volumes are "
            + ("removed" if remove_volumes else "kept"),
        ]
        if remove_volumes:
            answer = await self._call(client.api.volumes, label)
            volumes = sorted(v["Name"] for v in (answer or {}).get("Volumes") or [])
            lines.append(f"delete volume(s): {', '.join(volumes) or 'none'}")
        return lines

    async def _remove_volumes(self, progress: ProgressCallback, safety_dir: Path | None) -> None:
        client = await self.client()
        answer = await self._call(
            client.api.volumes, {"label": [f"{spec_mod.PROJECT}={self.project}"]}
        )
        volumes = sorted(v["Name"] for v in (answer or {}).get("Volumes") or [])
        if not volumes:
            return
        folder = safety_dir
        if folder is None:
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
            folder = paths.data_dir() / "docker" / self.project / "safety" / stamp
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        image = await self._helper_image()
        for index, volume in enumerate(volumes, 1):
            destination = folder / f"{volume}.tar"
            progress(Progress(f"safety copy of volume {volume}", index, len(volumes)))
            size = await self._call(
                self._save_volume_blocking, client, image, volume, destination, timeout=600
            )
            self.safety_copies.append(destination)
            progress(
                Progress(
                    f"volume {volume} saved to {destination} ({size} bytes)", index, len(volumes)
                )
            )
            await self._call(client.api.remove_volume, volume)
            progress(Progress(f"removed volume {volume}", index, len(volumes)))

    async def _helper_image(self) -> str:
        """An image the engine has, to mount volumes in throwaway containers."""
        client = await self.client()
        for _, spec in self.profile.services.enabled():
            if await self._call(_has_image, client, spec.image):
                return spec.image
        raise OperationFailed(
            "none of the profile's images is on the engine, so no throwaway container can "
            "copy the volumes; run `alfred-tui up` first or load an image"
        )

    def _save_volume_blocking(
        self, client: docker.DockerClient, image: str, volume: str, destination: Path
    ) -> int:
        """Tar a volume's content through the archive API of a never-started container."""
        api = client.api
        container = api.create_container(
            image,
            command=["true"],
            labels=spec_mod.oneoff_labels(self.project),
            host_config=api.create_host_config(binds={volume: {"bind": "/volume", "mode": "ro"}}),
            entrypoint=["true"],
        )["Id"]
        try:
            return docker_io.archive_to_file(api, container, "/volume/.", destination)
        finally:
            with contextlib.suppress(Exception):
                api.remove_container(container, v=True, force=True)

    # --- scale, resize, restart ------------------------------------------------

    async def scale(
        self,
        service: ServiceKind,
        replicas: int,
        progress: ProgressCallback = no_progress,
        safety_dir: Path | None = None,
    ) -> None:
        """Run ``replicas`` instances: instance 1 is the primary, 2..N replicas (see module).

        Scaling down removes containers only; every volume stays (``safety_dir``
        is accepted for the contract and has nothing to hold), so a scale to
        zero and back finds the primary's data.
        """
        if replicas < 0:
            raise UsageError(f"replicas must be 0 or more, not {replicas}")
        existing = {number_of(attrs): attrs for attrs in await self._instances(service)}
        if replicas == 0:
            client = await self.client()
            for number in sorted(existing, reverse=True):
                progress(
                    Progress(f"remove {existing[number]['Name'].lstrip('/')}", service=service)
                )
                await self._call(
                    self._remove_blocking, client, existing[number]["Id"], timeout=STOP_TIMEOUT + 30
                )
            return
        if 1 not in existing:
            await self.deploy(services=[service], progress=progress)
            existing = {number_of(attrs): attrs for attrs in await self._instances(service)}
        wanted = set(range(1, replicas + 1))
        surplus = sorted((n for n in existing if n not in wanted), reverse=True)
        missing = sorted(n for n in wanted if n not in existing)
        client = await self.client()
        for number in surplus:
            progress(Progress(f"remove {existing[number]['Name'].lstrip('/')}", service=service))
            await self._call(
                self._remove_blocking, client, existing[number]["Id"], timeout=STOP_TIMEOUT + 30
            )
        if missing:
            await self._add_instances(service, missing, existing, progress)

    async def _add_instances(
        self,
        kind: ServiceKind,
        numbers: Iterable[int],
        existing: dict[int, dict[str, Any]],
        progress: ProgressCallback,
    ) -> None:
        """Create instances ``numbers`` (2..N) beside a running instance 1."""
        primary = existing.get(1) or next(iter(await self._instances(kind)), None)
        if primary is None:
            raise NotDeployed(f"{kind} has no instance 1 to add replicas to; run `alfred-tui up`")
        primary = await self._inspect(primary["Id"])
        # Replicas follow the primary's current resources (after a resize) and network.
        resources = _resources_from(primary)
        network = _first_network(primary)
        ids: list[str] = []
        for number in numbers:
            if number in existing:
                continue
            if kind == "postgres":
                from alfred_tui.backends.docker_replicas import create_standby

                container_id = await create_standby(
                    self, primary, number, resources, network, progress
                )
            else:
                extra: tuple[str, ...] = ()
                if kind == "redis":
                    spec = enabled_service(self.profile, kind)
                    port = spec.ports[0].container_port if spec.ports else 6379
                    extra = ("--replicaof", spec.name, str(port))
                plan = self._plan(kind, number, resources=resources, extra_args=extra)
                container_id = await self._start_instance(kind, plan, None, progress, network)
            ids.append(container_id)
        await self._wait_ready(kind, ids, progress)

    async def resize(
        self,
        service: ServiceKind,
        cpus: float | None = None,
        memory: int | None = None,
        progress: ProgressCallback = no_progress,
    ) -> None:
        """Change limits live with the engine's update call (no restart).

        Reservations follow the limits proportionally: a 4G limit with a 2G
        reservation resized to 8G reserves 4G.
        """
        if cpus is None and memory is None:
            raise UsageError("resize needs --cpus, --memory or both")
        if cpus is not None and cpus <= 0:
            raise UsageError(f"cpus must be more than 0, not {cpus:g}")
        if memory is not None and memory < 6 * 1024 * 1024:
            raise UsageError("memory must be at least 6M (the engine's minimum)")
        instances = await self._instances(service)
        if not instances:
            raise NotDeployed(f"{service} has no containers to resize; run `alfred-tui up`")
        client = await self.client()
        for index, attrs in enumerate(instances, 1):
            update = _resize_update(attrs.get("HostConfig") or {}, cpus, memory)
            name = attrs["Name"].lstrip("/")
            progress(Progress(f"resize {name}", index, len(instances), service=service))
            await self._call(_update_container, client.api, attrs["Id"], update)

    async def restart(self, service: ServiceKind, progress: ProgressCallback = no_progress) -> None:
        """Restart every instance (replicas first, the primary last) and wait until healthy."""
        instances = await self._instances(service)
        if not instances:
            raise NotDeployed(f"{service} has no containers to restart; run `alfred-tui up`")
        client = await self.client()
        ordered = sorted(instances, key=number_of, reverse=True)
        for index, attrs in enumerate(ordered, 1):
            progress(
                Progress(
                    f"restart {attrs['Name'].lstrip('/')}", index, len(ordered), service=service
                )
            )
            await self._call(
                functools.partial(client.api.restart, attrs["Id"], timeout=STOP_TIMEOUT),
                timeout=STOP_TIMEOUT + 60,
            )
        await self._wait_ready(service, [attrs["Id"] for attrs in ordered], progress)

    # --- observation -------------------------------------------------------------

    async def status(self) -> list[ServiceStatus]:
        inventory = await self._inventory()
        result = []
        for kind, spec in self.profile.services.enabled():
            containers = inventory.get(spec.name, [])
            last_exits = {}
            for attrs in containers:
                if attrs.get("RestartCount"):
                    last_exits[attrs["Id"]] = await self._last_exit(attrs)
            status = service_status(kind, spec, containers, last_exits)
            result.append(status)
        return result

    async def _last_exit(self, attrs: dict[str, Any]) -> str:
        """Why the container last stopped, from the engine's recent ``die``/``oom`` events."""
        client = await self.client()
        created = _epoch(attrs.get("Created"))
        now = datetime.now(UTC).timestamp()

        def read() -> str:
            oom = False
            reason = ""
            for event in client.api.events(
                since=created,
                until=now,
                filters={"container": attrs["Id"], "event": ["die", "oom"]},
                decode=True,
            ):
                action = event.get("Action") or event.get("status")
                if action == "oom":
                    oom = True
                elif action == "die":
                    code = (event.get("Actor") or {}).get("Attributes", {}).get("exitCode")
                    reason = exit_reason(int(code) if code is not None else None, oom)
                    oom = False
            return reason

        try:
            return await self._call(read, timeout=5)
        except Exception:
            return ""

    def logs(
        self,
        services: Iterable[ServiceKind] | None = None,
        follow: bool = False,
        since: datetime | None = None,
        tail: int | None = None,
    ) -> AsyncIterator[LogRecord]:
        return self._logs(self._kinds(services), follow, since, tail)

    async def _logs(
        self, kinds: list[ServiceKind], follow: bool, since: datetime | None, tail: int | None
    ) -> AsyncIterator[LogRecord]:
        client = await self.client()
        inventory = await self._inventory()
        sources: list[LogSource] = []
        for kind in kinds:
            spec = enabled_service(self.profile, kind)
            for attrs in inventory.get(spec.name, []):
                container = client.containers.prepare_model(attrs)
                name = attrs["Name"].lstrip("/")
                sources.append(LogSource(kind, name, container, "stdout"))
                sources.append(LogSource(kind, name, container, "stderr"))
        async for record in merged_logs(sources, follow, since, tail):
            yield record

    def events(self) -> AsyncIterator[BackendEvent]:
        return self._events()

    async def _events(self) -> AsyncIterator[BackendEvent]:
        client = await self.client()
        kinds = {spec.name: kind for kind, spec in self.profile.services.enabled()}
        stream = await self._call(
            functools.partial(
                client.api.events,
                decode=True,
                filters={"label": [f"{spec_mod.PROJECT}={self.project}"], "type": "container"},
            )
        )
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        done = object()

        def read() -> None:
            try:
                for event in stream:
                    loop.call_soon_threadsafe(queue.put_nowait, event)
            except Exception:
                pass
            finally:
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(queue.put_nowait, done)

        threading.Thread(target=read, name="docker-events", daemon=True).start()
        try:
            while True:
                event = await queue.get()
                if event is done:
                    return
                yield _event(event, kinds)
        finally:
            with contextlib.suppress(Exception):
                stream.close()

    # --- exec and files ------------------------------------------------------------

    async def _running_instance(self, service: ServiceKind, instance: str | None) -> dict[str, Any]:
        instances = await self._instances(service)
        if instance is not None:
            chosen = next((a for a in instances if a["Name"].lstrip("/") == instance), None)
            if chosen is None:
                names = ", ".join(a["Name"].lstrip("/") for a in instances) or "none"
                raise NotDeployed(f"{service} has no instance '{instance}' (instances: {names})")
        else:
            chosen = instances[0] if instances else None
            if chosen is None:
                raise NotDeployed(f"{service} is not deployed; run `alfred-tui up`")
        if state_of(chosen) != "running":
            raise NotDeployed(
                f"{chosen['Name'].lstrip('/')} is {state_of(chosen)}, not running; "
                "`alfred-tui status` tells why"
            )
        return chosen

    async def exec(
        self,
        service: ServiceKind,
        argv: Sequence[str],
        stdin: bytes | None = None,
        instance: str | None = None,
        timeout: float | None = None,
    ) -> ExecResult:
        """Run ``argv`` in the primary (or ``instance``); stdout/stderr demuxed, stdin optional.

        The database's own tools are aimed at the instance without a secret on
        the command line: PostgreSQL tools get ``PGHOST``/``PGPORT``/``PGUSER``/
        ``PGPASSWORD``/``PGDATABASE`` in the exec's environment (which ``docker
        inspect`` does not show), ``redis-cli`` gets ``-h``/``-p`` and
        ``REDISCLI_AUTH``. A non-zero exit is a result, not an error. On
        timeout the stream is dropped and :class:`OperationTimeout` raised; the
        command itself may run on inside the container.
        """
        attrs = await self._running_instance(service, instance)
        command, environment = aim_tool(service, enabled_service(self.profile, service), argv)
        client = await self.client()
        return await self._call(
            docker_io.exec_in,
            client.api,
            attrs["Id"],
            command,
            stdin,
            "",
            environment,
            timeout=timeout or EXEC_TIMEOUT,
        )

    async def copy_from(
        self,
        service: ServiceKind,
        path: str,
        destination: Path,
        instance: str | None = None,
    ) -> Path:
        """Copy the file ``path`` out of an instance to ``destination`` (archive API)."""
        attrs = await self._running_instance(service, instance)
        client = await self.client()
        await self._call(
            docker_io.copy_file_out, client.api, attrs["Id"], path, destination, timeout=600
        )
        return destination

    async def copy_to(
        self,
        service: ServiceKind,
        source: Path,
        path: str,
        instance: str | None = None,
    ) -> None:
        """Copy ``source`` to ``path`` in an instance, owned by the user the server runs as."""
        if not source.is_file():
            raise UsageError(f"{source} is not a file")
        attrs = await self._running_instance(service, instance)
        client = await self.client()
        owner = await self._call(
            docker_io.exec_in, client.api, attrs["Id"], ["stat", "-c", "%u:%g", "/proc/1"]
        )
        uid, gid = 0, 0
        if owner.ok:
            with contextlib.suppress(ValueError):
                uid, gid = (int(x) for x in owner.stdout.decode().strip().split(":"))
        await self._call(
            docker_io.copy_file_in,
            client.api,
            attrs["Id"],
            source,
            path,
            None,
            uid,
            gid,
            timeout=600,
        )


# --- helpers ---------------------------------------------------------------------


def aim_tool(
    kind: ServiceKind, spec: ServiceSpec, argv: Sequence[str]
) -> tuple[list[str], dict[str, str]]:
    """``argv`` and environment that aim a database tool at the instance it runs in."""
    command = list(argv)
    if not command:
        raise UsageError("exec needs a command")
    tool = command[0].rsplit("/", 1)[-1]
    port = spec.ports[0].container_port if spec.ports else None
    if isinstance(spec, PostgresService) and tool in PG_TOOLS:
        return command, {
            "PGHOST": "127.0.0.1",
            "PGPORT": str(port or 5432),
            "PGUSER": spec.user,
            "PGPASSWORD": spec.password.get_secret_value(),
            "PGDATABASE": spec.database,
        }
    if isinstance(spec, RedisService) and tool == "redis-cli":
        environment = {}
        if spec.password is not None:
            environment["REDISCLI_AUTH"] = spec.password.get_secret_value()
        return [command[0], "-h", "127.0.0.1", "-p", str(port or 6379), *command[1:]], environment
    return command, {}


def _has_image(client: Any, image: str) -> bool:
    from docker.errors import ImageNotFound

    try:
        client.images.get(image)
    except ImageNotFound:
        return False
    return True


def _epoch(value: str | None) -> float:
    from alfred_tui.backends.docker_logs import parse_timestamp

    return parse_timestamp(value).timestamp() if value else 0.0


def _first_network(attrs: dict[str, Any]) -> str | None:
    networks = ((attrs.get("NetworkSettings") or {}).get("Networks")) or {}
    return next(iter(networks), None)


def _resources_from(attrs: dict[str, Any]) -> ResourcePlan:
    host = attrs.get("HostConfig") or {}
    shares = host.get("CpuShares") or None
    return ResourcePlan(
        nano_cpus=host.get("NanoCpus") or None,
        mem_limit=host.get("Memory") or None,
        mem_reservation=host.get("MemoryReservation") or None,
        cpu_shares=shares,
        cpus_reserved=shares / spec_mod.SHARES_PER_CPU if shares else None,
    )


def _resize_update(host: dict[str, Any], cpus: float | None, memory: int | None) -> dict[str, Any]:
    """The body of ``POST /containers/{id}/update`` for a resize."""
    update: dict[str, Any] = {}
    if cpus is not None:
        nano = round(cpus * 1e9)
        old_nano, shares = host.get("NanoCpus") or 0, host.get("CpuShares") or 0
        update["NanoCpus"] = nano
        if old_nano and shares:
            update["CpuShares"] = max(2, round(shares * nano / old_nano))
    if memory is not None:
        old_memory, reserved = host.get("Memory") or 0, host.get("MemoryReservation") or 0
        update["Memory"] = memory
        # Compose's default swap (the engine's): as much again as the memory limit.
        update["MemorySwap"] = memory * 2
        if old_memory and reserved:
            update["MemoryReservation"] = min(memory, round(reserved * memory / old_memory))
        elif reserved > memory:
            update["MemoryReservation"] = memory
    return update


def _update_container(api: Any, container_id: str, body: dict[str, Any]) -> None:
    """The engine's live update; the SDK's update_container lacks NanoCpus."""
    response = api._post_json(api._url("/containers/{0}/update", container_id), data=body)
    api._result(response, True)


def _event(event: dict[str, Any], kinds: dict[str, ServiceKind]) -> BackendEvent:
    attributes = (event.get("Actor") or {}).get("Attributes") or {}
    action = str(event.get("Action") or event.get("status") or "")
    kind, _, message = action.partition(": ")
    if kind == "die" and "exitCode" in attributes:
        message = exit_reason(int(attributes["exitCode"]))
    nanos = event.get("timeNano")
    stamp = (
        datetime.fromtimestamp(nanos / 1e9, UTC)
        if nanos
        else datetime.fromtimestamp(event.get("time", 0), UTC)
    )
    return BackendEvent(
        timestamp=stamp,
        service=kinds.get(attributes.get(spec_mod.SERVICE, "")),
        instance=attributes.get("name", ""),
        kind=kind,
        message=message,
    )
