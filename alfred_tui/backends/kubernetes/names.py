"""What every Kubernetes object of the platform is called and how it is labelled.

One place decides names and labels, so the manifests, the backend's
selectors and the status view can never disagree. The names follow the
spec where it gives them:

- ``postgres-primary`` (StatefulSet and its headless Service), because the
  spec's read replicas stream from ``primary_conninfo=host=postgres-primary``;
- ``qdrant`` (StatefulSet and headless Service), because the spec's Qdrant
  peer URL is ``http://qdrant-0.qdrant.<namespace>.svc.cluster.local:6335``;
- pods carry ``app: db-postgres`` / ``app: redis`` / ``app: vector-db`` (the
  profile's service names), which the spec's NetworkPolicies select and its
  troubleshooting section greps with ``kubectl logs -l app=...``;
- client Services carry the profile's service names too (``db-postgres``,
  ``redis``, ``vector-db``), so an agent reaches a database by the same host
  name under Compose and under Kubernetes;
- the credentials Secret is the spec's ``database-credentials`` with its key
  names (``db-user``, ``db-password``, ``db-jwt-secret``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from pydantic import SecretStr

from alfred_tui.backends.rendering import SPEC_CREDENTIALS
from alfred_tui.config.models import (
    SERVICE_KINDS,
    Profile,
    QdrantService,
    RedisService,
    ServiceKind,
    ServiceSpec,
)

FIELD_MANAGER = "alfred-tui"
"""Field manager of every server-side apply and patch the backend sends."""

MANAGED_BY = "app.kubernetes.io/managed-by"
COMPONENT = "app.kubernetes.io/component"
SECRET_NAME = "database-credentials"
POSTGRES_INIT_CONFIGMAP = "postgres-init"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
FAILED_OVER = "alfred-tui.io/failed-over"
"""The annotation a failover leaves on the Services it repointed (JSON: the new primary, when)."""
REDIS_ROLES_CONFIGMAP = "redis-roles"
"""Which Redis pod is the master (``primary``) and which are fenced (``fenced``, space
separated), written by a failover and read by the pods' start script; absent until one."""
POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
"""The label the StatefulSet controller puts on each pod: its name."""
"""The pod-template annotation ``kubectl rollout restart`` sets; we set the same one."""

PLATFORM_CLIENT_LABELS = {"app": "alfred-platform"}
"""Pods with this label may reach the databases (the spec's NetworkPolicies)."""

QDRANT_P2P_PORT = 6335
CLUSTER_DOMAIN = "cluster.local"

Role = Literal["primary", "replica", "cache", "vector-store"]

_APP_NAMES: dict[ServiceKind, str] = {
    "postgres": "postgresql",
    "redis": "redis",
    "qdrant": "qdrant",
}
_CONTAINERS: dict[ServiceKind, str] = {
    "postgres": "postgres",
    "redis": "redis",
    "qdrant": "qdrant",
}
_DEFAULT_PORTS: dict[ServiceKind, tuple[int, ...]] = {
    "postgres": (5432,),
    "redis": (6379,),
    "qdrant": (6333, 6334),
}
_PORT_NAMES: dict[ServiceKind, tuple[str, ...]] = {
    "postgres": ("postgres",),
    "redis": ("redis",),
    "qdrant": ("http", "grpc"),
}
_DATA_PATHS: dict[ServiceKind, str] = {
    "postgres": "/var/lib/postgresql/data",
    "redis": "/data",
    "qdrant": "/qdrant/storage",
}


@dataclass(frozen=True)
class Workload:
    """One StatefulSet of a service: PostgreSQL has two (primary, replicas)."""

    kind: ServiceKind
    statefulset: str
    governing_service: str
    """Headless Service that gives the pods stable DNS names."""
    role: Role
    container: str

    def pod_name(self, ordinal: int) -> str:
        """Name of the pod with this ordinal."""
        return f"{self.statefulset}-{ordinal}"


def workloads(kind: ServiceKind) -> tuple[Workload, ...]:
    """The StatefulSets that run ``kind``, primary first."""
    container = _CONTAINERS[kind]
    if kind == "postgres":
        return (
            Workload(kind, "postgres-primary", "postgres-primary", "primary", container),
            Workload(kind, "postgres-replica", "postgres-replica", "replica", container),
        )
    if kind == "redis":
        return (Workload(kind, "redis", "redis-headless", "cache", container),)
    return (Workload(kind, "qdrant", "qdrant", "vector-store", container),)


def first_pod(kind: ServiceKind) -> str:
    """The pod the manifests make the primary (``postgres-primary-0``, ``redis-0``)."""
    return workloads(kind)[0].pod_name(0)


def workload_of_pod(pod_name: str) -> Workload | None:
    """The workload a pod name belongs to (``postgres-replica-2`` -> the replicas)."""
    stem, _, ordinal = pod_name.rpartition("-")
    if not ordinal.isdigit():
        return None
    for kind in SERVICE_KINDS:
        for workload in workloads(kind):
            if workload.statefulset == stem:
                return workload
    return None


def service_of_object(name: str) -> ServiceKind | None:
    """Which service an object (pod, StatefulSet, PVC) named ``name`` belongs to."""
    workload = workload_of_pod(name)
    if workload is not None:
        return workload.kind
    for kind in SERVICE_KINDS:
        for item in workloads(kind):
            if name in (item.statefulset, f"data-{item.statefulset}") or name.startswith(
                f"data-{item.statefulset}-"
            ):
                return kind
    return None


def app_label(spec: ServiceSpec) -> str:
    """The ``app`` label of the service's pods: the profile's service name."""
    return spec.name


def client_service(spec: ServiceSpec) -> str:
    """Name of the Service clients connect to (the primary, for PostgreSQL)."""
    return spec.name


def replica_client_service(spec: ServiceSpec) -> str:
    """Name of the Service that balances reads over PostgreSQL's read replicas."""
    return f"{spec.name}-replicas"


def network_policy(kind: ServiceKind) -> str:
    """Name of the service's NetworkPolicy (the spec's ``postgres-network-policy``)."""
    return f"{kind}-network-policy"


def container_name(kind: ServiceKind) -> str:
    """The database container's name in every pod of ``kind``."""
    return _CONTAINERS[kind]


def data_path(kind: ServiceKind, spec: ServiceSpec) -> str:
    """Where the data volume is mounted: the target of the profile's named volume."""
    for volume in spec.volumes:
        if volume.is_named_volume:
            return volume.target
    return _DATA_PATHS[kind]


def container_ports(kind: ServiceKind, spec: ServiceSpec) -> list[tuple[str, int]]:
    """``(name, port)`` for each port the database listens on, client port first."""
    numbers = [port.container_port for port in spec.ports] or list(_DEFAULT_PORTS[kind])
    names = _PORT_NAMES[kind]
    result: list[tuple[str, int]] = []
    for index, number in enumerate(dict.fromkeys(numbers)):
        name = names[index] if index < len(names) else f"port-{number}"
        result.append((name, number))
    return result


def qdrant_peer_url(namespace: str, ordinal: int = 0) -> str:
    """The spec's Qdrant cluster URL of peer ``ordinal`` (``qdrant-0`` bootstraps the rest)."""
    workload = workloads("qdrant")[0]
    return (
        f"http://{workload.pod_name(ordinal)}.{workload.governing_service}.{namespace}"
        f".svc.{CLUSTER_DOMAIN}:{QDRANT_P2P_PORT}"
    )


_LABEL_VALUE = re.compile(r"[^A-Za-z0-9_.-]")


def label_value(text: str) -> str:
    """``text`` made a valid label value (63 characters, alphanumeric at both ends)."""
    cleaned = _LABEL_VALUE.sub("-", text)[:63]
    return cleaned.strip("-_.")


def image_tag(image: str) -> str:
    """The tag of an image reference (``15.1.0.117``), or ``latest``."""
    reference = image.split("@", 1)[0]
    name, _, tag = reference.rpartition(":")
    if not name or "/" in tag:
        return "latest"
    return tag


def selector_labels(spec: ServiceSpec, role: Role) -> dict[str, str]:
    """The immutable StatefulSet selector: the spec's ``app`` label and the role."""
    return {"app": app_label(spec), COMPONENT: role}


def object_labels(profile: Profile, kind: ServiceKind, spec: ServiceSpec | None) -> dict[str, str]:
    """Labels every object of ``kind`` carries (``spec`` None for shared objects)."""
    labels = {
        "app.kubernetes.io/part-of": "alfred-platform",
        "app.kubernetes.io/instance": label_value(profile.name),
        MANAGED_BY: FIELD_MANAGER,
    }
    if spec is not None:
        labels = {
            "app": app_label(spec),
            "app.kubernetes.io/name": _APP_NAMES[kind],
            "app.kubernetes.io/version": label_value(image_tag(spec.image)) or "latest",
            **labels,
        }
    return labels


def managed_selector() -> str:
    """Label selector of everything the backend created."""
    return f"{MANAGED_BY}={FIELD_MANAGER}"


def app_selector(spec: ServiceSpec) -> str:
    """Label selector of one service's objects and pods."""
    return f"app={app_label(spec)}"


# --- credentials ---------------------------------------------------------------------


@dataclass(frozen=True)
class Credential:
    """One value that lives in the Secret and reaches a container by ``secretKeyRef``."""

    kind: ServiceKind
    env: str
    """The container's environment variable."""
    key: str
    """The key in the ``database-credentials`` Secret."""
    variable: str
    """The shell/Compose variable a rendered file refers to instead of the value."""
    value: SecretStr


def credentials(profile: Profile) -> list[Credential]:
    """Every credential of the enabled services, in a stable order.

    PostgreSQL's user, password and database always go to the Secret (they are
    the credentials clients need together); any other environment entry whose
    name marks a secret, Redis's ``password`` and Qdrant's ``api_key`` too.
    """
    found: list[Credential] = []
    for kind, spec in profile.services.enabled():
        for env, value in spec.environment.items():
            if env in SPEC_CREDENTIALS and kind == "postgres":
                key, variable = SPEC_CREDENTIALS[env]
            elif isinstance(value, SecretStr):
                key, variable = f"{kind}-{env.lower().replace('_', '-')}", env
            else:
                continue
            secret = value if isinstance(value, SecretStr) else SecretStr(value)
            found.append(Credential(kind, env, key, variable, secret))
        if isinstance(spec, RedisService) and spec.password is not None:
            password = spec.password
            found.append(
                Credential(kind, "REDIS_PASSWORD", "redis-password", "REDIS_PASSWORD", password)
            )
        if isinstance(spec, QdrantService) and spec.api_key is not None:
            env, variable = "QDRANT__SERVICE__API_KEY", "QDRANT_API_KEY"
            found.append(Credential(kind, env, "qdrant-api-key", variable, spec.api_key))
    return found
