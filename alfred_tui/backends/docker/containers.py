"""Containers of the Docker engine: images, the network, volumes, create, start, wait until ready.

What ``docker compose up`` does for one instance: pull the image unless the
engine has it, create the project's network and named volumes, create the
container from its :class:`~alfred_tui.backends.docker.spec.ContainerPlan`,
start it, and wait until its health check passes; an instance whose
configuration changed is recreated, one the platform's Compose file made is
adopted as it is.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from alfred_tui.backends.base import (
    OperationFailed,
    OperationTimeout,
    Progress,
    ProgressCallback,
)
from alfred_tui.backends.docker import spec as spec_mod
from alfred_tui.backends.docker import transfers
from alfred_tui.backends.docker.core import DockerCore
from alfred_tui.backends.docker.spec import ContainerPlan
from alfred_tui.backends.docker.status import (
    exit_reason,
    health_of,
    is_adopted,
    is_ready,
    labels_of,
    state_of,
)
from alfred_tui.config.models import ServiceKind
from alfred_tui.redact import redact

if TYPE_CHECKING:
    import docker

#: Seconds a deploy, scale or restart waits for instances to become healthy.
READY_TIMEOUT = 180.0
#: Seconds the engine gives a container to stop before it kills it (Compose's default).
STOP_TIMEOUT = 10
#: Seconds an image pull may take.
PULL_TIMEOUT = 900.0


def threadsafe(progress: ProgressCallback) -> ProgressCallback:
    """A callback a worker thread may call: the report runs on the caller's loop."""
    loop = asyncio.get_running_loop()

    def report(item: Progress) -> None:
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(progress, item)

    return report


class DockerContainers(DockerCore):
    """Creating, starting, replacing and waiting for the project's containers."""

    # --- images, network, volumes --------------------------------------------

    async def ensure_image(self, kind: ServiceKind, image: str, progress: ProgressCallback) -> None:
        """Pull ``image`` unless the engine already has it."""
        client = await self.client()
        if await self.call(has_image, client, image):
            return
        await self.call(
            transfers.pull_image,
            client.api,
            image,
            threadsafe(progress),
            kind,
            timeout=PULL_TIMEOUT,
        )

    def ensure_network_blocking(self, client: docker.DockerClient, name: str) -> None:
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

    def ensure_volumes_blocking(self, client: docker.DockerClient, plan: ContainerPlan) -> None:
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

    def create_blocking(
        self, client: docker.DockerClient, plan: ContainerPlan, network: str | None = None
    ) -> str:
        """Create (not start) the container of ``plan``; returns its id."""
        api = client.api
        self.ensure_volumes_blocking(client, plan)
        port_bindings: dict[int | str, list[tuple[Any, ...]]] = {}
        for port in plan.ports:
            key = f"{port.container_port}/{port.protocol}"
            binding = (port.host_ip, port.host_port) if port.host_port else (port.host_ip,)
            port_bindings.setdefault(key, []).append(binding)
        host_config = api.create_host_config(
            binds=dict(plan.binds),
            port_bindings=port_bindings,
            restart_policy=plan.restart_policy,
            **plan.resources.host_config(),
        )
        network = network or plan.network
        networking = api.create_networking_config(
            {network: api.create_endpoint_config(aliases=list(plan.aliases))}  # type: ignore[arg-type]  # types-docker wants one EndpointConfig; docker-py takes {network: EndpointConfig}
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
        container_id: str = created["Id"]
        return container_id

    def remove_blocking(
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

    async def start_instance(
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
                    await self.call(client.api.start, existing["Id"])
                kept_id: str = existing["Id"]
                return kept_id
            progress(Progress(f"recreate {plan.name} (configuration changed)", service=kind))
            await self.call(self.remove_blocking, client, existing["Id"], timeout=STOP_TIMEOUT + 30)
        else:
            progress(Progress(f"create {plan.name}", service=kind))
        container_id = await self.call(self.create_blocking, client, plan, network)
        await self.call(client.api.start, container_id)
        return container_id

    async def wait_ready(
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
                attrs = await self.inspect(container_id)
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
                attrs = await self.inspect(pending[0])
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
            raw = await self.call(
                lambda: client.api.logs(container_id, tail=lines),
                timeout=10,
            )
        except Exception:
            return []
        return [redact(line.strip())[:200] for line in raw.decode("utf-8", "replace").splitlines()]


def has_image(client: Any, image: str) -> bool:
    from docker.errors import ImageNotFound

    try:
        client.images.get(image)
    except ImageNotFound:
        return False
    return True
