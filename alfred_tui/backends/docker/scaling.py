"""Scaling, resizing and restarting on the Docker engine.

Redis and Qdrant get more containers; Redis instances beside the primary
are read replicas (``--replicaof`` the service's name, which the primary
answers to). PostgreSQL instances beside the primary are hot standbys
streaming from it (:mod:`.replicas`). The primary is instance 1 unless a
failover made another one primary (:mod:`.failover`). A resize updates
the limits live with the engine's update call (no restart); a restart goes
replicas first, the primary last.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from alfred_tui.backends.base import (
    NotDeployed,
    OperationFailed,
    Progress,
    ProgressCallback,
    no_progress,
)
from alfred_tui.backends.docker import spec as spec_mod
from alfred_tui.backends.docker.containers import STOP_TIMEOUT, DockerContainers
from alfred_tui.backends.docker.core import replica_numbers
from alfred_tui.backends.docker.spec import ResourcePlan
from alfred_tui.backends.docker.status import number_of
from alfred_tui.backends.endpoints import enabled_service
from alfred_tui.config.models import ServiceKind
from alfred_tui.errors import UsageError


class DockerScaling(DockerContainers):
    """``scale``, ``resize`` and ``restart`` (Scalable, Resizable, Restartable)."""

    # --- scale, resize, restart ------------------------------------------------

    async def scale(
        self,
        service: ServiceKind,
        replicas: int,
        progress: ProgressCallback = no_progress,
        safety_dir: Path | None = None,
    ) -> None:
        """Run ``replicas`` instances: the primary and ``replicas - 1`` others (see module).

        The primary stays whatever its number (a failover may have moved it);
        replicas go highest number first and come at the lowest free numbers,
        never at a number a fenced old primary holds. Scaling down removes
        containers only; every volume stays (``safety_dir`` is accepted for the
        contract and has nothing to hold), so a scale to zero and back finds
        the primary's data.
        """
        if replicas < 0:
            raise UsageError(f"replicas must be 0 or more, not {replicas}")
        existing, primary, blocked = await self.layout(service)
        client = await self.client()
        if replicas == 0:
            for number in sorted(existing, key=lambda n: (n == primary, -n)):
                progress(
                    Progress(f"remove {existing[number]['Name'].lstrip('/')}", service=service)
                )
                await self.call(
                    self.remove_blocking, client, existing[number]["Id"], timeout=STOP_TIMEOUT + 30
                )
            return
        if primary not in existing:
            await self.deploy(services=[service], progress=progress)
            existing, primary, blocked = await self.layout(service)
        others = sorted(n for n in existing if n != primary)
        keep = replicas - 1
        surplus = sorted(others, reverse=True)[: max(0, len(others) - keep)]
        for number in surplus:
            progress(Progress(f"remove {existing[number]['Name'].lstrip('/')}", service=service))
            await self.call(
                self.remove_blocking, client, existing[number]["Id"], timeout=STOP_TIMEOUT + 30
            )
        kept = [n for n in others if n not in surplus]
        if keep > len(kept):
            numbers = replica_numbers(keep - len(kept), primary, blocked | set(kept))
            await self.add_instances(service, numbers, existing, progress)

    async def add_instances(
        self,
        kind: ServiceKind,
        numbers: Iterable[int],
        existing: dict[int, dict[str, Any]],
        progress: ProgressCallback,
    ) -> None:
        """Create instances ``numbers`` beside the running primary."""
        instances = await self.instances(kind)  # the primary first
        primary = next(iter(instances), None)
        if primary is None:
            raise NotDeployed(f"{kind} has no primary to add replicas to; run `alfred-tui up`")
        primary = await self.inspect(primary["Id"])
        # Replicas follow the primary's current resources (after a resize) and network.
        resources = resources_from(primary)
        network = first_network(primary)
        blocked = {number_of(attrs) for attrs in await self.fenced(kind)}
        ids: list[str] = []
        for number in numbers:
            if number in existing:
                continue
            if number in blocked:
                raise OperationFailed(
                    f"instance {number} of {kind} is a fenced old primary, whose data a "
                    "replica would overwrite: re-clone it (`alfred-tui reclone`) or remove it"
                )
            if kind == "postgres":
                from alfred_tui.backends.docker.replicas import create_standby

                container_id = await create_standby(
                    self, primary, number, resources, network, progress
                )
            else:
                extra: tuple[str, ...] = ()
                if kind == "redis":
                    spec = enabled_service(self.profile, kind)
                    port = spec.ports[0].container_port if spec.ports else 6379
                    extra = ("--replicaof", spec.name, str(port))
                plan = self.plan(
                    kind, number, resources=resources, extra_args=extra,
                    role=self.replica_role(kind),
                )  # fmt: skip
                container_id = await self.start_instance(kind, plan, None, progress, network)
            ids.append(container_id)
        await self.wait_ready(kind, ids, progress)

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
        instances = await self.instances(service)
        if not instances:
            raise NotDeployed(f"{service} has no containers to resize; run `alfred-tui up`")
        for index, attrs in enumerate(instances, 1):
            update = resize_update(attrs.get("HostConfig") or {}, cpus, memory)
            name = attrs["Name"].lstrip("/")
            progress(Progress(f"resize {name}", index, len(instances), service=service))
            await self.update_live(attrs["Id"], update)

    async def restart(self, service: ServiceKind, progress: ProgressCallback = no_progress) -> None:
        """Restart every instance (replicas first, the primary last) and wait until healthy."""
        instances = await self.instances(service)
        if not instances:
            raise NotDeployed(f"{service} has no containers to restart; run `alfred-tui up`")
        client = await self.client()
        ordered = list(reversed(instances))  # replicas first, the primary (listed first) last
        for index, attrs in enumerate(ordered, 1):
            progress(
                Progress(
                    f"restart {attrs['Name'].lstrip('/')}", index, len(ordered), service=service
                )
            )
            await self.call(
                functools.partial(client.api.restart, attrs["Id"], timeout=STOP_TIMEOUT),
                timeout=STOP_TIMEOUT + 60,
            )
        await self.wait_ready(service, [attrs["Id"] for attrs in ordered], progress)


def first_network(attrs: dict[str, Any]) -> str | None:
    """The first network the container is on (replicas join the primary's)."""
    networks = ((attrs.get("NetworkSettings") or {}).get("Networks")) or {}
    return next(iter(networks), None)


def resources_from(attrs: dict[str, Any]) -> ResourcePlan:
    """The container's resources as the engine applies them now (after any resize)."""
    host = attrs.get("HostConfig") or {}
    shares = host.get("CpuShares") or None
    return ResourcePlan(
        nano_cpus=host.get("NanoCpus") or None,
        mem_limit=host.get("Memory") or None,
        mem_reservation=host.get("MemoryReservation") or None,
        cpu_shares=shares,
        cpus_reserved=shares / spec_mod.SHARES_PER_CPU if shares else None,
    )


def resize_update(host: dict[str, Any], cpus: float | None, memory: int | None) -> dict[str, Any]:
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
