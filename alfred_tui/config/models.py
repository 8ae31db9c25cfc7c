"""The profile: one typed description of what to deploy and how to judge it.

A profile is YAML validated by these models. Every field has a docstring
right below it (an attribute docstring, read by IDEs and the docs; pydantic's
``use_attribute_docstrings`` is left off because re-tokenising this file for
it costs about 25 ms on every start of ``check``). Unknown fields are errors,
so a typo never silently falls back to a default. Secrets are held as
``SecretStr`` from the moment they are read, so no repr, log line or
exception can show them.

Why one module of this size: the models are one schema, the profile's: every
field, default and validation of a profile is read here, in the order the
spec lists them.
"""

import ipaddress
import re
from collections.abc import Iterator
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    SecretStr,
    field_validator,
    model_serializer,
    model_validator,
)

from alfred_tui.units import (
    format_compose_duration,
    format_docker_size,
    parse_bytes,
    parse_cpus,
    parse_duration,
)

ServiceKind = Literal["postgres", "redis", "qdrant"]
SslMode = Literal["disable", "prefer", "require", "verify-ca", "verify-full"]
"""Client TLS, as libpq's sslmode."""
SERVICE_KINDS: tuple[ServiceKind, ...] = ("postgres", "redis", "qdrant")
BackendName = Literal["local", "docker", "kubernetes"]


def service_kind(name: str) -> ServiceKind:
    """``name`` as a :data:`ServiceKind`, for names read as plain text (a journal, a widget).

    Raises ``ValueError`` for any other name: a checked conversion, where a cast would not be.
    """
    for kind in SERVICE_KINDS:
        if kind == name:
            return kind
    raise ValueError(f"not a service: {name!r} (one of {', '.join(SERVICE_KINDS)})")


#: The spec's default secrets; a production profile refuses them.
SPEC_DEFAULT_SECRETS = frozenset({"your-super-secret-password", "your-super-secret-jwt-token"})

_SECRET_KEY = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_KEY", re.IGNORECASE)


def is_secret_key(name: str) -> bool:
    """Whether an environment variable named ``name`` holds a secret."""
    return bool(_SECRET_KEY.search(name))


Bytes = Annotated[
    int,
    BeforeValidator(parse_bytes),
    PlainSerializer(format_docker_size, return_type=str),
]
Seconds = Annotated[
    float,
    BeforeValidator(parse_duration),
    PlainSerializer(format_compose_duration, return_type=str),
]
Cpus = Annotated[float, BeforeValidator(parse_cpus)]


class StrictModel(BaseModel):
    """Base of every profile model: unknown fields are errors, values immutable."""

    # defer_build: the validator of Profile is built once, with every nested model
    # in it, on first use, instead of one per class at import (~20 ms a start).
    # NaN and infinities are no threshold, limit or count anyone means (.nan, .inf in YAML).
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True, allow_inf_nan=False)


class PortBinding(StrictModel):
    """A published port, as Compose writes it: ``[HOST_IP:]HOST_PORT:CONTAINER_PORT``."""

    host_ip: str = "0.0.0.0"
    """Address the port is published on. 127.0.0.1 keeps it on this machine."""
    host_port: int = Field(ge=1, le=65535)
    """Port on the host (or the local process's own port for the local backend)."""
    container_port: int = Field(ge=1, le=65535)
    """Port the database listens on inside its container or pod."""
    protocol: Literal["tcp", "udp"] = "tcp"
    """Transport protocol."""

    @model_validator(mode="before")
    @classmethod
    def _from_compose_string(cls, value: Any) -> Any:
        if isinstance(value, int):
            return {"host_port": value, "container_port": value}
        if not isinstance(value, str):
            return value
        text, _, protocol = value.partition("/")
        parts = text.rsplit(":", 2)
        if len(parts) == 1:
            parts = [parts[0], parts[0]]
        if len(parts) == 2:
            host_ip, (host_port, container_port) = "0.0.0.0", parts
        else:
            host_ip, host_port, container_port = parts
        result: dict[str, Any] = {
            "host_ip": host_ip.strip("[]") or "0.0.0.0",
            "host_port": host_port,
            "container_port": container_port,
        }
        if protocol:
            result["protocol"] = protocol
        return result

    @field_validator("host_ip")
    @classmethod
    def _valid_ip(cls, value: str) -> str:
        try:
            ipaddress.ip_address(value)
        except ValueError:
            raise ValueError(f"{value!r} is not an IP address") from None
        return value

    @property
    def is_loopback(self) -> bool:
        """Whether only this machine can reach the published port."""
        return ipaddress.ip_address(self.host_ip).is_loopback

    @property
    def connect_host(self) -> str:
        """The address a client on this machine uses to reach the port."""
        return "127.0.0.1" if ipaddress.ip_address(self.host_ip).is_unspecified else self.host_ip

    @model_serializer(mode="plain")
    def _to_compose(self) -> str:
        return self.compose()

    def compose(self) -> str:
        """The binding in Compose's short syntax."""
        text = f"{self.host_port}:{self.container_port}"
        if self.host_ip != "0.0.0.0":
            text = f"{self.host_ip}:{text}"
        return text if self.protocol == "tcp" else f"{text}/{self.protocol}"


class VolumeMount(StrictModel):
    """A volume mounted into the service: ``SOURCE:TARGET[:ro]``."""

    source: str
    """A named volume (``db-postgres-data``) or a host path (``./migrations``)."""
    target: str
    """Path inside the container."""
    read_only: bool = False
    """Mount read-only."""

    @model_validator(mode="before")
    @classmethod
    def _from_compose_string(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        parts = value.split(":")
        if len(parts) not in (2, 3) or not all(parts[:2]):
            raise ValueError(f"{value!r} is not SOURCE:TARGET[:ro]")
        return {"source": parts[0], "target": parts[1], "read_only": parts[2:] == ["ro"]}

    @property
    def is_named_volume(self) -> bool:
        """A named volume rather than a bind mount of a host path."""
        return not self.source.startswith(("/", ".", "~"))

    @model_serializer(mode="plain")
    def _to_compose(self) -> str:
        return self.compose()

    def compose(self) -> str:
        """The mount in Compose's short syntax."""
        return f"{self.source}:{self.target}" + (":ro" if self.read_only else "")


class HealthCheck(StrictModel):
    """A container health check, as in Compose."""

    test: list[str]
    """Command, Compose style: ``["CMD", "pg_isready", ...]`` or ``["CMD-SHELL", "..."]``."""
    interval: Seconds = 10.0
    """Time between checks."""
    timeout: Seconds = 5.0
    """Time one check may take."""
    retries: int = Field(default=3, ge=1)
    """Failures in a row before the service counts as unhealthy."""
    start_period: Seconds = 0.0
    """Grace period after start during which failures do not count."""


class ResourceSpec(StrictModel):
    """CPU and memory for one side of a resource setting (limit or reservation)."""

    cpus: Cpus | None = None
    """CPUs, fractional allowed (``0.5``, ``2``)."""
    memory: Bytes | None = None
    """Memory, e.g. ``512M`` or ``4G``."""


class Resources(StrictModel):
    """Resource limits and reservations, as Compose's ``deploy.resources``."""

    limits: ResourceSpec | None = None
    """Hard caps: the engine throttles CPU and kills on memory past these."""
    reservations: ResourceSpec | None = None
    """What the scheduler guarantees (Kubernetes requests)."""


class StorageSpec(StrictModel):
    """Persistent storage where the backend provisions it (Kubernetes PVCs)."""

    size: str = "10Gi"
    """Requested size of each instance's volume, as a Kubernetes quantity."""
    storage_class: str | None = None
    """Storage class; the cluster default when empty."""


class ServiceSpec(StrictModel):
    """What every database service has: how to run it and where it listens."""

    name: str
    """Service name as in the platform's Compose file: db-postgres, redis, vector-db."""
    enabled: bool = True
    """Whether this profile deploys and watches the service."""
    image: str
    """Container image, pinned to a tag or digest."""
    ports: list[PortBinding] = []
    """Published ports; the first is the one clients use."""
    environment: dict[str, str | SecretStr] = {}
    """Environment; values of keys that name secrets are kept masked."""
    command: list[str] | None = None
    """Command and arguments, replacing the image's default."""
    volumes: list[VolumeMount] = []
    """Volumes and bind mounts."""
    healthcheck: HealthCheck | None = None
    """Health check the engine runs inside the container."""
    resources: Resources = Resources()
    """Limits and reservations."""
    replicas: int = Field(default=1, ge=0, le=64)
    """Number of instances."""
    restart: Literal["no", "always", "unless-stopped", "on-failure"] = "unless-stopped"
    """Restart policy (Docker); Kubernetes always restarts."""
    storage: StorageSpec = StorageSpec()
    """Per-instance persistent volume where the backend provisions one."""

    @field_validator("environment", mode="before")
    @classmethod
    def _stringify_environment(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {
                str(key): ("" if item is None else str(item) if not isinstance(item, str) else item)
                for key, item in value.items()
            }
        return value

    @field_validator("environment", mode="after")
    @classmethod
    def _mask_secrets(cls, value: dict[str, str | SecretStr]) -> dict[str, str | SecretStr]:
        return {
            key: SecretStr(item) if isinstance(item, str) and is_secret_key(key) else item
            for key, item in value.items()
        }

    @field_validator("command", mode="before")
    @classmethod
    def _stringify_command(cls, value: Any) -> Any:
        if isinstance(value, str):
            return value.split()
        if isinstance(value, list):
            return [str(item) for item in value]
        return value

    def env(self, key: str, default: str | None = None) -> str | None:
        """An environment value in clear, for the code that must use it (never to print)."""
        value = self.environment.get(key)
        if value is None:
            return default
        return value.get_secret_value() if isinstance(value, SecretStr) else value

    def secrets(self) -> Iterator[tuple[str, SecretStr | None]]:
        """Every secret this service carries, by the field that holds it."""
        for key, value in self.environment.items():
            if isinstance(value, SecretStr):
                yield f"environment.{key}", value

    def command_option(self, name: str) -> str | None:
        """The value of ``-c name=value`` / ``--name value`` in the command, if any."""
        args = self.command or []
        for index, arg in enumerate(args):
            if arg.startswith(f"{name}="):
                return arg.split("=", 1)[1]
            if arg in (f"--{name}",) and index + 1 < len(args):
                return args[index + 1]
        return None

    @property
    def primary_port(self) -> PortBinding | None:
        """The port clients use (the first published one)."""
        return self.ports[0] if self.ports else None


class PostgresService(ServiceSpec):
    """PostgreSQL: credentials come from POSTGRES_USER/PASSWORD/DB, as the image reads them."""

    sslmode: SslMode | None = None
    """Client TLS, as libpq's sslmode; empty: ``disable`` on loopback, ``prefer`` elsewhere."""

    @property
    def user(self) -> str:
        """Superuser name the image creates."""
        return self.env("POSTGRES_USER") or "postgres"

    @property
    def password(self) -> SecretStr:
        """Superuser password, masked."""
        return SecretStr(self.env("POSTGRES_PASSWORD") or "")

    @property
    def database(self) -> str:
        """Database the image creates and the probes connect to."""
        return self.env("POSTGRES_DB") or self.user

    replication_user: str | None = None
    """Role read replicas stream as; empty means the superuser (POSTGRES_USER)."""
    replication_password: SecretStr | None = None
    """Password of ``replication_user``; empty means the superuser's password."""

    def secrets(self) -> Iterator[tuple[str, SecretStr | None]]:
        yield from super().secrets()
        if self.replication_password is not None:
            yield "replication_password", self.replication_password

    def replication_credentials(self) -> tuple[str, SecretStr]:
        """Who read replicas connect to the primary as, and with which password."""
        if self.replication_user:
            return self.replication_user, self.replication_password or self.password
        return self.user, self.replication_password or self.password


class RedisService(ServiceSpec):
    """Redis: the spec runs it without a password; a profile may set one."""

    password: SecretStr | None = None
    """``requirepass``; passed to the server by the backend, never on its command line."""

    def secrets(self) -> Iterator[tuple[str, SecretStr | None]]:
        yield from super().secrets()
        if self.password is not None:
            yield "password", self.password

    @property
    def appendonly(self) -> bool:
        """Whether the command turns AOF persistence on."""
        return (self.command_option("appendonly") or "no").lower() == "yes"


class QdrantService(ServiceSpec):
    """Qdrant: REST on the first port, gRPC on the second."""

    api_key: SecretStr | None = None
    """``QDRANT__SERVICE__API_KEY``; sent as the ``api-key`` header."""

    def secrets(self) -> Iterator[tuple[str, SecretStr | None]]:
        yield from super().secrets()
        if self.api_key is not None:
            yield "api_key", self.api_key


AnyService = TypeVar("AnyService", bound=ServiceSpec)


def if_enabled(service: AnyService | None) -> AnyService | None:
    """``service`` when the profile has it and it is enabled, else ``None``."""
    return service if service is not None and service.enabled else None


class Services(StrictModel):
    """The three databases of the platform."""

    postgres: PostgresService | None = None
    """PostgreSQL (Supabase image in the spec)."""
    redis: RedisService | None = None
    """Redis."""
    qdrant: QdrantService | None = None
    """Qdrant vector database."""

    def get(self, kind: ServiceKind) -> ServiceSpec | None:
        """The service of that kind, if the profile has it enabled."""
        service: ServiceSpec | None = getattr(self, kind)
        return if_enabled(service)

    def enabled(self) -> Iterator[tuple[ServiceKind, ServiceSpec]]:
        """Every enabled service with its kind, in the spec's order."""
        for kind in SERVICE_KINDS:
            service = self.get(kind)
            if service is not None:
                yield kind, service


class RedisDatabase(StrictModel):
    """One entry of the spec's Redis database map."""

    db: int = Field(ge=0, le=15)
    """Database index."""
    purpose: str
    """What the platform keeps there."""
    prefix: str | None = None
    """Key prefix, e.g. ``alfred:cache:``; none for pub/sub."""


class QdrantCollection(StrictModel):
    """One Qdrant collection the platform expects."""

    name: str
    """Collection name."""
    purpose: str = ""
    """What it holds."""
    size: int = Field(default=1536, ge=1)
    """Vector dimensions."""
    distance: Literal["Cosine", "Euclid", "Dot", "Manhattan"] = "Cosine"
    """Distance metric."""


class Range(StrictModel):
    """A closed range; an open end is unbounded."""

    min: float | None = None
    """Lower bound, inclusive."""
    max: float | None = None
    """Upper bound, inclusive."""


class Alert(StrictModel):
    """When a metric is critical: strictly above or below a value."""

    above: float | None = None
    """Critical when the value is greater than this."""
    below: float | None = None
    """Critical when the value is less than this."""


class MetricThreshold(StrictModel):
    """A row of the spec's metrics table: normal range and alert threshold."""

    description: str = ""
    """What the metric measures."""
    unit: Literal["", "s", "bytes", "/s"] = ""
    """Unit, for display."""
    normal: Range = Range()
    """Values inside this range are OK."""
    alert: Alert = Alert()
    """Values past this are CRITICAL."""
    warn: Literal["outside", "above", "below"] = "outside"
    """Which side of the normal range is a WARNING; load metrics use ``above`` (idle is fine)."""


class DockerSettings(StrictModel):
    """How the Docker backend reaches its engine and names what it creates."""

    host: str | None = None
    """Engine URL; empty means ``DOCKER_HOST`` or the current docker context."""
    project: str = "alfred"
    """Compose project name, shared with the platform's own Compose file."""
    network: str = "alfred-network"
    """Bridge network the services join."""


class KubernetesSettings(StrictModel):
    """How the Kubernetes backend reaches its cluster."""

    context: str | None = None
    """Kubeconfig context; empty means the current one (or in-cluster config)."""
    namespace: str = "alfred-platform"
    """Namespace of every object."""
    kubeconfig: str | None = None
    """Kubeconfig file; empty means ``KUBECONFIG`` or ``~/.kube/config``."""


class LocalSettings(StrictModel):
    """The local-process backend."""

    data_dir: str | None = None
    """Where databases and logs live; empty means ``$ALFRED_TUI_DATA_DIR`` or the XDG data dir."""


class UiSettings(StrictModel):
    """The terminal UI."""

    refresh_seconds: Seconds = 2.0
    """Time between the end of one poll and the start of the next."""
    theme: str | None = None
    """Textual theme name."""
    keymap: dict[str, str] = {}
    """Binding id -> key(s), e.g. ``{"scale": "ctrl+s"}``."""


class ServeSettings(StrictModel):
    """``alfred-tui serve``: the UI in a browser (docs/serve.md)."""

    max_sessions: int = Field(default=4, ge=1, le=64)
    """Browser sessions (one app process each) open at once; one more is refused."""
    idle_timeout: Seconds = Field(default=900.0, gt=0)
    """A session with no key or mouse input for this long is closed (default 15m)."""


class LogSettings(StrictModel):
    """The logs pane."""

    max_lines: int = Field(default=10000, ge=100)
    """Lines kept in memory; older ones are dropped."""


class RecordingSettings(StrictModel):
    """The UI's black-box recorder: a rolling recording of what the panes read."""

    enabled: bool = True
    """Keep the rolling recording while the UI runs (``recordings/`` in the state dir)."""
    keep: Seconds = 86400.0
    """How far back it reaches; older readings are dropped (``24h``)."""
    max_size: Bytes = 512 * 1024**2
    """The most it may take on disk; the oldest hours go first past it (``512Mi``)."""


class MigrationSettings(StrictModel):
    """Schema migrations."""

    folders: list[str] = []
    """Extra folders of ``NNN_name.sql`` files, applied after the bundled ones."""


class BackupSettings(StrictModel):
    """The backup catalog and its retention."""

    catalog: str | None = None
    """Catalog folder; empty means ``backups/`` under the data dir."""
    keep_last: int = Field(default=7, ge=1)
    """Backups kept per service, newest first."""
    keep_daily: int = Field(default=7, ge=0)
    """Besides those, the newest backup of each of this many days."""
    wal_archive: str | None = None
    """WAL archive folder for point-in-time recovery."""


class Profile(StrictModel):
    """A deployment target and everything the product needs to know about it."""

    name: str
    """Profile name, as ``--profile`` takes it."""
    description: str = ""
    """One line for ``profiles list``."""
    policy: Literal["development", "production"] = "development"
    """``production`` refuses default secrets, public ports, no limits and Redis without AOF."""
    backend: BackendName = "docker"
    """Backend used when ``--backend`` is not given."""
    services: Services = Services()
    """The databases."""
    redis_databases: list[RedisDatabase] = []
    """The Redis database map."""
    qdrant_collections: list[QdrantCollection] = []
    """Collections the platform expects."""
    metrics: dict[str, MetricThreshold] = {}
    """Thresholds by metric name."""
    docker: DockerSettings = DockerSettings()
    """Docker backend settings."""
    kubernetes: KubernetesSettings = KubernetesSettings()
    """Kubernetes backend settings."""
    local: LocalSettings = LocalSettings()
    """Local backend settings."""
    ui: UiSettings = UiSettings()
    """Terminal UI settings."""
    serve: ServeSettings = ServeSettings()
    """``alfred-tui serve`` settings."""
    logs: LogSettings = LogSettings()
    """Logs pane settings."""
    recording: RecordingSettings = RecordingSettings()
    """The UI's black-box recorder."""
    migrations: MigrationSettings = MigrationSettings()
    """Schema migration settings."""
    backups: BackupSettings = BackupSettings()
    """Backup settings."""

    def service(self, kind: ServiceKind) -> ServiceSpec | None:
        """The enabled service of that kind, if any."""
        return self.services.get(kind)

    @property
    def postgres(self) -> PostgresService | None:
        """The PostgreSQL service, if enabled."""
        return if_enabled(self.services.postgres)

    @property
    def redis(self) -> RedisService | None:
        """The Redis service, if enabled."""
        return if_enabled(self.services.redis)

    @property
    def qdrant(self) -> QdrantService | None:
        """The Qdrant service, if enabled."""
        return if_enabled(self.services.qdrant)
