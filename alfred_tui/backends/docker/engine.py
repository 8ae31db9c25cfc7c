"""Finding and connecting to the Docker engine, the way the docker CLI does.

Where to look follows the CLI's precedence: the profile's ``docker.host``,
then ``DOCKER_HOST`` (with ``DOCKER_TLS_VERIFY``/``DOCKER_CERT_PATH``), then
the context named by ``DOCKER_CONTEXT`` or by ``currentContext`` in
``$DOCKER_CONFIG/config.json`` (its endpoint read from
``contexts/meta/<sha256 of the name>/meta.json``), then the default socket.
Resolving the location needs no docker import, so an error can always say
where we looked; only :func:`connect` imports the SDK.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alfred_tui.backends.base import EngineUnreachable
from alfred_tui.redact import redact

if TYPE_CHECKING:
    import docker

DEFAULT_SOCKET = "unix:///var/run/docker.sock"
#: Seconds one engine request may take before we call the engine unresponsive.
DEFAULT_TIMEOUT = 30.0


@dataclass(frozen=True)
class EngineLocation:
    """Where the Docker engine should be, and which setting said so."""

    url: str
    source: str
    """In words: ``DOCKER_HOST``, ``docker context 'x' (path)``, ``the default socket``."""
    tls_dir: Path | None = None
    """Folder with ca.pem/cert.pem/key.pem, when the endpoint uses TLS."""
    tls_verify: bool = False
    context: str | None = None

    def describe(self) -> str:
        """``url (source)`` for messages."""
        return f"{self.url} ({self.source})"


def docker_config_dir() -> Path:
    """``$DOCKER_CONFIG`` or ``~/.docker``."""
    configured = os.environ.get("DOCKER_CONFIG")
    return Path(configured).expanduser() if configured else Path.home() / ".docker"


def _current_context() -> tuple[str | None, str]:
    """The context name in force and what named it."""
    from_env = os.environ.get("DOCKER_CONTEXT")
    if from_env:
        return from_env, "DOCKER_CONTEXT"
    config = docker_config_dir() / "config.json"
    try:
        data = json.loads(config.read_text())
    except (OSError, ValueError):
        return None, ""
    name = data.get("currentContext") if isinstance(data, dict) else None
    return (name or None), f"currentContext in {config}"


def _context_location(name: str, named_by: str) -> EngineLocation:
    digest = hashlib.sha256(name.encode()).hexdigest()
    meta = docker_config_dir() / "contexts" / "meta" / digest / "meta.json"
    try:
        data = json.loads(meta.read_text())
        endpoint = data["Endpoints"]["docker"]
        host = endpoint["Host"]
    except (OSError, ValueError, KeyError, TypeError):
        raise EngineUnreachable(
            f"docker context '{name}' (from {named_by}) has no readable endpoint in {meta}; "
            "run `docker context ls` and `docker context use default` or a context that exists"
        ) from None
    tls_dir = docker_config_dir() / "contexts" / "tls" / digest / "docker"
    return EngineLocation(
        url=host,
        source=f"docker context '{name}' from {named_by}, {meta}",
        tls_dir=tls_dir if tls_dir.is_dir() else None,
        tls_verify=not endpoint.get("SkipTLSVerify", False),
        context=name,
    )


def locate_engine(profile_host: str | None = None) -> EngineLocation:
    """Where to find the engine, by the docker CLI's rules (no SDK import)."""
    if profile_host:
        return EngineLocation(profile_host, "the profile's docker.host")
    env_host = os.environ.get("DOCKER_HOST")
    if env_host:
        cert_path = os.environ.get("DOCKER_CERT_PATH")
        verify = os.environ.get("DOCKER_TLS_VERIFY", "") not in ("", "0")
        tls_dir = Path(cert_path) if cert_path else (docker_config_dir() if verify else None)
        return EngineLocation(env_host, "DOCKER_HOST", tls_dir, verify)
    name, named_by = _current_context()
    if name and name != "default":
        return _context_location(name, named_by)
    return EngineLocation(
        DEFAULT_SOCKET, "the default socket; DOCKER_HOST and docker context unset"
    )


def unreachable(location: EngineLocation, reason: str) -> EngineUnreachable:
    """The one-line error for an engine that does not answer: where, why, what to check."""
    reason = redact(reason.strip().splitlines()[-1] if reason.strip() else "no answer")
    lowered = reason.lower()
    if "permission denied" in lowered:
        hint = "this user may not use the socket: run as root or join the 'docker' group"
    elif location.url.startswith("unix://"):
        hint = (
            "is dockerd running? (`systemctl start docker` or `dockerd &`); "
            "or point DOCKER_HOST / `docker context use` at a running engine"
        )
    else:
        hint = "is the engine up and the address right? (`docker --host URL info` tells)"
    return EngineUnreachable(f"no Docker engine answers at {location.describe()}: {reason}; {hint}")


def _short_reason(exc: BaseException) -> str:
    text = str(exc)
    for marker in ("Connection refused", "No such file or directory", "Permission denied",
                   "timed out", "Name or service not known"):  # fmt: skip
        if marker.lower() in text.lower():
            return marker.lower()
    return text[:200]


def connect(
    location: EngineLocation, timeout: float = DEFAULT_TIMEOUT, max_pool_size: int | None = None
) -> docker.DockerClient:
    """A client for the engine at ``location``; :class:`EngineUnreachable` if it does not answer.

    The API version is negotiated (``version="auto"``) so old engines (Debian's
    20.10 speaks API 1.41) and new ones both work. ``max_pool_size`` sizes its
    connection pool (the SDK's default is 10) for callers holding many
    connections open at once (stats streams).
    """
    import docker
    from docker.errors import DockerException

    kwargs: dict[str, Any] = {"base_url": location.url, "version": "auto", "timeout": timeout}
    if max_pool_size is not None:
        kwargs["max_pool_size"] = max_pool_size
    if location.tls_dir is not None and location.url.startswith(("tcp://", "https://")):
        kwargs["tls"] = docker.tls.TLSConfig(
            client_cert=(str(location.tls_dir / "cert.pem"), str(location.tls_dir / "key.pem")),
            ca_cert=str(location.tls_dir / "ca.pem") if location.tls_verify else None,
            verify=location.tls_verify,
        )
    try:
        return docker.DockerClient(**kwargs)
    except DockerException as exc:
        raise unreachable(location, _short_reason(exc)) from None
    except Exception as exc:  # URL parse errors, TLS file errors
        raise unreachable(location, f"{type(exc).__name__}: {_short_reason(exc)}") from None
