"""The manifest: what one backup is and what it holds, written beside its files.

A manifest is written once, when the backup is complete, and never changed
(a later check of the files goes to a separate record, see
:mod:`.catalog`). It carries everything a restore needs to decide without
asking the database: the checksums the pre-flight compares, the server
version the compatibility check compares, and the counts the verification
compares after the restore.

JSON, described by ``assets/schemas/backup-manifest.v1.schema.json``; fields
are only ever added within a version.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from alfred_tui.errors import AlfredError

SCHEMA_ID: Final = "alfred-tui/backup-manifest"
SCHEMA_VERSION: Final = 1
MANIFEST_NAME = "manifest.json"

BackupKind = Literal["dump", "basebackup"]
"""``dump``: a restorable copy of the data (pg_dump, RDB, snapshots, storage copy);
``basebackup``: a PostgreSQL physical base backup for point-in-time recovery."""

CountKind = Literal["table_rows", "keys", "volatile_keys", "points"]


class ManifestError(AlfredError):
    """A manifest cannot be read or does not describe a backup."""

    title = "Bad backup manifest"


class _Model(BaseModel):
    # Manifests written by a newer alfred-tui may carry fields this one does not know.
    model_config = ConfigDict(extra="ignore", frozen=True)


class FileEntry(_Model):
    """One file of the backup, relative to its folder."""

    name: str
    """Path relative to the backup folder (``postgres.dump``, ``snapshots/x.snapshot``)."""
    bytes: int = Field(ge=0)
    """Size in bytes."""
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    """SHA-256 of the content, hex."""


class Count(_Model):
    """One thing counted when the backup was taken, checked again after a restore."""

    kind: CountKind
    """``table_rows`` (PostgreSQL, exact), ``keys`` (Redis keys without a TTL, per DB),
    ``volatile_keys`` (Redis keys with a TTL: some may expire before the restore),
    ``points`` (Qdrant, per collection)."""
    name: str
    """``schema.table``, ``db0``, or the collection name."""
    count: int = Field(ge=0)
    """How many the backup holds."""
    minimum: int | None = Field(default=None, ge=0)
    """When set, a restored count anywhere in ``[minimum, count]`` is right (TTL expiry,
    a collection written to while its snapshot was taken)."""

    def accepts(self, restored: int) -> bool:
        """Whether ``restored`` is what a faithful restore of this backup yields."""
        if self.minimum is None:
            return restored == self.count
        return self.minimum <= restored <= self.count

    def expected(self) -> str:
        """The expected value for people: ``1200`` or ``between 10 and 12``."""
        if self.minimum is None or self.minimum == self.count:
            return f"{self.count}"
        return f"between {self.minimum} and {self.count}"


class Manifest(_Model):
    """One backup."""

    schema_id: Literal["alfred-tui/backup-manifest"] = Field(
        default=SCHEMA_ID, alias="schema", serialization_alias="schema"
    )
    version: Literal[1] = SCHEMA_VERSION
    id: str
    """Catalog id: ``<service>-<UTC time>`` (``postgres-20261125T180635Z``)."""
    service: Literal["postgres", "redis", "qdrant"]
    kind: BackupKind = "dump"
    profile: str
    backend: str
    created_at: datetime
    """When the data was captured (UTC)."""
    duration_seconds: float = Field(ge=0)
    method: str
    """How it was taken, e.g. ``pg_dump -F c (host client)``, ``BGSAVE + copy``."""
    server_version: str
    """Version of the server the data came from."""
    address: str = ""
    """Where the server was reached (``host:port``, a URL, ``embedded:<path>``)."""
    files: list[FileEntry]
    contents: list[Count] = []
    details: dict[str, Any] = {}
    """Engine facts a restore checks: ``database``, ``rdb_version``, ``aof_enabled``,
    ``collections``, ``embedded``, ``start_lsn``/``end_time`` of a base backup."""
    safety_copy: bool = False
    """Taken automatically before a restore or a recovery replaced the data."""
    safety_for: str | None = None
    """What it was taken before (``restore of redis-20261125T180635Z``)."""
    tool_check: str | None = None
    """The engine tool that read the files back when the backup was made (``pg_restore --list``)."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    @property
    def bytes(self) -> int:
        """Total size of the backup's files."""
        return sum(entry.bytes for entry in self.files)

    def to_json(self) -> str:
        """The manifest as the JSON document stored on disk."""
        data = self.model_dump(mode="json", by_alias=True)
        return json.dumps(data, indent=2, sort_keys=False) + "\n"

    def summary(self) -> str:
        """``1,200 rows in 3 tables`` / ``42 keys in 3 DBs`` / ``900 points in 2 collections``."""
        if self.kind == "basebackup":
            return "base backup for point-in-time recovery"
        return summarize_counts(self.contents)

    @classmethod
    def read(cls, path: Path) -> Manifest:
        """Read and validate ``path``; errors name the file and the field."""
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise ManifestError(f"{path}: {exc.strerror or exc}") from None
        try:
            data = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:  # found by fuzzing: was an Internal error
            line = raw.count(b"\n", 0, exc.start) + 1
            raise ManifestError(f"{path}:{line}: not UTF-8 text; not a manifest") from None
        except json.JSONDecodeError as exc:
            raise ManifestError(f"{path}:{exc.lineno}: not JSON ({exc.msg})") from None
        except RecursionError:  # found by fuzzing: [[[[... nested past Python's stack
            raise ManifestError(f"{path}: nested too deeply; not a manifest") from None
        return cls.parse(data, str(path))

    @classmethod
    def parse(cls, data: Any, origin: str) -> Manifest:
        """Validate decoded JSON; ``origin`` names it in errors."""
        if not isinstance(data, dict) or data.get("schema") != SCHEMA_ID:
            raise ManifestError(f"{origin}: not an alfred-tui backup manifest (no schema key)")
        if data.get("version") != SCHEMA_VERSION:
            raise ManifestError(
                f"{origin}: manifest version {data.get('version')!r} is not supported by this "
                f"alfred-tui (it reads version {SCHEMA_VERSION}); upgrade alfred-tui"
            )
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            raise ManifestError(f"{origin}: {where}: {first['msg']}") from None


def summarize_counts(counts: list[Count]) -> str:
    """What the counts add up to, in a few words."""
    rows = [c for c in counts if c.kind == "table_rows"]
    keys = [c for c in counts if c.kind in ("keys", "volatile_keys")]
    points = [c for c in counts if c.kind == "points"]
    parts = []
    if rows:
        parts.append(f"{sum(c.count for c in rows):,} rows in {len(rows)} tables")
    if keys:
        databases = {c.name for c in keys}
        parts.append(f"{sum(c.count for c in keys):,} keys in {len(databases)} DBs")
    if points:
        parts.append(f"{sum(c.count for c in points):,} points in {len(points)} collections")
    return ", ".join(parts) or "empty"


def utc_now() -> datetime:
    """The current time, UTC, to the microsecond."""
    return datetime.now(UTC)
