"""Server-side printing: the ``Table`` documents ``kubectl get`` asks for."""

from __future__ import annotations

import datetime as dt
from typing import Any

Obj = dict[str, Any]


def _age(created: str | None) -> str:
    if not created:
        return "<unknown>"
    moment = dt.datetime.strptime(created, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    seconds = int((dt.datetime.now(dt.UTC) - moment).total_seconds())
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h"


def _columns(kind: str) -> list[str]:
    return {
        "Pod": ["Name", "Ready", "Status", "Restarts", "Age"],
        "StatefulSet": ["Name", "Ready", "Age"],
        "Service": ["Name", "Type", "Cluster-IP", "Ports", "Age"],
        "PersistentVolumeClaim": ["Name", "Status", "Capacity", "Age"],
        "Event": ["Last Seen", "Type", "Reason", "Object", "Message"],
    }.get(kind, ["Name", "Age"])


def _cells(kind: str, obj: Obj) -> list[Any]:
    meta = obj.get("metadata", {})
    age = _age(meta.get("creationTimestamp"))
    status, spec = obj.get("status") or {}, obj.get("spec") or {}
    if kind == "Pod":
        containers = status.get("containerStatuses") or []
        ready = sum(1 for c in containers if c.get("ready"))
        waiting = [
            c["state"]["waiting"].get("reason")
            for c in containers
            if "waiting" in c.get("state", {})
        ]
        phase = _init_phase(status) or (waiting[0] if waiting else status.get("phase", "Pending"))
        if meta.get("deletionTimestamp"):
            phase = "Terminating"
        restarts = sum(c.get("restartCount", 0) for c in containers)
        return [meta["name"], f"{ready}/{len(spec.get('containers', []))}", phase, restarts, age]
    if kind == "StatefulSet":
        return [meta["name"], f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 1)}", age]
    if kind == "Service":
        ports = ",".join(
            f"{p.get('port')}/{p.get('protocol', 'TCP')}" for p in spec.get("ports", [])
        )
        return [meta["name"], spec.get("type", "ClusterIP"), spec.get("clusterIP", ""), ports, age]
    if kind == "PersistentVolumeClaim":
        size = spec.get("resources", {}).get("requests", {}).get("storage", "")
        phase = "Terminating" if meta.get("deletionTimestamp") else status.get("phase", "")
        return [meta["name"], phase, size, age]
    if kind == "Event":
        involved = obj.get("involvedObject", {})
        target = f"{involved.get('kind', '').lower()}/{involved.get('name', '')}"
        return [
            _age(obj.get("lastTimestamp")),
            obj.get("type"),
            obj.get("reason"),
            target,
            obj.get("message"),
        ]
    return [meta["name"], age]


def _init_phase(status: Obj) -> str | None:
    """kubectl's ``Init:N/M`` or ``Init:<reason>`` while init containers have not all run."""
    inits = status.get("initContainerStatuses") or []
    done = 0
    for entry in inits:
        state = entry.get("state") or {}
        terminated, waiting = state.get("terminated") or {}, state.get("waiting") or {}
        if terminated and terminated.get("exitCode") == 0:
            done += 1
            continue
        if terminated:
            return f"Init:{terminated.get('reason') or 'Error'}"
        if waiting.get("reason") and waiting["reason"] != "PodInitializing":
            return f"Init:{waiting['reason']}"
        return f"Init:{done}/{len(inits)}"
    return None


def as_table(document: Obj, resource_version: int) -> Obj:
    """A list or an object as a ``meta.k8s.io/v1`` Table."""
    if document.get("kind", "").endswith("List") and "items" in document:
        kind = document["kind"][: -len("List")]
        objects = document["items"]
    else:
        kind, objects = document.get("kind", ""), [document]
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": str(resource_version)},
        "columnDefinitions": [
            {
                "name": name,
                "type": "string",
                "format": "name" if name == "Name" else "",
                "description": "",
                "priority": 0,
            }
            for name in _columns(kind)
        ],
        "rows": [
            {
                "cells": _cells(kind, obj),
                "object": {
                    "kind": "PartialObjectMetadata",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": obj.get("metadata", {}),
                },
            }
            for obj in objects
        ],
    }
