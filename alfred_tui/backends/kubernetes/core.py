"""The Kubernetes engine's core: the cluster connection, the namespace's objects, its pods.

:class:`KubernetesCore` is what every other module of the engine builds on (as
:class:`~alfred_tui.backends.docker.core.DockerCore` is for Docker): the API
groups of the cluster (:mod:`.access`, read from the kubeconfig on first
use), lists of the StatefulSets, pods, Events and claims alfred-tui manages,
the wait for a rollout, which pod to talk to, and the loopback tunnels
(:mod:`.tunnel`) that make each database's endpoint.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import queue
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from alfred_tui.backends.base import (
    Backend,
    Endpoint,
    NotDeployed,
    OperationFailed,
    OperationTimeout,
    Progress,
    ProgressCallback,
    TargetInfo,
    no_progress,
)
from alfred_tui.backends.endpoints import enabled_service
from alfred_tui.backends.kubernetes import names
from alfred_tui.backends.kubernetes.errors import Operation
from alfred_tui.config.models import ServiceKind
from alfred_tui.errors import AlfredError
from alfred_tui.redact import redact

if TYPE_CHECKING:
    from alfred_tui.backends.kubernetes.access import KubeApi, RetryPolicy
    from alfred_tui.backends.kubernetes.tunnel import Tunnel
    from alfred_tui.config.loader import LoadedProfile
    from alfred_tui.config.models import ServiceSpec

T = TypeVar("T")


class KubernetesCore(Backend):
    """One namespace of a cluster, and the objects alfred-tui manages in it."""

    name = "kubernetes"

    def __init__(
        self,
        loaded: LoadedProfile,
        context: str | None = None,
        namespace: str | None = None,
        *,
        request_timeout: float = 20.0,
        wait_timeout: float = 600.0,
        poll_interval: float = 1.0,
        retry: RetryPolicy | None = None,
        watch_timeout: int = 240,
        log_rescan_seconds: float = 5.0,
    ) -> None:
        super().__init__(loaded)
        self.context = context
        self.namespace = namespace or loaded.profile.kubernetes.namespace
        self.request_timeout = request_timeout
        self.wait_timeout = wait_timeout
        self.poll_interval = poll_interval
        self._retry = retry
        self.watch_timeout = watch_timeout
        """Seconds a watch asks the server to stay open before it is renewed."""
        self.log_rescan_seconds = log_rescan_seconds
        """How often a followed log looks for new pods (after a scale or a restart)."""
        self._api: KubeApi | None = None
        self.tunnels: dict[ServiceKind, Tunnel] = {}
        self.pod_tunnels: dict[str, Tunnel] = {}
        """Tunnels to one pod each (replicas too), by pod name."""
        self._tunnel_lock = asyncio.Lock()

    # --- connection ------------------------------------------------------------------

    @property
    def api(self) -> KubeApi:
        """The API groups of the cluster (the kubeconfig is read on first use).

        Async code uses :meth:`connected`: the first use takes seconds.
        """
        if self._api is None:
            self._api = self._connect()
        return self._api

    def _connect(self) -> KubeApi:
        from alfred_tui.backends.kubernetes.access import KubeApi, connect

        connection = connect(self.profile.kubernetes, self.context, self.namespace)
        return KubeApi(connection, self.request_timeout, self._retry)

    async def connected(self) -> KubeApi:
        """:attr:`api`, built in a thread the first time.

        Importing the client's API classes and reading the kubeconfig takes
        seconds (3-5 s on a loaded machine): on the event loop that froze the
        UI and ran down ``check``'s timeout of the first service probed.
        """
        if self._api is None:
            from alfred_tui.backends.kubernetes.access import in_thread

            api = await in_thread(self._connect, None, "connect to the cluster")
            # Another task may have connected while this one waited on its thread.
            existing: KubeApi | None = self._api
            if existing is None:
                self._api = api
                return api
            api.close()
            return existing
        return self._api

    def target(self) -> TargetInfo:
        try:
            api = self.api
        except AlfredError as exc:
            return TargetInfo(
                self.name, f"{self.context or '?'}/{self.namespace}", {"error": exc.message}
            )
        target = api.target
        return TargetInfo(
            self.name,
            f"{target.context}/{target.namespace}",
            {
                "server": target.server,
                "context": target.context,
                "namespace": target.namespace,
                "kubeconfig": api.connection.source,
            },
        )

    async def server_version(self) -> str:
        """The API server's ``gitVersion`` (a cheap reachability check)."""
        api = await self.connected()
        info = await api.call(Operation("get", "version"), api.version.get_code)
        return str(info.get("gitVersion", "?"))

    async def write_access_problem(self) -> str | None:
        """Why this account may only look at the namespace, or None when it may change it.

        Asks the API server (a ``SelfSubjectAccessReview``, what ``kubectl auth
        can-i`` does) whether the account may patch the StatefulSets, the verb
        behind up, scale, resize and restart. None also when the answer cannot
        be had: then the first change says why it is refused.
        """
        api = await self.connected()
        review = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectAccessReview",
            "spec": {
                "resourceAttributes": {
                    "namespace": api.namespace,
                    "verb": "patch",
                    "group": "apps",
                    "resource": "statefulsets",
                }
            },
        }

        def ask(body: dict[str, Any], **options: Any) -> Any:
            from kubernetes import client  # its API classes import slowly: in the thread

            authorization = client.AuthorizationV1Api(api.connection.api_client)
            # The client's generated method takes a plain dict as well as its model.
            return authorization.create_self_subject_access_review(body, **options)  # type: ignore[arg-type]  # a dict body is accepted at runtime

        operation = Operation("create", "selfsubjectaccessreviews.authorization.k8s.io")
        try:
            answer = await api.call(operation, ask, review)
        except AlfredError:
            return None
        if (answer.get("status") or {}).get("allowed", True):
            return None
        return (
            f"your account (context '{api.target.context}') cannot patch statefulsets.apps in "
            f"namespace {api.namespace}; alfred-tui shows everything and changes nothing "
            f"(check: kubectl auth can-i patch statefulsets.apps -n {api.namespace})"
        )

    # --- helpers ---------------------------------------------------------------------

    def service_spec(self, service: ServiceKind) -> ServiceSpec:
        return enabled_service(self.profile, service)

    async def list_items(
        self, resource: str, function: Any, selector: str | None = None
    ) -> list[Any]:
        api = await self.connected()
        kwargs: dict[str, Any] = {"label_selector": selector} if selector else {}
        answer = await api.call(api.op("list", resource), function, api.namespace, **kwargs)
        return list(answer.get("items") or [])

    async def statefulsets(self) -> dict[str, Any]:
        api = await self.connected()
        items = await self.list_items(
            "statefulsets.apps",
            api.apps.list_namespaced_stateful_set,
            names.managed_selector(),
        )
        return {item["metadata"]["name"]: item for item in items}

    async def pods(self, selector: str | None = None) -> list[Any]:
        api = await self.connected()
        return await self.list_items(
            "pods", api.core.list_namespaced_pod, selector or names.managed_selector()
        )

    async def redis_roles(self) -> dict[str, str]:
        """The Redis roles ConfigMap's data (the master and the fenced pods after a
        failover); empty before any failover."""
        api = await self.connected()
        name = names.REDIS_ROLES_CONFIGMAP
        try:
            found = await api.call(
                api.op("get", "configmaps", name), api.core.read_namespaced_config_map, name,
                api.namespace,
            )  # fmt: skip
        except NotDeployed:
            return {}
        return dict(found.get("data") or {})

    async def write_redis_roles(self, data: dict[str, str]) -> None:
        """Merge ``data`` into the Redis roles ConfigMap, made on first use."""
        api = await self.connected()
        name = names.REDIS_ROLES_CONFIGMAP
        try:
            await api.call(
                api.op("patch", "configmaps", name), api.core.patch_namespaced_config_map, name,
                api.namespace, {"data": data}, _content_type="application/merge-patch+json",
            )  # fmt: skip
        except NotDeployed:
            spec = self.service_spec("redis")
            body = {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {
                    "name": name,
                    "labels": names.object_labels(self.profile, "redis", spec),
                },
                "data": data,
            }
            await api.call(
                api.op("create", "configmaps", name), api.core.create_namespaced_config_map,
                api.namespace, body,
            )  # fmt: skip

    async def cluster_events(self) -> list[Any]:
        api = await self.connected()
        return await self.list_items("events", api.core.list_namespaced_event)

    async def wait_rolled_out(
        self,
        services: Sequence[ServiceKind],
        progress: ProgressCallback,
        step: int = 0,
        total: int | None = None,
    ) -> None:
        """Wait until every StatefulSet of ``services`` is rolled out and ready."""
        wanted = {w.statefulset for kind in services for w in names.workloads(kind)}
        deadline = time.monotonic() + self.wait_timeout
        while True:
            statefulsets = await self.statefulsets()
            pending = []
            for name in sorted(wanted):
                sts = statefulsets.get(name)
                if sts is None:
                    pending.append(f"{name} missing")
                    continue
                spec, status = sts.get("spec") or {}, sts.get("status") or {}
                replicas = int(spec.get("replicas", 1))
                ready = int(status.get("readyReplicas", 0) or 0)
                updated = int(status.get("updatedReplicas", 0) or 0)
                current = int(status.get("replicas", 0) or 0)
                observed = int(status.get("observedGeneration", 0) or 0)
                generation = int(sts["metadata"].get("generation", 1))
                if (
                    observed < generation
                    or ready != replicas
                    or current != replicas
                    or updated < replicas
                ):
                    pending.append(f"{name} {ready}/{replicas} ready")
            if not pending:
                progress(Progress("ready", total, total))
                return
            progress(Progress("wait for " + ", ".join(pending), step, total))
            await self.refuse_stuck_pods(wanted)
            if time.monotonic() > deadline:
                warning = ""
                with contextlib.suppress(AlfredError):
                    from alfred_tui.backends.kubernetes.status import latest_warning

                    events = await self.cluster_events()
                    pods = {p["metadata"]["name"] for p in await self.pods()}
                    warning = latest_warning(events, pods | wanted)
                raise OperationTimeout(
                    f"not ready after {self.wait_timeout:g} s: {', '.join(pending)}"
                    + (f" (last warning: {warning})" if warning else "")
                    + "; see alfred-tui status and the pods' events"
                )
            await asyncio.sleep(self.poll_interval)

    async def refuse_stuck_pods(self, statefulsets: set[str]) -> None:
        """Fail at once when a pod waits for what will not come (an image it cannot pull,
        a Secret key that is not there): a StatefulSet would wait for it forever."""
        from alfred_tui.backends.kubernetes.status import cannot_start

        for pod in await self.pods():
            name = pod["metadata"]["name"]
            workload = names.workload_of_pod(name)
            if workload is None or workload.statefulset not in statefulsets:
                continue
            reason = cannot_start(pod)
            if reason is not None:
                raise OperationFailed(
                    f"pod {name} cannot start: {redact(reason)}; fix the profile (or the "
                    "cluster) and run alfred-tui up again; a StatefulSet never replaces a pod "
                    f"that was not ready, so then delete it: kubectl delete pod {name} -n "
                    f"{self.namespace}"
                )

    async def claims(self) -> list[Any]:
        api = await self.connected()
        return await self.list_items(
            "persistentvolumeclaims",
            api.core.list_namespaced_persistent_volume_claim,
            names.managed_selector(),
        )

    async def wait_gone(
        self,
        listing: Any,
        waiting: str,
        failure: str,
        hint: str = "",
        progress: ProgressCallback = no_progress,
        step: int = 0,
        total: int = 0,
    ) -> None:
        """Poll ``listing()`` until it is empty; time out naming what is left."""
        deadline = time.monotonic() + self.wait_timeout
        while True:
            left = await listing()
            if not left:
                return
            progress(Progress(f"wait for {len(left)} {waiting}", step, total))
            if time.monotonic() > deadline:
                names_left = ", ".join(sorted(o["metadata"]["name"] for o in left))
                raise OperationTimeout(
                    f"{failure} after {self.wait_timeout:g} s: {names_left}{hint}"
                )
            await asyncio.sleep(self.poll_interval)

    async def start_claim_pod(
        self, pod: str, service: ServiceKind, claim: str, image: str, mount: str
    ) -> None:
        """A pod holding ``claim`` at ``mount`` (``image``, as root, sleeping) for file work
        while the service is stopped: safety copies, point-in-time recovery."""
        from alfred_tui.backends.kubernetes.status import cannot_start

        api = await self.connected()
        labels = {
            "app": names.app_label(self.service_spec(service)),
            names.MANAGED_BY: names.FIELD_MANAGER,
            names.COMPONENT: "maintenance",
        }
        body = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": pod, "labels": labels},
            "spec": {
                "restartPolicy": "Never",
                "terminationGracePeriodSeconds": 5,
                "containers": [
                    {
                        "name": names.container_name(service),
                        "image": image,
                        "command": ["sleep", "86400"],
                        "securityContext": {"runAsUser": 0},
                        "volumeMounts": [{"name": "data", "mountPath": mount}],
                    }
                ],
                "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": claim}}],
            },
        }
        await api.call(
            api.op("create", "pods", pod), api.core.create_namespaced_pod, api.namespace, body
        )
        deadline = time.monotonic() + self.wait_timeout
        while True:
            found = [p for p in await self.pods() if p["metadata"]["name"] == pod]
            if found and (found[0].get("status") or {}).get("phase") == "Running":
                return
            stuck = cannot_start(found[0]) if found else None
            if stuck or time.monotonic() > deadline:
                await self.delete_pod(pod)
                raise OperationFailed(
                    f"pod {pod} for claim {claim} did not start: {stuck or 'timed out'}"
                )
            await asyncio.sleep(self.poll_interval)

    async def delete_pod(self, pod: str) -> None:
        """Delete a pod and wait until it is gone."""
        api = await self.connected()
        with contextlib.suppress(NotDeployed):
            await api.call(
                api.op("delete", "pods", pod), api.core.delete_namespaced_pod, pod, api.namespace
            )

        async def listing() -> list[Any]:
            return [p for p in await self.pods() if p["metadata"]["name"] == pod]

        await self.wait_gone(listing, "pod to stop", "pod still running")

    # --- pods --------------------------------------------------------------------------

    async def pick_pod(self, service: ServiceKind, instance: str | None = None) -> str:
        """The pod to talk to: ``instance`` if given, else the primary's (or any) ready pod."""
        spec = self.service_spec(service)
        pods = await self.pods(names.app_selector(spec))
        if instance:
            if any(p["metadata"]["name"] == instance for p in pods):
                return instance
            found = ", ".join(sorted(p["metadata"]["name"] for p in pods)) or "none"
            raise NotDeployed(
                f"no pod {instance} of {service} in namespace {self.namespace} (pods: {found})"
            )
        primary = names.workloads(service)[0]
        chosen = await self.selected_pod(spec)

        def rank(pod: Any) -> tuple[int, int, str]:
            ready = any(
                c.get("type") == "Ready" and c.get("status") == "True"
                for c in (pod.get("status") or {}).get("conditions") or []
            )
            running = (pod.get("status") or {}).get("phase") == "Running"
            name = pod["metadata"]["name"]
            is_primary = name == chosen if chosen else names.workload_of_pod(name) == primary
            return (
                0 if ready else 1 if running else 2,
                0 if is_primary else 1,
                pod["metadata"]["name"],
            )

        candidates = sorted(
            (
                p
                for p in pods
                if not p["metadata"].get("deletionTimestamp")
                and names.workload_of_pod(p["metadata"]["name"]) is not None
            ),
            key=rank,
        )
        if not candidates or rank(candidates[0])[0] == 2:
            raise NotDeployed(
                f"no running pod of {service} (StatefulSet {primary.statefulset}) in namespace "
                f"{self.namespace}; run alfred-tui up, or see alfred-tui status"
            )
        name: str = candidates[0]["metadata"]["name"]
        return name

    async def client_service(self, spec: ServiceSpec) -> dict[str, Any] | None:
        """The Service clients use for ``spec`` (``db-postgres``, ``redis``), None if absent."""
        api = await self.connected()
        name = names.client_service(spec)
        try:
            found: dict[str, Any] = await api.call(
                api.op("get", "services", name), api.core.read_namespaced_service, name,
                api.namespace,
            )  # fmt: skip
        except NotDeployed:
            return None
        return found

    async def failed_over(self, service: ServiceKind) -> dict[str, Any] | None:
        """The failover annotation of ``service``'s client Service, if a failover repointed
        it (``up`` must not apply the manifests' selectors over it)."""
        found = await self.client_service(self.service_spec(service)) or {}
        text = ((found.get("metadata") or {}).get("annotations") or {}).get(names.FAILED_OVER)
        return json.loads(text) if text else None

    async def selected_pod(self, spec: ServiceSpec) -> str | None:
        """The pod the client Service selects by name, after a failover pointed it there."""
        try:
            found = await self.client_service(spec) or {}
        except AlfredError:
            return None
        selector = (found.get("spec") or {}).get("selector") or {}
        return selector.get(names.POD_NAME_LABEL)

    async def endpoint(self, service: ServiceKind) -> Endpoint:
        from alfred_tui.backends.kubernetes.tunnel import Tunnel

        spec = self.service_spec(service)
        async with self._tunnel_lock:
            tunnel = self.tunnels.get(service)
            if tunnel is not None and tunnel.endpoint is not None:
                if tunnel.loop is asyncio.get_running_loop():
                    return tunnel.endpoint
                # Opened by an event loop that has ended (the CLI runs one per step:
                # plan, then act): its listener accepts nothing any more.
                self.tunnels.pop(service).abandon()
            await self.pick_pod(service)  # fail now, with a clear message, if nothing runs
            port = names.container_ports(service, spec)[0][1]
            cached: dict[str, str] = {}

            async def pick(fresh: bool) -> str:
                if fresh or "pod" not in cached:
                    cached["pod"] = await self.pick_pod(service)
                return cached["pod"]

            tunnel = Tunnel(await self.connected(), service, port, pick)
            endpoint = await tunnel.start()
            self.tunnels[service] = tunnel
            return endpoint

    async def close(self) -> None:
        for tunnel in [*self.tunnels.values(), *self.pod_tunnels.values()]:
            await tunnel.close()
        self.tunnels.clear()
        self.pod_tunnels.clear()
        if self._api is not None:
            self._api.close()
            self._api = None


async def thread_result(function: Callable[[], T], name: str, timeout: float | None = None) -> T:
    from alfred_tui.backends.kubernetes.access import in_thread

    return await in_thread(function, timeout, name)


async def queue_get(source: queue.SimpleQueue[Any], timeout: float | None) -> Any:
    """Take from a thread-fed queue without blocking the loop."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        with contextlib.suppress(queue.Empty):
            return source.get_nowait()
        if deadline is not None and time.monotonic() >= deadline:
            raise TimeoutError
        await asyncio.sleep(0.02)
