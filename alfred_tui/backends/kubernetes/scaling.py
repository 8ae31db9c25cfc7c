"""Scaling, resizing and restarting StatefulSets.

``scale`` goes through the ``scale`` subresource (PostgreSQL's count includes
its primary: ``scale postgres 3`` = primary + 2 read replicas), ``resize``
patches requests and limits (a rolling restart, as on any StatefulSet),
``restart`` sets ``kubectl.kubernetes.io/restartedAt`` as ``kubectl rollout
restart`` does; each waits until the rollout is done. After a failover,
``scale`` never brings the fenced PostgreSQL primary back, nor removes the
pod that is Redis's master now (a StatefulSet scales down from its highest
ordinal).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from alfred_tui.backends.base import (
    NotDeployed,
    OperationFailed,
    Progress,
    ProgressCallback,
    no_progress,
)
from alfred_tui.backends.kubernetes import names
from alfred_tui.backends.kubernetes.core import KubernetesCore
from alfred_tui.config.models import ServiceKind
from alfred_tui.errors import UsageError


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class KubernetesScaling(KubernetesCore):
    """``scale``, ``resize`` and ``restart`` (Scalable, Resizable, Restartable)."""

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
        self.service_spec(service)
        if replicas < 0:
            raise UsageError(f"replicas must be 0 or more, not {replicas}")
        await self._refuse_scale_after_failover(service, replicas)
        api = await self.connected()
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
        await self.wait_rolled_out([service], progress, len(targets), len(targets) + 1)

    async def _refuse_scale_after_failover(self, service: ServiceKind, replicas: int) -> None:
        if service not in ("postgres", "redis"):
            return
        failed_over = await self.failed_over(service)
        if failed_over is None:
            return
        primary = str(failed_over.get("primary", ""))
        if service == "postgres":
            raise OperationFailed(
                f"postgres failed over to pod {primary}: scaling sets StatefulSet "
                f"postgres-primary too, which would start the fenced old primary; restore the "
                "layout first (docs/replication.md)"
            )
        ordinal = primary.rpartition("-")[2]
        if ordinal.isdigit() and replicas <= int(ordinal):
            raise OperationFailed(
                f"redis failed over to pod {primary}, its master now: scaling to {replicas} "
                f"would delete it (a StatefulSet removes its highest ordinals first); keep at "
                f"least {int(ordinal) + 1}"
            )

    async def resize(
        self,
        service: ServiceKind,
        cpus: float | None = None,
        memory: int | None = None,
        progress: ProgressCallback = no_progress,
    ) -> None:
        from alfred_tui.backends.kubernetes.manifests import cpu_quantity
        from alfred_tui.backends.kubernetes.status import cpu_cores, memory_bytes
        from alfred_tui.units import format_k8s_size

        def memory_quantity(value: float) -> str:
            return format_k8s_size(int(value))

        self.service_spec(service)
        if cpus is None and memory is None:
            raise UsageError("resize needs --cpus or --memory (or both)")
        if (cpus is not None and cpus <= 0) or (memory is not None and memory <= 0):
            raise UsageError("cpus and memory must be greater than zero")
        api = await self.connected()
        statefulsets = await self.statefulsets()
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
            container: dict[str, Any] = next(
                (c for c in containers if c["name"] == workload.container), {}
            )
            current = container.get("resources") or {}
            limits = dict(current.get("limits") or {})
            requests = dict(current.get("requests") or {})
            for key, value, parse, render in (
                ("cpu", cpus, cpu_cores, cpu_quantity),
                ("memory", memory, memory_bytes, memory_quantity),
            ):
                if value is None:
                    continue
                old_limit = parse(limits.get(key))
                old_request = parse(requests.get(key))
                limits[key] = render(value)
                if old_request is not None:
                    follow = (
                        old_request * value / old_limit if old_limit else min(old_request, value)
                    )
                    requests[key] = render(follow if key == "memory" else round(follow, 3))
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
        await self.wait_rolled_out([service], progress, len(workloads), len(workloads) + 1)

    async def restart(self, service: ServiceKind, progress: ProgressCallback = no_progress) -> None:
        self.service_spec(service)
        api = await self.connected()
        stamp = _now()
        statefulsets = await self.statefulsets()
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
        await self.wait_rolled_out([service], progress, len(workloads), len(workloads) + 1)
