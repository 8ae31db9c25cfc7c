"""The backend contract: one interface over local processes, Docker and Kubernetes.

The UI and the CLI only ever hold a :class:`Backend`. Each engine declares
what it can do per service as :class:`Capability` values (the way k9s asks a
resource whether it is Scalable or Loggable) so a caller offers an action
only where it will work, and an engine refuses the rest with
:class:`NotSupported` rather than pretending.

Everything here is plain data and ``async`` methods: no engine SDK is
imported by this module, so ``alfred-tui check`` can resolve endpoints
without paying for docker or kubernetes imports.
"""

from __future__ import annotations

import abc
import enum
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal, NamedTuple

from alfred_tui.errors import AlfredError

if TYPE_CHECKING:
    from alfred_tui.config.loader import LoadedProfile
    from alfred_tui.config.models import Profile, ServiceKind


class Capability(enum.StrEnum):
    """Something a backend can do for a service."""

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


# --- errors -----------------------------------------------------------------


class BackendError(AlfredError):
    """Something a backend was asked to do failed; the message says what to check."""

    title = "Backend error"


class EngineUnreachable(BackendError):
    """The engine (Docker daemon, Kubernetes API) does not answer."""

    title = "Engine unreachable"


class NotSupported(BackendError):
    """The backend cannot do this for this service (see its capabilities)."""

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
    }

    def __init__(self, backend: str, capability: Capability, service: str | None = None) -> None:
        target = f" for {service}" if service else ""
        verb = self._VERBS.get(capability.value, capability.value)
        super().__init__(f"the {backend} backend cannot {verb}{target}")
        self.capability = capability


class NotDeployed(BackendError):
    """The service has no running instance to act on."""

    title = "Not deployed"


class ServiceNotFound(BackendError):
    """The profile has no (enabled) service of that name."""

    title = "Unknown service"


class OperationFailed(BackendError):
    """The engine refused or failed an operation."""

    title = "Operation failed"


class Forbidden(BackendError):
    """The engine denied the operation (RBAC, permissions)."""

    title = "Forbidden"


class OperationTimeout(BackendError):
    """The engine did not finish in time."""

    title = "Timed out"


# --- data -------------------------------------------------------------------

InstanceState = Literal[
    "running", "starting", "restarting", "stopped", "exited", "pending", "failed", "unknown"
]
Health = Literal["healthy", "unhealthy", "starting", "none", "unknown"]


@dataclass(frozen=True)
class Endpoint:
    """Where this machine reaches a database: a TCP address or an embedded store."""

    host: str | None = None
    port: int | None = None
    path: str | None = None
    """Folder of an embedded store (Qdrant local mode); set instead of host/port."""

    @property
    def embedded(self) -> bool:
        """Whether the database runs inside this process (no server to reach)."""
        return self.path is not None

    def address(self) -> str:
        """``host:port``, or ``embedded:<path>``."""
        return f"embedded:{self.path}" if self.embedded else f"{self.host}:{self.port}"

    def url(self, scheme: str = "http") -> str:
        """``scheme://host:port`` (IPv6 hosts bracketed)."""
        host = f"[{self.host}]" if self.host and ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}"


@dataclass(frozen=True)
class ResourceAmounts:
    """CPUs and memory on one side (limit or reservation); None when unset."""

    cpus: float | None = None
    memory: int | None = None


@dataclass(frozen=True)
class InstanceStatus:
    """One running unit of a service: a process, a container or a pod."""

    name: str
    state: InstanceState
    health: Health = "none"
    restarts: int = 0
    started_at: datetime | None = None
    role: str = ""
    """``primary`` / ``replica`` where the service has roles."""
    detail: str = ""
    """A short reason for the state (exit code, OOMKilled, CrashLoopBackOff)."""


@dataclass(frozen=True)
class ServiceStatus:
    """The deployment state of one service."""

    service: ServiceKind
    desired: int
    ready: int
    instances: tuple[InstanceStatus, ...] = ()
    image: str = ""
    endpoints: tuple[str, ...] = ()
    """Published endpoints, ``host:port``, as a person would connect."""
    limits: ResourceAmounts = ResourceAmounts()
    reservations: ResourceAmounts = ResourceAmounts()
    started_at: datetime | None = None
    """When the oldest running instance started; uptime is measured from here."""
    embedded: bool = False
    note: str = ""

    @property
    def restarts(self) -> int:
        """Restarts summed over instances."""
        return sum(instance.restarts for instance in self.instances)

    @property
    def deployed(self) -> bool:
        """Whether any instance exists (an initialised embedded store counts as one)."""
        return bool(self.instances)

    def uptime_seconds(self, now: datetime) -> float | None:
        """Seconds since ``started_at``."""
        return (
            None if self.started_at is None else max(0.0, (now - self.started_at).total_seconds())
        )


class LogRecord(NamedTuple):
    """One log line from one instance.

    A named tuple rather than a frozen dataclass: log streams build one per
    line, and a tuple is built in less than half the time.
    """

    service: ServiceKind
    instance: str
    timestamp: datetime
    stream: Literal["stdout", "stderr"]
    line: str


@dataclass(frozen=True)
class ExecResult:
    """The outcome of a command run inside a service's instance."""

    exit_code: int
    stdout: bytes
    stderr: bytes

    @property
    def ok(self) -> bool:
        """Whether the command exited 0."""
        return self.exit_code == 0


@dataclass(frozen=True)
class BackendEvent:
    """A state change the engine reported."""

    timestamp: datetime
    service: ServiceKind | None
    instance: str
    kind: str
    """Engine's word: ``start``, ``die``, ``oom``, ``health_status``, ``Killing``..."""
    message: str = ""


@dataclass(frozen=True)
class Progress:
    """A progress report from a long operation."""

    step: str
    """What is happening, in words (``pull redis:7-alpine``, ``wait for healthy``)."""
    current: int | None = None
    total: int | None = None
    unit: Literal["steps", "bytes"] = "steps"
    service: ServiceKind | None = None


ProgressCallback = Callable[[Progress], None]


def no_progress(_: Progress) -> None:
    """The default progress callback: drop reports."""


@dataclass(frozen=True)
class TargetInfo:
    """What the header shows: which engine and where."""

    backend: str
    where: str
    """Docker host, Kubernetes context/namespace, or the local data dir."""
    details: dict[str, str] = field(default_factory=dict)


# --- the contract -----------------------------------------------------------


class Backend(abc.ABC):
    """One engine that runs the profile's databases.

    Implementations import their SDK lazily (on first use), never at module
    import. Every method that talks to the engine is ``async``; blocking SDK
    calls run in a thread (``asyncio.to_thread``) so a caller's event loop,
    the UI's included, never stalls.
    """

    name: str = "abstract"

    def __init__(self, loaded: LoadedProfile) -> None:
        self.loaded = loaded

    @property
    def profile(self) -> Profile:
        """The profile this backend deploys."""
        return self.loaded.profile

    # capabilities
    @abc.abstractmethod
    def capabilities(self, service: ServiceKind) -> frozenset[Capability]:
        """What this backend can do for ``service``; callers ask before offering an action."""

    def supports(self, service: ServiceKind, capability: Capability) -> bool:
        """Whether ``capability`` is available for ``service``."""
        return capability in self.capabilities(service)

    def require(self, service: ServiceKind, capability: Capability) -> None:
        """Raise :class:`NotSupported` unless ``capability`` is available."""
        if not self.supports(service, capability):
            raise NotSupported(self.name, capability, service)

    def target(self) -> TargetInfo:
        """What to show in the header about where this backend points."""
        return TargetInfo(self.name, "")

    # lifecycle
    @abc.abstractmethod
    async def deploy(
        self,
        profile: Profile | None = None,
        services: Sequence[ServiceKind] | None = None,
        progress: ProgressCallback = no_progress,
    ) -> None:
        """Create or update the services (all enabled ones by default); idempotent."""

    @abc.abstractmethod
    async def teardown(
        self,
        remove_volumes: bool = False,
        progress: ProgressCallback = no_progress,
        safety_dir: Path | None = None,
    ) -> None:
        """Stop and remove the services; data volumes are kept unless asked.

        With ``remove_volumes`` the backend first keeps the data it is about to
        delete under ``safety_dir`` (the CLI always passes one, made by
        :func:`alfred_tui.safety.new_safety_dir`): the local backend moves the
        data folders there, an engine exports each volume there. ``None``
        means the caller accepts the loss.
        """

    async def describe_teardown(self, remove_volumes: bool = False) -> list[str]:
        """What :meth:`teardown` would do, one line per effect, for a confirmation prompt.

        Backends override it to name their instances, volumes and sizes.
        """
        services = ", ".join(spec.name for _, spec in self.profile.services.enabled())
        lines = [f"stop and remove {services or 'nothing'} ({self.name} backend)"]
        if remove_volumes:
            lines.append(f"delete the data volumes of {services}")
        return lines

    @abc.abstractmethod
    async def status(self) -> list[ServiceStatus]:
        """The state of every enabled service, deployed or not."""

    async def scale(
        self,
        service: ServiceKind,
        replicas: int,
        progress: ProgressCallback = no_progress,
        safety_dir: Path | None = None,
    ) -> None:
        """Run ``replicas`` instances of ``service``.

        When scaling down removes data (replica volumes, scale to zero), that
        data is first kept under ``safety_dir``, as for :meth:`teardown`.
        """
        raise NotSupported(self.name, Capability.SCALE, service)

    async def resize(
        self,
        service: ServiceKind,
        cpus: float | None = None,
        memory: int | None = None,
        progress: ProgressCallback = no_progress,
    ) -> None:
        """Change CPU and memory limits (reservations follow proportionally where unset)."""
        raise NotSupported(self.name, Capability.RESIZE, service)

    async def restart(self, service: ServiceKind, progress: ProgressCallback = no_progress) -> None:
        """Restart every instance of ``service``."""
        raise NotSupported(self.name, Capability.RESTART, service)

    async def stop(self, service: ServiceKind, progress: ProgressCallback = no_progress) -> None:
        """Stop every instance of ``service`` cleanly and leave it stopped, data kept.

        Restores need the database down while its files are replaced (a Redis
        RDB, a PostgreSQL data directory for point-in-time recovery); an engine
        with a restart policy must not bring it back until :meth:`start`.
        """
        raise NotSupported(self.name, Capability.STOP_START, service)

    async def start(self, service: ServiceKind, progress: ProgressCallback = no_progress) -> None:
        """Start ``service`` again after :meth:`stop` and wait until it is ready."""
        raise NotSupported(self.name, Capability.STOP_START, service)

    # observation
    def logs(
        self,
        services: Iterable[ServiceKind] | None = None,
        follow: bool = False,
        since: datetime | None = None,
        tail: int | None = None,
    ) -> AsyncIterator[LogRecord]:
        """Log records of the services (all by default), merged by time."""
        raise NotSupported(self.name, Capability.LOGS)

    def events(self) -> AsyncIterator[BackendEvent]:
        """State changes as the engine reports them."""
        raise NotSupported(self.name, Capability.EVENTS)

    async def exec(
        self,
        service: ServiceKind,
        argv: Sequence[str],
        stdin: bytes | None = None,
        instance: str | None = None,
        timeout: float | None = None,
    ) -> ExecResult:
        """Run ``argv`` where ``service``'s instance is (the primary by default).

        The semantics every backend keeps, so that backup, restore and the
        shell panes write one command line for all of them:

        - ``argv`` names the database's own client tools without any address
          or credential: ``["pg_dump", "-F", "c", "-d", "postgres"]``,
          ``["psql", "-c", "select 1"]``, ``["pg_restore", "-d", "postgres"]``,
          ``["redis-cli", "CONFIG", "GET", "dir"]``. The backend aims them at
          the instance: PostgreSQL tools get ``PGHOST``, ``PGPORT``,
          ``PGUSER``, ``PGPASSWORD`` and ``PGDATABASE`` in their environment
          (an explicit ``-d``/``-U`` in ``argv`` still wins); ``redis-cli``
          gets ``-h``/``-p`` inserted after its name and the password in
          ``REDISCLI_AUTH``. No secret is ever put on a command line.
        - Where the command runs: inside the container or pod for Docker and
          Kubernetes; on this machine for the local backend (PostgreSQL tools
          from the same installation as the server, so ``pg_dump`` matches
          its version). Paths in ``argv`` are paths of that place; move
          files across with :meth:`copy_from` / :meth:`copy_to`. To learn
          where a server keeps its files, ask it (``redis-cli CONFIG GET dir``,
          ``psql -Atc "show data_directory"``).
        - ``stdin`` is fed to the command and closed; stdout and stderr are
          returned whole, as bytes (stream big dumps to a file with
          ``pg_dump -f PATH`` and copy it out). They are the command's raw
          output: redact before showing them.
        - A non-zero exit is a result, not an error; failing to run the
          command at all (tool missing, instance down) raises
          :class:`BackendError`. ``timeout`` (default 600 s) kills the
          command and raises :class:`OperationTimeout`.
        """
        raise NotSupported(self.name, Capability.EXEC, service)

    async def copy_from(
        self,
        service: ServiceKind,
        path: str,
        destination: Path,
        instance: str | None = None,
    ) -> Path:
        """Copy the file ``path`` of ``service``'s instance to ``destination`` here.

        ``path`` is a path where :meth:`exec` runs (inside the container, or
        on this machine for the local backend, which only reads below the
        service's own folder). Returns ``destination``. Needs
        :attr:`Capability.FILES`.
        """
        raise NotSupported(self.name, Capability.FILES, service)

    async def copy_to(
        self,
        service: ServiceKind,
        source: Path,
        path: str,
        instance: str | None = None,
    ) -> None:
        """Copy the local file ``source`` to ``path`` in ``service``'s instance.

        The file gets the owner the server runs as, so the server can read it
        (an RDB file for a Redis restore, a dump for ``pg_restore``). Needs
        :attr:`Capability.FILES`.
        """
        raise NotSupported(self.name, Capability.FILES, service)

    # reaching the databases
    @abc.abstractmethod
    async def endpoint(self, service: ServiceKind) -> Endpoint:
        """Where this machine reaches ``service`` (opening a tunnel if that is how)."""

    async def close(self) -> None:  # noqa: B027 - most backends hold nothing to release
        """Release connections, tunnels and threads the backend holds."""

    async def __aenter__(self) -> Backend:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
