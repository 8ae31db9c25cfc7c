"""What a profile's service becomes in Docker, as the spec's Compose files would make it.

Pure data, no SDK: names and labels follow Compose v2 (containers
``<project>-<service>-<n>``, volumes and networks ``<project>_<name>``, the
``com.docker.compose.*`` labels) so ``docker ps``, ``docker compose ls`` and
the platform's own Compose file all see one deployment, and containers the
platform's Compose file made are found by the same labels.

Instance 1 of a service is the one clients use: it publishes the profile's
ports and mounts the profile's volumes. Instances 2..N publish the same
container ports on ephemeral host ports (two containers cannot share a host
port) and get a volume of their own per named volume, ``<volume>-<n>``, like a
StatefulSet (two database servers must not share a data directory). After a
failover the primary is another number: whichever instance is labelled
``primary`` publishes the profile's ports and answers to the service's name,
on its own volume.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

from pydantic import SecretStr

from alfred_tui import __version__
from alfred_tui.config.models import Profile, ResourceSpec, ServiceKind, ServiceSpec

# Compose's label keys (docker/compose pkg/api/labels.go).
PROJECT = "com.docker.compose.project"
SERVICE = "com.docker.compose.service"
NUMBER = "com.docker.compose.container-number"
ONEOFF = "com.docker.compose.oneoff"
WORKING_DIR = "com.docker.compose.project.working_dir"
CONFIG_FILES = "com.docker.compose.project.config_files"
CONFIG_HASH = "com.docker.compose.config-hash"
VERSION = "com.docker.compose.version"
DEPENDS_ON = "com.docker.compose.depends_on"
VOLUME = "com.docker.compose.volume"
NETWORK = "com.docker.compose.network"
#: The Compose release whose labels and names this module mirrors.
COMPOSE_VERSION = "2.24.0"

# Our own labels, beside Compose's.
ROLE = "org.alfred-tui.role"
KIND = "org.alfred-tui.kind"
MANAGED_BY = "org.alfred-tui.version"

#: CPU shares per reserved CPU. Docker without Swarm has no CPU reservation
#: (Compose drops ``reservations.cpus``); shares are the closest thing: a
#: weight that guarantees a proportional slice when CPUs are contended.
SHARES_PER_CPU = 1024


def project_name(raw: str) -> str:
    """A Compose project name: lowercase letters, digits, dashes and underscores."""
    name = re.sub(r"[^a-z0-9_-]", "", raw.lower())
    if not name or not name[0].isalnum():
        raise ValueError(f"'{raw}' is not a usable Compose project name (use a-z, 0-9, - and _)")
    return name


def container_name(project: str, service: str, number: int) -> str:
    """``<project>-<service>-<n>``, as Compose v2 names containers."""
    return f"{project}-{service}-{number}"


def volume_name(project: str, volume: str, number: int = 1) -> str:
    """``<project>_<volume>`` for instance 1, ``<project>_<volume>-<n>`` for the others."""
    return f"{project}_{volume}" if number == 1 else f"{project}_{volume}-{number}"


def network_name(project: str, network: str) -> str:
    """``<project>_<network>``, as Compose names a network declared in the file."""
    return f"{project}_{network}"


@dataclass(frozen=True)
class PortPlan:
    """One published port: container port and where it lands on the host."""

    container_port: int
    protocol: str
    host_ip: str
    host_port: int | None
    """None: an ephemeral port the engine picks."""


@dataclass(frozen=True)
class ResourcePlan:
    """The engine's resource fields for one container."""

    nano_cpus: int | None = None
    mem_limit: int | None = None
    mem_reservation: int | None = None
    cpu_shares: int | None = None
    cpus_reserved: float | None = None

    @classmethod
    def from_profile(cls, limits: ResourceSpec | None, reservations: ResourceSpec | None) -> Self:
        """Compose's mapping: limits -> NanoCpus/Memory, reservation -> MemoryReservation."""
        cpus = limits.cpus if limits else None
        reserved = reservations.cpus if reservations else None
        return cls(
            nano_cpus=round(cpus * 1e9) if cpus else None,
            mem_limit=limits.memory if limits else None,
            mem_reservation=reservations.memory if reservations else None,
            cpu_shares=round(reserved * SHARES_PER_CPU) if reserved else None,
            cpus_reserved=reserved,
        )

    def host_config(self) -> dict[str, Any]:
        """Keyword arguments for ``create_host_config`` / the engine's live update."""
        values = {
            "nano_cpus": self.nano_cpus,
            "mem_limit": self.mem_limit,
            "mem_reservation": self.mem_reservation,
            "cpu_shares": self.cpu_shares,
        }
        return {key: value for key, value in values.items() if value is not None}


@dataclass(frozen=True)
class ContainerPlan:
    """Everything needed to create one container of a service."""

    kind: ServiceKind
    service: str
    number: int
    name: str
    image: str
    command: list[str] | None
    environment: dict[str, str] = field(repr=False)
    labels: dict[str, str]
    ports: tuple[PortPlan, ...]
    binds: dict[str, dict[str, str]]
    """Host path or volume name -> ``{"bind": target, "mode": "rw"|"ro"}``."""
    volumes: dict[str, str]
    """Named volumes to create: engine name -> the profile's volume name."""
    healthcheck: dict[str, Any] | None
    resources: ResourcePlan
    restart_policy: dict[str, Any]
    network: str
    aliases: tuple[str, ...]
    role: str


def _environment(spec: ServiceSpec) -> dict[str, str]:
    return {
        key: value.get_secret_value() if isinstance(value, SecretStr) else value
        for key, value in spec.environment.items()
    }


def publishes_profile_ports(number: int, role: str) -> bool:
    """Whether an instance takes the profile's host ports: the primary, wherever a failover
    put it, or instance 1 of a service without roles (Qdrant)."""
    return role == "primary" or (role == "" and number == 1)


def _ports(profile: Profile, spec: ServiceSpec, number: int, role: str) -> tuple[PortPlan, ...]:
    plans = []
    for port in spec.ports:
        host_ip = port.host_ip
        if profile.policy == "production" and not port.is_loopback:
            host_ip = "127.0.0.1"  # the policy refuses this at load; never publish wider
        host_port = port.host_port if publishes_profile_ports(number, role) else None
        plans.append(PortPlan(port.container_port, port.protocol, host_ip, host_port))
    return tuple(plans)


def _binds(
    spec: ServiceSpec, project: str, number: int, base_dir: Path
) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    binds: dict[str, dict[str, str]] = {}
    volumes: dict[str, str] = {}
    for mount in spec.volumes:
        mode = "ro" if mount.read_only else "rw"
        if mount.is_named_volume:
            name = volume_name(project, mount.source, number)
            volumes[name] = mount.source if number == 1 else f"{mount.source}-{number}"
            binds[name] = {"bind": mount.target, "mode": mode}
        else:
            source = Path(mount.source).expanduser()
            if not source.is_absolute():
                source = (base_dir / source).resolve()
            binds[str(source)] = {"bind": mount.target, "mode": mode}
    return binds, volumes


def _healthcheck(spec: ServiceSpec) -> dict[str, Any] | None:
    check = spec.healthcheck
    if check is None:
        return None
    nanos = 1_000_000_000
    return {
        "test": list(check.test),
        "interval": int(check.interval * nanos),
        "timeout": int(check.timeout * nanos),
        "retries": check.retries,
        "start_period": int(check.start_period * nanos),
    }


def _restart_policy(spec: ServiceSpec) -> dict[str, Any]:
    return {"Name": "" if spec.restart == "no" else spec.restart, "MaximumRetryCount": 0}


def config_hash(plan_fields: dict[str, Any]) -> str:
    """A stable hash of a container's configuration; a change means recreate."""
    text = json.dumps(plan_fields, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def plan_container(
    profile: Profile,
    kind: ServiceKind,
    spec: ServiceSpec,
    number: int,
    *,
    project: str,
    profile_path: Path | None,
    role: str = "",
    extra_args: tuple[str, ...] = (),
    resources: ResourcePlan | None = None,
) -> ContainerPlan:
    """The container for instance ``number`` of ``spec`` in ``project``."""
    base_dir = profile_path.parent if profile_path else Path.cwd()
    binds, volumes = _binds(spec, project, number, base_dir)
    command = [*spec.command, *extra_args] if spec.command else (list(extra_args) or None)
    plan_resources = resources or ResourcePlan.from_profile(
        spec.resources.limits, spec.resources.reservations
    )
    environment = _environment(spec)
    ports = _ports(profile, spec, number, role)
    healthcheck = _healthcheck(spec)
    network = network_name(project, profile.docker.network)
    digest = config_hash(
        {
            "image": spec.image,
            "command": command,
            "environment": environment,
            "ports": ports,
            "binds": binds,
            "healthcheck": healthcheck,
            "resources": plan_resources,
            "restart": spec.restart,
            "network": network,
            "role": role,
        }
    )
    name = container_name(project, spec.name, number)
    labels = {
        PROJECT: project,
        SERVICE: spec.name,
        NUMBER: str(number),
        ONEOFF: "False",
        VERSION: COMPOSE_VERSION,
        CONFIG_HASH: digest,
        DEPENDS_ON: "",
        KIND: kind,
        ROLE: role,
        MANAGED_BY: __version__,
    }
    if profile_path is not None:
        labels[WORKING_DIR] = str(base_dir)
        labels[CONFIG_FILES] = str(profile_path)
    aliases = (spec.name, name) if role in ("", "primary") else (name, f"{spec.name}-replica")
    return ContainerPlan(
        kind=kind,
        service=spec.name,
        number=number,
        name=name,
        image=spec.image,
        command=command,
        environment=environment,
        labels=labels,
        ports=ports,
        binds=binds,
        volumes=volumes,
        healthcheck=healthcheck,
        resources=plan_resources,
        restart_policy=_restart_policy(spec),
        network=network,
        aliases=aliases,
        role=role,
    )


def resource_labels(project: str, **extra: str) -> dict[str, str]:
    """Labels of a volume or network Compose would recognise as the project's."""
    return {PROJECT: project, VERSION: COMPOSE_VERSION, MANAGED_BY: __version__, **extra}


def oneoff_labels(project: str, **extra: str) -> dict[str, str]:
    """Labels of a throwaway container: the project's (teardown finds it), marked one-off
    (never taken for a service's instance)."""
    return {PROJECT: project, ONEOFF: "True", MANAGED_BY: __version__, **extra}
