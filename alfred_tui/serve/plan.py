"""What ``alfred-tui serve`` was asked for, checked before anything is started.

Every refusal here is one line and exit 2 (:class:`UsageError`), and comes
before aiohttp or textual-serve is imported:

* an address that is not loopback needs TLS (``--tls-cert`` and
  ``--tls-key``): a control plane over plain HTTP on a network hands its
  login token and every keystroke to whoever listens;
* the certificate and key are loaded here, so a bad file is named at once;
* ``--allow-write`` on a ``policy: production`` profile needs
  :data:`PRODUCTION_WRITE_FLAG` as well;
* the profile must load (its ``serve`` settings, its backend name).
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import ssl
import sys
from dataclasses import dataclass
from pathlib import Path

from alfred_tui.errors import UsageError

PRODUCTION_WRITE_FLAG = "--i-understand-this-exposes-production"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
_UNSPECIFIED = {"0.0.0.0", "::", ""}


@dataclass(frozen=True)
class ServePlan:
    """Everything the server needs, validated."""

    profile_path: Path
    """The profile's file: every app process opens this same file."""
    profile_name: str
    backend: str
    host: str
    port: int
    readonly: bool
    max_sessions: int
    idle_timeout: float
    production: bool
    loopback_only: bool
    """Bound to loopback alone (then Host headers must name loopback too)."""
    tls: ssl.SSLContext | None = None

    @property
    def scheme(self) -> str:
        return "https" if self.tls is not None else "http"

    def app_argv(self) -> list[str]:
        """The app process of one browser session (the same interpreter, this profile)."""
        argv = [sys.executable, "-m", "alfred_tui", "--profile", str(self.profile_path)]
        argv += ["--backend", self.backend]
        if self.readonly:
            argv.append("--readonly")
        return argv

    def url_host(self) -> str:
        """The host to print in the URL to open (this machine's name for 0.0.0.0 or ::)."""
        host = socket.gethostname() if self.host in _UNSPECIFIED else self.host
        return f"[{host}]" if ":" in host else host


def names_loopback(host: str | None) -> bool:
    """Whether ``host`` is loopback as written (``localhost``, ``127.x``, ``[::1]``), no DNS."""
    if not host:
        return False
    name = host.strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or a name, resolved) reaches this machine only."""
    if names_loopback(host):
        return True
    with contextlib.suppress(ValueError):
        ipaddress.ip_address(host)
        return False  # an address, and not a loopback one
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except OSError as exc:
        raise UsageError(f"--host {host}: cannot resolve it ({exc.strerror or exc})") from None
    return all(ipaddress.ip_address(info[4][0]).is_loopback for info in infos)


def tls_context(cert: Path | None, key: Path | None) -> ssl.SSLContext | None:
    """The server's TLS context from a certificate and key file, or None for neither."""
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise UsageError("--tls-cert and --tls-key go together: give both files or neither")
    for option, path in (("--tls-cert", cert), ("--tls-key", key)):
        if not path.is_file():
            raise UsageError(f"{option} {path}: no such file")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert, key)
    except (ssl.SSLError, OSError) as exc:
        reason = getattr(exc, "reason", None) or exc.strerror or str(exc)
        raise UsageError(
            f"--tls-cert {cert} / --tls-key {key}: not a certificate and its key ({reason})"
        ) from None
    return context


def plan_serve(
    profile: str,
    backend: str | None,
    host: str,
    port: int,
    allow_write: bool,
    production_write: bool,
    tls_cert: Path | None,
    tls_key: Path | None,
) -> ServePlan:
    """Check the command line and the profile; raise :class:`UsageError` with one line."""
    from alfred_tui.backends import BACKEND_NAMES
    from alfred_tui.config.loader import load_profile

    tls = tls_context(tls_cert, tls_key)
    loopback = is_loopback(host)
    if tls is None and not loopback:
        raise UsageError(
            f"--host {host} is not a loopback address: serving beyond this machine needs "
            "TLS (--tls-cert and --tls-key); or keep 127.0.0.1 and reach it with ssh -L "
            "(alfred-tui serve --help)"
        )
    loaded = load_profile(profile)
    name = backend or loaded.profile.backend
    if name not in BACKEND_NAMES:
        raise UsageError(f"--backend must be one of {', '.join(BACKEND_NAMES)}, not '{name}'")
    production = loaded.profile.policy == "production"
    if allow_write and production and not production_write:
        raise UsageError(
            f"profile {loaded.profile.name} has policy: production; serving it with "
            f"--allow-write lets every browser session change production: add "
            f"{PRODUCTION_WRITE_FLAG} to do so"
        )
    settings = loaded.profile.serve
    return ServePlan(
        profile_path=loaded.source.path.resolve(),
        profile_name=loaded.profile.name,
        backend=name,
        host=host,
        port=port,
        readonly=not allow_write,
        max_sessions=settings.max_sessions,
        idle_timeout=settings.idle_timeout,
        production=production,
        loopback_only=loopback,
        tls=tls,
    )
