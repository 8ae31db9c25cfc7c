"""The production policy: what a ``policy: production`` profile may not do.

From the spec's production overrides and Security section: no default or
empty secrets, ports published on loopback only, resource limits on every
service, and Redis with AOF persistence. Each violation is one line naming
where in the profile it was written.
"""

from __future__ import annotations

from typing import Protocol

from alfred_tui.config.models import SPEC_DEFAULT_SECRETS, Profile, RedisService, ServiceSpec
from alfred_tui.config.yamlsource import FieldPath, Origin, format_path


class SourcedProfile(Protocol):
    """A profile and where each of its fields was written (a ``LoadedProfile``)."""

    @property
    def profile(self) -> Profile: ...

    def origin_of(self, path: FieldPath) -> Origin | None: ...


def policy_violations(loaded: SourcedProfile) -> list[str]:
    """Every violation of the profile's policy, one line each; empty when it complies."""
    profile = loaded.profile
    if profile.policy != "production":
        return []
    problems: list[str] = []

    def report(path: FieldPath, message: str) -> None:
        origin = loaded.origin_of(path)
        where = f"{origin}: " if origin else ""
        problems.append(f"{where}{format_path(path)}: {message}")

    for kind, service in profile.services.enabled():
        base: FieldPath = ("services", kind)
        for field, secret in service.secrets():
            path = (*base, *field.split(".", 1))
            value = secret.get_secret_value() if secret is not None else ""
            if not value:
                report(path, "is empty; production needs a real secret")
            elif value in SPEC_DEFAULT_SECRETS:
                report(path, "is the spec's default secret; set a real one in the environment")
        for index, port in enumerate(service.ports):
            if not port.is_loopback:
                report(
                    (*base, "ports", index),
                    f"binds {port.host_ip}:{port.host_port}; production publishes on "
                    "127.0.0.1 only",
                )
        problems.extend(_limit_problems(loaded, service, base))
        if isinstance(service, RedisService) and not service.appendonly:
            report(
                (*base, "command"),
                "Redis runs without '--appendonly yes'; production needs AOF persistence",
            )
    return problems


def _limit_problems(loaded: SourcedProfile, service: ServiceSpec, base: FieldPath) -> list[str]:
    limits = service.resources.limits
    missing = [
        name for name in ("cpus", "memory") if limits is None or getattr(limits, name) is None
    ]
    if not missing:
        return []
    path = (*base, "resources", "limits")
    origin = loaded.origin_of(path)
    where = f"{origin}: " if origin else ""
    return [
        f"{where}{format_path(path)}: no {' or '.join(missing)} limit; "
        "production sets resource limits on every service"
    ]
