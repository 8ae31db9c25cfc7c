"""A kubelet that runs nothing: pods turn Ready after ``start_delay``, their logs are invented.

For the tests of API behaviour only (server-side apply, selectors, watches,
retries, the client's log merging): they need pods that come and go quickly,
not databases. Anything that claims a database runs uses
:class:`~kube_standin.kubelet.DockerKubelet`, which runs every pod as real
containers. Here ``pods/exec`` answers the error a kubelet gives for a container
that is not running, since none is; so does ``pods/portforward``, unless a test
named a *relay* for the pod (:meth:`relay`): then the forwarded port reaches a
real server on this machine that plays the pod's database, for API-level tests
of what alfred-tui does through a port-forward alone (a failover's SQL and
Service selectors). Nothing in such a pod runs; the Docker kubelet's tests are
the ones where the database really runs in the pod.

Test controls (call them in the server's loop, ``cluster.call(...)``):
:meth:`write_log` adds a line to a pod's log, :meth:`crash_pod` makes its
container die and restart, :meth:`fail_pod` keeps it crash-looping.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import AsyncIterator, Iterable
from typing import TYPE_CHECKING, Any

from .controllers import PODS, is_terminating
from .server import ApiError, now, rfc3339

if TYPE_CHECKING:
    from .server import StandInApiServer

Obj = dict[str, Any]


class FakeKubelet:
    """Marks pods Running and Ready after a delay; runs no containers."""

    node_name = "stand-in"

    def __init__(self, server: StandInApiServer, start_delay: float = 0.05) -> None:
        self.server = server
        self.start_delay = start_delay
        self._logs: dict[tuple[str, str], list[tuple[dt.datetime, str]]] = {}
        self._failing: dict[tuple[str, str], str] = {}
        self._started: set[str] = set()
        self._ips = iter(range(10, 1 << 16))
        self._relays: dict[str, dict[int, tuple[str, int]]] = {}

    async def start(self) -> None:
        """Nothing to prepare."""

    async def close(self) -> None:
        """Nothing to remove."""

    # --- the API server tells the kubelet ------------------------------------------------

    def pod_changed(self, event: str, pod: Obj) -> None:
        """Start a new pod a moment later; finish a deleted one at once."""
        meta = pod["metadata"]
        if event == "DELETED":
            self._logs.pop((meta["namespace"], meta["name"]), None)
            self._started.discard(meta["uid"])
            return
        if (pod.get("spec") or {}).get("nodeName") != self.node_name:
            return
        if is_terminating(pod):
            self.server.finish_pod(meta["namespace"], meta["name"], meta["uid"])
            return
        if meta["uid"] not in self._started:
            self._started.add(meta["uid"])
            self.server.spawn(self._start_later(meta["namespace"], meta["name"], meta["uid"]))

    def claim_removed(self, claim: Obj) -> None:
        """No storage behind claims here."""

    # --- pods/log, pods/exec, pods/portforward --------------------------------------------

    async def log_lines(
        self,
        pod: Obj,
        container: str,
        *,
        previous: bool = False,
        follow: bool = False,
        since: dt.datetime | None = None,
        tail: int | None = None,
    ) -> AsyncIterator[tuple[dt.datetime, bytes]]:
        """The pod's invented lines; with ``follow``, new ones until the pod is gone."""
        meta = pod["metadata"]
        key = (meta["namespace"], meta["name"])
        if previous:
            return
        lines = [(t, line) for t, line in self._logs.get(key, []) if since is None or t >= since]
        if tail is not None:
            lines = lines[-tail:] if tail > 0 else []
        for moment, line in lines:
            yield moment, line.encode()
        seen = len(self._logs.get(key, []))
        while follow:
            live = self.server.find(PODS, meta["namespace"], meta["name"])
            if live is None or live["metadata"]["uid"] != meta["uid"]:
                return
            current = self._logs.get(key, [])
            for moment, line in current[seen:]:
                yield moment, line.encode()
            seen = len(current)
            await self.server.changed(0.5)

    async def exec(self, pod: Obj, container: str, argv: list[str], stdin: bool) -> Any:
        """No process can run: there is no container."""
        raise ApiError(
            400,
            "BadRequest",
            f'container "{container}" in pod "{pod["metadata"]["name"]}" runs no process: the '
            "stand-in's fake kubelet starts no containers (use the Docker kubelet)",
        )

    async def port_forward(self, pod: Obj, port: int) -> Any:
        """The relay a test named for this pod (or its ``app``), else nothing listens."""
        name = pod["metadata"]["name"]
        app = (pod["metadata"].get("labels") or {}).get("app", "")
        target = (self._relays.get(name) or self._relays.get(app, {})).get(port)
        if target is None:
            raise ConnectionRefusedError(
                "the stand-in's fake kubelet starts no containers (use the Docker kubelet)"
            )
        return await asyncio.open_connection(*target)

    # --- test controls ----------------------------------------------------------------------

    def relay(self, target: str, port: int, host: str, host_port: int) -> None:
        """Port-forwards to ``port`` of pod ``target`` (or of the pods labelled app=``target``)
        reach ``host:host_port``, a server on this machine playing that pod's database."""
        self._relays.setdefault(target, {})[port] = (host, host_port)

    def write_log(self, namespace: str, pod: str, line: str, at: dt.datetime | None = None) -> None:
        """Append a line to a pod's (only) container log."""
        self._logs.setdefault((namespace, pod), []).append((at or now(), line))
        self.server.spawn(self.server.notify())

    def crash_pod(self, namespace: str, name: str, reason: str = "OOMKilled") -> None:
        """The container dies (``reason``) and the kubelet restarts it."""
        pod = self.server.get(PODS, namespace, name)
        status = pod.setdefault("status", {})
        for container in status.get("containerStatuses", []):
            container["restartCount"] = container.get("restartCount", 0) + 1
            container["lastState"] = {
                "terminated": {
                    "exitCode": 137,
                    "reason": reason,
                    "startedAt": container.get("state", {}).get("running", {}).get("startedAt"),
                    "finishedAt": rfc3339(),
                }
            }
            container["ready"] = False
            container["state"] = {"waiting": {"reason": "ContainerCreating"}}
        _set_ready(pod, False)
        self.server.store(PODS, namespace, name, pod)
        self.server.add_event(pod, "BackOff", "Back-off restarting failed container", "Warning")
        self.server.spawn(self._start_later(namespace, name, pod["metadata"]["uid"]))

    def fail_pod(self, namespace: str, name: str, reason: str = "CrashLoopBackOff") -> None:
        """The container keeps failing: waiting with ``reason``, never ready."""
        self._failing[(namespace, name)] = reason
        pod = self.server.get(PODS, namespace, name)
        for container in pod.get("status", {}).get("containerStatuses", []):
            container["ready"] = False
            container["restartCount"] = container.get("restartCount", 0) + 1
            container["state"] = {"waiting": {"reason": reason, "message": "back-off 10s"}}
        _set_ready(pod, False)
        self.server.store(PODS, namespace, name, pod)
        self.server.add_event(pod, "BackOff", "Back-off restarting failed container", "Warning")

    # --- the fake start ---------------------------------------------------------------------

    async def _start_later(self, namespace: str, name: str, uid: str) -> None:
        await asyncio.sleep(self.start_delay)
        pod = self.server.find(PODS, namespace, name)
        if pod is None or pod["metadata"]["uid"] != uid or is_terminating(pod):
            return
        if (namespace, name) in self._failing:
            return
        started = now()
        previous = {c["name"]: c for c in pod.get("status", {}).get("containerStatuses", [])}
        statuses = []
        for container in pod["spec"].get("containers", []):
            before = previous.get(container["name"], {})
            statuses.append(
                {
                    "name": container["name"],
                    "image": container.get("image", ""),
                    "imageID": f"docker-pullable://{container.get('image', '')}@sha256:" + "0" * 64,
                    "containerID": f"containerd://{uuid.uuid4().hex}",
                    "ready": True,
                    "started": True,
                    "restartCount": before.get("restartCount", 0),
                    "state": {"running": {"startedAt": rfc3339(started)}},
                    **({"lastState": before["lastState"]} if "lastState" in before else {}),
                }
            )
        status = pod.setdefault("status", {})
        status.update(
            phase="Running",
            podIP=f"10.244.0.{next(self._ips) % 250}",
            hostIP="10.0.0.1",
            startTime=status.get("startTime") or rfc3339(started),
            containerStatuses=statuses,
        )
        _set_ready(pod, True)
        self.server.store(PODS, namespace, name, pod)
        for container in pod["spec"].get("containers", []):
            image = container.get("image", "")
            self.server.add_event(
                pod, "Pulled", f'Container image "{image}" already present on machine'
            )
            self.server.add_event(pod, "Started", f"Started container {container['name']}")
            for line in _startup_lines(container):
                self.write_log(namespace, name, line)


def _set_ready(pod: Obj, ready: bool) -> None:
    value = "True" if ready else "False"
    conditions = {c["type"]: c for c in pod.setdefault("status", {}).get("conditions", [])}
    for kind in ("Initialized", "Ready", "ContainersReady", "PodScheduled"):
        conditions[kind] = {
            "type": kind,
            "status": value if kind in ("Ready", "ContainersReady") else "True",
            "lastTransitionTime": rfc3339(),
        }
    pod["status"]["conditions"] = list(conditions.values())


def _startup_lines(container: Obj) -> Iterable[str]:
    """What each database prints when it is up, so logs have something real-looking."""
    image = container.get("image", "")
    if "postgres" in image:
        yield 'LOG:  listening on IPv4 address "0.0.0.0", port 5432'
        yield "LOG:  database system is ready to accept connections"
    elif "redis" in image:
        yield "* Server initialized"
        yield "* Ready to accept connections tcp"
    elif "qdrant" in image:
        yield "INFO qdrant::actix: Qdrant HTTP listening on 6333"
        yield "INFO qdrant::tonic: Qdrant gRPC listening on 6334"
    else:
        yield f"started {container.get('name')}"
