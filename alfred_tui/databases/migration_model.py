"""What schema migrations report: their states, what ``up`` did, and its errors.

Plain data, no I/O: :mod:`.migration_files` reads the files and compares them
with what was applied, :mod:`.migrations` applies them; the Migrations pane
and ``alfred-tui migrate`` (:mod:`alfred_tui.render.migrations`) read these.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from alfred_tui.errors import AlfredError


class MigrationError(AlfredError):
    """Migrations cannot be read or run as asked; the message says what to fix."""

    title = "Migration error"


class MigrationDrift(MigrationError):
    """Applied migrations changed on disk; ``up`` refuses until that is resolved."""

    title = "Migration drift"


class MigrationFailed(MigrationError):
    """A migration failed and was rolled back."""

    title = "Migration failed"

    def __init__(self, failure: MigrationFailure, kept: int) -> None:
        kept_text = f"; {kept} earlier migration{'s' if kept != 1 else ''} kept" if kept else ""
        super().__init__(f"{failure.describe()}; rolled back{kept_text}")
        self.failure = failure


class MigrationLockTimeout(MigrationError):
    """Another run held the migration lock for longer than we were willing to wait."""

    title = "Migration lock busy"


# --- status -----------------------------------------------------------------


class MigrationState(enum.StrEnum):
    """Where one migration stands."""

    APPLIED = "applied"
    PENDING = "pending"
    DRIFTED = "drifted"
    """Applied, but the file's checksum no longer matches the recorded one."""
    MISSING = "missing"
    """Recorded as applied, but no file has that name."""


@dataclass(frozen=True)
class AppliedRecord:
    """A row of the tracking table."""

    id: int
    name: str
    checksum: str | None
    applied_at: datetime | None
    duration_ms: float | None
    source: str | None


@dataclass(frozen=True)
class MigrationEntry:
    """One line of the status: a file, a record, or both."""

    name: str
    state: MigrationState
    source: str | None
    path: Path | None
    checksum: str | None
    """The file's checksum (None for a missing file)."""
    recorded_checksum: str | None
    id: int | None
    applied_at: datetime | None
    duration_ms: float | None

    @property
    def note(self) -> str:
        """A short explanation for people."""
        if self.state == MigrationState.DRIFTED:
            return (
                f"file changed since applied (recorded {short(self.recorded_checksum)}, "
                f"file {short(self.checksum)})"
            )
        if self.state == MigrationState.MISSING:
            return "recorded in the tracking table, but no migration file has this name"
        if self.state == MigrationState.APPLIED and self.recorded_checksum is None:
            return "no checksum recorded (applied by another tool)"
        return ""


def short(checksum: str | None) -> str:
    """The first 12 hex digits of a checksum, as people compare them."""
    return checksum[:12] if checksum else "-"


@dataclass(frozen=True)
class MigrationStatus:
    """Files against the tracking table of one database."""

    database: str
    address: str
    tracking_table: bool
    """Whether ``public.migrations`` exists yet."""
    entries: tuple[MigrationEntry, ...]

    def of(self, state: MigrationState) -> list[MigrationEntry]:
        """The entries in ``state``, in order."""
        return [entry for entry in self.entries if entry.state == state]

    @property
    def pending(self) -> list[MigrationEntry]:
        """Migrations ``up`` would apply."""
        return self.of(MigrationState.PENDING)

    @property
    def drifted(self) -> list[MigrationEntry]:
        """Applied migrations whose file changed."""
        return self.of(MigrationState.DRIFTED)

    def counts(self) -> dict[str, int]:
        """How many entries are in each state."""
        return {state.value: len(self.of(state)) for state in MigrationState}


# --- what up did ------------------------------------------------------------


@dataclass(frozen=True)
class MigrationFailure:
    """Why a migration failed, pinned to its file and line."""

    name: str
    path: Path
    line: int | None
    column: int | None
    message: str
    sqlstate: str | None = None
    detail: str | None = None
    hint: str | None = None
    statement_line: int | None = None
    """Line where the failing statement starts (``line`` is the error's own line)."""

    def describe(self) -> str:
        """``0003_x.sql:12:5: relation "t" does not exist [42P01] (hint: ...)``."""
        where = self.path.name
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        text = f"{where}: {self.message}"
        if self.sqlstate:
            text += f" [{self.sqlstate}]"
        if self.detail:
            text += f" (detail: {self.detail})"
        if self.hint:
            text += f" (hint: {self.hint})"
        return text


@dataclass(frozen=True)
class AppliedMigration:
    """A migration this run applied."""

    name: str
    source: str
    duration_ms: float
    statements: int
    notices: tuple[str, ...] = ()
    """Server notices (``RAISE NOTICE``, ``... already exists, skipping``)."""


@dataclass(frozen=True)
class UpResult:
    """What ``up`` did."""

    applied: tuple[AppliedMigration, ...]
    already_applied: tuple[str, ...]
    """Pending when we looked, but applied by another run while we waited for the lock."""
    failure: MigrationFailure | None
    status: MigrationStatus
    """The status after the run."""
    lock_wait_ms: float = 0.0

    @property
    def ok(self) -> bool:
        """Whether every pending migration was applied."""
        return self.failure is None

    def raise_for_failure(self) -> None:
        """Raise :class:`MigrationFailed` if a migration failed."""
        if self.failure is not None:
            raise MigrationFailed(self.failure, len(self.applied))
