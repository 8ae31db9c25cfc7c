"""Kubernetes manifests from a profile: plain dicts, ready for YAML or server-side apply.

What a profile's services become (names and labels in :mod:`.names`):

- a Namespace, and the spec's ``database-credentials`` Secret; every
  credential reaches its container through ``secretKeyRef``, never as a plain
  environment value;
- PostgreSQL: the ``postgres-primary`` StatefulSet (the profile's command:
  ``wal_level=logical``, ``max_wal_senders``, ``max_replication_slots``) and the
  ``postgres-replica`` StatefulSet (hot standby, ``primary_conninfo`` to the
  primary's Service, its data cloned by ``pg_basebackup`` in an init
  container), with the profile's ``replicas`` counting the primary;
- Redis and Qdrant StatefulSets; Qdrant runs in cluster mode with the spec's
  ``QDRANT_CLUSTER_ENABLED`` / ``QDRANT_CLUSTER_URL`` and Qdrant's own
  ``QDRANT__CLUSTER__ENABLED``, peers bootstrapping from ``qdrant-0``;
- a headless Service per StatefulSet (stable pod DNS) and a client Service per
  database named as in Compose (``db-postgres``, ``redis``, ``vector-db``);
- storage through ``volumeClaimTemplates`` (``services.*.storage``), kept when
  a StatefulSet is deleted or scaled down;
- requests = the profile's reservations, limits = its limits;
- probes as the spec's health checks: ``pg_isready``, ``redis-cli ping``,
  ``/healthz``, with the spec's intervals, timeouts and retries;
- the spec's NetworkPolicies: only pods labelled ``app: alfred-platform`` reach
  5432 / 6379 / 6333 / 6334 (plus each database's own peers, for streaming
  replication and Qdrant's peer-to-peer port).

The Secret is rendered in one of three ways: ``values`` (what the backend
applies through the API, never printed), ``references`` (``${VAR}`` for a
GitOps substitution step) or ``omit``.

Why one module of this size: one ManifestBuilder renders every object of the
deployment, and the objects name each other (selectors, ports, Services, the
Secret's keys): split, a rename would have to be followed across files.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Sequence
from typing import Any, Literal

from alfred_tui.backends.kubernetes import names
from alfred_tui.backends.kubernetes.names import Credential, Workload
from alfred_tui.backends.rendering import resource_sides
from alfred_tui.config.models import (
    HealthCheck,
    Profile,
    RedisService,
    ServiceKind,
    ServiceSpec,
)
from alfred_tui.units import format_k8s_size

SecretMode = Literal["values", "references", "omit"]
Manifest = dict[str, Any]

_POSTGRES_PGDATA_SUBDIR = "pgdata"
"""PGDATA below the mount point: a fresh volume may hold ``lost+found``, which initdb refuses."""

_REPLICATION_HBA = "host replication all all scram-sha-256"

_PRIMARY_INIT_SCRIPT = f"""#!/bin/sh
# Written by alfred-tui: let the read replicas stream WAL from this primary.
set -e
db="${{POSTGRES_DB:-$POSTGRES_USER}}"
sql() {{ psql -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d "$db" -Atc "$1"; }}
hba=$(sql 'SHOW hba_file')
grep -qx '{_REPLICATION_HBA}' "$hba" || echo '{_REPLICATION_HBA}' >> "$hba"
sql 'SELECT pg_reload_conf()'
"""

_REPLICA_CLONE_SCRIPT = """set -eu
if [ -s "$PGDATA/PG_VERSION" ]; then
  echo "standby data already in $PGDATA"
  exit 0
fi
echo "waiting for the primary at $PRIMARY_HOST:$PRIMARY_PORT"
until pg_isready -q -h "$PRIMARY_HOST" -p "$PRIMARY_PORT"; do sleep 2; done
rm -rf "$PGDATA"
mkdir -p "$PGDATA"
pg_basebackup -h "$PRIMARY_HOST" -p "$PRIMARY_PORT" -U "$POSTGRES_USER" -D "$PGDATA" \\
  -X stream -c fast --no-password
touch "$PGDATA/standby.signal"
chown -R postgres:postgres "$PGDATA"
chmod 0700 "$PGDATA"
echo "standby cloned from $PRIMARY_HOST"
"""

_QDRANT_START_SCRIPT = """set -e
SELF="http://${HOSTNAME}.${QDRANT_PEERS_SERVICE}.${POD_NAMESPACE}.svc.cluster.local:${QDRANT__CLUSTER__P2P__PORT}"
if [ "${HOSTNAME##*-}" = "0" ]; then
  exec ./qdrant --uri "$SELF"
fi
exec ./qdrant --bootstrap "$QDRANT_CLUSTER_URL" --uri "$SELF"
"""

_REDIS_START_SCRIPT = """set -e
# Written by alfred-tui. The master is the pod the ConfigMap redis-roles names
# (after a failover), else instance 0; the others replicate from it. A pod the
# ConfigMap lists as fenced (an old master) serves nothing until it is
# re-cloned: it would come back as a second master. The password goes through
# a file, never the command line.
PRIMARY="${REDIS_PRIMARY:-$REDIS_FIRST}"
case " ${REDIS_FENCED:-} " in
  *" $HOSTNAME "*)
    echo "$HOSTNAME is fenced: a failover made $PRIMARY the master; it serves nothing" \
      "until re-cloned (alfred-tui reclone redis $HOSTNAME)"
    : > "$REDIS_FENCED_MARK"
    trap 'exit 0' TERM INT
    while :; do sleep 1; done
    ;;
esac
conf=/tmp/alfred-redis.conf
umask 077
: > "$conf"
if [ -n "${REDIS_PASSWORD:-}" ]; then
  printf 'requirepass %s\\nmasterauth %s\\n' "$REDIS_PASSWORD" "$REDIS_PASSWORD" >> "$conf"
fi
if [ "$HOSTNAME" != "$PRIMARY" ]; then
  printf 'replicaof %s %s\\n' "$PRIMARY.$REDIS_PEER_DOMAIN" "$REDIS_PORT" >> "$conf"
fi
# The entrypoint runs redis-server as the redis user: it must be able to read the file.
chown redis "$conf" 2>/dev/null || true
exec docker-entrypoint.sh redis-server "$conf" "$@"
"""

#: Created by a fenced Redis pod's start script: liveness passes (nothing to restart),
#: readiness does not (it serves nothing).
REDIS_FENCED_MARK = "/tmp/alfred-redis-fenced"


# --- quantities ----------------------------------------------------------------------


def cpu_quantity(cpus: float) -> str:
    """CPUs as a Kubernetes quantity: ``2`` -> ``"2"``, ``0.5`` -> ``"500m"``."""
    if float(cpus).is_integer():
        return str(int(cpus))
    return f"{round(cpus * 1000)}m"


def resources(spec: ServiceSpec) -> dict[str, dict[str, str]]:
    """``requests`` from the reservations, ``limits`` from the limits (unset sides omitted)."""
    sides: dict[str, Literal["limits", "reservations"]] = {
        "requests": "reservations",
        "limits": "limits",
    }
    return resource_sides(spec, sides, "cpu", cpu_quantity, format_k8s_size)


# --- small builders ------------------------------------------------------------------


def _metadata(
    name: str, namespace: str | None, labels: dict[str, str], **extra: Any
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace is not None:
        meta["namespace"] = namespace
    meta["labels"] = dict(labels)
    meta.update(extra)
    return meta


def _secret_env(credential: Credential, env: str | None = None) -> dict[str, Any]:
    return {
        "name": env or credential.env,
        "valueFrom": {"secretKeyRef": {"name": names.SECRET_NAME, "key": credential.key}},
    }


def _environment(
    kind: ServiceKind, spec: ServiceSpec, creds: Sequence[Credential]
) -> list[dict[str, Any]]:
    """The profile's environment: credentials by reference, everything else by value."""
    by_env = {c.env: c for c in creds if c.kind == kind}
    env: list[dict[str, Any]] = []
    for key in spec.environment:
        if key in by_env:
            env.append(_secret_env(by_env[key]))
        else:
            env.append({"name": key, "value": spec.env(key) or ""})
    for key, credential in by_env.items():
        if key not in spec.environment:
            env.append(_secret_env(credential))
    return env


def _probe_timing(check: HealthCheck | None, *, default_interval: float = 10.0) -> dict[str, int]:
    interval = check.interval if check else default_interval
    timeout = check.timeout if check else 5.0
    retries = check.retries if check else 3
    return {
        "periodSeconds": max(1, math.ceil(interval)),
        "timeoutSeconds": max(1, math.ceil(timeout)),
        "failureThreshold": max(1, retries),
    }


def _probes(
    handler: dict[str, Any], check: HealthCheck | None, alive: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Liveness and readiness from the spec's health check; a startup probe for slow starts.

    Compose's ``start_period`` becomes a startup probe that allows at least
    five minutes (crash recovery of a large database takes a while) before
    liveness may restart the container. ``alive`` replaces the handler for
    startup and liveness where a container may rightly serve nothing (a
    fenced Redis pod): restarting it would change nothing.
    """
    timing = _probe_timing(check)
    start_period = check.start_period if check else 0.0
    startup_window = max(start_period, 300.0)
    alive = alive or handler
    startup = {
        **alive,
        "periodSeconds": timing["periodSeconds"],
        "timeoutSeconds": timing["timeoutSeconds"],
        "failureThreshold": max(1, math.ceil(startup_window / timing["periodSeconds"])),
    }
    return {
        "startupProbe": startup,
        "livenessProbe": {**alive, **timing},
        "readinessProbe": {**handler, **timing},
    }


def _roles_env(env: str, key: str) -> dict[str, Any]:
    """``env`` from a key of the Redis roles ConfigMap, empty while no failover wrote it."""
    return {
        "name": env,
        "valueFrom": {
            "configMapKeyRef": {
                "name": names.REDIS_ROLES_CONFIGMAP,
                "key": key,
                "optional": True,
            }
        },
    }


def _exec(*argv: str) -> dict[str, Any]:
    return {"exec": {"command": list(argv)}}


def _container_ports(kind: ServiceKind, spec: ServiceSpec) -> list[dict[str, Any]]:
    ports = [
        {"name": name, "containerPort": number, "protocol": "TCP"}
        for name, number in names.container_ports(kind, spec)
    ]
    if kind == "qdrant":
        ports.append({"name": "p2p", "containerPort": names.QDRANT_P2P_PORT, "protocol": "TCP"})
    return ports


def _service_ports(kind: ServiceKind, spec: ServiceSpec, *, peers: bool) -> list[dict[str, Any]]:
    ports = [
        {"name": name, "port": number, "targetPort": name, "protocol": "TCP"}
        for name, number in names.container_ports(kind, spec)
    ]
    if peers and kind == "qdrant":
        ports.append(
            {"name": "p2p", "port": names.QDRANT_P2P_PORT, "targetPort": "p2p", "protocol": "TCP"}
        )
    return ports


def _anti_affinity(selector: dict[str, str]) -> dict[str, Any]:
    """Prefer one instance per node, so a node failure takes at most one."""
    return {
        "podAntiAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {
                    "weight": 100,
                    "podAffinityTerm": {
                        "labelSelector": {"matchLabels": dict(selector)},
                        "topologyKey": "kubernetes.io/hostname",
                    },
                }
            ]
        }
    }


def _claim_template(spec: ServiceSpec, labels: dict[str, str]) -> dict[str, Any]:
    claim: dict[str, Any] = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": spec.storage.size}},
    }
    if spec.storage.storage_class:
        claim["storageClassName"] = spec.storage.storage_class
    return {"metadata": {"name": "data", "labels": dict(labels)}, "spec": claim}


# --- the builder ---------------------------------------------------------------------


class ManifestBuilder:
    """Builds every object of a profile for one namespace."""

    def __init__(self, profile: Profile, namespace: str | None = None) -> None:
        self.profile = profile
        self.namespace = namespace or profile.kubernetes.namespace
        self.credentials = names.credentials(profile)

    # shared objects

    def namespace_object(self) -> Manifest:
        """The Namespace everything lives in."""
        return {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": _metadata(
                self.namespace, None, names.object_labels(self.profile, "postgres", None)
            ),
        }

    def secret(self, mode: SecretMode) -> Manifest | None:
        """The ``database-credentials`` Secret: real values, ``${VAR}`` references, or none."""
        if mode == "omit" or not self.credentials:
            return None
        meta = _metadata(
            names.SECRET_NAME,
            self.namespace,
            names.object_labels(self.profile, "postgres", None),
        )
        secret: Manifest = {"apiVersion": "v1", "kind": "Secret", "metadata": meta}
        secret["type"] = "Opaque"
        if mode == "values":
            secret["data"] = {
                c.key: base64.b64encode(c.value.get_secret_value().encode()).decode()
                for c in self.credentials
            }
        else:
            meta["annotations"] = {
                "alfred-tui/values": "${VAR} references; substitute them in your "
                "delivery pipeline (envsubst, Flux postBuild) or create the Secret by hand"
            }
            secret["stringData"] = {c.key: f"${{{c.variable}}}" for c in self.credentials}
        return secret

    # per service

    def service_objects(self, kind: ServiceKind) -> list[Manifest]:
        """ConfigMaps, Services, StatefulSets and the NetworkPolicy of one service."""
        spec = self.profile.service(kind)
        if spec is None:
            return []
        objects: list[Manifest] = []
        if kind == "postgres":
            objects.append(self._postgres_init_configmap(spec))
        objects.extend(self._services(kind, spec))
        for workload in names.workloads(kind):
            objects.append(self.statefulset(workload, spec))
        objects.append(self.network_policy(kind, spec))
        return objects

    def _postgres_init_configmap(self, spec: ServiceSpec) -> Manifest:
        return {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": _metadata(
                names.POSTGRES_INIT_CONFIGMAP,
                self.namespace,
                names.object_labels(self.profile, "postgres", spec),
            ),
            "data": {"replication.sh": _PRIMARY_INIT_SCRIPT},
        }

    def _services(self, kind: ServiceKind, spec: ServiceSpec) -> list[Manifest]:
        labels = names.object_labels(self.profile, kind, spec)
        services: list[Manifest] = []
        for workload in names.workloads(kind):
            services.append(
                {
                    "apiVersion": "v1",
                    "kind": "Service",
                    "metadata": _metadata(workload.governing_service, self.namespace, labels),
                    "spec": {
                        "clusterIP": "None",
                        "publishNotReadyAddresses": True,
                        "selector": names.selector_labels(spec, workload.role),
                        "ports": _service_ports(kind, spec, peers=True),
                    },
                }
            )
        primary = names.workloads(kind)[0]
        client_names: list[tuple[str, names.Role]] = [(names.client_service(spec), primary.role)]
        if kind == "postgres":
            client_names.append((names.replica_client_service(spec), "replica"))
        for name, role in client_names:
            selector = names.selector_labels(spec, role)
            if kind == "redis":  # writes go to the master; the others are read-only replicas
                selector[names.POD_NAME_LABEL] = primary.pod_name(0)
            services.append(
                {
                    "apiVersion": "v1",
                    "kind": "Service",
                    "metadata": _metadata(name, self.namespace, labels),
                    "spec": {
                        "type": "ClusterIP",
                        "selector": selector,
                        "ports": _service_ports(kind, spec, peers=False),
                    },
                }
            )
        return services

    def replicas(self, workload: Workload, spec: ServiceSpec) -> int:
        """Instances of one StatefulSet: PostgreSQL's count includes its primary."""
        if workload.kind != "postgres":
            return spec.replicas
        if workload.role == "primary":
            return min(1, spec.replicas)
        return max(0, spec.replicas - 1)

    def statefulset(self, workload: Workload, spec: ServiceSpec) -> Manifest:
        """The StatefulSet of ``workload``."""
        kind = workload.kind
        labels = names.object_labels(self.profile, kind, spec)
        selector = names.selector_labels(spec, workload.role)
        pod_labels = {**labels, **selector}
        pod_spec: dict[str, Any] = {
            "enableServiceLinks": False,
            "terminationGracePeriodSeconds": 60 if kind == "postgres" else 30,
            "affinity": _anti_affinity(selector),
            "containers": [self._container(workload, spec)],
        }
        if kind == "postgres" and workload.role == "replica":
            pod_spec["initContainers"] = [self._clone_container(spec)]
        if kind == "postgres" and workload.role == "primary":
            pod_spec["volumes"] = [
                {
                    "name": "initdb",
                    "configMap": {"name": names.POSTGRES_INIT_CONFIGMAP, "defaultMode": 0o555},
                }
            ]
        sts_spec: dict[str, Any] = {
            "serviceName": workload.governing_service,
            "replicas": self.replicas(workload, spec),
            "selector": {"matchLabels": selector},
            "podManagementPolicy": "Parallel" if workload.role == "replica" else "OrderedReady",
            "updateStrategy": {"type": "RollingUpdate"},
            "persistentVolumeClaimRetentionPolicy": {
                "whenDeleted": "Retain",
                "whenScaled": "Retain",
            },
            "template": {"metadata": {"labels": pod_labels}, "spec": pod_spec},
            "volumeClaimTemplates": [_claim_template(spec, pod_labels)],
        }
        return {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": _metadata(workload.statefulset, self.namespace, pod_labels),
            "spec": sts_spec,
        }

    def _container(self, workload: Workload, spec: ServiceSpec) -> dict[str, Any]:
        kind = workload.kind
        container: dict[str, Any] = {
            "name": workload.container,
            "image": spec.image,
            "imagePullPolicy": "IfNotPresent",
        }
        env = _environment(kind, spec, self.credentials)
        alive: dict[str, Any] | None = None
        mounts: list[dict[str, Any]] = [{"name": "data", "mountPath": names.data_path(kind, spec)}]
        if kind == "postgres":
            env.insert(0, {"name": "PGDATA", "value": self._pgdata(spec)})
            args = list(spec.command or ["postgres"])
            if workload.role == "replica":
                primary = names.workloads("postgres")[0]
                port = names.container_ports(kind, spec)[0][1]
                env.append(self._credential_env("POSTGRES_PASSWORD", "PGPASSWORD"))
                env.append(
                    {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}
                )
                conninfo = (
                    f"primary_conninfo=host={primary.governing_service} port={port}"
                    " user=$(POSTGRES_USER) application_name=$(POD_NAME)"
                )
                args += ["-c", "hot_standby=on", "-c", conninfo]
            else:
                mounts.append(
                    {
                        "name": "initdb",
                        "mountPath": "/docker-entrypoint-initdb.d/zz-alfred-replication.sh",
                        "subPath": "replication.sh",
                    }
                )
            container["args"] = args
            port = names.container_ports(kind, spec)[0][1]
            handler = _exec("sh", "-c", f'pg_isready -U "$POSTGRES_USER" -h localhost -p {port}')
        elif kind == "redis":
            port = names.container_ports(kind, spec)[0][1]
            args = list(spec.command or ["redis-server"])
            # Instances after the first replicate from redis-0 (as on Docker); requirepass
            # goes through a file, never the command line; redis-cli (the probe, exec)
            # reads the password from REDISCLI_AUTH.
            container["command"] = ["sh", "-c", _REDIS_START_SCRIPT, "redis"]
            args = args[1:] if args and args[0] == "redis-server" else args
            domain = f"{workload.governing_service}.$(POD_NAMESPACE).svc.{names.CLUSTER_DOMAIN}"
            env += [
                {
                    "name": "POD_NAMESPACE",
                    "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}},
                },
                {"name": "REDIS_FIRST", "value": workload.pod_name(0)},
                {"name": "REDIS_PEER_DOMAIN", "value": domain},
                {"name": "REDIS_PORT", "value": str(port)},
                {"name": "REDIS_FENCED_MARK", "value": REDIS_FENCED_MARK},
                _roles_env("REDIS_PRIMARY", "primary"),
                _roles_env("REDIS_FENCED", "fenced"),
            ]
            if isinstance(spec, RedisService) and spec.password is not None:
                env.append(self._credential_env("REDIS_PASSWORD", "REDISCLI_AUTH"))
            container["args"] = args
            ping = f"redis-cli -p {port} ping | grep -q PONG"
            handler = _exec("sh", "-c", ping)
            alive = _exec("sh", "-c", f"test -e {REDIS_FENCED_MARK} || {ping}")
        else:
            env = [
                {"name": "QDRANT_CLUSTER_ENABLED", "value": "true"},
                {"name": "QDRANT_CLUSTER_URL", "value": names.qdrant_peer_url(self.namespace)},
                {"name": "QDRANT__CLUSTER__ENABLED", "value": "true"},
                {"name": "QDRANT__CLUSTER__P2P__PORT", "value": str(names.QDRANT_P2P_PORT)},
                {"name": "QDRANT_PEERS_SERVICE", "value": workload.governing_service},
                {
                    "name": "POD_NAMESPACE",
                    "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}},
                },
                *env,
            ]
            if spec.command:
                container["args"] = list(spec.command)
            else:
                container["command"] = ["/bin/sh", "-c", _QDRANT_START_SCRIPT]
            http_port = names.container_ports(kind, spec)[0][0]
            handler = {"httpGet": {"path": "/healthz", "port": http_port}}
        container["ports"] = _container_ports(kind, spec)
        if env:
            container["env"] = env
        container["volumeMounts"] = mounts
        limits = resources(spec)
        if limits:
            container["resources"] = limits
        container.update(_probes(handler, spec.healthcheck, alive))
        return container

    def _credential_env(self, env: str, as_env: str) -> dict[str, Any]:
        for credential in self.credentials:
            if credential.env == env:
                return _secret_env(credential, as_env)
        raise KeyError(env)  # the profile always has these when the container needs them

    def _pgdata(self, spec: ServiceSpec) -> str:
        return f"{names.data_path('postgres', spec)}/{_POSTGRES_PGDATA_SUBDIR}"

    def _clone_container(self, spec: ServiceSpec) -> dict[str, Any]:
        """The replica's init container: ``pg_basebackup`` from the primary on first start."""
        primary = names.workloads("postgres")[0]
        port = names.container_ports("postgres", spec)[0][1]
        env: list[dict[str, Any]] = [
            {"name": "PGDATA", "value": self._pgdata(spec)},
            {"name": "PRIMARY_HOST", "value": primary.governing_service},
            {"name": "PRIMARY_PORT", "value": str(port)},
        ]
        env.append(self._credential_env("POSTGRES_USER", "POSTGRES_USER"))
        env.append(self._credential_env("POSTGRES_PASSWORD", "PGPASSWORD"))
        container: dict[str, Any] = {
            "name": "clone-primary",
            "image": spec.image,
            "imagePullPolicy": "IfNotPresent",
            "command": ["sh", "-c", _REPLICA_CLONE_SCRIPT],
            "env": env,
            "volumeMounts": [{"name": "data", "mountPath": names.data_path("postgres", spec)}],
        }
        limits = resources(spec)
        if limits:
            container["resources"] = limits
        return container

    def network_policy(self, kind: ServiceKind, spec: ServiceSpec) -> Manifest:
        """Only ``app: alfred-platform`` pods reach the client ports; peers reach each other."""
        client_ports = [
            {"protocol": "TCP", "port": number} for _, number in names.container_ports(kind, spec)
        ]
        ingress: list[dict[str, Any]] = [
            {
                "from": [{"podSelector": {"matchLabels": dict(names.PLATFORM_CLIENT_LABELS)}}],
                "ports": client_ports,
            }
        ]
        peer_ports: list[dict[str, Any]] = []
        if kind in ("postgres", "redis"):
            peer_ports = client_ports[:1]  # replicas stream from the primary / the master
        elif kind == "qdrant":
            peer_ports = [{"protocol": "TCP", "port": names.QDRANT_P2P_PORT}]
        if peer_ports:
            ingress.append(
                {
                    "from": [{"podSelector": {"matchLabels": {"app": names.app_label(spec)}}}],
                    "ports": peer_ports,
                }
            )
        return {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": _metadata(
                names.network_policy(kind),
                self.namespace,
                names.object_labels(self.profile, kind, spec),
            ),
            "spec": {
                "podSelector": {"matchLabels": {"app": names.app_label(spec)}},
                "policyTypes": ["Ingress"],
                "ingress": ingress,
            },
        }

    # everything

    def build(
        self,
        secrets: SecretMode = "values",
        services: Sequence[ServiceKind] | None = None,
        include_namespace: bool = True,
    ) -> list[Manifest]:
        """Every object, in the order they can be applied (namespace first)."""
        objects: list[Manifest] = []
        if include_namespace:
            objects.append(self.namespace_object())
        secret = self.secret(secrets)
        if secret is not None:
            objects.append(secret)
        wanted = services or [kind for kind, _ in self.profile.services.enabled()]
        for kind, _spec in self.profile.services.enabled():
            if kind in wanted:
                objects.extend(self.service_objects(kind))
        return objects


def render_manifests(
    profile: Profile,
    namespace: str | None = None,
    secrets: SecretMode = "references",
    services: Sequence[ServiceKind] | None = None,
) -> list[Manifest]:
    """Every object of ``profile``, in apply order (see :class:`ManifestBuilder`)."""
    return ManifestBuilder(profile, namespace).build(secrets=secrets, services=services)


def to_yaml(objects: Sequence[Manifest]) -> str:
    """Multi-document YAML, one ``---``-separated document per object, fields in order."""
    import yaml

    class _Dumper(yaml.SafeDumper):
        pass

    def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
        style = "|" if "\n" in value else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    _Dumper.add_representer(str, _str)
    return yaml.dump_all(
        list(objects), Dumper=_Dumper, sort_keys=False, explicit_start=True, width=100
    )
