"""The Kubernetes engine's part of a failover: fence, Service selectors, re-clone.

**PostgreSQL** runs as two StatefulSets: ``postgres-primary`` (one pod) and
``postgres-replica`` (hot standbys whose ``primary_conninfo`` names the
``postgres-primary`` Service). Clients use the ``db-postgres`` Service. Both
Services select the primary by its role label, so once a replica's database
is promoted:

- **fence** the old primary: scale ``postgres-primary`` to 0. Its pod goes,
  its claim ``data-postgres-primary-0`` stays (``whenScaled: Retain``), and
  nothing brings it back while the StatefulSet says 0;
- **make_primary**: point ``db-postgres`` and ``postgres-primary`` at the
  promoted pod by its name (``statefulset.kubernetes.io/pod-name``), and
  note it in an annotation. The other standbys follow the
  ``postgres-primary`` name to it; alfred-tui's own tunnel follows the
  ``db-postgres`` selector (:meth:`KubernetesCore.pick_pod`);
- **reclone** a standby: copy its claim to the safety folder (a pod of its
  own reads it while the standby runs), delete its pod and its claim; the
  StatefulSet makes both again and the pod's init container copies the
  primary afresh. The old primary's claim is kept, never re-cloned here (its
  StatefulSet can only run a primary).

**Redis** runs as one StatefulSet, so its first pod cannot be kept stopped
while the others run. Instead the pods' start script reads the ConfigMap
``redis-roles`` (:data:`names.REDIS_ROLES_CONFIGMAP`) when the container
starts: the master it names (``redis-0`` while there is none), and the
fenced pods, which start serving nothing (not ready; liveness passes, so the
kubelet does not restart them in a loop):

- **fence** the old master: list it as fenced in the ConfigMap, then delete
  its pod (gracefully when it answers, a planned switchover; at once when it
  does not) and wait until its process is gone, so no write reaches it once
  a replica is promoted; the StatefulSet makes it again, fenced. Its claim is
  kept;
- **make_primary**: name the promoted pod the master in the ConfigMap (pods
  that start later replicate from it), point the ``redis`` Service at it by
  pod name, and tell each other running replica ``REPLICAOF`` it;
- **reclone**: keep a safety copy of the pod's claim, take it off the fenced
  list, delete the pod; it starts again as a replica of the master, and a
  full synchronisation replaces its data.

After either, ``up`` is refused while the annotation is there: applying the
manifests would point the Services back at the old primary.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from pathlib import Path
from typing import Any

from alfred_tui.backends.base import (
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
from alfred_tui.errors import AlfredError


class KubernetesFailover(KubernetesExec):
    """``fence``, ``make_primary`` and ``reclone`` (PrimaryFailover), PostgreSQL and Redis."""

    def withheld(self, service: ServiceKind) -> frozenset[Capability]:
        """Qdrant has no primary to fail over."""
        return frozenset({Capability.FAILOVER}) if service == "qdrant" else frozenset()

    def _services_to_repoint(self, service: ServiceKind) -> list[str]:
        spec = self.service_spec(service)
        if service == "redis":  # its headless Service selects every pod, for their names
            return [names.client_service(spec)]
        return [names.client_service(spec), names.workloads("postgres")[0].governing_service]

    async def failover_plan(self, service: ServiceKind, old: str, new: str) -> list[str]:
        services = ", ".join(self._services_to_repoint(service))
        selector = f"{names.POD_NAME_LABEL}={new}"
        repoint = f"point the Service(s) {services} at pod {new} (selector {selector})"
        restore = "`alfred-tui up` is refused until the layout is restored"
        if service == "redis":
            roles = names.REDIS_ROLES_CONFIGMAP
            return [
                f"fence {old}: list it as fenced in ConfigMap {roles}, then delete its pod "
                "(gracefully if it answers, else at once) and wait until it stopped; the "
                "StatefulSet makes it again serving nothing until it is re-cloned; claim "
                f"data-{old} kept",
                f"name {new} the master in ConfigMap {roles} (pods that start later replicate "
                f"from it), {repoint}, and send REPLICAOF {new} to the other running replicas; "
                + restore,
            ]
        primary = names.workloads("postgres")[0]
        return [
            f"fence {old}: scale StatefulSet {primary.statefulset} to 0 (its pod stops, its "
            f"claim data-{old} is kept; nothing restarts it while the StatefulSet says 0)",
            f"{repoint}: clients and the other standbys follow; {restore}",
        ]

    async def fence(
        self, service: ServiceKind, instance: str, progress: ProgressCallback = no_progress
    ) -> str:
        if service == "redis":
            return await self._fence_redis(instance, progress)
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

    async def _fence_redis(self, instance: str, progress: ProgressCallback) -> str:
        roles = await self.redis_roles()
        master = roles.get("primary") or names.first_pod("redis")
        if instance != master:
            raise OperationFailed(f"{instance} is not the master of redis ({master} is)")
        fenced = sorted({*roles.get("fenced", "").split(), instance})
        step = f"list {instance} as fenced in {names.REDIS_ROLES_CONFIGMAP}"
        progress(Progress(step, service="redis"))
        await self.write_redis_roles({"fenced": " ".join(fenced)})
        pod = await self._pod(instance)
        if pod is None:
            return f"{instance} listed as fenced; it has no pod (it starts fenced when made)"
        # A master that answers (a planned switchover) stops cleanly, saving its data; one
        # that does not is killed at once: waiting out its grace period only delays the
        # failover. Either way its process is gone before a replica is promoted, so no
        # write reaches it after that.
        answers = await self._redis_answers(instance)
        grace = None if answers else 0
        progress(Progress(f"delete pod {instance}", service="redis"))
        await self._delete_pod(instance, grace)
        await self._wait_pod_gone(instance, str(pod["metadata"].get("uid")), progress)
        how = "gracefully (it answered)" if answers else "at once (it did not answer)"
        return (
            f"{instance} listed as fenced in ConfigMap {names.REDIS_ROLES_CONFIGMAP} and its pod "
            f"deleted {how}: it comes back serving nothing; claim data-{instance} kept"
        )

    async def _redis_answers(self, instance: str) -> bool:
        """Whether the Redis server in pod ``instance`` answers a PING within seconds."""
        port = names.container_ports("redis", self.service_spec("redis"))[0][1]
        try:
            result = await self.exec(
                "redis", ["redis-cli", "-p", str(port), "PING"], instance=instance, timeout=5
            )
        except AlfredError:
            return False
        return result.ok and b"PONG" in result.stdout

    async def _wait_pod_gone(self, instance: str, uid: str, progress: ProgressCallback) -> None:
        """Until pod ``instance`` with ``uid`` is no more (gone, or made again)."""
        deadline = time.monotonic() + self.wait_timeout
        while time.monotonic() < deadline:
            pod = await self._pod(instance)
            if pod is None or str(pod["metadata"].get("uid")) != uid:
                return
            progress(Progress(f"wait for pod {instance} to stop", service="redis"))
            await asyncio.sleep(self.poll_interval)
        raise OperationTimeout(f"pod {instance} did not stop within {self.wait_timeout:g} s")

    async def make_primary(
        self, service: ServiceKind, instance: str, progress: ProgressCallback = no_progress
    ) -> str:
        api = self.api
        spec = self.service_spec(service)
        done: list[str] = []
        if service == "redis":
            progress(Progress(f"name {instance} the master", service=service))
            await self.write_redis_roles({"primary": instance})
            done.append(f"ConfigMap {names.REDIS_ROLES_CONFIGMAP} names {instance} the master")
        note = json.dumps({"primary": instance, "at": dt.datetime.now(dt.UTC).isoformat()})
        repointed = self._services_to_repoint(service)
        for name in repointed:
            progress(Progress(f"point Service {name} at {instance}", service=service))
            await api.call(
                api.op("patch", "services", name),
                api.core.patch_namespaced_service,
                name,
                api.namespace,
                {
                    "metadata": {"annotations": {names.FAILED_OVER: note}},
                    "spec": {
                        "selector": {"app": names.app_label(spec), names.POD_NAME_LABEL: instance}
                    },
                },
                _content_type="application/merge-patch+json",
            )
        done.append(f"Services {', '.join(repointed)} select pod {instance}")
        tunnel = self.tunnels.pop(service, None)
        if tunnel is not None:  # it led to the old primary: the next endpoint() follows anew
            await tunnel.close()
        if service == "redis":
            done.append(await self._repoint_redis_replicas(instance, progress))
        return "; ".join(done)

    async def _repoint_redis_replicas(self, master: str, progress: ProgressCallback) -> str:
        """``REPLICAOF master`` in every other running, unfenced Redis pod (they were told
        the old master's name when they started)."""
        spec = self.service_spec("redis")
        workload = names.workloads("redis")[0]
        port = names.container_ports("redis", spec)[0][1]
        host = f"{master}.{workload.governing_service}.{self.namespace}.svc.{names.CLUSTER_DOMAIN}"
        fenced = set((await self.redis_roles()).get("fenced", "").split())
        told: list[str] = []
        failed: list[str] = []
        for pod in await self.pods(names.app_selector(spec)):
            name = pod["metadata"]["name"]
            running = (pod.get("status") or {}).get("phase") == "Running"
            if name == master or name in fenced or not running:
                continue
            progress(Progress(f"{name}: REPLICAOF {master}", service="redis"))
            argv = ["redis-cli", "-p", str(port), "REPLICAOF", host, str(port)]
            try:
                result = await self.exec("redis", argv, instance=name, timeout=30)
                answered = result.stdout.decode(errors="replace").strip()
                if result.ok and answered.startswith("OK"):
                    told.append(name)
                else:
                    failed.append(f"{name} ({answered or result.stderr.decode(errors='replace')})")
            except OperationFailed as exc:
                failed.append(f"{name} ({exc})")
        text = f"told to replicate from {master}: {', '.join(told) or 'none'}"
        return text + (f"; could not tell: {', '.join(failed)}" if failed else "")

    async def fenced_instances(self, service: ServiceKind) -> list[str]:
        if service == "redis":
            return (await self.redis_roles()).get("fenced", "").split()
        if service != "postgres" or await self.failed_over("postgres") is None:
            return []
        return [names.first_pod("postgres")]

    async def reclone_plan(self, service: ServiceKind, instance: str) -> list[str]:
        if service == "redis":
            master, fenced = await self._reclonable_redis(instance)
            return [
                f"keep a safety copy of claim data-{instance} (a tar file in the safety folder, "
                "read by a pod of its own)",
                *(
                    [f"take {instance} off the fenced list in {names.REDIS_ROLES_CONFIGMAP}"]
                    if fenced
                    else []
                ),
                f"delete pod {instance}; the StatefulSet makes it again as a replica of {master} "
                "(a full synchronisation replaces its data)",
                "wait until it is ready",
            ]
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

    async def _reclonable_redis(self, instance: str) -> tuple[str, bool]:
        """The master, and whether ``instance`` is fenced; refused for the master itself."""
        if names.workload_of_pod(instance) != names.workloads("redis")[0]:
            raise OperationFailed(f"{instance} is not a pod of StatefulSet redis")
        roles = await self.redis_roles()
        master = roles.get("primary") or names.first_pod("redis")
        if instance == master:
            raise OperationFailed(
                f"{instance} is the master of redis: re-cloning copies the master, it cannot "
                "replace it (fail over first, then re-clone the old one)"
            )
        return master, instance in roles.get("fenced", "").split()

    async def reclone(
        self,
        service: ServiceKind,
        instance: str,
        progress: ProgressCallback = no_progress,
        safety_dir: Path | None = None,
    ) -> str:
        if service == "redis":
            return await self._reclone_redis(instance, progress, safety_dir)
        self._reclonable(service, instance)
        api = self.api
        claim = f"data-{instance}"
        old = await self._pod(instance)
        old_uid = None if old is None else old["metadata"].get("uid")
        old_claim = await self._claim_uid(claim)
        kept = await self._safety_copy(service, claim, old_claim, safety_dir, progress)
        progress(Progress(f"delete claim {claim} and pod {instance}", service=service))
        await api.call(
            api.op("delete", "persistentvolumeclaims", claim),
            api.core.delete_namespaced_persistent_volume_claim,
            claim,
            api.namespace,
        )
        old_uid = await self._delete_until_claim_gone(instance, old_uid, claim, old_claim, progress)
        await self._wait_replaced(service, instance, old_uid, progress)
        await self.wait_rolled_out(["postgres"], progress)
        return f"{instance} re-cloned: new claim {claim}, data copied from the primary{kept}"

    async def _reclone_redis(
        self, instance: str, progress: ProgressCallback, safety_dir: Path | None
    ) -> str:
        master, fenced = await self._reclonable_redis(instance)
        claim = f"data-{instance}"
        kept = await self._safety_copy(
            "redis", claim, await self._claim_uid(claim), safety_dir, progress
        )
        if fenced:
            roles = await self.redis_roles()
            rest = [name for name in roles.get("fenced", "").split() if name != instance]
            progress(Progress(f"take {instance} off the fenced list", service="redis"))
            await self.write_redis_roles({"fenced": " ".join(rest)})
        old = await self._pod(instance)
        old_uid = None if old is None else str(old["metadata"].get("uid"))
        if old is not None:
            progress(Progress(f"delete pod {instance}", service="redis"))
            await self._delete_pod(instance, None)
        await self._wait_replaced("redis", instance, old_uid, progress)
        await self.wait_rolled_out(["redis"], progress)
        return f"{instance} re-cloned: a replica of {master}, its data synchronised anew{kept}"

    async def _safety_copy(
        self,
        service: ServiceKind,
        claim: str,
        claim_uid: str | None,
        safety_dir: Path | None,
        progress: ProgressCallback,
    ) -> str:
        """Copy ``claim`` to the safety folder (the pod may still run); what to tell."""
        if safety_dir is None or claim_uid is None:
            return ""
        target = safety_dir / f"{claim}.tar"
        progress(Progress(f"safety copy of claim {claim} to {target}", service=service))
        await self.copy_claim(claim, service, target, in_use=True)
        return f"; its data kept in {target}"

    async def _pod(self, name: str) -> dict[str, Any] | None:
        return next((p for p in await self.pods() if p["metadata"]["name"] == name), None)

    async def _delete_pod(self, name: str, grace: int | None) -> None:
        api = self.api
        options: dict[str, Any] = {} if grace is None else {"grace_period_seconds": grace}
        await api.call(
            api.op("delete", "pods", name), api.core.delete_namespaced_pod, name, api.namespace,
            **options,
        )  # fmt: skip

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
        self,
        service: ServiceKind,
        instance: str,
        old_uid: str | None,
        progress: ProgressCallback,
    ) -> None:
        """Until the StatefulSet made ``instance`` again (another pod, ready)."""
        deadline = time.monotonic() + self.wait_timeout
        while time.monotonic() < deadline:
            pod = await self._pod(instance)
            if pod is not None and pod["metadata"].get("uid") != old_uid and _ready(pod):
                return
            progress(Progress(f"wait for {instance} to come back", service=service))
            await asyncio.sleep(self.poll_interval)
        raise OperationTimeout(f"{instance} did not come back within {self.wait_timeout:g} s")


def _ready(pod: dict[str, Any]) -> bool:
    """Whether the pod's ``Ready`` condition is true."""
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (pod.get("status") or {}).get("conditions") or []
    )
