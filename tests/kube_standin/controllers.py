"""The stand-in's control plane: what a cluster's controllers do to the stored objects.

Each reconciles the whole store when something changed (the API server
kicks :meth:`ControlPlane.run`), the way kube-controller-manager's loops
react to their informers:

- **StatefulSet** (``pkg/controller/statefulset``): creates the pods and the
  claims of their ``volumeClaimTemplates`` as ``replicas`` asks; with
  ``OrderedReady`` one pod at a time, each after its predecessors are Running
  and Ready, scale-down from the highest ordinal once its successors are
  gone; with ``Parallel`` all at once. A pod being deleted is waited for
  before one of the same name is created again. Template changes roll the
  pods, highest ordinal first, one at a time, each once every pod is ready.
  Status counts the pods it created (terminating ones too, as Kubernetes
  does), the ready ones and the updated ones.
- **scheduler**: a pod with no ``spec.nodeName`` is bound to the one node.
- **garbage collector**: dependents whose owner is gone are deleted
  (background propagation); an owner deleted with ``foregroundDeletion``
  waits for its dependents; ``orphan`` propagation drops the owner references.
- **namespace controller**: a namespace being deleted keeps its content for
  :attr:`~kube_standin.server.StandInApiServer.namespace_grace` seconds
  (Kubernetes' ``namespaceDeletionGracePeriod``, 5 s), then deletes every
  object in it (pods gracefully, claims once no pod uses them) and finally
  drops its ``kubernetes`` finalizer, which removes it.
- **PVC protection**: a claim being deleted keeps its
  ``kubernetes.io/pvc-protection`` finalizer while a pod uses it.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
from typing import TYPE_CHECKING, Any

from .resources import TYPES, find_type

if TYPE_CHECKING:
    from .server import StandInApiServer

Obj = dict[str, Any]

STS = find_type("apps", "v1", "statefulsets")
PODS = find_type("", "v1", "pods")
PVCS = find_type("", "v1", "persistentvolumeclaims")
NAMESPACES = find_type("", "v1", "namespaces")
assert STS and PODS and PVCS and NAMESPACES

PVC_PROTECTION = "kubernetes.io/pvc-protection"
NAMESPACE_FINALIZER = "kubernetes"
FOREGROUND = "foregroundDeletion"
ORPHAN = "orphan"
CONTROLLER = "stand-in-controller"


def template_hash(sts: Obj) -> str:
    """The controller revision of a StatefulSet's pod template."""
    text = json.dumps(sts.get("spec", {}).get("template", {}), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def is_ready(pod: Obj) -> bool:
    """Running and Ready, as the StatefulSet controller's ``isRunningAndReady``."""
    status = pod.get("status") or {}
    if status.get("phase") != "Running":
        return False
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in status.get("conditions") or []
    )


def is_terminating(obj: Obj) -> bool:
    """Deleted, waiting for its finalizers or its kubelet."""
    return bool(obj.get("metadata", {}).get("deletionTimestamp"))


def claims_of(pod: Obj) -> set[str]:
    """Names of the PersistentVolumeClaims a pod mounts."""
    return {
        volume["persistentVolumeClaim"]["claimName"]
        for volume in (pod.get("spec") or {}).get("volumes") or []
        if volume.get("persistentVolumeClaim")
    }


def _since(stamp: str | None) -> float:
    if not stamp:
        return 0.0
    moment = dt.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    return (dt.datetime.now(dt.UTC) - moment).total_seconds()


class ControlPlane:
    """Runs every controller over the store of ``server`` (in the server's event loop)."""

    def __init__(self, server: StandInApiServer) -> None:
        self.server = server

    def reconcile(self) -> bool:
        """One pass of every controller; True when something waits on time (come back)."""
        waiting = False
        self._schedule()
        for sts in self.server.items(STS):
            if not is_terminating(sts):
                self._statefulset(sts)
        self._collect_garbage()
        self._protect_claims()
        for namespace in self.server.items(NAMESPACES):
            if is_terminating(namespace):
                waiting |= self._finish_namespace(namespace)
        return waiting

    # --- scheduler ---------------------------------------------------------------------

    def _schedule(self) -> None:
        node = self.server.kubelet.node_name
        for pod in self.server.items(PODS):
            if (pod.get("spec") or {}).get("nodeName") or is_terminating(pod):
                continue
            meta = pod["metadata"]
            unusable = self._unusable_claim(pod)
            if unusable is not None:  # as the scheduler's VolumeBinding plugin: stays Pending
                self._unschedulable(pod, unusable)
                continue
            pod["spec"]["nodeName"] = node
            status = pod.setdefault("status", {})
            status.setdefault("phase", "Pending")
            conditions = [c for c in status.get("conditions", []) if c["type"] != "PodScheduled"]
            conditions.append(
                {"type": "PodScheduled", "status": "True", "lastTransitionTime": _now()}
            )
            status["conditions"] = conditions
            self.server.store(PODS, meta["namespace"], meta["name"], pod)
            self.server.add_event(
                pod, "Scheduled", f"Successfully assigned {meta['namespace']}/{meta['name']} "
                f"to {node}", component="default-scheduler",
            )  # fmt: skip

    # --- StatefulSets ------------------------------------------------------------------

    def _owned_pods(self, sts: Obj) -> dict[int, Obj]:
        namespace = sts["metadata"].get("namespace")
        pods = {}
        for pod in self.server.items(PODS, namespace):
            owners = pod["metadata"].get("ownerReferences") or []
            if any(o.get("uid") == sts["metadata"]["uid"] for o in owners):
                ordinal = pod["metadata"]["name"].rsplit("-", 1)[-1]
                if ordinal.isdigit():
                    pods[int(ordinal)] = pod
        return pods

    def _statefulset(self, sts: Obj) -> None:
        meta, spec = sts["metadata"], sts["spec"]
        namespace, name = meta.get("namespace"), meta["name"]
        desired = spec.get("replicas", 1)
        revision = f"{name}-{template_hash(sts)}"
        pods = self._owned_pods(sts)
        ordered = spec.get("podManagementPolicy", "OrderedReady") == "OrderedReady"
        terminating = {o for o, p in pods.items() if is_terminating(p)}

        # Scale down, highest ordinal first; OrderedReady waits for each to be gone.
        condemned = sorted((o for o in pods if o >= desired), reverse=True)
        for ordinal in condemned:
            if ordinal in terminating:
                if ordered:
                    break
                continue
            if ordered and (terminating or not all(is_ready(pods[o]) for o in pods if o < ordinal)):
                break
            self._delete_pod(sts, pods[ordinal])
            terminating.add(ordinal)
            if ordered:
                break

        # Create what is missing (a pod still terminating is waited for).
        for ordinal in range(desired):
            if ordinal in pods:
                if ordered and not is_ready(pods[ordinal]):
                    break
                continue
            if ordered and (terminating or not all(is_ready(pods[o]) for o in pods if o < ordinal)):
                break
            pods[ordinal] = self._create_pod(sts, ordinal, revision)
            if ordered:
                break

        # Roll outdated pods, highest first, one at a time, when every pod is ready.
        current = {o: p for o, p in pods.items() if o < desired}
        outdated = [
            o
            for o, pod in current.items()
            if pod["metadata"]["labels"].get("controller-revision-hash") != revision
            and not is_terminating(pod)
        ]
        settled = len(current) == desired and not terminating
        if outdated and settled and all(is_ready(p) for p in current.values()):
            self._delete_pod(sts, pods[max(outdated)])

        live = [p for p in pods.values()]
        status = {
            "observedGeneration": meta.get("generation", 1),
            "replicas": len(live),
            "readyReplicas": sum(1 for p in live if is_ready(p) and not is_terminating(p)),
            "availableReplicas": sum(1 for p in live if is_ready(p) and not is_terminating(p)),
            "currentReplicas": len(live),
            "updatedReplicas": sum(
                1
                for p in live
                if p["metadata"]["labels"].get("controller-revision-hash") == revision
                and not is_terminating(p)
            ),
            "currentRevision": revision,
            "updateRevision": revision,
            "collisionCount": 0,
        }
        if sts.get("status") != status:
            sts["status"] = status
            self.server.store(STS, namespace, name, sts)

    def _delete_pod(self, sts: Obj, pod: Obj) -> None:
        owner, victim = sts["metadata"]["name"], pod["metadata"]["name"]
        self.server.delete(PODS, pod["metadata"]["namespace"], victim)
        self.server.add_event(
            sts, "SuccessfulDelete", f"delete Pod {victim} in StatefulSet {owner} successful"
        )

    def _create_pod(self, sts: Obj, ordinal: int, revision: str) -> Obj:
        meta, spec = sts["metadata"], sts["spec"]
        namespace, name = meta.get("namespace"), f"{meta['name']}-{ordinal}"
        template = copy.deepcopy(spec.get("template") or {})
        labels = {
            **(template.get("metadata", {}).get("labels") or {}),
            "controller-revision-hash": revision,
            "statefulset.kubernetes.io/pod-name": name,
            "apps.kubernetes.io/pod-index": str(ordinal),
        }
        pod_spec = template.get("spec") or {}
        pod_spec.update(hostname=name, subdomain=spec.get("serviceName", ""))
        pod_spec.setdefault("restartPolicy", "Always")
        pod_spec.setdefault("terminationGracePeriodSeconds", 30)
        volumes = pod_spec.setdefault("volumes", [])
        for claim in spec.get("volumeClaimTemplates") or []:
            claim_name = f"{claim['metadata']['name']}-{name}"
            if self.server.find(PVCS, namespace, claim_name) is None:
                self.server.create(
                    PVCS,
                    namespace,
                    {
                        "metadata": {
                            "name": claim_name,
                            "namespace": namespace,
                            "labels": dict(claim["metadata"].get("labels") or {}),
                        },
                        "spec": copy.deepcopy(claim.get("spec") or {}),
                    },
                    CONTROLLER,
                )
            volumes.append(
                {
                    "name": claim["metadata"]["name"],
                    "persistentVolumeClaim": {"claimName": claim_name},
                }
            )
        body = {
            "metadata": {
                "name": name,
                "namespace": namespace,
                "labels": labels,
                "annotations": dict(template.get("metadata", {}).get("annotations") or {}),
                "ownerReferences": [
                    {
                        "apiVersion": "apps/v1",
                        "kind": "StatefulSet",
                        "name": meta["name"],
                        "uid": meta["uid"],
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ],
            },
            "spec": pod_spec,
        }
        pod = self.server.create(PODS, namespace, body, CONTROLLER)
        self.server.add_event(
            sts, "SuccessfulCreate", f"create Pod {name} in StatefulSet {meta['name']} successful"
        )
        return pod

    # --- garbage collector -------------------------------------------------------------

    def _collect_garbage(self) -> None:
        uids: dict[str, Obj] = {}
        everything: list[tuple[Any, Obj]] = []
        for rt in TYPES:
            for obj in self.server.items(rt):
                uids[obj["metadata"]["uid"]] = obj
                everything.append((rt, obj))
        for rt, obj in everything:
            owners = obj["metadata"].get("ownerReferences") or []
            if not owners or is_terminating(obj):
                continue
            alive = [o for o in owners if o.get("uid") in uids]
            if not alive:
                self.server.delete(rt, obj["metadata"].get("namespace"), obj["metadata"]["name"])
                continue
            for owner_ref in alive:
                owner = uids[owner_ref["uid"]]
                finalizers = owner["metadata"].get("finalizers") or []
                if is_terminating(owner) and FOREGROUND in finalizers:
                    self.server.delete(
                        rt, obj["metadata"].get("namespace"), obj["metadata"]["name"]
                    )
                    break
        for rt, owner in everything:
            finalizers = owner["metadata"].get("finalizers") or []
            if not is_terminating(owner) or not ({FOREGROUND, ORPHAN} & set(finalizers)):
                continue
            uid = owner["metadata"]["uid"]
            dependents = [
                (drt, d)
                for drt, d in everything
                if any(o.get("uid") == uid for o in d["metadata"].get("ownerReferences") or [])
                and self.server.find(drt, d["metadata"].get("namespace"), d["metadata"]["name"])
            ]
            if ORPHAN in finalizers:
                for drt, dependent in dependents:
                    dependent["metadata"]["ownerReferences"] = [
                        o for o in dependent["metadata"]["ownerReferences"] if o.get("uid") != uid
                    ]
                    meta = dependent["metadata"]
                    self.server.store(drt, meta.get("namespace"), meta["name"], dependent)
                dependents = []
            if not dependents:
                self.server.drop_finalizers(rt, owner, {FOREGROUND, ORPHAN})

    def _unusable_claim(self, pod: Obj) -> str | None:
        """Why a claim of ``pod`` keeps it from a node (missing, or being deleted), or None."""
        namespace = pod["metadata"]["namespace"]
        for name in sorted(claims_of(pod)):
            claim = self.server.find(PVCS, namespace, name)
            if claim is None:
                return f'persistentvolumeclaim "{name}" not found'
            if is_terminating(claim):
                return f'persistentvolumeclaim "{name}" is being deleted'
        return None

    def _unschedulable(self, pod: Obj, why: str) -> None:
        meta = pod["metadata"]
        status = pod.setdefault("status", {})
        status.setdefault("phase", "Pending")
        message = f"0/1 nodes are available: {why}."
        if any(c.get("message") == message for c in status.get("conditions", [])):
            return  # said already
        conditions = [c for c in status.get("conditions", []) if c["type"] != "PodScheduled"]
        conditions.append(
            {"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
             "message": message, "lastTransitionTime": _now()}
        )  # fmt: skip
        status["conditions"] = conditions
        self.server.store(PODS, meta["namespace"], meta["name"], pod)
        self.server.add_event(
            pod, "FailedScheduling", message, "Warning", component="default-scheduler"
        )

    # --- PVC protection ------------------------------------------------------------------

    def _protect_claims(self) -> None:
        for claim in self.server.items(PVCS):
            meta = claim["metadata"]
            if not is_terminating(claim) or PVC_PROTECTION not in (meta.get("finalizers") or []):
                continue
            # As the pvc-protection controller: only a pod on a node uses a claim (the
            # scheduler places no pod on a claim being deleted).
            in_use = any(
                meta["name"] in claims_of(pod) and (pod.get("spec") or {}).get("nodeName")
                for pod in self.server.items(PODS, meta.get("namespace"))
            )
            if not in_use:
                self.server.drop_finalizers(PVCS, claim, {PVC_PROTECTION})

    # --- namespaces ------------------------------------------------------------------------

    def _finish_namespace(self, namespace: Obj) -> bool:
        """Delete a terminating namespace's content after the grace; True while waiting."""
        name = namespace["metadata"]["name"]
        if _since(namespace["metadata"].get("deletionTimestamp")) < self.server.namespace_grace:
            return True
        remaining = 0
        for rt in TYPES:
            if not rt.namespaced:
                continue
            for obj in self.server.items(rt, name):
                remaining += 1
                if not is_terminating(obj):
                    self.server.delete(rt, name, obj["metadata"]["name"])
        if remaining:
            conditions = [
                {
                    "type": "NamespaceContentRemaining",
                    "status": "True",
                    "lastTransitionTime": _now(),
                    "reason": "SomeResourcesRemain",
                    "message": f"Some resources are remaining: {remaining} objects",
                }
            ]
            if (namespace.get("status") or {}).get("conditions") != conditions:
                namespace.setdefault("status", {})["conditions"] = conditions
                namespace["status"]["phase"] = "Terminating"
                self.server.store(NAMESPACES, None, name, namespace)
            return True
        spec = namespace.setdefault("spec", {})
        spec["finalizers"] = [f for f in spec.get("finalizers") or [] if f != NAMESPACE_FINALIZER]
        self.server.store(NAMESPACES, None, name, namespace)
        if not (namespace["metadata"].get("finalizers") or []) and not spec["finalizers"]:
            self.server.remove(NAMESPACES, namespace)
        return False


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
