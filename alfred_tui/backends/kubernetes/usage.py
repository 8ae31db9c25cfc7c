"""CPU and memory of the pods, from metrics.k8s.io, and a port-forward to each pod.

A cluster serves ``metrics.k8s.io`` only when a metrics server (or an
adapter speaking its API) runs; one list call returns every pod's usage,
so a refresh costs one request however many pods there are. Without it the
API answers 404 and every instance says "no metrics server", never a fake
zero. Limits and requests come from the pods' own specs, restarts from
their container statuses. The metrics server samples every 15 s or so
(its ``--metric-resolution``): usage moves in those steps.

``instance_endpoints`` opens one loopback tunnel per pod (replicas too), so
replication can be read on each instance and failover can promote one.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from alfred_tui.backends.base import Endpoint, InstanceUsage, NotDeployed, OperationFailed
from alfred_tui.backends.kubernetes import names
from alfred_tui.backends.kubernetes.core import KubernetesCore
from alfred_tui.backends.kubernetes.status import cpu_cores, memory_bytes
from alfred_tui.config.models import ServiceKind

NO_METRICS_SERVER = "no metrics server (metrics.k8s.io is not served by this cluster)"


def _ready(pod: dict[str, Any]) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (pod.get("status") or {}).get("conditions") or []
    )


def _container(pod: dict[str, Any], name: str) -> dict[str, Any]:
    containers = (pod.get("spec") or {}).get("containers") or []
    fallback = containers[0] if containers else {}
    return next((c for c in containers if c.get("name") == name), fallback)


def pod_usage(
    kind: ServiceKind, pod: dict[str, Any], metrics: dict[str, Any] | None, note: str
) -> InstanceUsage:
    """One pod's usage: its main container's metrics against its limits and requests."""
    container_name = names.container_name(kind)
    resources = _container(pod, container_name).get("resources") or {}
    limits, requests = resources.get("limits") or {}, resources.get("requests") or {}
    cpu = memory = None
    if metrics is not None:
        used = next(
            (c for c in metrics.get("containers") or [] if c.get("name") == container_name), None
        )
        if used is None:
            note = note or "the metrics server has no reading of its container yet"
        else:
            cores = cpu_cores((used.get("usage") or {}).get("cpu"))
            cpu = None if cores is None else cores * 100
            memory = memory_bytes((used.get("usage") or {}).get("memory"))
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    return InstanceUsage(
        service=kind,
        instance=pod["metadata"]["name"],
        cpu_percent=cpu,
        cpu_limit=cpu_cores(limits.get("cpu")),
        memory=memory,
        memory_limit=memory_bytes(limits.get("memory")),
        memory_request=memory_bytes(requests.get("memory")),
        restarts=sum(int(c.get("restartCount", 0)) for c in statuses),
        taken_at=time.time(),
        note=note,
    )


class KubernetesUsage(KubernetesCore):
    """``usage`` (UsageReporting) and ``instance_endpoints`` (InstanceAddressing)."""

    async def pod_metrics(self) -> tuple[dict[str, Any], str]:
        """Every managed pod's metrics by name, or nothing and why."""
        api = self.api
        try:
            answer = await api.call(
                api.op("list", "pods.metrics.k8s.io"),
                api.custom.list_namespaced_custom_object,
                "metrics.k8s.io",
                "v1beta1",
                api.namespace,
                "pods",
                label_selector=names.managed_selector(),
                retry=False,
            )
        except NotDeployed:
            return {}, NO_METRICS_SERVER
        except OperationFailed as exc:
            return {}, f"metrics server not answering: {exc.one_line()}"
        return {item["metadata"]["name"]: item for item in answer.get("items") or []}, ""

    async def usage(self, services: Iterable[ServiceKind] | None = None) -> list[InstanceUsage]:
        """One metrics.k8s.io list for every pod, against the pods' limits (see the module)."""
        kinds = [kind for kind, _ in self.profile.services.enabled()]
        if services is not None:
            wanted = set(services)
            kinds = [kind for kind in kinds if kind in wanted]
        pods = await self.pods()
        metrics, why_not = await self.pod_metrics()
        found = []
        for kind in kinds:
            spec = self.service_spec(kind)
            for pod in pods:
                labels = (pod.get("metadata") or {}).get("labels") or {}
                if labels.get("app") != names.app_label(spec):
                    continue
                if (pod.get("status") or {}).get("phase") != "Running":
                    continue
                reading = metrics.get(pod["metadata"]["name"])
                note = why_not or (
                    "" if reading is not None else "the metrics server has no reading of it yet"
                )
                found.append(pod_usage(kind, pod, reading, note))
        return found

    async def instance_endpoints(self, service: ServiceKind) -> dict[str, Endpoint]:
        """A loopback tunnel to each ready pod of ``service``, kept until :meth:`close`."""
        from alfred_tui.backends.kubernetes.tunnel import Tunnel

        spec = self.service_spec(service)
        port = names.container_ports(service, spec)[0][1]
        found: dict[str, Endpoint] = {}
        for pod in await self.pods(names.app_selector(spec)):
            name = pod["metadata"]["name"]
            if not _ready(pod) or pod["metadata"].get("deletionTimestamp"):
                continue
            tunnel = self.pod_tunnels.get(name)
            if tunnel is None or tunnel.endpoint is None:

                async def pick(_fresh: bool, pod_name: str = name) -> str:
                    return pod_name

                tunnel = Tunnel(self.api, service, port, pick)
                await tunnel.start()
                self.pod_tunnels[name] = tunnel
            assert tunnel.endpoint is not None
            found[name] = tunnel.endpoint
        return found
