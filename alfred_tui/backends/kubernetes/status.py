"""Service status from what the API reports: StatefulSets, pods and events (plain JSON).

A pod becomes an :class:`InstanceStatus` the way ``kubectl get pods`` reads
it: the waiting reason wins over the phase (``CrashLoopBackOff``,
``ImagePullBackOff``), the Ready condition gives health, restarts are summed
over containers, and the last termination (``OOMKilled``, exit 137) is the
detail. A service's note is its newest Warning event, where the cluster says
why (``FailedScheduling: 0/3 nodes are available ...``).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from alfred_tui.backends.base import (
    Health,
    InstanceState,
    InstanceStatus,
    ResourceAmounts,
    ServiceStatus,
)
from alfred_tui.backends.kubernetes import names
from alfred_tui.config.models import ServiceKind, ServiceSpec

Obj = Mapping[str, Any]

_QUANTITY = re.compile(r"^([0-9.]+)([a-zA-Z]*)$")
_BINARY = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DECIMAL = {"k": 1, "M": 2, "G": 3, "T": 4, "P": 5, "E": 6}
_FAILED_WAITING = {
    "ImagePullBackOff",
    "ErrImagePull",
    "InvalidImageName",
    "CreateContainerConfigError",
    "CreateContainerError",
    "RunContainerError",
}


def parse_time(text: str | None) -> dt.datetime | None:
    """An RFC 3339 timestamp (any fraction length, ``Z`` or offset) as an aware datetime."""
    if not text:
        return None
    match = re.match(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:?\d\d)?$", text)
    if not match:
        return None
    base, fraction, zone = match.groups()
    micro = (fraction or ".0")[1:7].ljust(6, "0")
    offset = "+00:00" if zone in (None, "Z") else zone
    return dt.datetime.fromisoformat(f"{base}.{micro}{offset}")


_CPU_SUFFIXES = {"m": 1e-3, "u": 1e-6, "n": 1e-9}


def cpu_cores(quantity: str | int | float | None) -> float | None:
    """``500m`` -> 0.5, ``2`` -> 2.0, ``1500000n`` -> 0.0015 (metrics servers report
    nanocores)."""
    if quantity is None:
        return None
    text = str(quantity)
    scale = _CPU_SUFFIXES.get(text[-1:], 1.0)
    try:
        return float(text[:-1] if scale != 1.0 else text) * scale
    except ValueError:
        return None


def memory_bytes(quantity: str | int | float | None) -> int | None:
    """``4Gi`` -> 4294967296, ``512M`` -> 512000000, ``1e9`` -> 1000000000."""
    if quantity is None:
        return None
    text = str(quantity)
    match = _QUANTITY.match(text)
    if not match:
        try:
            return int(float(text))
        except ValueError:
            return None
    number, suffix = float(match.group(1)), match.group(2)
    if suffix in _BINARY:
        return int(number * 1024 ** _BINARY[suffix])
    if suffix in _DECIMAL:
        return int(number * 1000 ** _DECIMAL[suffix])
    if suffix == "m":
        return int(number / 1000)
    return int(number) if not suffix else None


def _amounts(values: Obj | None) -> ResourceAmounts:
    values = values or {}
    return ResourceAmounts(cpu_cores(values.get("cpu")), memory_bytes(values.get("memory")))


def _condition(pod: Obj, kind: str) -> str | None:
    for condition in (pod.get("status") or {}).get("conditions") or []:
        if condition.get("type") == kind:
            status: str | None = condition.get("status")
            return status
    return None


_CANNOT_START = {
    "ImagePullBackOff",
    "InvalidImageName",
    "ErrImageNeverPull",
    "CreateContainerConfigError",
}
"""Waiting reasons a pod does not get out of by itself: the image or the configuration is wrong."""


def cannot_start(pod: Obj) -> str | None:
    """``Reason: message`` when a container of ``pod`` waits for something that will not come."""
    status = pod.get("status") or {}
    for entry in (status.get("initContainerStatuses") or []) + (
        status.get("containerStatuses") or []
    ):
        waiting = (entry.get("state") or {}).get("waiting") or {}
        if waiting.get("reason") in _CANNOT_START:
            message = str(waiting.get("message") or "")
            return str(waiting["reason"]) + (f": {message}" if message else "")
    return None


def _init_problem(pod: Obj) -> tuple[str, str] | None:
    """kubectl's ``Init:<reason>`` for an init container that keeps the pod from starting."""
    for entry in (pod.get("status") or {}).get("initContainerStatuses") or []:
        state = entry.get("state") or {}
        waiting, terminated = state.get("waiting") or {}, state.get("terminated") or {}
        if waiting.get("reason") and waiting["reason"] != "PodInitializing":
            return f"Init:{waiting['reason']}", waiting.get("message", "")
        if terminated and terminated.get("exitCode", 0) != 0:
            return f"Init:{terminated.get('reason', 'Error')}", ""
    return None


def with_redis_role(
    instance: InstanceStatus, workload: names.Workload, roles: Mapping[str, str]
) -> InstanceStatus:
    """A Redis pod's role: the master the roles ConfigMap names (instance 0 until a
    failover), a fenced old master (no role: it serves nothing), or a replica."""
    if instance.name in roles.get("fenced", "").split():
        detail = "fenced by a failover: serves nothing until re-cloned"
        return replace(instance, role="", detail="; ".join(filter(None, [detail, instance.detail])))
    primary = roles.get("primary") or workload.pod_name(0)
    return replace(instance, role="primary" if instance.name == primary else "replica")


def instance_of(pod: Obj, container: str) -> InstanceStatus:
    """One pod as an instance."""
    meta, status = pod.get("metadata") or {}, pod.get("status") or {}
    phase = status.get("phase", "Unknown")
    containers = status.get("containerStatuses") or []
    main = next((c for c in containers if c.get("name") == container), None)
    if main is None and containers:
        main = containers[0]
    restarts = sum(
        int(c.get("restartCount", 0))
        for c in containers + (status.get("initContainerStatuses") or [])
    )
    state_doc = (main or {}).get("state") or {}
    waiting = state_doc.get("waiting") or {}
    running = state_doc.get("running") or {}
    terminated = state_doc.get("terminated") or {}
    started_at = parse_time(running.get("startedAt"))
    ready = _condition(pod, "Ready") == "True"
    state: InstanceState
    detail = ""
    init_problem = _init_problem(pod)
    if meta.get("deletionTimestamp"):
        state, detail = "stopped", "terminating"
    elif init_problem is not None:
        reason, message = init_problem
        state = "restarting" if reason == "Init:CrashLoopBackOff" else "failed"
        detail = reason + (f": {message}" if message else "")
    elif waiting:
        reason = waiting.get("reason", "")
        detail = reason + (f": {waiting['message']}" if waiting.get("message") else "")
        if reason == "CrashLoopBackOff":
            state = "restarting"
        elif reason in _FAILED_WAITING:
            state = "failed"
        else:
            state = "starting" if phase == "Running" else "pending"
    elif terminated:
        state = "exited"
        detail = f"{terminated.get('reason', 'exited')} (exit {terminated.get('exitCode', '?')})"
    elif phase == "Running" and running:
        state = "running"
    elif phase == "Pending":
        state = "pending"
        unscheduled = _condition(pod, "PodScheduled") == "False"
        detail = "unschedulable" if unscheduled else ""
    elif phase == "Succeeded":
        state = "exited"
    elif phase == "Failed":
        state = "failed"
        detail = status.get("reason", "") or status.get("message", "")
    else:
        state = "unknown"
    last = ((main or {}).get("lastState") or {}).get("terminated") or {}
    if last and not detail:
        detail = f"last exit: {last.get('reason', 'Error')} ({last.get('exitCode', '?')})"
    health: Health
    if state == "running":
        health = "healthy" if ready else "unhealthy"
    elif state in ("pending", "starting"):
        health = "starting"
    elif state in ("restarting", "failed", "exited"):
        health = "unhealthy"
    else:
        health = "unknown" if state == "unknown" else "none"
    labels = meta.get("labels") or {}
    role = labels.get(names.COMPONENT, "")
    return InstanceStatus(
        name=meta.get("name", "?"),
        state=state,
        health=health,
        restarts=restarts,
        started_at=started_at,
        role=role if role in ("primary", "replica") else "",
        detail=detail,
    )


def ready_since(pod: Obj) -> dt.datetime | None:
    """When a pod that is Ready now became so (None while it is not Ready)."""
    for condition in (pod.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready" and condition.get("status") == "True":
            return parse_time(condition.get("lastTransitionTime"))
    return None


def latest_warning(
    events: Iterable[Obj], objects: set[str], settled: Mapping[str, dt.datetime] | None = None
) -> str:
    """The newest Warning event about any of ``objects``, as ``Reason: message``.

    A warning about an object in ``settled`` from before the time given there
    is left out: a pod's start-up probe failures are over once it is Ready,
    and would otherwise stay the note of a healthy service for the hour a
    cluster keeps its Events.
    """
    newest: tuple[dt.datetime, str] | None = None
    for event in events:
        if event.get("type") != "Warning":
            continue
        involved = (event.get("involvedObject") or {}).get("name")
        if involved not in objects:
            continue
        moment = (
            parse_time(event.get("lastTimestamp"))
            or parse_time(event.get("eventTime"))
            or parse_time((event.get("metadata") or {}).get("creationTimestamp"))
            or dt.datetime.min.replace(tzinfo=dt.UTC)
        )
        text = f"{event.get('reason', '')}: {event.get('message', '')}".strip(": ")
        since = (settled or {}).get(involved)
        if since is not None and moment <= since:
            continue
        if newest is None or moment >= newest[0]:
            newest = (moment, text)
    return newest[1] if newest else ""


def service_status(
    kind: ServiceKind,
    spec: ServiceSpec,
    namespace: str,
    statefulsets: Mapping[str, Obj],
    pods: Iterable[Obj],
    events: Iterable[Obj],
    tunnel: str | None = None,
    redis_roles: Mapping[str, str] | None = None,
) -> ServiceStatus:
    """One service's status from its StatefulSets, pods and the namespace's events.

    ``redis_roles`` is the data of the ConfigMap a Redis failover writes
    (:data:`names.REDIS_ROLES_CONFIGMAP`): which pod is the master, which are fenced.
    """
    workloads = names.workloads(kind)
    present = [statefulsets[w.statefulset] for w in workloads if w.statefulset in statefulsets]
    app = names.app_label(spec)
    own_pods = [
        p
        for p in pods
        if ((p.get("metadata") or {}).get("labels") or {}).get("app") == app
        and names.workload_of_pod((p.get("metadata") or {}).get("name", "")) is not None
    ]
    own_pods.sort(key=lambda p: (p["metadata"]["name"].count("replica"), p["metadata"]["name"]))
    instances = tuple(instance_of(p, workloads[0].container) for p in own_pods)
    if kind == "redis" and redis_roles is not None:  # None: the roles could not be read
        instances = tuple(with_redis_role(i, workloads[0], redis_roles) for i in instances)
    port = names.container_ports(kind, spec)[0][1]
    endpoints = [f"{names.client_service(spec)}.{namespace}.svc:{port}"]
    if tunnel:
        endpoints.insert(0, f"{tunnel} (port-forward)")
    related = {w.statefulset for w in workloads} | {p["metadata"]["name"] for p in own_pods}
    settled = {p["metadata"]["name"]: ready_since(p) for p in own_pods}
    warning = latest_warning(
        events, related, {name: moment for name, moment in settled.items() if moment}
    )
    if not present:
        return ServiceStatus(
            service=kind,
            desired=0,
            ready=0,
            instances=instances,
            image=spec.image,
            endpoints=tuple(endpoints),
            note=f"not deployed (no StatefulSet {workloads[0].statefulset} in namespace "
            f"{namespace})",
        )
    desired = sum(int((s.get("spec") or {}).get("replicas", 1)) for s in present)
    ready = sum(int((s.get("status") or {}).get("readyReplicas", 0) or 0) for s in present)
    template = ((present[0].get("spec") or {}).get("template") or {}).get("spec") or {}
    container = next(
        (c for c in template.get("containers", []) if c.get("name") == workloads[0].container),
        (template.get("containers") or [{}])[0],
    )
    resources = container.get("resources") or {}
    running = [i.started_at for i in instances if i.state == "running" and i.started_at]
    return ServiceStatus(
        service=kind,
        desired=desired,
        ready=ready,
        instances=instances,
        image=container.get("image", spec.image),
        endpoints=tuple(endpoints),
        limits=_amounts(resources.get("limits")),
        reservations=_amounts(resources.get("requests")),
        started_at=min(running) if running else None,
        note=warning,
    )
