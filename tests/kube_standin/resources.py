"""The resource types the stand-in serves, their discovery documents, and request paths."""

from __future__ import annotations

from dataclasses import dataclass

import kmock


@dataclass(frozen=True)
class ResourceType:
    """One API resource: where it lives and what it is called."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()
    verbs: tuple[str, ...] = (
        "create",
        "delete",
        "deletecollection",
        "get",
        "list",
        "patch",
        "update",
        "watch",
    )

    @property
    def api_version(self) -> str:
        """``apps/v1`` or ``v1``."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def resource(self) -> kmock.resource:
        """kmock's reference to this resource (for ``kmock.objects`` and DSL filters)."""
        return kmock.resource(self.group, self.version, self.plural)

    @property
    def singular(self) -> str:
        """Lower-case kind."""
        return self.kind.lower()

    @property
    def qualified(self) -> str:
        """``statefulsets.apps`` / ``pods``: how API errors name a resource."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def has_status(self) -> bool:
        """Whether ``status`` is a subresource (ignored by writes to the main resource)."""
        return "status" in self.subresources


TYPES: tuple[ResourceType, ...] = (
    ResourceType("", "v1", "namespaces", "Namespace", False, ("ns",), ("status", "finalize")),
    ResourceType("", "v1", "pods", "Pod", True, ("po",), ("status", "log", "exec", "portforward")),
    ResourceType("", "v1", "services", "Service", True, ("svc",), ("status",)),
    ResourceType("", "v1", "secrets", "Secret", True),
    ResourceType("", "v1", "configmaps", "ConfigMap", True, ("cm",)),
    ResourceType("", "v1", "events", "Event", True, ("ev",)),
    ResourceType("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", True, ("pvc",)),
    ResourceType("apps", "v1", "statefulsets", "StatefulSet", True, ("sts",), ("status", "scale")),
    ResourceType("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", True, ("netpol",)),
    ResourceType(
        "authorization.k8s.io",
        "v1",
        "selfsubjectaccessreviews",
        "SelfSubjectAccessReview",
        False,
        verbs=("create",),
    ),
)
REVIEWS = TYPES[-1]
"""``SelfSubjectAccessReview``: answered, never stored."""


_ALL = {"pods", "services", "statefulsets"}
"""Resources ``kubectl get all`` shows."""


def find_type(group: str, version: str, plural: str) -> ResourceType | None:
    """The served type at ``group/version/plural``."""
    for item in TYPES:
        if (item.group, item.version, item.plural) == (group, version, plural):
            return item
    return None


def type_of_kind(api_version: str, kind: str) -> ResourceType | None:
    """The served type of an object's ``apiVersion`` and ``kind``."""
    for item in TYPES:
        if item.api_version == api_version and item.kind == kind:
            return item
    return None


@dataclass(frozen=True)
class Route:
    """A resource request path, parsed (kmock 0.8 cannot parse ``/api/v1/namespaces``)."""

    group: str
    version: str
    namespace: str | None
    plural: str | None
    name: str | None
    subresource: str | None


def parse_path(path: str) -> Route | None:
    """``/apis/apps/v1/namespaces/ns/statefulsets/x/scale`` -> its parts; None if not a resource."""
    parts = [p for p in path.strip("/").split("/") if p]
    if len(parts) >= 2 and parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    if not rest:
        return Route(group, version, None, None, None, None)
    namespace = None
    if (
        rest[0] == "namespaces"
        and len(rest) >= 3
        and not (len(rest) == 3 and group == "" and rest[2] in ("status", "finalize"))
    ):
        namespace, rest = rest[1], rest[2:]
    plural = rest[0]
    name = rest[1] if len(rest) > 1 else None
    subresource = "/".join(rest[2:]) or None
    return Route(group, version, namespace, plural, name, subresource)


def discovery_resource_list(group: str, version: str) -> dict[str, object] | None:
    """``APIResourceList`` of one group version (core: ``groupVersion: v1``)."""
    served = [t for t in TYPES if (t.group, t.version) == (group, version)]
    if not served:
        return None
    entries: list[dict[str, object]] = []
    for item in served:
        entries.append(
            {
                "name": item.plural,
                "singularName": item.singular,
                "namespaced": item.namespaced,
                "kind": item.kind,
                "verbs": list(item.verbs),
                "shortNames": list(item.short_names),
                "categories": ["all"] if item.plural in _ALL else [],
            }
        )
        for sub in item.subresources:
            sub_kind = {"scale": "Scale", "exec": "PodExecOptions", "log": "Pod"}.get(
                sub, "PodPortForwardOptions" if sub == "portforward" else item.kind
            )
            entries.append(
                {
                    "name": f"{item.plural}/{sub}",
                    "singularName": "",
                    "namespaced": item.namespaced,
                    "kind": sub_kind,
                    "verbs": ["get", "patch", "update"]
                    if sub in ("status", "scale")
                    else ["create", "get"],
                    **({"group": "autoscaling", "version": "v1"} if sub == "scale" else {}),
                }
            )
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": entries,
    }


def discovery_groups() -> dict[str, object]:
    """``APIGroupList`` of the named groups."""
    groups: dict[str, list[str]] = {}
    for item in TYPES:
        if item.group:
            groups.setdefault(item.group, [])
            if item.version not in groups[item.group]:
                groups[item.group].append(item.version)
    return {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [discovery_group(name) for name in groups],
    }


def discovery_group(group: str) -> dict[str, object] | None:
    """``APIGroup`` of one named group."""
    versions = sorted({t.version for t in TYPES if t.group == group})
    if not versions:
        return None
    entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
    return {
        "kind": "APIGroup",
        "apiVersion": "v1",
        "name": group,
        "versions": entries,
        "preferredVersion": entries[0],
    }
