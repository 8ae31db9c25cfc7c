"""The Docker engine's part of a failover: fence the old primary, move the name, re-clone.

On Docker the service's name (its Compose alias, ``db-postgres``) and the
profile's published port belong to the primary. The replicas stream from
that name (``primary_conninfo host=db-postgres``, ``--replicaof redis``),
so once the database of a replica is promoted, making it the primary is:

- **fence** the old one: its restart policy becomes ``no`` (neither the
  engine nor a daemon restart brings it back), it is stopped (SIGTERM, a
  kill after the grace period; killed at once if paused), and renamed
  ``<name>-fenced-<time>`` so ``docker ps -a`` says what it is. Its volume
  is kept untouched. Started by hand it cannot take the port back: the new
  primary holds it;
- **make_primary**: recreate the promoted container on its own volume with
  the primary's role, the profile's host ports and the service's name as its
  alias (one restart of a few seconds; Docker cannot change a running
  container's published ports). The other replicas find the primary by that
  name again;
- **reclone** an instance (a lagging replica, or a fenced old primary) as a
  fresh replica of the primary: its data is first kept as a tar file in the
  safety folder, then replaced (PostgreSQL: ``pg_basebackup`` into its
  volume; Redis: a full synchronisation).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alfred_tui.backends.base import (
    NotDeployed,
    OperationFailed,
    Progress,
    ProgressCallback,
    no_progress,
)
from alfred_tui.backends.capabilities import Capability
from alfred_tui.backends.docker.containers import STOP_TIMEOUT
from alfred_tui.backends.docker.scaling import DockerScaling, first_network, resources_from
from alfred_tui.backends.docker.spec import ROLE
from alfred_tui.backends.docker.status import (
    container_name,
    fenced_name,
    labels_of,
    number_of,
    unfenced_name,
)
from alfred_tui.backends.docker.volumes import DockerVolumes
from alfred_tui.backends.endpoints import enabled_service
from alfred_tui.config.models import ServiceKind


def _volumes(attrs: dict[str, Any]) -> list[str]:
    """The named volumes a container mounts."""
    return [
        mount["Name"]
        for mount in attrs.get("Mounts") or []
        if mount.get("Type") == "volume" and mount.get("Name")
    ]


def _state(attrs: dict[str, Any]) -> str:
    return str((attrs.get("State") or {}).get("Status", ""))


class DockerFailover(DockerScaling, DockerVolumes):
    """``fence``, ``make_primary`` and ``reclone`` (PrimaryFailover) on Docker."""

    def withheld(self, service: ServiceKind) -> frozenset[Capability]:
        """Qdrant has no primary to move (its instances are peers)."""
        return frozenset({Capability.FAILOVER}) if service == "qdrant" else frozenset()

    async def _instance(self, service: ServiceKind, instance: str) -> dict[str, Any]:
        for attrs in await self.instances(service):
            if container_name(attrs) == instance:
                return await self.inspect(attrs["Id"])
        names = ", ".join(container_name(a) for a in await self.instances(service)) or "none"
        raise NotDeployed(f"{service} has no instance '{instance}' (instances: {names})")

    async def fenced_instances(self, service: ServiceKind) -> list[str]:
        return [container_name(attrs) for attrs in await self.fenced(service)]

    async def failover_plan(self, service: ServiceKind, old: str, new: str) -> list[str]:
        spec = enabled_service(self.profile, service)
        lines = []
        try:
            old_attrs = await self._instance(service, old)
            volumes = ", ".join(_volumes(old_attrs)) or "none"
            lines.append(
                f"fence {old}: restart policy 'no' (neither the engine nor a daemon restart "
                f"brings it back), stop it ({STOP_TIMEOUT} s grace, then kill), rename it "
                f"{old}-fenced-<time>; its volume(s) {volumes} kept untouched"
            )
        except NotDeployed:
            lines.append(f"{old} is gone already: nothing to fence")
        new_attrs = await self._instance(service, new)
        ports = ", ".join(f"{p.host_ip}:{p.host_port}" for p in spec.ports) or "none"
        lines.append(
            f"recreate {new} as the primary on its own volume(s) "
            f"{', '.join(_volumes(new_attrs)) or 'none'}: the profile's port(s) {ports} and "
            f"the name '{spec.name}' that clients and the other replicas use (a restart of a "
            "few seconds)"
        )
        return lines

    async def fence(
        self, service: ServiceKind, instance: str, progress: ProgressCallback = no_progress
    ) -> str:
        attrs = await self._instance(service, instance)
        client = await self.client()
        container_id = attrs["Id"]
        progress(Progress(f"fence {instance}: restart policy 'no'", service=service))
        never = {"RestartPolicy": {"Name": "no"}}
        await self.update_live(container_id, never)
        state = _state(attrs)
        if state == "paused":
            progress(Progress(f"kill {instance} (paused)", service=service))
            await self.call(client.api.kill, container_id)
        elif state in ("running", "restarting"):
            progress(Progress(f"stop {instance}", service=service))
            await self.call(
                lambda: client.api.stop(container_id, timeout=STOP_TIMEOUT),
                timeout=STOP_TIMEOUT + 30,
            )
        renamed = fenced_name(instance, datetime.now(UTC))
        await self.call(client.api.rename, container_id, renamed)
        volumes = ", ".join(_volumes(attrs)) or "none"
        return (
            f"{instance} stopped, restart policy 'no', renamed {renamed}; volume(s) {volumes} kept"
        )

    async def make_primary(
        self, service: ServiceKind, instance: str, progress: ProgressCallback = no_progress
    ) -> str:
        attrs = await self._instance(service, instance)
        number = number_of(attrs)
        plan = self.plan(
            service,
            number,
            resources=resources_from(attrs),
            role=self.primary_role(service),
        )
        client = await self.client()
        progress(Progress(f"recreate {instance} as the primary", service=service))
        await self.call(self.remove_blocking, client, attrs["Id"], timeout=STOP_TIMEOUT + 30)
        container_id = await self.start_instance(
            service, plan, None, progress, first_network(attrs)
        )
        await self.wait_ready(service, [container_id], progress)
        ports = ", ".join(f"{p.host_ip}:{p.host_port}" for p in plan.ports if p.host_port)
        return (
            f"{instance} recreated as the primary: port(s) {ports or 'none'}, alias {plan.service}"
        )

    async def _reclone_target(self, service: ServiceKind, instance: str) -> dict[str, Any]:
        for attrs in await self.fenced(service):
            name = container_name(attrs)
            if instance in (name, unfenced_name(name)):
                return await self.inspect(attrs["Id"])
        attrs = await self._instance(service, instance)
        if labels_of(attrs).get(ROLE) == "primary":
            raise OperationFailed(
                f"{instance} is the primary of {service}: re-cloning copies the primary, it "
                "cannot replace it (fail over first, then re-clone the old one)"
            )
        return attrs

    async def reclone_plan(self, service: ServiceKind, instance: str) -> list[str]:
        attrs = await self._reclone_target(service, instance)
        name, volumes = container_name(attrs), ", ".join(_volumes(attrs)) or "none"
        primary = next(iter(await self.instances(service)), None)
        source = container_name(primary) if primary else "the primary"
        copy = (
            f"pg_basebackup from {source} into {volumes}, then start it as a hot standby"
            if service == "postgres"
            else f"start it as a replica of {source} (a full synchronisation replaces its data)"
        )
        return [
            f"keep a safety copy of {name}'s volume(s) {volumes} (tar files in the safety folder)",
            f"remove the container {name} (the volume(s) stay)",
            copy,
            "wait until it is healthy",
        ]

    async def reclone(
        self,
        service: ServiceKind,
        instance: str,
        progress: ProgressCallback = no_progress,
        safety_dir: Path | None = None,
    ) -> str:
        attrs = await self._reclone_target(service, instance)
        name, number = container_name(attrs), number_of(attrs)
        instances = await self.instances(service)
        primary = next(iter(instances), None)
        if primary is None or labels_of(primary).get(ROLE) not in ("primary", ""):
            raise NotDeployed(f"{service} has no primary to copy from; run `alfred-tui up`")
        client = await self.client()
        kept: list[str] = []
        if safety_dir is not None:
            image = await self._helper_image()
            for volume in _volumes(attrs):
                destination = safety_dir / f"{volume}.tar"
                progress(Progress(f"safety copy of volume {volume}", service=service))
                await self.call(
                    self._save_volume_blocking, client, image, volume, destination, timeout=600
                )
                self.safety_copies.append(destination)
                kept.append(str(destination))
        progress(Progress(f"remove {name}", service=service))
        await self.call(self.remove_blocking, client, attrs["Id"], timeout=STOP_TIMEOUT + 30)
        existing = {number_of(a): a for a in instances}
        await self.add_instances(service, [number], existing, progress)
        where = f"; its data kept in {', '.join(kept)}" if kept else ""
        return f"{name} re-cloned as replica {number} of {container_name(primary)}{where}"
