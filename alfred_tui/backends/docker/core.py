"""The Docker engine's core: its connection, calls with timeouts and our errors, the inventory.

:class:`DockerCore` is what every other module of the engine builds on (as
:class:`~alfred_tui.backends.kubernetes.core.KubernetesCore` is for
Kubernetes): it connects on first use, runs each blocking SDK call in a thread under a
timeout and turns the SDK's exceptions into
:class:`~alfred_tui.backends.base.BackendError` subclasses, and lists the
project's containers by their Compose labels.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from alfred_tui.backends.base import (
    Backend,
    Endpoint,
    Forbidden,
    NotDeployed,
    OperationFailed,
    OperationTimeout,
    TargetInfo,
)
from alfred_tui.backends.docker import spec as spec_mod
from alfred_tui.backends.docker.engine import (
    DEFAULT_TIMEOUT,
    EngineLocation,
    connect,
    locate_engine,
    unreachable,
)
from alfred_tui.backends.docker.spec import ContainerPlan, ResourcePlan, plan_container
from alfred_tui.backends.docker.status import (
    is_fenced,
    labels_of,
    number_of,
    primary_first,
    primary_number,
)
from alfred_tui.backends.endpoints import enabled_service, published_endpoint
from alfred_tui.config.models import ServiceKind
from alfred_tui.errors import UsageError
from alfred_tui.redact import redact

if TYPE_CHECKING:
    import docker

    from alfred_tui.config.loader import LoadedProfile

T = TypeVar("T")

#: Longest a container's inspection is used again while its list entry stays the same.
INSPECTION_KEPT_SECONDS = 15.0


class DockerCore(Backend):
    """The engine, the profile's Compose project on it, and one way to call it."""

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
        self.last_inventory: tuple[float, dict[str, list[dict[str, Any]]]] | None = None
        """When :meth:`inventory` last listed the project, and what it found."""
        self._inspected: dict[str, tuple[Any, float, dict[str, Any]]] = {}
        """Each listed container's inspection and the list entry it was made for."""
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

    async def call(self, func: Callable[..., T], *args: Any, timeout: float | None = None) -> T:
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

    async def endpoint(self, service: ServiceKind) -> Endpoint:
        """Instance 1's first published port: it needs no engine call and no docker import."""
        return published_endpoint(self.profile, service)

    def kinds(self, services: Iterable[ServiceKind] | None) -> list[ServiceKind]:
        if services is None:
            return [kind for kind, _ in self.profile.services.enabled()]
        kinds = list(services)
        for kind in kinds:
            enabled_service(self.profile, kind)
        return kinds

    def plan(
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

    @staticmethod
    def replica_role(kind: ServiceKind) -> str:
        """The role label of an instance beside the primary (Qdrant has no roles)."""
        return "" if kind == "qdrant" else "replica"

    @staticmethod
    def primary_role(kind: ServiceKind) -> str:
        """The role label of the instance clients use (Qdrant has no roles)."""
        return "" if kind == "qdrant" else "primary"

    # --- inventory -----------------------------------------------------------

    def _list_blocking(self, client: docker.DockerClient) -> list[dict[str, Any]]:
        """The project's service containers, inspected (see :meth:`_inspection`)."""
        from docker.errors import NotFound

        listed = client.api.containers(
            all=True, filters={"label": [f"{spec_mod.PROJECT}={self.project}"]}
        )
        found = []
        for entry in listed:
            if (entry.get("Labels") or {}).get(spec_mod.ONEOFF) == "True":
                continue
            with contextlib.suppress(NotFound):  # removed since it was listed
                found.append(self._inspection(client, entry))
        listed_ids = {entry["Id"] for entry in listed}
        for gone in [ident for ident in self._inspected if ident not in listed_ids]:
            self._inspected.pop(gone, None)
        return found

    def _inspection(self, client: docker.DockerClient, entry: dict[str, Any]) -> dict[str, Any]:
        """``docker inspect`` of a listed container, asked again only when its entry changed.

        The SDK's ``containers.list()`` inspects every container on every call:
        fifty containers are fifty round trips to the engine per refresh, most
        of the Overview's CPU at that scale. A list entry's state, status text
        ("Up 3 minutes (healthy)", "Exited (137) 2 minutes ago") and names
        change with everything an inspection holds that changes by itself (a
        restart resets the uptime, an exit or OOM kill sets the state, health
        is in the text, a failover renames); what alfred-tui changes without
        them, a live update of resources, drops the inspection
        (:meth:`update_live`). What changes inside an unchanged entry (the
        last health check's output, an error beside "Created") is read again
        after :data:`INSPECTION_KEPT_SECONDS` at most.
        """
        key = (entry.get("State"), entry.get("Status"), tuple(entry.get("Names") or ()))
        kept = self._inspected.get(entry["Id"])
        now = time.monotonic()
        if kept is not None and kept[0] == key and now - kept[1] < INSPECTION_KEPT_SECONDS:
            return kept[2]
        attrs: dict[str, Any] = client.api.inspect_container(entry["Id"])
        self._inspected[entry["Id"]] = (key, now, attrs)
        return attrs

    async def update_live(self, container_id: str, body: dict[str, Any]) -> None:
        """The engine's live update of a container (resources, restart policy).

        The SDK's own update lacks NanoCpus. The container's kept inspection is
        dropped: its list entry does not change with its limits.
        """
        client = await self.client()

        def update() -> None:
            api: Any = client.api
            response = api._post_json(api._url("/containers/{0}/update", container_id), data=body)
            api._result(response, True)

        try:
            await self.call(update)
        finally:
            self._inspected.pop(container_id, None)

    async def inventory(self) -> dict[str, list[dict[str, Any]]]:
        """The project's service containers (any state), by Compose service name.

        The primary comes first (whichever number a failover left it at), then
        the others by number; fenced old primaries are left out (see
        :meth:`fenced`).
        """
        client = await self.client()
        found: dict[str, list[dict[str, Any]]] = {}
        self._fenced: dict[str, list[dict[str, Any]]] = {}
        for attrs in await self.call(self._list_blocking, client):
            group = self._fenced if is_fenced(attrs) else found
            group.setdefault(labels_of(attrs).get(spec_mod.SERVICE, ""), []).append(attrs)
        for containers in found.values():
            containers.sort(key=primary_first)
        self.last_inventory = (time.monotonic(), found)
        return found

    async def layout(self, kind: ServiceKind) -> tuple[dict[int, dict[str, Any]], int, set[int]]:
        """A service's containers by number, the primary's number, and the numbers fenced
        old primaries hold (their volumes keep data no replica may overwrite)."""
        existing = {number_of(attrs): attrs for attrs in await self.instances(kind)}
        primary = primary_number(list(existing.values()))
        blocked = {number_of(attrs) for attrs in await self.fenced(kind)}
        return existing, primary, blocked

    async def fenced(self, kind: ServiceKind) -> list[dict[str, Any]]:
        """Old primaries a failover fenced off: stopped, never restarted, data kept."""
        spec = enabled_service(self.profile, kind)
        await self.inventory()
        return self._fenced.get(spec.name, [])

    async def instances(self, kind: ServiceKind) -> list[dict[str, Any]]:
        """The containers of ``kind``, the primary first (see :meth:`inventory`)."""
        spec = enabled_service(self.profile, kind)
        return (await self.inventory()).get(spec.name, [])

    async def inspect(self, container_id: str) -> dict[str, Any]:
        client = await self.client()
        return await self.call(client.api.inspect_container, container_id)


def replica_numbers(count: int, primary: int, blocked: set[int]) -> list[int]:
    """The numbers ``count`` replicas take beside ``primary``: the lowest free ones."""
    numbers: list[int] = []
    candidate = 1
    while len(numbers) < count:
        if candidate != primary and candidate not in blocked:
            numbers.append(candidate)
        candidate += 1
    return numbers
