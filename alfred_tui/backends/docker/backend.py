"""The Docker backend: the profile's databases as containers on a Docker engine.

It deploys what the spec's Compose files describe (named volumes, a bridge
network, environment, command, health checks, ports, resources, restart
policy) with Compose's names and labels, so the platform's own Compose file,
``docker ps`` and ``docker compose ls`` all see one deployment; containers
that file made (same project and service names) are found by those labels
and managed too. See :mod:`.spec` for names and labels.

Scaling: Redis and Qdrant get more containers; Redis instances 2..N are read
replicas (``--replicaof``) of instance 1. PostgreSQL instances 2..N are hot
standbys streaming from the primary: each one's volume is filled by
``pg_basebackup -R`` run from the profile's own image in a throwaway
container, then a container of that image starts on it as a standby (see
:mod:`.replicas`).

The SDK is imported on first use, blocking calls run in worker threads, and
every engine call has a timeout; ``endpoint()`` reads the profile only, so
``alfred-tui check`` never imports docker.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alfred_tui.backends.base import (
    LogRecord,
    NotDeployed,
    OperationFailed,
    Progress,
    ProgressCallback,
    ServiceStatus,
    no_progress,
)
from alfred_tui.backends.docker import spec as spec_mod
from alfred_tui.backends.docker.containers import STOP_TIMEOUT
from alfred_tui.backends.docker.core import replica_numbers
from alfred_tui.backends.docker.events import DockerEvents
from alfred_tui.backends.docker.exec import DockerExec
from alfred_tui.backends.docker.failover import DockerFailover
from alfred_tui.backends.docker.logs import LogSource, merged_logs
from alfred_tui.backends.docker.status import container_name, exit_reason, service_status
from alfred_tui.backends.docker.usage import DockerUsage
from alfred_tui.backends.endpoints import enabled_service

if TYPE_CHECKING:
    from alfred_tui.backends.docker.pgdata import ContainerData
    from alfred_tui.config.models import Profile, ServiceKind


class DockerBackend(DockerFailover, DockerExec, DockerEvents, DockerUsage):
    """The profile's services as Compose-labelled containers on a Docker engine.

    Each capability lives in the module of its job (:mod:`.scaling`,
    :mod:`.volumes`, :mod:`.failover`, :mod:`.exec`, :mod:`.events`,
    :mod:`.usage`, on :mod:`.containers` and :mod:`.access`); this class adds
    the lifecycle, status and logs.
    """

    name = "docker"

    # --- lifecycle -------------------------------------------------------------

    async def deploy(
        self,
        profile: Profile | None = None,
        services: Sequence[ServiceKind] | None = None,
        progress: ProgressCallback = no_progress,
    ) -> None:
        """Create or update the services: idempotent, like ``docker compose up -d``.

        The primary (instance 1, or whichever a failover made primary) and
        ``replicas - 1`` others are made to match the profile; instances a
        ``scale`` added beyond that are left running, and numbers a fenced old
        primary holds are skipped. Containers the platform's Compose file made
        are adopted as they are (started if stopped), never recreated behind
        its back.
        """
        if profile is not None and profile is not self.profile:
            self.loaded = dataclasses.replace(self.loaded, profile=profile)
        kinds = self.kinds(services)
        client = await self.client()
        for kind in kinds:
            await self.ensure_image(kind, enabled_service(self.profile, kind).image, progress)
        network = spec_mod.network_name(self.project, self.profile.docker.network)
        progress(Progress(f"network {network}"))
        await self.call(self.ensure_network_blocking, client, network)
        started: dict[ServiceKind, list[str]] = {}
        for kind in kinds:
            spec = enabled_service(self.profile, kind)
            existing, primary, blocked = await self.layout(kind)
            wanted = max(spec.replicas, 1)
            plan = self.plan(kind, primary, role=self.primary_role(kind))
            ids = [await self.start_instance(kind, plan, existing.get(primary), progress)]
            started[kind] = ids
            if wanted > 1:
                await self.wait_ready(kind, ids, progress)
                numbers = replica_numbers(wanted - 1, primary, blocked)
                await self.add_instances(kind, numbers, existing, progress)
        for kind, ids in started.items():
            await self.wait_ready(kind, ids, progress)
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
        containers = await self.call(
            lambda: client.containers.list(
                all=True, filters={"label": [f"{spec_mod.PROJECT}={self.project}"]}
            )
        )
        for index, container in enumerate(containers, 1):
            progress(Progress(f"remove {container.name}", current=index, total=len(containers)))
            await self.call(
                self.remove_blocking, client, container.id, remove_volumes,
                timeout=STOP_TIMEOUT + 30,
            )  # fmt: skip
        networks = await self.call(
            client.api.networks, None, None, {"label": [f"{spec_mod.PROJECT}={self.project}"]}
        )
        for network in networks:
            progress(Progress(f"remove network {network['Name']}"))
            with contextlib.suppress(OperationFailed, NotDeployed):
                await self.call(client.api.remove_network, network["Id"])
        if remove_volumes:
            await self.remove_volumes(progress, safety_dir)

    async def describe_teardown(self, remove_volumes: bool = False) -> list[str]:
        """What :meth:`teardown` would remove, by name, for the confirmation prompt."""
        client = await self.client()
        label: dict[str, str | list[str] | bool] = {"label": [f"{spec_mod.PROJECT}={self.project}"]}
        containers = await self.call(
            lambda: [c.name or c.short_id for c in client.containers.list(all=True, filters=label)]
        )
        where = self.location.url
        lines = [
            f"stop and remove {len(containers)} container(s) of Compose project "
            f"'{self.project}' on {where}: {', '.join(sorted(containers)) or 'none'}",
            "remove the project's network(s); volumes are "
            + ("removed" if remove_volumes else "kept"),
        ]
        if remove_volumes:
            answer = await self.call(client.api.volumes, label)
            volumes = sorted(v["Name"] for v in (answer or {}).get("Volumes") or [])
            lines.append(f"delete volume(s): {', '.join(volumes) or 'none'}")
        return lines

    # --- observation -------------------------------------------------------------

    async def status(self) -> list[ServiceStatus]:
        inventory = await self.inventory()
        result = []
        for kind, spec in self.profile.services.enabled():
            containers = inventory.get(spec.name, [])
            last_exits = {}
            for attrs in containers:
                if attrs.get("RestartCount"):
                    last_exits[attrs["Id"]] = await self._last_exit(attrs)
            status = service_status(kind, spec, containers, last_exits)
            fenced = [container_name(attrs) for attrs in self._fenced.get(spec.name, [])]
            if fenced:
                note = (
                    f"fenced old primary {', '.join(fenced)} (stopped for good; re-clone it "
                    f"as a replica: alfred-tui reclone {kind} {fenced[0]})"
                )
                status = dataclasses.replace(
                    status, note="; ".join(n for n in (status.note, note) if n)
                )
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
            for event in client.api.events(  # type: ignore[call-overload]  # types-docker: since/until int; the engine takes fractions of a second
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
            return await self.call(read, timeout=5)
        except Exception:
            return ""

    def postgres_data_directory(self) -> ContainerData:
        """PostgreSQL's data directory and WAL archive, in its container (PostgresDataAccess)."""
        from alfred_tui.backends.docker.pgdata import ContainerData

        return ContainerData(self)

    def logs(
        self,
        services: Iterable[ServiceKind] | None = None,
        follow: bool = False,
        since: datetime | None = None,
        tail: int | None = None,
    ) -> AsyncIterator[LogRecord]:
        return self._logs(self.kinds(services), follow, since, tail)

    async def _logs(
        self, kinds: list[ServiceKind], follow: bool, since: datetime | None, tail: int | None
    ) -> AsyncIterator[LogRecord]:
        client = await self.client()
        inventory = await self.inventory()
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


def _epoch(value: str | None) -> float:
    from alfred_tui.backends.docker.logs import parse_timestamp

    return parse_timestamp(value).timestamp() if value else 0.0
