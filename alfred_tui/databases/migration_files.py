"""Migration files: where they are, in which order, and how they compare with what was applied.

The bundled files (``assets/migrations/NNNN_name.sql``) come first, then the
folders a profile adds (``migrations.folders``); :func:`compare` sets them
against the rows of the tracking table (applied, pending, drifted, missing).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from alfred_tui.databases.migration_model import (
    AppliedRecord,
    MigrationEntry,
    MigrationError,
    MigrationState,
)

if TYPE_CHECKING:
    from alfred_tui.config.loader import LoadedProfile

BUNDLED_SOURCE = "bundled"
_FILE_NAME = re.compile(r"^(\d+)_([A-Za-z0-9][A-Za-z0-9_.-]*)\.sql$")


# --- files ------------------------------------------------------------------


@dataclass(frozen=True)
class MigrationSource:
    """A folder of migration files and how to name it in reports."""

    label: str
    """``bundled``, or the folder as the profile wrote it."""
    path: Path


@dataclass(frozen=True)
class MigrationFile:
    """One migration on disk."""

    name: str
    """File name without ``.sql``: the identity recorded in the tracking table."""
    number: int
    path: Path
    source: str
    checksum: str
    """SHA-256 of the text with line endings normalised (a CRLF checkout is no drift)."""

    def read(self) -> str:
        """The file's SQL."""
        return _read_text(self.path)


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").replace("\r\n", "\n")
    except UnicodeDecodeError as exc:
        raise MigrationError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise MigrationError(f"{path}: cannot read ({exc.strerror})") from None


def checksum_of(text: str) -> str:
    """The checksum recorded for a migration's text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def bundled_source() -> MigrationSource:
    """The migrations shipped with alfred-tui (the spec's schemas)."""
    from alfred_tui.paths import assets_dir

    return MigrationSource(BUNDLED_SOURCE, assets_dir() / "migrations")


def profile_sources(loaded: LoadedProfile) -> list[MigrationSource]:
    """The bundled folder, then the profile's ``migrations.folders`` in order.

    A relative folder is taken relative to the profile file that wrote it, so
    a profile and its migrations can move together.
    """
    sources = [bundled_source()]
    for index, folder in enumerate(loaded.profile.migrations.folders):
        path = Path(folder).expanduser()
        origin = loaded.origin_of(("migrations", "folders", index))
        if not path.is_absolute():
            base = Path(origin.file).parent if origin else loaded.source.path.parent
            path = base / path
        if not path.is_dir():
            where = f"{origin}: " if origin else ""
            raise MigrationError(
                f"{where}migrations.folders[{index}]: folder {folder} does not exist ({path})"
            )
        sources.append(MigrationSource(folder, path))
    return sources


def discover(sources: Sequence[MigrationSource]) -> list[MigrationFile]:
    """Every migration file, in the order ``up`` applies them.

    Within a folder files go by their number; folders go in the order given.
    Two files with the same number in one folder, or the same name in two
    folders, are errors: the order or the identity would be ambiguous.
    """
    files: list[MigrationFile] = []
    seen: dict[str, MigrationFile] = {}
    for source in sources:
        if not source.path.is_dir():
            raise MigrationError(f"migration folder {source.path} does not exist")
        numbered: dict[int, MigrationFile] = {}
        for path in sorted(source.path.iterdir()):
            if path.suffix != ".sql" or not path.is_file():
                continue
            match = _FILE_NAME.match(path.name)
            if not match:
                raise MigrationError(
                    f"{path}: a migration file is named NNNN_description.sql "
                    "(digits, underscore, then letters, digits, _ . -)"
                )
            number = int(match.group(1))
            migration = MigrationFile(
                name=path.stem,
                number=number,
                path=path,
                source=source.label,
                checksum=checksum_of(_read_text(path)),
            )
            if number in numbered:
                raise MigrationError(
                    f"{path.name} and {numbered[number].path.name} in {source.path} "
                    f"share the number {number}; renumber one"
                )
            if migration.name in seen:
                raise MigrationError(
                    f"{path} and {seen[migration.name].path} have the same name; "
                    "migration names must be unique across folders"
                )
            numbered[number] = migration
            seen[migration.name] = migration
        files.extend(numbered[n] for n in sorted(numbered))
    return files


def compare(
    files: Sequence[MigrationFile], records: Sequence[AppliedRecord]
) -> list[MigrationEntry]:
    """The status entries: files in apply order, then records without a file (by id)."""
    by_name = {record.name: record for record in records}
    entries: list[MigrationEntry] = []
    for migration in files:
        record = by_name.get(migration.name)
        if record is None:
            state = MigrationState.PENDING
        elif record.checksum is not None and record.checksum != migration.checksum:
            state = MigrationState.DRIFTED
        else:
            state = MigrationState.APPLIED
        entries.append(
            MigrationEntry(
                name=migration.name,
                state=state,
                source=migration.source,
                path=migration.path,
                checksum=migration.checksum,
                recorded_checksum=record.checksum if record else None,
                id=record.id if record else None,
                applied_at=record.applied_at if record else None,
                duration_ms=record.duration_ms if record else None,
            )
        )
    names = {migration.name for migration in files}
    for record in records:
        if record.name not in names:
            entries.append(
                MigrationEntry(
                    name=record.name,
                    state=MigrationState.MISSING,
                    source=record.source,
                    path=None,
                    checksum=None,
                    recorded_checksum=record.checksum,
                    id=record.id,
                    applied_at=record.applied_at,
                    duration_ms=record.duration_ms,
                )
            )
    return entries
