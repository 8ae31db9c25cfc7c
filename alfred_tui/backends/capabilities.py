"""What an engine can do beyond the core contract: small protocols, declared by implementing them.

Every backend implements the core of :class:`~alfred_tui.backends.base.Backend`
(deploy, teardown, status, endpoint). Everything else is one small protocol
here, the way k9s asks a resource whether it is ``Scalable``, ``Restartable``
or ``Loggable`` (internal/dao/types.go): an engine that has the methods has
the capability, an engine that lacks them does not, and nothing lists it a
second time. Where an engine has a method but cannot use it for one service
(embedded Qdrant is no server: no logs, no exec, no snapshots), it says so
in :meth:`ServiceLimits.withheld`.

Callers never test ``backend.name``: they ask :func:`supports` (what to
offer), :func:`require` (before acting: it raises :class:`NotSupported`
with the sentence the UI and the CLI show, and hands back the backend as the
protocol, so the call after it is typed), :func:`require_capability` (the same
check by capability name, for an engine guarding its own methods) or
:func:`capable` (the backend as the protocol, or None, where either way is fine).

:class:`Capability` names the capabilities for people and documents (the
overview's actions, ``status --output json``); :data:`PROTOCOLS` says which
protocol each one is.
"""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast, runtime_checkable

from alfred_tui.backends.base import (
    Backend,
    BackendError,
    BackendEvent,
    Endpoint,
    ExecResult,
    InstanceUsage,
    LogRecord,
    ProgressCallback,
    no_progress,
)

if TYPE_CHECKING:
    from alfred_tui.backends.pgdata import PostgresDataDirectory
    from alfred_tui.config.models import ServiceKind


class Capability(enum.StrEnum):
    """Something a backend can do for a service, by name."""

    DEPLOY = "deploy"
    TEARDOWN = "teardown"
    SCALE = "scale"
    RESIZE = "resize"
    RESTART = "restart"
    LOGS = "logs"
    FOLLOW_LOGS = "follow_logs"
    EXEC = "exec"
    EVENTS = "events"
    SNAPSHOTS = "snapshots"
    """Server-side snapshots (Qdrant's REST API); absent for embedded Qdrant."""
    METRICS = "metrics"
    """Server metrics endpoints (Qdrant's /metrics, /telemetry); absent when embedded."""
    FILES = "files"
    """Copy files into and out of an instance (RDB files, WAL archives)."""
    STOP_START = "stop_start"
    """Stop one service and start it again later, data kept (Redis and PITR restores)."""
    INSTANCE_ENDPOINTS = "instance_endpoints"
    """Reach each instance, replicas too (replication as each replica sees it, failover)."""
    USAGE = "usage"
    """CPU and memory each instance uses, against its limits."""
    FAILOVER = "failover"
    """Move the primary to a replica: fence the old one, repoint the name, re-clone."""


class NotSupported(BackendError):
    """The backend cannot do this for this service (see :func:`capabilities`)."""

    title = "Not supported"

    #: What "cannot ..." says for capabilities whose name is not a verb.
    _VERBS = {
        "logs": "show logs",
        "follow_logs": "follow logs",
        "exec": "run commands",
        "events": "report events",
        "snapshots": "take snapshots",
        "metrics": "serve metrics",
        "files": "copy files",
        "stop_start": "stop and start",
        "instance_endpoints": "reach each instance",
        "usage": "report resource usage",
        "failover": "fail over",
    }

    def __init__(self, backend: str, capability: Capability, service: str | None = None) -> None:
        target = f" for {service}" if service else ""
        verb = self._VERBS.get(capability.value, capability.value)
        super().__init__(f"the {backend} backend cannot {verb}{target}")
        self.capability = capability


# --- the protocols ------------------------------------------------------------------


@runtime_checkable
class Scalable(Protocol):
    """Runs more or fewer instances of a service."""

    async def scale(
        self,
        service: ServiceKind,
        replicas: int,
        progress: ProgressCallback = no_progress,
        safety_dir: Path | None = None,
    ) -> None:
        """Run ``replicas`` instances of ``service``.

        When scaling down removes data (replica volumes, scale to zero), that
        data is first kept under ``safety_dir``, as for ``teardown``.
        """
        ...


@runtime_checkable
class Resizable(Protocol):
    """Changes a service's CPU and memory limits."""

    async def resize(
        self,
        service: ServiceKind,
        cpus: float | None = None,
        memory: int | None = None,
        progress: ProgressCallback = no_progress,
    ) -> None:
        """Change CPU and memory limits (reservations follow proportionally where unset)."""
        ...


@runtime_checkable
class Restartable(Protocol):
    """Restarts a service's instances."""

    async def restart(self, service: ServiceKind, progress: ProgressCallback = no_progress) -> None:
        """Restart every instance of ``service``."""
        ...


@runtime_checkable
class Stoppable(Protocol):
    """Stops one service and starts it again later, data kept."""

    async def stop(self, service: ServiceKind, progress: ProgressCallback = no_progress) -> None:
        """Stop every instance of ``service`` cleanly and leave it stopped, data kept.

        Restores need the database down while its files are replaced (a Redis
        RDB, a PostgreSQL data directory for point-in-time recovery); an engine
        with a restart policy must not bring it back until :meth:`start`.
        """
        ...

    async def start(self, service: ServiceKind, progress: ProgressCallback = no_progress) -> None:
        """Start ``service`` again after :meth:`stop` and wait until it is ready."""
        ...


@runtime_checkable
class Loggable(Protocol):
    """Reads, and follows, the services' logs."""

    def logs(
        self,
        services: Iterable[ServiceKind] | None = None,
        follow: bool = False,
        since: datetime | None = None,
        tail: int | None = None,
    ) -> AsyncIterator[LogRecord]:
        """Log records of the services (all by default), merged by time."""
        ...


@runtime_checkable
class Watchable(Protocol):
    """Reports state changes as the engine sees them."""

    def events(self) -> AsyncIterator[BackendEvent]:
        """State changes as the engine reports them."""
        ...


@runtime_checkable
class Executable(Protocol):
    """Runs a database's own tools where its instance is."""

    exec_runs_here: bool
    """Whether :meth:`exec` runs on this machine (the local engine) rather than inside an
    instance: a caller may then run the same tools itself, with progress."""

    async def exec(
        self,
        service: ServiceKind,
        argv: Sequence[str],
        stdin: bytes | None = None,
        instance: str | None = None,
        timeout: float | None = None,
    ) -> ExecResult:
        """Run ``argv`` where ``service``'s instance is (the primary by default).

        The semantics every engine keeps, so that backup, restore and the
        shell panes write one command line for all of them:

        - ``argv`` names the database's own client tools without any address
          or credential: ``["pg_dump", "-F", "c", "-d", "postgres"]``,
          ``["psql", "-c", "select 1"]``, ``["redis-cli", "CONFIG", "GET", "dir"]``.
          The engine aims them at the instance: PostgreSQL tools get
          ``PGHOST``, ``PGPORT``, ``PGUSER``, ``PGPASSWORD`` and ``PGDATABASE``
          in their environment (an explicit ``-d``/``-U`` in ``argv`` still
          wins); ``redis-cli`` gets ``-h``/``-p`` and the password in
          ``REDISCLI_AUTH``. No secret is ever put on a command line.
        - Where the command runs: inside the container or pod for Docker and
          Kubernetes; on this machine for the local engine (PostgreSQL tools
          from the same installation as the server, so ``pg_dump`` matches
          its version). Paths in ``argv`` are paths of that place; move files
          across with :class:`FileCopying`. To learn where a server keeps its
          files, ask it (``redis-cli CONFIG GET dir``, ``psql -Atc "show
          data_directory"``).
        - ``stdin`` is fed to the command and closed; stdout and stderr are
          returned whole, as bytes. They are the command's raw output:
          redact before showing them.
        - A non-zero exit is a result, not an error; failing to run the
          command at all (tool missing, instance down) raises
          :class:`~alfred_tui.backends.base.BackendError`. ``timeout``
          (default 600 s) kills the command and raises ``OperationTimeout``.
        """
        ...


@runtime_checkable
class FileCopying(Protocol):
    """Copies files into and out of a service's instance."""

    async def copy_from(
        self,
        service: ServiceKind,
        path: str,
        destination: Path,
        instance: str | None = None,
    ) -> Path:
        """Copy the file ``path`` of ``service``'s instance to ``destination`` here.

        ``path`` is a path where :meth:`Executable.exec` runs (inside the
        container, or on this machine for the local engine, which only reads
        below the service's own folder). Returns ``destination``.
        """
        ...

    async def copy_to(
        self,
        service: ServiceKind,
        source: Path,
        path: str,
        instance: str | None = None,
    ) -> None:
        """Copy the local file ``source`` to ``path`` in ``service``'s instance.

        The file gets the owner the server runs as, so the server can read it
        (an RDB file for a Redis restore, a dump for ``pg_restore``).
        """
        ...


@runtime_checkable
class PostgresDataAccess(Protocol):
    """Reaches PostgreSQL's data directory and WAL archive: what point-in-time recovery needs.

    Engines alfred-tui carries recovery out on implement it (local, Docker,
    Kubernetes); on any other ``alfred-tui pitr`` renders the settings and the steps.
    """

    def postgres_data_directory(self) -> PostgresDataDirectory:
        """The data directory and archive of the profile's PostgreSQL on this engine."""
        ...


@runtime_checkable
class AccessChecking(Protocol):
    """Knows whether the account may change the target (a cluster's RBAC)."""

    async def write_access_problem(self) -> str | None:
        """Why the account may only look at the target (the sentence to show), or None."""
        ...


@runtime_checkable
class InstanceAddressing(Protocol):
    """Reaches each instance of a service, not only the one clients use."""

    async def instance_endpoints(self, service: ServiceKind) -> dict[str, Endpoint]:
        """Where this machine reaches each running instance of ``service``, by instance name.

        The names are those :meth:`~alfred_tui.backends.base.Backend.status`
        reports; instances that do not run are left out. Engines open what
        they need (Kubernetes: a port-forward per pod) and close it in
        :meth:`~alfred_tui.backends.base.Backend.close`.
        """
        ...


@runtime_checkable
class UsageReporting(Protocol):
    """Reports the CPU and memory each instance uses, against its limits."""

    async def usage(self, services: Iterable[ServiceKind] | None = None) -> list[InstanceUsage]:
        """The latest reading of every running instance of ``services`` (all by default).

        Cheap enough to call at every refresh: it returns what the engine last
        measured (Docker keeps one stats stream per container open in the
        background; Kubernetes asks metrics.k8s.io once for every pod), so a
        rate may be None on the first call (its note says so).
        """
        ...


async def settled_usage(
    reporting: UsageReporting,
    services: Iterable[ServiceKind] | None = None,
    settle: float = 1.2,
) -> list[InstanceUsage]:
    """Usage for a command that reads once: while a rate is still pending (the first
    reading of a stream or a process has none), read again after ``settle`` seconds,
    twice at most (a Docker stats stream's second frame comes a second after its first)."""
    import asyncio

    usage = await reporting.usage(services)
    for _ in range(2):
        if not any(entry.pending for entry in usage):
            break
        await asyncio.sleep(settle)
        usage = await reporting.usage(services)
    return usage


@runtime_checkable
class PrimaryFailover(Protocol):
    """The engine's part of a failover: fence the old primary, point the service at the new
    one, re-clone an instance as a replica. Promoting and repointing the databases
    themselves is the databases' part (:mod:`alfred_tui.control.failover` runs both)."""

    async def failover_plan(self, service: ServiceKind, old: str, new: str) -> list[str]:
        """What :meth:`fence` of ``old`` and :meth:`make_primary` of ``new`` will do, in words."""
        ...

    async def fence(
        self, service: ServiceKind, instance: str, progress: ProgressCallback = no_progress
    ) -> str:
        """Stop ``instance`` for good: stopped, never restarted by the engine, data kept.

        A fenced old primary must never accept writes beside the new one; it
        stays so until :meth:`reclone` makes it a replica. Returns what was done.
        """
        ...

    async def make_primary(
        self, service: ServiceKind, instance: str, progress: ProgressCallback = no_progress
    ) -> str:
        """Make the profile's endpoint, and the name replicas follow, reach ``instance``.

        Called once the database itself was promoted. Returns what was done.
        """
        ...

    async def fenced_instances(self, service: ServiceKind) -> list[str]:
        """Instances fenced by a failover and not re-cloned yet."""
        ...

    async def reclone_plan(self, service: ServiceKind, instance: str) -> list[str]:
        """What :meth:`reclone` will do, in words (what is replaced, what is kept)."""
        ...

    async def reclone(
        self,
        service: ServiceKind,
        instance: str,
        progress: ProgressCallback = no_progress,
        safety_dir: Path | None = None,
    ) -> str:
        """Make ``instance`` (a replica, or a fenced old primary) a fresh replica of the primary.

        Its data is replaced by a copy of the primary's; what it held is first
        kept under ``safety_dir``. Returns what was done.
        """
        ...


@runtime_checkable
class ServiceLimits(Protocol):
    """An engine that implements a capability but cannot use it for every service."""

    def withheld(self, service: ServiceKind) -> frozenset[Capability]:
        """The capabilities this engine has but not for ``service`` right now."""
        ...


#: The protocol behind each capability; those not listed (deploy, teardown) are the core.
PROTOCOLS: dict[Capability, type[Any]] = {
    Capability.SCALE: Scalable,
    Capability.RESIZE: Resizable,
    Capability.RESTART: Restartable,
    Capability.STOP_START: Stoppable,
    Capability.LOGS: Loggable,
    Capability.FOLLOW_LOGS: Loggable,
    Capability.EVENTS: Watchable,
    Capability.EXEC: Executable,
    Capability.FILES: FileCopying,
    Capability.INSTANCE_ENDPOINTS: InstanceAddressing,
    Capability.USAGE: UsageReporting,
    Capability.FAILOVER: PrimaryFailover,
}

#: What a service's server offers on any engine that runs it as a server.
SERVER_FEATURES: dict[ServiceKind, frozenset[Capability]] = {
    "qdrant": frozenset({Capability.SNAPSHOTS, Capability.METRICS}),
}

_CORE = frozenset({Capability.DEPLOY, Capability.TEARDOWN})


# --- the one helper -----------------------------------------------------------------


def capabilities(backend: Backend, service: ServiceKind) -> frozenset[Capability]:
    """What ``backend`` can do for ``service``: the core, its protocols, the server's features."""
    found = set(_CORE)
    found.update(cap for cap, protocol in PROTOCOLS.items() if isinstance(backend, protocol))
    found.update(SERVER_FEATURES.get(service, ()))
    if isinstance(backend, ServiceLimits):
        found -= backend.withheld(service)
    return frozenset(found)


def supports(backend: Backend, service: ServiceKind | None, wanted: Capability | type[Any]) -> bool:
    """Whether ``backend`` can do ``wanted`` (a capability or a protocol) for ``service``.

    ``service`` None asks about the engine as a whole (logs of every service).
    """
    protocol = PROTOCOLS.get(wanted) if isinstance(wanted, Capability) else wanted
    if protocol is not None and not isinstance(backend, protocol):
        return False
    if service is None:
        return True
    names = [wanted] if isinstance(wanted, Capability) else _names_of(wanted)
    return all(name in capabilities(backend, service) for name in names)


P = TypeVar("P")


def require(backend: Backend, service: ServiceKind | None, wanted: type[P]) -> P:
    """``backend``, typed as the protocol ``wanted``.

    Raises :class:`NotSupported` (the sentence people see) when it cannot do
    ``wanted`` for ``service``.
    """
    require_capability(backend, service, wanted)
    return cast(P, backend)


def require_capability(
    backend: Backend, service: ServiceKind | None, wanted: Capability | type[Any]
) -> None:
    """Raise :class:`NotSupported` unless ``backend`` can do ``wanted`` for ``service``.

    For an engine checking itself by capability name (following logs is ``Loggable``
    withheld for one service); other callers want :func:`require`'s typed backend.
    Not one overloaded ``require``: mypy rejects a Protocol passed to an overloaded
    ``type[P]`` next to a Literal argument (python/mypy#4717's overload path).
    """
    if not supports(backend, service, wanted):
        names = [wanted] if isinstance(wanted, Capability) else _names_of(wanted)
        if not names:
            raise TypeError(f"{wanted!r} is not a capability protocol of PROTOCOLS")
        missing = [name for name in names if not supports(backend, service, name)]
        raise NotSupported(backend.name, (missing or names)[0], service)


def capable(backend: Backend, service: ServiceKind | None, wanted: type[P]) -> P | None:
    """``backend`` as the protocol ``wanted`` if it can do it for ``service``, else None."""
    return cast(P, backend) if supports(backend, service, wanted) else None


def _names_of(protocol: type[Any]) -> list[Capability]:
    return [cap for cap, candidate in PROTOCOLS.items() if candidate is protocol]
