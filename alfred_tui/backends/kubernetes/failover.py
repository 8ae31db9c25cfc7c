"""The Kubernetes engine's part of a PostgreSQL failover: fence, Service selectors, re-clone.

The manifests run PostgreSQL as two StatefulSets: ``postgres-primary`` (one
pod) and ``postgres-replica`` (hot standbys whose ``primary_conninfo``
names the ``postgres-primary`` Service). Clients use the ``db-postgres``
Service. Both Services select the primary by its role label, so once a
replica's database is promoted:

- **fence** the old primary: scale ``postgres-primary`` to 0. Its pod goes,
  its claim ``data-postgres-primary-0`` stays (``whenScaled: Retain``), and
  nothing brings it back while the StatefulSet says 0;
- **make_primary**: point ``db-postgres`` and ``postgres-primary`` at the
  promoted pod by its name (``statefulset.kubernetes.io/pod-name``), and
  note it in an annotation. The other standbys follow the
  ``postgres-primary`` name to it; alfred-tui's own tunnel follows the
  ``db-postgres`` selector (:meth:`KubernetesCore.pick_pod`);
- ``up`` refuses while that annotation is there: applying the manifests
  would point the Services back at the fenced primary and start it;
- **reclone** a standby: copy its claim to the safety folder (a pod of its
  own reads it while the standby runs), delete its pod and its claim; the
  StatefulSet makes both again and the pod's init container copies the
  primary afresh.

Only PostgreSQL. Redis replicas run here, but the manifests' start script
makes ``redis-0`` the master whenever it starts: a fenced ``redis-0`` that a
StatefulSet brought back would be a second master, so promoting a Redis
replica is not offered until that script knows of a failover. The old
primary's claim is kept, never re-cloned here (its StatefulSet can only run
a primary); take what you need from it and delete it, or restore the
manifests' layout by hand.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from pathlib import Path
from typing import Any

from alfred_tui.backends.base import (
    NotDeployed,
    OperationFailed,
    OperationTimeout,
    Progress,
    ProgressCallback,
    no_progress,
)
from alfred_tui.backends.capabilities import Capability
from alfred_tui.backends.kubernetes import names
from alfred_tui.backends.kubernetes.exec import KubernetesExec
from alfred_tui.config.models import ServiceKind

#: The annotation a failover leaves on the Services it repointed.
FAILED_OVER = "alfred-tui.io/failed-over"
POD_NAME = "statefulset.kubernetes.io/pod-name"


class KubernetesFailover(KubernetesExec):
    """``fence``, ``make_primary`` and ``reclone`` (PrimaryFailover) for PostgreSQL."""

    def withheld(self, service: ServiceKind) -> frozenset[Capability]:
        """PostgreSQL only: ``redis-0`` makes itself master whenever it starts."""
        return frozenset() if service == "postgres" else frozenset({Capability.FAILOVER})

    def _services_to_repoint(self) -> list[str]:
        spec = self.service_spec("postgres")
        return [names.client_service(spec), names.workloads("postgres")[0].governing_service]

    async def failed_over(self) -> dict[str, Any] | None:
        """The failover annotation of the client Service, if a failover repointed it."""
        api = self.api
        name = names.client_service(self.service_spec("postgres"))
        try:
            service = await api.call(
                api.op("get", "services", name), api.core.read_namespaced_service, name,
                api.namespace,
            )  # fmt: skip
        except NotDeployed:
            return None
        text = ((service.get("metadata") or {}).get("annotations") or {}).get(FAILED_OVER)
        return json.loads(text) if text else None

    async def failover_plan(self, service: ServiceKind, old: str, new: str) -> list[str]:
        primary = names.workloads("postgres")[0]
        services = ", ".join(self._services_to_repoint())
        return [
            f"fence {old}: scale StatefulSet {primary.statefulset} to 0 (its pod stops, its "
            f"claim data-{old} is kept; nothing restarts it while the StatefulSet says 0)",
            f"point the Services {services} at pod {new} (selector {POD_NAME}={new}): clients "
            "and the other standbys follow; `alfred-tui up` is refused until the layout is "
            "restored",
        ]

    async def fence(
        self, service: ServiceKind, instance: str, progress: ProgressCallback = no_progress
    ) -> str:
        primary = names.workloads("postgres")[0]
        if names.workload_of_pod(instance) != primary:
            raise OperationFailed(
                f"{instance} is not the primary StatefulSet's pod: a second failover on "
                "Kubernetes needs the first one undone (restore the manifests' layout) first"
            )
        api = self.api
        progress(Progress(f"scale {primary.statefulset} to 0", service=service))
        await api.call(
            api.op("patch", "statefulsets.apps/scale", primary.statefulset),
            api.apps.patch_namespaced_stateful_set_scale,
            primary.statefulset,
            api.namespace,
            {"spec": {"replicas": 0}},
            field_manager=names.FIELD_MANAGER,
        )
        return f"{primary.statefulset} scaled to 0; claim data-{instance} kept"

    async def make_primary(
        self, service: ServiceKind, instance: str, progress: ProgressCallback = no_progress
    ) -> str:
        api = self.api
        spec = self.service_spec("postgres")
        note = json.dumps({"primary": instance, "at": dt.datetime.now(dt.UTC).isoformat()})
        for name in self._services_to_repoint():
            progress(Progress(f"point Service {name} at {instance}", service=service))
            await api.call(
                api.op("patch", "services", name),
                api.core.patch_namespaced_service,
                name,
                api.namespace,
                {
                    "metadata": {"annotations": {FAILED_OVER: note}},
                    "spec": {"selector": {"app": names.app_label(spec), POD_NAME: instance}},
                },
                _content_type="application/merge-patch+json",
            )
        tunnel = self.tunnels.pop(service, None)
        if tunnel is not None:  # it led to the old primary: the next endpoint() follows anew
            await tunnel.close()
        return f"Services {', '.join(self._services_to_repoint())} select pod {instance}"

    async def fenced_instances(self, service: ServiceKind) -> list[str]:
        if service != "postgres" or await self.failed_over() is None:
            return []
        return [names.workloads("postgres")[0].pod_name(0)]

    async def reclone_plan(self, service: ServiceKind, instance: str) -> list[str]:
        self._reclonable(service, instance)
        return [
            f"keep a safety copy of claim data-{instance} (a tar file in the safety folder, "
            "read by a pod of its own while the replica still runs)",
            f"delete pod {instance} and its claim data-{instance}",
            "the StatefulSet recreates both; the init container copies the primary "
            "(pg_basebackup) before the standby starts",
            "wait until it is ready",
        ]

    def _reclonable(self, service: ServiceKind, instance: str) -> None:
        replica = names.workloads("postgres")[1]
        if service != "postgres" or names.workload_of_pod(instance) != replica:
            raise OperationFailed(
                f"only pods of StatefulSet {replica.statefulset} can be re-cloned on Kubernetes, "
                f"not {instance}"
            )

    async def reclone(
        self,
        service: ServiceKind,
        instance: str,
        progress: ProgressCallback = no_progress,
        safety_dir: Path | None = None,
    ) -> str:
        self._reclonable(service, instance)
        api = self.api
        claim = f"data-{instance}"
        old = next((p for p in await self.pods() if p["metadata"]["name"] == instance), None)
        old_uid = None if old is None else old["metadata"].get("uid")
        old_claim = await self._claim_uid(claim)
        kept = ""
        if safety_dir is not None and old_claim is not None:
            target = safety_dir / f"{claim}.tar"
            progress(Progress(f"safety copy of claim {claim} to {target}", service=service))
            await self.copy_claim(claim, service, target, in_use=True)
            kept = f"; its data kept in {target}"
        progress(Progress(f"delete claim {claim} and pod {instance}", service=service))
        await api.call(
            api.op("delete", "persistentvolumeclaims", claim),
            api.core.delete_namespaced_persistent_volume_claim,
            claim,
            api.namespace,
        )
        old_uid = await self._delete_until_claim_gone(instance, old_uid, claim, old_claim, progress)
        await self._wait_replaced(instance, old_uid, progress)
        await self.wait_rolled_out(["postgres"], progress)
        return f"{instance} re-cloned: new claim {claim}, data copied from the primary{kept}"

    async def _claim_uid(self, claim: str) -> str | None:
        found = next((c for c in await self.claims() if c["metadata"]["name"] == claim), None)
        return None if found is None else str(found["metadata"].get("uid"))

    async def _delete_until_claim_gone(
        self,
        instance: str,
        pod_uid: str | None,
        claim: str,
        claim_uid: str | None,
        progress: ProgressCallback,
    ) -> str | None:
        """Delete ``instance`` until its old claim is really gone; the last pod uid deleted.

        A claim being deleted stays while a pod on a node uses it
        (``pvc-protection``), and the StatefulSet makes the pod again at once,
        on the old claim: the scheduler leaves that one Pending, and once the
        claim is gone it waits for a claim that no one makes. So each pod seen
        while the old claim is there is deleted, and one still Pending after it
        went is deleted once more; the next pod gets a new, empty claim.
        """
        api = self.api
        deadline = time.monotonic() + self.wait_timeout
        deleted: str | None = None
        asked = False
        while True:
            released = asked and (claim_uid is None or await self._claim_uid(claim) != claim_uid)
            pod = next((p for p in await self.pods() if p["metadata"]["name"] == instance), None)
            uid = None if pod is None else str(pod["metadata"].get("uid"))
            if released:
                if pod is None or uid == deleted or (pod.get("spec") or {}).get("nodeName"):
                    return deleted or pod_uid
                # Made while the old claim was there: Pending on it for good; once more.
                await api.call(
                    api.op("delete", "pods", instance), api.core.delete_namespaced_pod, instance,
                    api.namespace,
                )  # fmt: skip
                return uid
            if uid is not None and uid != deleted:  # a terminating pod keeps its uid
                await api.call(
                    api.op("delete", "pods", instance), api.core.delete_namespaced_pod, instance,
                    api.namespace,
                )  # fmt: skip
                deleted = uid
            asked = True
            if time.monotonic() > deadline:
                raise OperationTimeout(
                    f"claim {claim} was not deleted within {self.wait_timeout:g} s: a pod still "
                    f"uses it (kubectl describe pvc {claim} -n {self.namespace})"
                )
            progress(Progress(f"wait for claim {claim} to be released", service="postgres"))
            await asyncio.sleep(self.poll_interval)

    async def _wait_replaced(
        self, instance: str, old_uid: str | None, progress: ProgressCallback
    ) -> None:
        """Until the StatefulSet made ``instance`` again (another pod, ready)."""
        deadline = time.monotonic() + self.wait_timeout
        while time.monotonic() < deadline:
            pod = next((p for p in await self.pods() if p["metadata"]["name"] == instance), None)
            ready = pod is not None and any(
                c.get("type") == "Ready" and c.get("status") == "True"
                for c in (pod.get("status") or {}).get("conditions") or []
            )
            if pod is not None and pod["metadata"].get("uid") != old_uid and ready:
                return
            progress(Progress(f"wait for {instance} to come back", service="postgres"))
            await asyncio.sleep(self.poll_interval)
        raise OperationTimeout(f"{instance} did not come back within {self.wait_timeout:g} s")
