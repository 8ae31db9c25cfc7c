"""A Compose file from a profile, in the platform's own shape, for GitOps.

The output is what the spec's Compose files would be for this profile:
services named ``db-postgres`` / ``redis`` / ``vector-db``, named volumes,
one network, environment, command, health checks, ``deploy.resources``
(limits and reservations) and the restart policy. Secrets are never written:
each becomes a required ``${VAR:?...}`` reference (the spec's ``DB_PASSWORD``,
``DB_JWT_SECRET``, ...), so ``docker compose up`` refuses to start until the
variable is set, instead of starting with an empty or default password.
Every other literal has its ``$`` doubled so Compose never interpolates it.
"""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr

from alfred_tui.backends.rendering import compose_variable, resource_sides
from alfred_tui.config.models import Profile, QdrantService, RedisService, ServiceSpec
from alfred_tui.units import format_compose_duration, format_docker_size

_REDIS_AUTH_ENTRYPOINT = (
    "umask 077; printf 'requirepass %s\\n' \"$$REDIS_PASSWORD\" > /tmp/alfred-redis-auth.conf; "
    'exec docker-entrypoint.sh redis-server /tmp/alfred-redis-auth.conf "$$@"'
)


def _literal(text: str) -> str:
    """``text`` with ``$`` escaped, so Compose keeps it as written."""
    return text.replace("$", "$$")


def _reference(variable: str) -> str:
    return f"${{{variable}:?set {variable} (alfred-tui never writes secrets to files)}}"


def _cpus(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _environment(spec: ServiceSpec) -> dict[str, str]:
    env: dict[str, str] = {}
    for key, value in spec.environment.items():
        if isinstance(value, SecretStr):
            env[key] = _reference(compose_variable(key))
        else:
            env[key] = _literal(value)
    if isinstance(spec, RedisService) and spec.password is not None:
        env["REDIS_PASSWORD"] = _reference("REDIS_PASSWORD")
        env["REDISCLI_AUTH"] = _reference("REDIS_PASSWORD")
    if isinstance(spec, QdrantService) and spec.api_key is not None:
        env["QDRANT__SERVICE__API_KEY"] = _reference("QDRANT_API_KEY")
    return env


def _service(spec: ServiceSpec, network: str) -> dict[str, Any]:
    service: dict[str, Any] = {"image": spec.image}
    command = [_literal(arg) for arg in spec.command] if spec.command else None
    if isinstance(spec, RedisService) and spec.password is not None:
        service["entrypoint"] = ["sh", "-c", _REDIS_AUTH_ENTRYPOINT, "redis"]
        if command and command[0] == "redis-server":
            command = command[1:]
    if command is not None:
        service["command"] = command
    environment = _environment(spec)
    if environment:
        service["environment"] = environment
    if spec.ports:
        service["ports"] = [port.compose() for port in spec.ports]
    if spec.volumes:
        service["volumes"] = [volume.compose() for volume in spec.volumes]
    if spec.healthcheck is not None:
        check = spec.healthcheck
        healthcheck: dict[str, Any] = {
            "test": [_literal(part) for part in check.test],
            "interval": format_compose_duration(check.interval),
            "timeout": format_compose_duration(check.timeout),
            "retries": check.retries,
        }
        if check.start_period:
            healthcheck["start_period"] = format_compose_duration(check.start_period)
        service["healthcheck"] = healthcheck
    resources = resource_sides(
        spec,
        {"limits": "limits", "reservations": "reservations"},
        "cpus",
        _cpus,
        format_docker_size,
    )
    if resources:
        service["deploy"] = {"resources": resources}
    service["restart"] = spec.restart
    service["networks"] = [network]
    return service


def render_compose(profile: Profile) -> dict[str, Any]:
    """The Compose document (a mapping, in the spec's field order)."""
    network = profile.docker.network
    services: dict[str, Any] = {}
    volumes: dict[str, Any] = {}
    for _kind, spec in profile.services.enabled():
        services[spec.name] = _service(spec, network)
        for volume in spec.volumes:
            if volume.is_named_volume:
                volumes[volume.source] = {}
    document: dict[str, Any] = {"name": profile.docker.project, "services": services}
    document["networks"] = {network: {"name": network}}
    if volumes:
        document["volumes"] = volumes
    return document


def to_yaml(document: dict[str, Any]) -> str:
    """The Compose document as YAML."""
    import yaml

    return yaml.safe_dump(document, sort_keys=False, width=100)
