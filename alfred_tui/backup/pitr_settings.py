"""What point-in-time recovery writes into PostgreSQL, and what it tells people.

The spec's ``archive_command`` and ``restore_command`` with the archive's
folder, the times recovery reads and writes, and the recovery settings
appended to ``postgresql.auto.conf``.
"""

from __future__ import annotations

import shlex
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from alfred_tui.errors import AlfredError

if TYPE_CHECKING:
    from alfred_tui.backends.pgdata import PostgresDataDirectory
    from alfred_tui.config.models import Profile

ARCHIVE_TIMEOUT = "60s"
RECOVERY_SETTINGS = ("restore_command", "recovery_target_time", "recovery_target_action")
#: The spec's archive folder, where the engine has no default of its own.
SPEC_ARCHIVE = "/archive"


class PitrError(AlfredError):
    """Point-in-time recovery cannot go ahead as asked."""

    title = "Point-in-time recovery"


def default_archive(profile: Profile, data: PostgresDataDirectory | None) -> str:
    """``backups.wal_archive``, else the engine's default (a folder beside the local data),
    else the spec's /archive."""
    configured = profile.backups.wal_archive
    if configured:
        return configured
    return data.default_archive if data is not None else SPEC_ARCHIVE


def archive_command(archive: str) -> str:
    """The spec's archive_command with its folder."""
    folder = shlex.quote(archive.rstrip("/"))
    return f"test ! -f {folder}/%f && cp %p {folder}/%f"


def restore_command(archive: str) -> str:
    """The spec's restore_command with its folder."""
    return f"cp {shlex.quote(archive.rstrip('/'))}/%f %p"


def parse_time(text: str) -> datetime:
    """An ISO 8601 time (``2026-11-25T18:00:00Z``, ``2026-11-25 18:00:00``); naive is local."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise PitrError(
            f"--to {text!r} is not a time; write e.g. '2026-11-25 18:00:00' (local time) "
            "or '2026-11-25T17:00:00Z'"
        ) from None
    return moment.astimezone() if moment.tzinfo is None else moment


def pg_time(moment: datetime) -> str:
    """A time as PostgreSQL reads it, with its offset: ``2026-11-25 17:00:00.000000+00:00``."""
    return moment.astimezone(UTC).isoformat(sep=" ")


def recovery_settings(archive: str, target: datetime) -> str:
    """The lines appended to ``postgresql.auto.conf`` for the recovery (reset after)."""
    settings = {
        "restore_command": restore_command(archive),
        "recovery_target_time": pg_time(target),
        "recovery_target_action": "promote",
    }
    lines = ["", "# point-in-time recovery by alfred-tui (reset after promotion)"]
    for name, value in settings.items():
        lines.append(f"{name} = '{value.replace(chr(39), chr(39) * 2)}'")
    return "\n".join(lines) + "\n"


def enable_statements(archive: str) -> list[str]:
    """The ALTER SYSTEM statements that turn archiving on into ``archive``."""
    command = archive_command(archive).replace("'", "''")
    return [
        "ALTER SYSTEM SET archive_mode = 'on'",
        f"ALTER SYSTEM SET archive_command = '{command}'",
        f"ALTER SYSTEM SET archive_timeout = '{ARCHIVE_TIMEOUT}'",
    ]
