"""The backend contract: one interface over local processes, Docker and Kubernetes.

The UI and the CLI only ever hold a :class:`Backend`: the core every engine
implements (deploy, teardown, status, endpoint), the data it reports and the
errors it raises. What an engine can do beyond the core (scale, logs, exec,
files...) is a small protocol in :mod:`alfred_tui.backends.capabilities`,
declared by implementing it.

Everything here is plain data and ``async`` methods: no engine SDK is
imported by this module, so ``alfred-tui check`` can resolve endpoints
without paying for docker or kubernetes imports.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal, NamedTuple

from alfred_tui.errors import AlfredError

if TYPE_CHECKING:
    from alfred_tui.config.loader import LoadedProfile
    from alfred_tui.config.models import Profile, ServiceKind


# --- errors -----------------------------------------------------------------


class BackendError(AlfredError):
    """Something a backend was asked to do failed; the message says what to check."""

    title = "Backend error"


class EngineUnreachable(BackendError):
    """The engine (Docker daemon, Kubernetes API) does not answer."""

    title = "Engine unreachable"


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


@dataclass(frozen=True)
class InstanceUsage:
    """What one instance uses of CPU and memory, against its limit and request.

    Values are None when the engine cannot say (yet): the first reading of a
    rate, an engine without a metrics source; ``note`` then says why.
    """

    service: ServiceKind
    instance: str
    cpu_percent: float | None = None
    """CPU in use, in percent of one core (200 = two cores busy), as ``docker stats`` shows it."""
    cpu_limit: float | None = None
    """The instance's CPU limit in cores (None: no limit)."""
    memory: int | None = None
    """Memory in use, in bytes, as the engine counts it against the limit (page cache left out)."""
    memory_limit: int | None = None
    memory_request: int | None = None
    """Memory reserved for it (Docker's reservation, a Kubernetes request)."""
    restarts: int = 0
    taken_at: float = 0.0
    """Unix time of the reading."""
    note: str = ""
    pending: bool = False
    """A value is missing only because it is a rate: the next reading has it."""

    @property
    def cpu_of_limit(self) -> float | None:
        """CPU in use as a fraction of the limit (1.0 = the whole limit)."""
        if self.cpu_percent is None or not self.cpu_limit:
            return None
        return self.cpu_percent / 100 / self.cpu_limit

    @property
    def memory_of_limit(self) -> float | None:
        """Memory in use as a fraction of the limit (1.0 = at the limit)."""
        if self.memory is None or not self.memory_limit:
            return None
        return self.memory / self.memory_limit


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
    """One engine that runs the profile's databases: the core every engine implements.

    What an engine can do beyond deploy, teardown, status and endpoint, it
    declares by implementing the protocols of
    :mod:`alfred_tui.backends.capabilities` (``Scalable``, ``Loggable``...).
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
