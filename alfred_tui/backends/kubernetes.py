"""The Kubernetes backend: the profile's databases as StatefulSets, through the official client.

What an operator gets on the bastion, without kubectl:

- ``deploy`` renders the manifests (:mod:`.k8s.manifests`) with the real
  credentials in the Secret and server-side applies every object (field
  manager ``alfred-tui``, forced, so re-running is idempotent and the profile
  wins), then waits until every StatefulSet has rolled out and is ready;
- ``status`` reads StatefulSets, pods (phase, readiness, restarts, last
  termination) and Warning events in three list calls, retried with backoff;
- ``scale`` goes through the ``scale`` subresource (PostgreSQL's count
  includes its primary: ``scale postgres 3`` = primary + 2 read replicas),
  ``resize`` patches requests and limits (a rolling restart, as on any
  StatefulSet), ``restart`` sets ``kubectl.kubernetes.io/restartedAt`` as
  ``kubectl rollout restart`` does;
- ``teardown`` deletes what ``deploy`` created and keeps the
  PersistentVolumeClaims (and so the data) unless ``remove_volumes``;
- ``logs`` follows every pod at once, merged by time; ``exec`` runs
  ``pg_dump`` or ``redis-cli`` through the exec subresource; ``endpoint``
  opens a loopback port-forward (:mod:`.k8s.tunnel`) so probes and panes
  reach a database with no ``kubectl port-forward``;
- ``events`` watches pods and Events, reconnecting with backoff.

The ``kubernetes`` package is imported only when a method first needs the
cluster; every blocking call runs in a thread under a timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import queue
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alfred_tui.backends.base import (
    Backend,
    BackendEvent,
    Capability,
    Endpoint,
    ExecResult,
    LogRecord,
    NotDeployed,
    NotSupported,
    OperationFailed,
    OperationTimeout,
    Progress,
    ProgressCallback,
    ServiceStatus,
    TargetInfo,
    no_progress,
)
from alfred_tui.backends.endpoints import enabled_service
from alfred_tui.backends.k8s import names
from alfred_tui.backends.k8s.errors import Operation, translate
from alfred_tui.config.models import ServiceKind
from alfred_tui.errors import AlfredError, UsageError
from alfred_tui.redact import redact

if TYPE_CHECKING:
    from alfred_tui.backends.k8s.access import KubeApi, RetryPolicy
    from alfred_tui.backends.k8s.tunnel import Tunnel
    from alfred_tui.config.loader import LoadedProfile
    from alfred_tui.config.models import Profile, ServiceSpec

_ALL = frozenset(
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
_APPLY = "application/apply-patch+yaml"
_V5 = "v5.channel.k8s.io"


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class KubernetesBackend(Backend):
    """The databases as StatefulSets in one namespace of a cluster."""

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
        self._tunnels: dict[ServiceKind, Tunnel] = {}
        self._tunnel_lock = asyncio.Lock()

    # --- connection ------------------------------------------------------------------

    @property
    def api(self) -> KubeApi:
        """The API groups of the cluster (the kubeconfig is read on first use)."""
        if self._api is None:
            from alfred_tui.backends.k8s.access import KubeApi, connect

            connection = connect(self.profile.kubernetes, self.context, self.namespace)
            self._api = KubeApi(connection, self.request_timeout, self._retry)
        return self._api

    def capabilities(self, service: ServiceKind) -> frozenset[Capability]:
        extra = {Capability.SNAPSHOTS, Capability.METRICS} if service == "qdrant" else set()
        return _ALL | extra

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
        api = self.api
        info = await api.call(Operation("get", "version"), api.version.get_code)
        return str(info.get("gitVersion", "?"))

    # --- helpers ---------------------------------------------------------------------

    def _spec(self, service: ServiceKind) -> ServiceSpec:
        return enabled_service(self.profile, service)

    async def _list(self, resource: str, function: Any, selector: str | None = None) -> list[Any]:
        api = self.api
        kwargs = {"label_selector": selector} if selector else {}
        answer = await api.call(api.op("list", resource), function, api.namespace, **kwargs)
        return list(answer.get("items") or [])

    async def _statefulsets(self) -> dict[str, Any]:
        items = await self._list(
            "statefulsets.apps",
            self.api.apps.list_namespaced_stateful_set,
            names.managed_selector(),
        )
        return {item["metadata"]["name"]: item for item in items}

    async def _pods(self, selector: str | None = None) -> list[Any]:
        return await self._list(
            "pods", self.api.core.list_namespaced_pod, selector or names.managed_selector()
        )

    async def _events(self) -> list[Any]:
        return await self._list("events", self.api.core.list_namespaced_event)

    # --- lifecycle -------------------------------------------------------------------

    async def _apply(self, obj: dict[str, Any]) -> None:
        from alfred_tui.backends.k8s.manifests import Manifest  # noqa: F401 - for readers

        api = self.api
        kind, name = obj["kind"], obj["metadata"]["name"]
        functions = {
            "Namespace": (api.core.patch_namespace, "namespaces", False),
            "Secret": (api.core.patch_namespaced_secret, "secrets", True),
            "ConfigMap": (api.core.patch_namespaced_config_map, "configmaps", True),
            "Service": (api.core.patch_namespaced_service, "services", True),
            "StatefulSet": (api.apps.patch_namespaced_stateful_set, "statefulsets.apps", True),
            "NetworkPolicy": (
                api.networking.patch_namespaced_network_policy,
                "networkpolicies.networking.k8s.io",
                True,
            ),
        }
        function, resource, namespaced = functions[kind]
        args = (name, api.namespace) if namespaced else (name,)
        op = Operation("apply", resource, api.namespace if namespaced else None, name)
        await api.call(
            op,
            function,
            *args,
            obj,
            field_manager=names.FIELD_MANAGER,
            force=True,
            _content_type=_APPLY,
        )

    async def deploy(
        self,
        profile: Profile | None = None,
        services: Sequence[ServiceKind] | None = None,
        progress: ProgressCallback = no_progress,
    ) -> None:
        from alfred_tui.backends.k8s.manifests import ManifestBuilder

        chosen = profile or self.profile
        wanted = list(services or [kind for kind, _ in chosen.services.enabled()])
        for kind in wanted:
            enabled_service(chosen, kind)
        objects = ManifestBuilder(chosen, self.namespace).build(secrets="values", services=wanted)
        total = len(objects) + 1
        for index, obj in enumerate(objects):
            label = f"apply {obj['kind']}/{obj['metadata']['name']}"
            progress(
                Progress(
                    label, index, total, service=names.service_of_object(obj["metadata"]["name"])
                )
            )
            await self._apply(obj)
        await self._wait_rolled_out(wanted, progress, step=len(objects), total=total)

    async def _wait_rolled_out(
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
            statefulsets = await self._statefulsets()
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
            if time.monotonic() > deadline:
                warning = ""
                with contextlib.suppress(AlfredError):
                    from alfred_tui.backends.k8s.status import latest_warning

                    events = await self._events()
                    pods = {p["metadata"]["name"] for p in await self._pods()}
                    warning = latest_warning(events, pods | wanted)
                raise OperationTimeout(
                    f"not ready after {self.wait_timeout:g} s: {', '.join(pending)}"
                    + (f" (last warning: {warning})" if warning else "")
                    + "; see alfred-tui status and the pods' events"
                )
            await asyncio.sleep(self.poll_interval)

    async def _claims(self) -> list[Any]:
        return await self._list(
            "persistentvolumeclaims",
            self.api.core.list_namespaced_persistent_volume_claim,
            names.managed_selector(),
        )

    async def describe_teardown(self, remove_volumes: bool = False) -> list[str]:
        statefulsets = sorted(await self._statefulsets())
        where = f"namespace {self.namespace} ({self.api.target.context})"
        lines = [
            f"delete StatefulSets {', '.join(statefulsets) or '(none deployed)'}, their "
            f"Services, NetworkPolicies and the {names.SECRET_NAME} Secret in {where}"
        ]
        claims = await self._claims()
        listed = ", ".join(f"{c['metadata']['name']} ({_claim_size(c)})" for c in claims)
        if remove_volumes:
            lines.append(f"delete the PersistentVolumeClaims {listed or '(none)'} and their data")
        else:
            lines.append(f"keep the PersistentVolumeClaims {listed or '(none)'}")
        return lines

    async def _export_volumes(self, safety_dir: Path, progress: ProgressCallback) -> None:
        """Copy each running instance's data folder to ``safety_dir`` as a tar file.

        Only instances with a running pod can be read (through exec); claims of
        pods that are not running are listed in ``NOT-COPIED.txt`` instead.
        """
        claims = {c["metadata"]["name"] for c in await self._claims()}
        pods = {
            p["metadata"]["name"]: p
            for p in await self._pods()
            if (p.get("status") or {}).get("phase") == "Running"
        }
        copied: set[str] = set()
        for kind, spec in self.profile.services.enabled():
            for workload in names.workloads(kind):
                for claim in sorted(
                    c for c in claims if c.startswith(f"data-{workload.statefulset}-")
                ):
                    pod = claim.removeprefix("data-")
                    if pod not in pods:
                        continue
                    progress(Progress(f"copy {claim} to {safety_dir}", service=kind))
                    result = await self.exec(
                        kind,
                        ["tar", "-C", names.data_path(kind, spec), "-cf", "-", "."],
                        instance=pod,
                    )
                    if not result.ok:
                        reason = redact(result.stderr.decode(errors="replace")).strip()[:200]
                        raise OperationFailed(
                            f"cannot copy {claim} before deleting it (tar exited "
                            f"{result.exit_code}: {reason}); nothing was deleted"
                        )
                    target = safety_dir / f"{claim}.tar"
                    target.write_bytes(result.stdout)
                    target.chmod(0o600)
                    copied.add(claim)
        missing = sorted(claims - copied)
        if missing:
            (safety_dir / "NOT-COPIED.txt").write_text(
                "No running pod could read these claims, so they were not copied:\n"
                + "".join(f"{name}\n" for name in missing)
            )

    async def teardown(
        self,
        remove_volumes: bool = False,
        progress: ProgressCallback = no_progress,
        safety_dir: Path | None = None,
    ) -> None:
        from alfred_tui.backends.k8s.manifests import ManifestBuilder

        api = self.api
        if remove_volumes and safety_dir is not None:
            await self._export_volumes(safety_dir, progress)
        objects = ManifestBuilder(self.profile, self.namespace).build(
            secrets="values", include_namespace=False
        )
        deleters = {
            "Secret": (api.core.delete_namespaced_secret, "secrets"),
            "ConfigMap": (api.core.delete_namespaced_config_map, "configmaps"),
            "Service": (api.core.delete_namespaced_service, "services"),
            "StatefulSet": (api.apps.delete_namespaced_stateful_set, "statefulsets.apps"),
            "NetworkPolicy": (
                api.networking.delete_namespaced_network_policy,
                "networkpolicies.networking.k8s.io",
            ),
        }
        order = ["StatefulSet", "NetworkPolicy", "Service", "ConfigMap", "Secret"]
        ordered = sorted(objects, key=lambda o: order.index(o["kind"]))
        total = len(ordered) + 2
        for index, obj in enumerate(ordered):
            name = obj["metadata"]["name"]
            function, resource = deleters[obj["kind"]]
            progress(Progress(f"delete {obj['kind']}/{name}", index, total))
            with contextlib.suppress(NotDeployed):
                await api.call(
                    api.op("delete", resource, name),
                    function,
                    name,
                    api.namespace,
                    propagation_policy="Background",
                )
        await self._wait_pods_gone(progress, len(ordered), total)
        if remove_volumes:
            for claim in await self._claims():
                name = claim["metadata"]["name"]
                progress(Progress(f"delete PersistentVolumeClaim/{name}", total - 1, total))
                with contextlib.suppress(NotDeployed):
                    await api.call(
                        api.op("delete", "persistentvolumeclaims", name),
                        api.core.delete_namespaced_persistent_volume_claim,
                        name,
                        api.namespace,
                    )
        progress(Progress("removed", total, total))

    async def _wait_pods_gone(self, progress: ProgressCallback, step: int, total: int) -> None:
        deadline = time.monotonic() + self.wait_timeout
        while True:
            pods = await self._pods()
            if not pods:
                return
            progress(Progress(f"wait for {len(pods)} pod(s) to stop", step, total))
            if time.monotonic() > deadline:
                left = ", ".join(sorted(p["metadata"]["name"] for p in pods))
                raise OperationTimeout(f"pods still running after {self.wait_timeout:g} s: {left}")
            await asyncio.sleep(self.poll_interval)

    # --- status ----------------------------------------------------------------------

    async def status(self) -> list[ServiceStatus]:
        from alfred_tui.backends.k8s.status import service_status

        statefulsets, pods, events = await asyncio.gather(
            self._statefulsets(), self._pods(), self._events()
        )
        result = []
        for kind, spec in self.profile.services.enabled():
            tunnel = self._tunnels.get(kind)
            local = tunnel.endpoint.address() if tunnel and tunnel.endpoint else None
            result.append(
                service_status(kind, spec, self.namespace, statefulsets, pods, events, local)
            )
        return result

    # --- scale, resize, restart ------------------------------------------------------

    async def scale(
        self,
        service: ServiceKind,
        replicas: int,
        progress: ProgressCallback = no_progress,
        safety_dir: Path | None = None,
    ) -> None:
        """Scale through the ``scale`` subresource.

        Scaling down deletes pods, never data: the claims are retained
        (``whenScaled: Retain``) and bound again when the count goes back up,
        so ``safety_dir`` has nothing to keep.
        """
        self._spec(service)
        if replicas < 0:
            raise UsageError(f"replicas must be 0 or more, not {replicas}")
        api = self.api
        targets: list[tuple[str, int]] = []
        for workload in names.workloads(service):
            if service == "postgres":
                count = min(1, replicas) if workload.role == "primary" else max(0, replicas - 1)
            else:
                count = replicas
            targets.append((workload.statefulset, count))
        for index, (name, count) in enumerate(targets):
            progress(Progress(f"scale {name} to {count}", index, len(targets) + 1, service=service))
            await api.call(
                api.op("patch", "statefulsets.apps/scale", name),
                api.apps.patch_namespaced_stateful_set_scale,
                name,
                api.namespace,
                {"spec": {"replicas": count}},
                field_manager=names.FIELD_MANAGER,
            )
        await self._wait_rolled_out([service], progress, len(targets), len(targets) + 1)

    async def resize(
        self,
        service: ServiceKind,
        cpus: float | None = None,
        memory: int | None = None,
        progress: ProgressCallback = no_progress,
    ) -> None:
        from alfred_tui.backends.k8s.manifests import cpu_quantity
        from alfred_tui.backends.k8s.status import cpu_cores, memory_bytes
        from alfred_tui.units import format_k8s_size

        self._spec(service)
        if cpus is None and memory is None:
            raise UsageError("resize needs --cpus or --memory (or both)")
        if (cpus is not None and cpus <= 0) or (memory is not None and memory <= 0):
            raise UsageError("cpus and memory must be greater than zero")
        api = self.api
        statefulsets = await self._statefulsets()
        workloads = names.workloads(service)
        missing = [w.statefulset for w in workloads if w.statefulset not in statefulsets]
        if len(missing) == len(workloads):
            raise NotDeployed(
                f"{service} is not deployed in namespace {self.namespace} (no StatefulSet "
                f"{workloads[0].statefulset}); run alfred-tui up"
            )
        for index, workload in enumerate(w for w in workloads if w.statefulset in statefulsets):
            sts = statefulsets[workload.statefulset]
            containers = sts["spec"]["template"]["spec"].get("containers", [])
            container = next((c for c in containers if c["name"] == workload.container), {})
            current = container.get("resources") or {}
            limits = dict(current.get("limits") or {})
            requests = dict(current.get("requests") or {})
            for key, value, parse, render in (
                ("cpu", cpus, cpu_cores, cpu_quantity),
                ("memory", memory, memory_bytes, format_k8s_size),
            ):
                if value is None:
                    continue
                old_limit = parse(limits.get(key))
                old_request = parse(requests.get(key))
                limits[key] = render(value)  # type: ignore[operator]
                if old_request is not None:
                    follow = (
                        old_request * value / old_limit if old_limit else min(old_request, value)
                    )
                    requests[key] = render(
                        type(value)(follow) if key == "memory" else round(follow, 3)
                    )  # type: ignore[operator]
            resources: dict[str, Any] = {"limits": limits}
            if requests:
                resources["requests"] = requests
            patch = {
                "spec": {
                    "template": {
                        "spec": {
                            "containers": [{"name": workload.container, "resources": resources}]
                        }
                    }
                }
            }
            progress(
                Progress(
                    f"resize {workload.statefulset}", index, len(workloads) + 1, service=service
                )
            )
            await api.call(
                api.op("patch", "statefulsets.apps", workload.statefulset),
                api.apps.patch_namespaced_stateful_set,
                workload.statefulset,
                api.namespace,
                patch,
                field_manager=names.FIELD_MANAGER,
            )
        await self._wait_rolled_out([service], progress, len(workloads), len(workloads) + 1)

    async def restart(self, service: ServiceKind, progress: ProgressCallback = no_progress) -> None:
        self._spec(service)
        api = self.api
        stamp = _now()
        statefulsets = await self._statefulsets()
        workloads = [w for w in names.workloads(service) if w.statefulset in statefulsets]
        if not workloads:
            raise NotDeployed(
                f"{service} is not deployed in namespace {self.namespace}; run alfred-tui up"
            )
        patch = {"spec": {"template": {"metadata": {"annotations": {names.RESTARTED_AT: stamp}}}}}
        for index, workload in enumerate(workloads):
            progress(
                Progress(
                    f"restart {workload.statefulset}", index, len(workloads) + 1, service=service
                )
            )
            await api.call(
                api.op("patch", "statefulsets.apps", workload.statefulset),
                api.apps.patch_namespaced_stateful_set,
                workload.statefulset,
                api.namespace,
                patch,
                field_manager=names.FIELD_MANAGER,
            )
        await self._wait_rolled_out([service], progress, len(workloads), len(workloads) + 1)

    # --- pods --------------------------------------------------------------------------

    async def _pick_pod(self, service: ServiceKind, instance: str | None = None) -> str:
        """The pod to talk to: ``instance`` if given, else the primary's (or any) ready pod."""
        spec = self._spec(service)
        pods = await self._pods(names.app_selector(spec))
        if instance:
            if any(p["metadata"]["name"] == instance for p in pods):
                return instance
            found = ", ".join(sorted(p["metadata"]["name"] for p in pods)) or "none"
            raise NotDeployed(
                f"no pod {instance} of {service} in namespace {self.namespace} (pods: {found})"
            )
        primary = names.workloads(service)[0]

        def rank(pod: Any) -> tuple[int, int, str]:
            ready = any(
                c.get("type") == "Ready" and c.get("status") == "True"
                for c in (pod.get("status") or {}).get("conditions") or []
            )
            running = (pod.get("status") or {}).get("phase") == "Running"
            is_primary = names.workload_of_pod(pod["metadata"]["name"]) == primary
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
        return candidates[0]["metadata"]["name"]

    async def endpoint(self, service: ServiceKind) -> Endpoint:
        from alfred_tui.backends.k8s.tunnel import Tunnel

        spec = self._spec(service)
        async with self._tunnel_lock:
            tunnel = self._tunnels.get(service)
            if tunnel is not None and tunnel.endpoint is not None:
                return tunnel.endpoint
            await self._pick_pod(service)  # fail now, with a clear message, if nothing runs
            port = names.container_ports(service, spec)[0][1]
            cached: dict[str, str] = {}

            async def pick(fresh: bool) -> str:
                if fresh or "pod" not in cached:
                    cached["pod"] = await self._pick_pod(service)
                return cached["pod"]

            tunnel = Tunnel(self.api, service, port, pick)
            endpoint = await tunnel.start()
            self._tunnels[service] = tunnel
            return endpoint

    async def exec(
        self,
        service: ServiceKind,
        argv: Sequence[str],
        stdin: bytes | None = None,
        instance: str | None = None,
        timeout: float | None = None,
    ) -> ExecResult:
        if not argv:
            raise UsageError("exec needs a command")
        pod = await self._pick_pod(service, instance)
        api = self.api
        op = api.op("create", "pods/exec", pod)
        container = names.container_name(service)
        limit = timeout or 600.0
        tool = argv[0]
        argv = self._aimed(service, argv)

        def run() -> tuple[int | None, bytes, bytes, str]:
            from kubernetes.stream import stream

            client = stream(
                api.stream_core().connect_get_namespaced_pod_exec,
                pod,
                api.namespace,
                command=list(argv),
                container=container,
                stdin=stdin is not None,
                stdout=True,
                stderr=True,
                tty=False,
                binary=True,
                _preload_content=False,
            )
            out, err = bytearray(), bytearray()
            try:
                if stdin is not None:
                    if client.subprotocol != _V5:
                        raise NotSupported(
                            self.name,
                            Capability.EXEC,
                            f"{service} with stdin (the API server lacks {_V5}: "
                            "Kubernetes 1.30 or newer has it)",
                        )
                    for start in range(0, len(stdin), 65536):
                        client.write_stdin(stdin[start : start + 65536])
                        client.update(timeout=0)
                        out.extend(client.read_channel(1) or b"")
                        err.extend(client.read_channel(2) or b"")
                    client.close_channel(0)
                deadline = time.monotonic() + limit
                while client.is_open():
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise OperationTimeout(
                            f"{tool} in pod {pod} did not finish within {limit:g} s"
                        )
                    client.update(timeout=min(1.0, remaining))
                    out.extend(client.read_channel(1) or b"")
                    err.extend(client.read_channel(2) or b"")
                out.extend(client.read_channel(1) or b"")
                err.extend(client.read_channel(2) or b"")
                status = client.read_channel(3) or b""
            finally:
                client.close()
            text = status.decode("utf-8", "replace") if isinstance(status, bytes) else status
            code, message = _exit_code(text)
            return code, bytes(out), bytes(err), message

        try:
            code, out, err, message = await asyncio.wait_for(
                _thread_result(run, op.describe()), limit + 10
            )
        except AlfredError:
            raise
        except Exception as exc:
            raise translate(exc, op, api.target, limit) from None
        if code is None:
            raise OperationFailed(f"exec {tool} in pod {pod} failed: {redact(message)}")
        return ExecResult(code, out, err)

    def _aimed(self, service: ServiceKind, argv: Sequence[str]) -> list[str]:
        """``argv`` aimed at the instance, with no secret on the command line.

        PostgreSQL tools get ``PGHOST``/``PGPORT``/``PGUSER``/``PGPASSWORD``/
        ``PGDATABASE`` from the container's own environment (the Secret), set by
        a shell in the pod, so the values never appear in the request; what the
        environment already sets wins. ``redis-cli`` reaches localhost:6379 and
        reads ``REDISCLI_AUTH`` from the container's environment.
        """
        if service != "postgres":
            return list(argv)
        port = names.container_ports(service, self._spec(service))[0][1]
        script = (
            'export PGHOST="${PGHOST:-localhost}" '
            f'PGPORT="${{PGPORT:-{port}}}" '
            'PGUSER="${PGUSER:-$POSTGRES_USER}" '
            'PGPASSWORD="${PGPASSWORD:-$POSTGRES_PASSWORD}" '
            'PGDATABASE="${PGDATABASE:-${POSTGRES_DB:-$POSTGRES_USER}}"; exec "$@"'
        )
        return ["sh", "-c", script, "alfred-exec", *argv]

    async def copy_from(
        self,
        service: ServiceKind,
        path: str,
        destination: Path,
        instance: str | None = None,
    ) -> Path:
        """Read ``path`` in the pod (``cat`` through exec) into ``destination``."""
        result = await self.exec(service, ["cat", path], instance=instance)
        if not result.ok:
            message = redact(result.stderr.decode("utf-8", "replace")).strip()[:200]
            raise OperationFailed(f"cannot read {path} in {service}: {message}")
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_bytes(result.stdout)
        return destination

    async def copy_to(
        self,
        service: ServiceKind,
        source: Path,
        path: str,
        instance: str | None = None,
    ) -> None:
        """Write ``source`` to ``path`` in the pod, owned like the data folder."""
        data = names.data_path(service, self._spec(service))
        script = 'cat > "$1" && chown "$(stat -c %u:%g "$2")" "$1" 2>/dev/null; test -f "$1"'
        result = await self.exec(
            service,
            ["sh", "-c", script, "alfred-copy", path, data],
            stdin=source.read_bytes(),
            instance=instance,
        )
        if not result.ok:
            message = redact(result.stderr.decode("utf-8", "replace")).strip()[:200]
            raise OperationFailed(f"cannot write {path} in {service}: {message}")

    # --- logs --------------------------------------------------------------------------

    async def _log_pods(self, services: Sequence[ServiceKind]) -> list[tuple[ServiceKind, str]]:
        pods = await self._pods()
        found = []
        for pod in pods:
            name = pod["metadata"]["name"]
            workload = names.workload_of_pod(name)
            if workload is None or workload.kind not in services:
                continue
            statuses = (pod.get("status") or {}).get("containerStatuses") or []
            started = any("waiting" not in (c.get("state") or {}) for c in statuses)
            if started:
                found.append((workload.kind, name))
        return sorted(found, key=lambda item: item[1])

    def _log_request(
        self,
        pod: str,
        service: ServiceKind,
        follow: bool,
        since: dt.datetime | None,
        tail: int | None,
    ) -> Any:
        api = self.api
        kwargs: dict[str, Any] = {
            "container": names.container_name(service),
            "timestamps": True,
            "follow": follow,
            "_preload_content": False,
        }
        if not follow:  # a followed log may be quiet for hours: no read timeout
            kwargs["_request_timeout"] = (5.0, self.request_timeout)
        if tail is not None:
            kwargs["tail_lines"] = tail
        if since is not None:
            age = (dt.datetime.now(dt.UTC) - since).total_seconds()
            kwargs["since_seconds"] = max(1, int(age) + 1)
        return api.core.read_namespaced_pod_log(pod, api.namespace, **kwargs)

    async def logs(  # type: ignore[override]
        self,
        services: Iterable[ServiceKind] | None = None,
        follow: bool = False,
        since: dt.datetime | None = None,
        tail: int | None = None,
    ) -> AsyncIterator[LogRecord]:
        from alfred_tui.backends.k8s.logs import ReorderWindow, merge_sorted, records

        wanted = list(services or [k for k, _ in self.profile.services.enabled()])
        for kind in wanted:
            self._spec(kind)
        api = self.api
        pods = await self._log_pods(wanted)
        if not follow:

            async def read(service: ServiceKind, pod: str) -> list[LogRecord]:
                op = api.op("get", "pods/log", pod)

                def fetch() -> list[LogRecord]:
                    response = self._log_request(pod, service, False, since, tail)
                    try:
                        text = response.data.decode("utf-8", "replace")
                    finally:
                        response.release_conn()
                    return list(records(service, pod, text.splitlines()))

                try:
                    return await _thread_result(fetch, op.describe(), self.request_timeout + 5)
                except NotDeployed:
                    return []
                except Exception as exc:
                    raise translate(exc, op, api.target, self.request_timeout) from None

            streams = await asyncio.gather(*(read(kind, pod) for kind, pod in pods))
            for record in merge_sorted(streams):
                yield record
            return

        out: queue.SimpleQueue[LogRecord | BaseException] = queue.SimpleQueue()
        stop = threading.Event()
        responses: dict[str, Any] = {}
        followed: set[str] = set()

        def follow_pod(service: ServiceKind, pod: str, backlog: int | None) -> None:
            op = api.op("get", "pods/log", pod)
            try:
                response = self._log_request(pod, service, True, since, backlog)
                responses[pod] = response
                pending = b""
                for chunk in response.stream(4096, decode_content=True):
                    if stop.is_set():
                        break
                    pending += chunk
                    *lines, pending = pending.split(b"\n")
                    for record in records(
                        service, pod, (ln.decode("utf-8", "replace") for ln in lines)
                    ):
                        out.put(record)
            except Exception as exc:
                if not stop.is_set():
                    error = translate(exc, op, api.target)
                    if not isinstance(error, NotDeployed):
                        out.put(error)
            finally:
                followed.discard(pod)
                response = responses.pop(pod, None)
                if response is not None:
                    with contextlib.suppress(Exception):
                        response.release_conn()

        def start(service: ServiceKind, pod: str, backlog: int | None) -> None:
            followed.add(pod)
            threading.Thread(
                target=follow_pod, args=(service, pod, backlog), daemon=True, name=f"logs {pod}"
            ).start()

        for kind, pod in pods:
            start(kind, pod, tail)
        window = ReorderWindow()
        next_scan = time.monotonic() + self.log_rescan_seconds
        try:
            while True:
                for record in window.ready():
                    yield record
                try:
                    item = await _queue_get(out, 0.05)
                except TimeoutError:
                    item = None
                if isinstance(item, BaseException):
                    raise item
                if item is not None:
                    window.add(item)
                if time.monotonic() >= next_scan:  # new pods after a scale or a restart
                    next_scan = time.monotonic() + self.log_rescan_seconds
                    with contextlib.suppress(AlfredError):
                        for kind, pod in await self._log_pods(wanted):
                            if pod not in followed:  # new since we started: all of it
                                start(kind, pod, None)
        finally:
            stop.set()
            for response in list(responses.values()):
                _interrupt(response)

    # --- events ------------------------------------------------------------------------

    async def events(self) -> AsyncIterator[BackendEvent]:  # type: ignore[override]
        """Pod changes and cluster Events as they happen; watches reconnect with backoff."""
        from alfred_tui.backends.k8s.watching import EventWatcher

        watcher = EventWatcher(self.api, self.profile, server_timeout=self.watch_timeout)
        watcher.start()
        try:
            while True:
                item = await _queue_get(watcher.queue, None)
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            watcher.stop()

    async def close(self) -> None:
        for tunnel in list(self._tunnels.values()):
            await tunnel.close()
        self._tunnels.clear()
        if self._api is not None:
            self._api.close()
            self._api = None


def _claim_size(claim: Any) -> str:
    requests = ((claim.get("spec") or {}).get("resources") or {}).get("requests") or {}
    return str(requests.get("storage", "?"))


def _interrupt(response: Any) -> None:
    """Wake the thread blocked reading ``response`` (a close from here would wait for it)."""
    connection = getattr(response, "connection", None) or getattr(response, "_connection", None)
    sock = getattr(connection, "sock", None)
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def _exit_code(status: str) -> tuple[int | None, str]:
    """The exit code in the exec error channel's ``Status`` (None: the command did not run)."""
    if not status.strip():
        return None, "the connection closed before the command's exit status arrived"
    try:
        document = json.loads(status)
    except ValueError:
        return None, status.strip()[:200]
    if document.get("status") == "Success":
        return 0, ""
    for cause in (document.get("details") or {}).get("causes") or []:
        if cause.get("reason") == "ExitCode":
            with contextlib.suppress(TypeError, ValueError):
                return int(cause.get("message")), ""
    return None, str(document.get("message") or document)[:300]


async def _thread_result(function: Any, name: str, timeout: float | None = None) -> Any:
    from alfred_tui.backends.k8s.access import in_thread

    return await in_thread(function, timeout, name)


async def _queue_get(source: queue.SimpleQueue[Any], timeout: float | None) -> Any:
    """Take from a thread-fed queue without blocking the loop."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        with contextlib.suppress(queue.Empty):
            return source.get_nowait()
        if deadline is not None and time.monotonic() >= deadline:
            raise TimeoutError
        await asyncio.sleep(0.02)
