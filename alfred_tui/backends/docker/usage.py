"""CPU and memory of the project's containers: one stats stream per container, in the background.

The engine's stats endpoint answers a one-shot request only after sampling
for a second, so asking every container at every refresh would cost a
second of blocked thread per container per refresh. Instead each running
container gets one streaming ``GET /containers/{id}/stats`` in a daemon
thread (the engine pushes a frame a second), and a refresh only reads the
latest frame of each: no engine call at all beyond the container list the
status already makes. Streams start for new containers and stop for
containers gone or stopped, at each reading; they hold their own
connections (a client with a pool as large as the streams), so they never
starve the calls the rest of the engine makes.

The figures are computed as ``docker stats`` computes them (docker/cli's
``calculateCPUPercentUnix`` and ``calculateMemUsageUnixNoCache``), so the
two agree: CPU in percent of one core over the last second, memory without
the inactive page cache (what the memory limit is enforced against).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from alfred_tui.backends.base import Endpoint, InstanceUsage
from alfred_tui.backends.docker.core import DockerCore
from alfred_tui.backends.docker.status import container_name, published, resources_of, state_of
from alfred_tui.backends.endpoints import enabled_service
from alfred_tui.config.models import ServiceKind

#: A frame older than this means the stream stalled (the engine is overloaded).
STALE_SECONDS = 10.0


def cpu_percent(frame: dict[str, Any]) -> float | None:
    """CPU in percent of one core between the frame's two samples (``docker stats``'s formula)."""
    cpu, previous = frame.get("cpu_stats") or {}, frame.get("precpu_stats") or {}
    total = (cpu.get("cpu_usage") or {}).get("total_usage")
    before = (previous.get("cpu_usage") or {}).get("total_usage")
    system, system_before = cpu.get("system_cpu_usage"), previous.get("system_cpu_usage")
    if total is None or before is None or system is None or system_before is None:
        return None  # the first frame of a stream has no previous sample
    online = cpu.get("online_cpus") or len((cpu.get("cpu_usage") or {}).get("percpu_usage") or [])
    cpu_delta, system_delta = float(total - before), float(system - system_before)
    if system_delta <= 0 or cpu_delta < 0:
        return 0.0
    return cpu_delta / system_delta * float(online or 1) * 100.0


def memory_used(frame: dict[str, Any]) -> int | None:
    """Memory in use without the inactive page cache (``docker stats``'s formula)."""
    memory = frame.get("memory_stats") or {}
    usage = memory.get("usage")
    if usage is None:
        return None
    stats = memory.get("stats") or {}
    for key in ("total_inactive_file", "inactive_file"):  # cgroup v1, then v2
        inactive = stats.get(key)
        if inactive is not None and inactive < usage:
            return int(usage - inactive)
    return int(usage)


@dataclass
class _Latest:
    frame: dict[str, Any] | None = None
    received_at: float = 0.0
    error: str = ""


class StatsStream:
    """One container's stats stream, read in a daemon thread; the latest frame kept."""

    def __init__(self, api: Any, container_id: str) -> None:
        self.api = api
        self.container_id = container_id
        self.latest = _Latest()
        self._response: Any = None
        self._stopped = threading.Event()
        self.thread = threading.Thread(
            target=self._run, name=f"docker-stats-{container_id[:12]}", daemon=True
        )
        self.thread.start()

    @property
    def alive(self) -> bool:
        """Whether the stream still runs."""
        return self.thread.is_alive()

    def _run(self) -> None:
        try:
            response = self.api._get(
                self.api._url("/containers/{0}/stats", self.container_id),
                params={"stream": True},
                stream=True,
                timeout=None,
            )
            self._response = response
            if self._stopped.is_set():
                return
            self.api._raise_for_status(response)
            for frame in self.api._stream_helper(response, decode=True):
                if self._stopped.is_set():
                    return
                self.latest = _Latest(frame, time.time())
        except Exception as exc:
            if not self._stopped.is_set():
                self.latest = _Latest(
                    self.latest.frame, self.latest.received_at, f"{type(exc).__name__}"
                )
        finally:
            self._close()

    def _close(self) -> None:
        response, self._response = self._response, None
        if response is not None:
            with contextlib.suppress(Exception):
                response.close()

    def stop(self) -> None:
        """End the stream (closing its connection wakes the thread)."""
        self._stopped.set()
        self._close()


class StatsStreams:
    """The streams of every running container of a project, kept in step with the inventory."""

    def __init__(self, make_api: Any) -> None:
        self._make_api = make_api
        self._api: Any = None
        self._streams: dict[str, StatsStream] = {}
        self._lock = threading.Lock()

    def sync(self, running: list[str]) -> None:
        """Start streams for ``running`` container ids that lack one; stop the others.

        Blocking only for the first call (it connects a client): call it in a thread.
        """
        with self._lock:
            wanted = set(running)
            for container_id in list(self._streams):
                stream = self._streams[container_id]
                if container_id not in wanted or not stream.alive:
                    stream.stop()
                    del self._streams[container_id]
            missing = [c for c in running if c not in self._streams]
            if missing and self._api is None:
                self._api = self._make_api()
            for container_id in missing:
                self._streams[container_id] = StatsStream(self._api, container_id)

    def reading(self, container_id: str) -> tuple[dict[str, Any] | None, str]:
        """The latest frame of a container, or None and why there is none."""
        stream = self._streams.get(container_id)
        if stream is None:
            return None, "not running"
        latest = stream.latest
        if latest.frame is None:
            return None, latest.error or "measuring (first frame within a second)"
        if time.time() - latest.received_at > STALE_SECONDS:
            age = time.time() - latest.received_at
            return latest.frame, f"stats stream stalled {age:.0f} s ago"
        return latest.frame, latest.error

    @property
    def count(self) -> int:
        """Streams open now."""
        return len(self._streams)

    def close(self) -> None:
        """Stop every stream and close the client."""
        with self._lock:
            for stream in self._streams.values():
                stream.stop()
            self._streams.clear()
            api, self._api = self._api, None
        if api is not None:
            with contextlib.suppress(Exception):
                api.close()


def instance_usage(
    kind: ServiceKind, attrs: dict[str, Any], frame: dict[str, Any] | None, note: str
) -> InstanceUsage:
    """One container's usage from its inspect document and latest stats frame."""
    limits, reservations = resources_of(attrs)
    cpu = memory = None
    pending = frame is None and note.startswith("measuring")
    if frame is not None:
        cpu = cpu_percent(frame)
        memory = memory_used(frame)
        if cpu is None and not note:
            note = "CPU needs a second frame (within a second)"
            pending = True
    elif state_of(attrs) != "running":
        note = f"{state_of(attrs)}: no usage"
    return InstanceUsage(
        service=kind,
        instance=container_name(attrs),
        cpu_percent=cpu,
        cpu_limit=limits.cpus,
        memory=memory,
        memory_limit=limits.memory,
        memory_request=reservations.memory,
        restarts=int(attrs.get("RestartCount") or 0),
        taken_at=time.time(),
        note=note,
        pending=pending,
    )


#: An inventory younger than this is reused by :meth:`DockerUsage.usage` (the overview
#: reads status, which lists the project, just before it reads usage).
INVENTORY_REUSE_SECONDS = 3.0
#: Connections of the stats client: one per stream, and a few to spare.
STATS_POOL_SIZE = 128


class DockerUsage(DockerCore):
    """``usage`` (UsageReporting) and ``instance_endpoints`` (InstanceAddressing)."""

    _streams: StatsStreams | None = None

    def _stats_streams(self) -> StatsStreams:
        if self._streams is None:
            from alfred_tui.backends.docker.engine import connect

            self._streams = StatsStreams(
                lambda: connect(self.location, self.timeout, STATS_POOL_SIZE).api
            )
        return self._streams

    async def _recent_inventory(self) -> dict[str, list[dict[str, Any]]]:
        cached = self.last_inventory
        if cached is not None and time.monotonic() - cached[0] < INVENTORY_REUSE_SECONDS:
            return cached[1]
        return await self.inventory()

    async def usage(self, services: Iterable[ServiceKind] | None = None) -> list[InstanceUsage]:
        """The latest stats frame of every container of ``services`` (see the module)."""
        wanted = set(self.kinds(services))
        inventory = await self._recent_inventory()
        containers = [
            (kind, attrs)
            for kind in self.kinds(None)
            for attrs in inventory.get(enabled_service(self.profile, kind).name, [])
        ]
        # Streams follow every running container of the project, whichever services
        # this call asks for: two callers asking for different services share them.
        running = [
            attrs["Id"] for _, attrs in containers if _status(attrs) in ("running", "paused")
        ]
        streams = self._stats_streams()
        await self.call(streams.sync, running)
        found = []
        for kind, attrs in containers:
            if kind not in wanted:
                continue
            frame, note = streams.reading(attrs["Id"])
            if _status(attrs) == "paused":
                note = "paused"
            found.append(instance_usage(kind, attrs, frame, note))
        return found

    async def instance_endpoints(self, service: ServiceKind) -> dict[str, Endpoint]:
        """Each running (or paused) container's first published port.

        Instance 1 publishes the profile's ports; replicas publish the same
        container ports on ephemeral host ports, on the same host address.
        """
        spec = enabled_service(self.profile, service)
        found: dict[str, Endpoint] = {}
        for attrs in (await self.inventory()).get(spec.name, []):
            if _status(attrs) not in ("running", "paused"):
                continue  # a paused one is listed: reading it says it does not answer
            addresses = published(attrs)
            if addresses:
                host, _, port = addresses[0].rpartition(":")
                found[container_name(attrs)] = Endpoint(host, int(port))
        return found

    async def close(self) -> None:
        streams, self._streams = self._streams, None
        if streams is not None:
            await asyncio.to_thread(streams.close)
        await super().close()


def _status(attrs: dict[str, Any]) -> str:
    return str((attrs.get("State") or {}).get("Status", ""))
