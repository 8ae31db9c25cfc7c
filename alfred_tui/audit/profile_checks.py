"""Audit checks that read only the profile: secrets, ports, images, authentication.

The spec's Security section, as rules over a loaded profile. Severity
follows the profile's policy: what the production policy forbids is
CRITICAL in a ``policy: production`` profile and a WARNING in a development
one (a workstation may reasonably run with the spec's development defaults,
but the operator should know).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import cache

from alfred_tui.audit.model import CheckResult, Finding, Source
from alfred_tui.config.loader import LoadedProfile
from alfred_tui.config.models import (
    SPEC_DEFAULT_SECRETS,
    PostgresService,
    QdrantService,
    RedisService,
    ServiceSpec,
)
from alfred_tui.config.yamlsource import FieldPath, format_path
from alfred_tui.metrics import Verdict
from alfred_tui.troubleshoot.profile_yaml import (
    postgres_command_with,
    service_yaml,
)

#: Values anyone would try first; a secret equal to one of these is as good as none.
WELL_KNOWN_SECRETS = frozenset(
    {
        *SPEC_DEFAULT_SECRETS,
        "postgres",
        "password",
        "passw0rd",
        "changeme",
        "change-me",
        "secret",
        "admin",
        "root",
        "example",
        "redis",
        "qdrant",
        "123456",
        "12345678",
    }
)

ENV_HINT = {
    "POSTGRES_PASSWORD": "DB_PASSWORD",
    "JWT_SECRET": "DB_JWT_SECRET",
}


def severity(loaded: LoadedProfile, exposed: bool = False) -> Verdict:
    """CRITICAL under the production policy or when the service is reachable from outside."""
    return Verdict.CRITICAL if loaded.profile.policy == "production" or exposed else Verdict.WARNING


def where(loaded: LoadedProfile, path: FieldPath) -> str:
    """``file:line`` of a profile field (or its nearest parent), or empty."""
    origin = loaded.origin_of(path)
    return str(origin) if origin else ""


def public(service: ServiceSpec) -> bool:
    """Whether any published port is bound beyond loopback."""
    return any(not port.is_loopback for port in service.ports)


Check = Callable[[LoadedProfile], CheckResult]


def _result(check_id: str, title: str, findings: list[Finding]) -> CheckResult:
    return CheckResult(
        check_id, title, "failed" if findings else "passed", "profile", findings=tuple(findings)
    )


def _secrets(loaded: LoadedProfile) -> Iterator[tuple[str, ServiceSpec, FieldPath, str, str]]:
    """(kind, service, path, field name, value) of every secret, values in clear for comparing."""
    for kind, service in loaded.profile.services.enabled():
        for name, secret in service.secrets():
            value = secret.get_secret_value() if secret is not None else ""
            path: FieldPath = ("services", kind, *name.split(".", 1))
            yield kind, service, path, name.split(".")[-1], value


def check_default_secrets(loaded: LoadedProfile) -> CheckResult:
    """Secrets left at the spec's defaults or at a well-known value."""
    findings = []
    for kind, _service, path, name, value in _secrets(loaded):
        if not value or value.lower() not in WELL_KNOWN_SECRETS:
            continue
        what = "the spec's default" if value in SPEC_DEFAULT_SECRETS else "a well-known value"
        variable = ENV_HINT.get(name, name)
        findings.append(
            Finding(
                check="default-secret",
                severity=severity(loaded),
                service=kind,
                title=f"{format_path(path)} is {what}",
                why=(
                    "Default secrets are published with the platform's documentation; anyone "
                    "who can reach the service can log in or forge tokens with them."
                ),
                fix=(
                    f"Take it from the environment and set {variable} to a long random value "
                    "(for example: openssl rand -base64 32)."
                ),
                fix_yaml=_secret_yaml(kind, path, variable),
                field=format_path(path),
                where=where(loaded, path),
            )
        )
    return _result("default-secret", "Secrets left at default or well-known values", findings)


def check_empty_secrets(loaded: LoadedProfile) -> CheckResult:
    """Secrets that are empty, and a PostgreSQL with no password at all."""
    findings = []
    for kind, _service, path, name, value in _secrets(loaded):
        if value:
            continue
        variable = ENV_HINT.get(name, name)
        findings.append(
            Finding(
                check="empty-secret",
                severity=severity(loaded),
                service=kind,
                title=f"{format_path(path)} is empty",
                why="An empty secret is no secret: the service accepts anyone, or fails to start.",
                fix=f"Set {variable} in the environment to a long random value.",
                fix_yaml=_secret_yaml(kind, path, variable),
                field=format_path(path),
                where=where(loaded, path),
            )
        )
    postgres = loaded.profile.postgres
    if postgres is not None and "POSTGRES_PASSWORD" not in postgres.environment:
        path = ("services", "postgres", "environment")
        findings.append(
            Finding(
                check="empty-secret",
                severity=severity(loaded),
                service="postgres",
                title="services.postgres.environment has no POSTGRES_PASSWORD",
                why="Without a password the superuser can only be protected by pg_hba rules.",
                fix="Set POSTGRES_PASSWORD from the environment.",
                fix_yaml=_secret_yaml("postgres", (*path, "POSTGRES_PASSWORD"), "DB_PASSWORD"),
                field=format_path(path),
                where=where(loaded, path),
            )
        )
    return _result("empty-secret", "Empty or missing secrets", findings)


def _secret_yaml(kind: str, path: FieldPath, variable: str) -> str:
    fields: dict[str, object]
    if len(path) == 4 and path[2] == "environment":
        fields = {"environment": {str(path[3]): f"${{{variable}}}"}}
    else:
        fields = {str(path[-1]): f"${{{variable}}}"}
    return service_yaml(kind, fields)


def check_public_ports(loaded: LoadedProfile) -> CheckResult:
    """Ports published on every interface (or any non-loopback address)."""
    findings = []
    production = loaded.profile.policy == "production"
    for kind, service in loaded.profile.services.enabled():
        for index, port in enumerate(service.ports):
            if port.is_loopback:
                continue
            path: FieldPath = ("services", kind, "ports", index)
            fixed = [
                p.compose() if p.is_loopback else f"127.0.0.1:{p.host_port}:{p.container_port}"
                for p in service.ports
            ]
            findings.append(
                Finding(
                    check="public-port",
                    severity=Verdict.CRITICAL if production else Verdict.WARNING,
                    service=kind,
                    title=f"{format_path(path)} publishes {port.host_ip}:{port.host_port} "
                    "beyond this machine",
                    why=(
                        "Every machine that can reach this host can reach the database; the "
                        "spec's production overrides publish on 127.0.0.1 only."
                        + ("" if production else " Acceptable on a workstation behind a firewall.")
                    ),
                    fix="Publish on 127.0.0.1; services on the same Docker network still reach it.",
                    fix_yaml=service_yaml(kind, {"ports": fixed}),
                    field=format_path(path),
                    where=where(loaded, path),
                )
            )
    return _result("public-port", "Ports published beyond loopback", findings)


@cache
def _spec_images() -> dict[str, str]:
    """The spec's pinned image per service, from the built-in base profile."""
    from alfred_tui.config.loader import load_profile

    try:
        base = load_profile("base", environ={}, enforce_policy=False).profile
    except Exception:
        return {}
    return {kind: service.image for kind, service in base.services.enabled()}


def image_pinned(image: str) -> bool:
    """Whether ``image`` names a tag other than ``latest``, or a digest."""
    if "@sha256:" in image:
        return True
    name = image.rsplit("/", 1)[-1]
    if ":" not in name:
        return False
    return name.rsplit(":", 1)[1] not in ("", "latest")


def check_images(loaded: LoadedProfile) -> CheckResult:
    """Images without a tag, or with ``latest``."""
    findings = []
    for kind, service in loaded.profile.services.enabled():
        if image_pinned(service.image):
            continue
        path: FieldPath = ("services", kind, "image")
        suggestion = _spec_images().get(kind, f"{service.image.split(':')[0]}:<version>")
        findings.append(
            Finding(
                check="unpinned-image",
                severity=severity(loaded),
                service=kind,
                title=f"{format_path(path)} is '{service.image}', not pinned to a version",
                why=(
                    "A moving tag pulls whatever was published last at the next deploy or "
                    "node restart: an untested version, or a compromised one, runs without "
                    "anyone choosing it."
                ),
                fix="Pin a version tag (the spec's) or, stricter, a digest (image@sha256:...).",
                fix_yaml=service_yaml(kind, {"image": suggestion}),
                field=format_path(path),
                where=where(loaded, path),
            )
        )
    return _result("unpinned-image", "Images pinned to a tag or digest", findings)


def redis_profile_password(service: RedisService) -> bool:
    """Whether the profile gives Redis a password (field or --requirepass)."""
    if service.password is not None and service.password.get_secret_value():
        return True
    return bool(service.command_option("requirepass"))


def redis_auth_findings(
    loaded: LoadedProfile,
    *,
    password: bool,
    protected: bool | None,
    source: Source,
    where_text: str,
) -> list[Finding]:
    """Findings for a Redis without a password or with protected mode off."""
    service = loaded.profile.redis
    if service is None:
        return []
    exposed = public(service)
    findings = []
    if not password:
        findings.append(
            Finding(
                check="redis-auth",
                severity=Verdict.CRITICAL if exposed else Verdict.WARNING,
                service="redis",
                title="Redis accepts commands without a password"
                + (" (checked on the live server)" if source == "live" else ""),
                why=(
                    "Anyone who reaches the port can read sessions and queued tasks, flush the "
                    "cache, or rewrite the server's configuration (CONFIG SET) to take over "
                    "the host." + (" The port is published beyond loopback." if exposed else "")
                ),
                fix=(
                    "Give Redis a password from the environment; alfred-tui passes it to the "
                    "server and to every client it opens."
                ),
                fix_yaml=service_yaml("redis", {"password": "${REDIS_PASSWORD}"}),
                field="services.redis.password",
                where=where_text,
                source=source,
            )
        )
    if protected is False and not password:
        command = [arg for arg in (service.command or ["redis-server"])]
        if "--protected-mode" in command:
            index = command.index("--protected-mode")
            del command[index : index + 2]
        findings.append(
            Finding(
                check="redis-protected-mode",
                severity=Verdict.CRITICAL if exposed else Verdict.WARNING,
                service="redis",
                title="Redis runs with protected-mode off and no password"
                + (" (checked on the live server)" if source == "live" else ""),
                why=(
                    "Protected mode is Redis's last guard: without a password it refuses "
                    "clients from other hosts. Turned off, any host that reaches the port "
                    "gets full access."
                ),
                fix="Set a password (preferred), or leave protected-mode on (remove "
                "--protected-mode no).",
                fix_yaml=service_yaml(
                    "redis", {"password": "${REDIS_PASSWORD}", "command": command}
                ),
                field="services.redis.command",
                where=where_text,
                source=source,
            )
        )
    return findings


def check_redis_profile(loaded: LoadedProfile) -> CheckResult:
    """Redis's password and protected mode, as the profile configures them."""
    service = loaded.profile.redis
    if service is None:
        return CheckResult(
            "redis-auth",
            "Redis password and protected mode",
            "skipped",
            "profile",
            "Redis is not enabled",
        )
    option = service.command_option("protected-mode")
    protected = None if option is None else option.lower() != "no"
    findings = redis_auth_findings(
        loaded,
        password=redis_profile_password(service),
        protected=protected,
        source="profile",
        where_text=where(loaded, ("services", "redis")),
    )
    return _result("redis-auth", "Redis password and protected mode", findings)


def check_qdrant_api_key(loaded: LoadedProfile) -> CheckResult:
    """Qdrant without an API key."""
    service: QdrantService | None = loaded.profile.qdrant
    if service is None:
        return CheckResult(
            "qdrant-api-key", "Qdrant API key", "skipped", "profile", "Qdrant is not enabled"
        )
    has_key = bool(service.api_key and service.api_key.get_secret_value()) or bool(
        service.env("QDRANT__SERVICE__API_KEY")
    )
    findings = []
    if not has_key:
        findings.append(
            Finding(
                check="qdrant-api-key",
                severity=Verdict.CRITICAL if public(service) else Verdict.WARNING,
                service="qdrant",
                title="Qdrant has no API key",
                why=(
                    "Without one, anyone who reaches port 6333 or 6334 can read, overwrite or "
                    "delete every collection, and download snapshots of them."
                ),
                fix="Set an API key from the environment; alfred-tui sends it as the api-key "
                "header.",
                fix_yaml=service_yaml("qdrant", {"api_key": "${QDRANT_API_KEY}"}),
                field="services.qdrant.api_key",
                where=where(loaded, ("services", "qdrant")),
            )
        )
    return _result("qdrant-api-key", "Qdrant API key", findings)


def check_postgres_profile(loaded: LoadedProfile) -> tuple[list[Finding], list[Finding]]:
    """(ssl findings, trust findings) from the profile alone (for a server out of reach)."""
    service: PostgresService | None = loaded.profile.postgres
    if service is None:
        return [], []
    ssl = (service.command_option("ssl") or "off").lower() in ("on", "true", "1", "yes")
    ssl_findings = (
        []
        if ssl
        else [ssl_finding(loaded, "profile", where(loaded, ("services", "postgres", "command")))]
    )
    trust = []
    method = service.env("POSTGRES_HOST_AUTH_METHOD")
    if method and method.lower() == "trust":
        path: FieldPath = ("services", "postgres", "environment", "POSTGRES_HOST_AUTH_METHOD")
        trust.append(
            Finding(
                check="postgres-trust",
                severity=Verdict.CRITICAL,
                service="postgres",
                title="POSTGRES_HOST_AUTH_METHOD is trust: PostgreSQL asks nobody for a password",
                why="Every client that reaches the port logs in as any role, superuser included.",
                fix="Use scram-sha-256 (the image's default when a password is set).",
                fix_yaml=service_yaml(
                    "postgres", {"environment": {"POSTGRES_HOST_AUTH_METHOD": "scram-sha-256"}}
                ),
                field=format_path(path),
                where=where(loaded, path),
            )
        )
    return ssl_findings, trust


def ssl_finding(loaded: LoadedProfile, source: Source, where_text: str) -> Finding:
    """PostgreSQL without TLS."""
    service = loaded.profile.postgres
    assert service is not None, "called for a profile with PostgreSQL only"
    command = postgres_command_with(
        service,
        {"ssl": "on", "ssl_cert_file": "/certs/server.crt", "ssl_key_file": "/certs/server.key"},
    )
    volumes = [v.compose() for v in service.volumes]
    if "./certs:/certs:ro" not in volumes:
        volumes.append("./certs:/certs:ro")
    return Finding(
        check="postgres-ssl",
        severity=severity(loaded),
        service="postgres",
        title="PostgreSQL runs without TLS (ssl = off)"
        + (" (checked on the live server)" if source == "live" else ""),
        why=(
            "Passwords (scram protects those) and, above all, every query and its results cross "
            "the network in clear; anyone on the path can read them."
        ),
        fix=(
            "Turn ssl on with a certificate and key (the spec's Data Encryption section); the "
            "key file must belong to the postgres user with mode 0600."
        ),
        fix_yaml=service_yaml("postgres", {"command": command, "volumes": volumes}),
        field="services.postgres.command",
        where=where_text,
        source=source,
    )


PROFILE_CHECKS: tuple[Check, ...] = (
    check_default_secrets,
    check_empty_secrets,
    check_public_ports,
    check_images,
    check_qdrant_api_key,
)
