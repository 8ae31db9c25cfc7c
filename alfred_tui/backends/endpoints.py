"""Endpoints that follow from a profile alone: the first published port.

Local processes and Docker containers publish their ports on this machine,
so their endpoints need no engine call (and no SDK import).
"""

from __future__ import annotations

from alfred_tui.backends.base import Endpoint, ServiceNotFound
from alfred_tui.config.models import Profile, ServiceKind, ServiceSpec


def enabled_service(profile: Profile, service: ServiceKind) -> ServiceSpec:
    """The profile's enabled service, or a clear error naming what exists."""
    spec = profile.service(service)
    if spec is None:
        enabled = ", ".join(kind for kind, _ in profile.services.enabled()) or "none"
        raise ServiceNotFound(
            f"profile '{profile.name}' has no enabled service '{service}' (enabled: {enabled})"
        )
    return spec


def published_endpoint(profile: Profile, service: ServiceKind) -> Endpoint:
    """``host:port`` of the service's first published port, as reached from here."""
    spec = enabled_service(profile, service)
    port = spec.primary_port
    if port is None:
        raise ServiceNotFound(
            f"service '{service}' publishes no port in profile '{profile.name}'; "
            "add one under services.{service}.ports"
        )
    return Endpoint(host=port.connect_host, port=port.host_port)
