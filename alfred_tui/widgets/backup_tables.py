"""The Backups pane's widgets: the catalog table, the selected backup, PITR readiness, notes.

Everything is drawn from the plain views of :mod:`alfred_tui.control.backups`
and a clock reading, so the same data draws the same picture (snapshots).
Every state is a word as well as a colour ("never", "FAILED", "NOT READY"),
and below 120 columns the table drops the columns an operator can read in
the detail line under it instead (id, method, server version); it never
overflows sideways.
"""

from __future__ import annotations

from datetime import UTC, datetime

from rich.text import Text
from textual.widgets import Static

from alfred_tui.control.backups import (
    BackupRow,
    CatalogView,
    CheckView,
    PitrReading,
    short_age,
)
from alfred_tui.units import format_bytes
from alfred_tui.widgets.filter_table import Column, FilterableTable, Row
from alfred_tui.widgets.styles import AnyApp, theme_colour

#: From this many columns on the tables show every column.
WIDE = 120
_PAD = 2
_SCROLLBAR = 2

SERVICE_KEY = "service:"
"""Row keys of the per-service rows (``service:postgres``); backups are keyed by id."""


def local_time(moment: datetime | None, seconds: bool = False) -> str:
    """``05-13 12:00`` in the machine's time zone (the operator's clock)."""
    if moment is None:
        return "-"
    return moment.astimezone().strftime("%m-%d %H:%M:%S" if seconds else "%m-%d %H:%M")


def full_time(moment: datetime | None) -> str:
    """``2025-05-13 12:00:00 UTC`` (exact, for the detail lines)."""
    if moment is None:
        return "-"
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def check_text(app: AnyApp, check: CheckView | None, now: float, wide: bool) -> Text:
    """``ok 2h05m`` / ``FAILED 3m`` / ``never``, coloured; with how when wide."""
    if check is None:
        return Text("never", style=theme_colour(app, "warning"), no_wrap=True)
    when = short_age(check.at, now)
    if check.ok:
        text = Text(f"ok {when}", style=theme_colour(app, "success"), no_wrap=True)
        if wide:
            text.append(f" ({check.how})", style="dim")
        return text
    text = Text(f"FAILED {when}", style=f"bold {theme_colour(app, 'error')}", no_wrap=True)
    if wide and check.problems:
        text.append(f" ({check.problems[0]})", style="dim")
    return text


def kind_text(app: AnyApp, row: BackupRow) -> Text:
    """``backup``, ``safety`` (accent), ``base`` (PITR), ``BROKEN`` (unreadable manifest)."""
    if row.error is not None:
        return Text("BROKEN", style=f"bold {theme_colour(app, 'error')}", no_wrap=True)
    if row.kind == "basebackup":
        return Text("base", style=theme_colour(app, "primary"), no_wrap=True)
    if row.safety_copy:
        return Text("safety", style=theme_colour(app, "accent"), no_wrap=True)
    return Text("backup", style="dim", no_wrap=True)


def _cell(text: str, style: str = "") -> Text:
    return Text(text, style=style, overflow="ellipsis", no_wrap=True)


def _rest(width: int, fixed: list[int], minimum: int) -> int:
    used = sum(fixed) + _PAD * (len(fixed) + 1) + _SCROLLBAR
    return max(minimum, width - used)


def service_count(rows: list[BackupRow]) -> str:
    """``2 backups, 1 safety, 1 base`` for a service's row (or how to take the first)."""
    if not rows:
        return "none yet: b backs up"
    dumps = len([r for r in rows if r.kind == "dump" and not r.safety_copy and r.error is None])
    parts = [f"{dumps} backup{'s' * (dumps != 1)}"]
    for label, count in (
        ("safety", len([r for r in rows if r.safety_copy])),
        ("base", len([r for r in rows if r.kind == "basebackup"])),
        ("unreadable", len([r for r in rows if r.error is not None])),
    ):
        if count:
            parts.append(f"{count} {label}")
    return ", ".join(parts)


def service_summary(rows: list[BackupRow], now: float) -> str:
    """``3 backups, 1 safety copy, newest 2h05m ago, 84.0 MiB`` (or how to take the first)."""
    if not rows:
        return "no backups yet: b takes one"
    dumps = [r for r in rows if r.kind == "dump" and not r.safety_copy and r.error is None]
    safety = [r for r in rows if r.safety_copy]
    base = [r for r in rows if r.kind == "basebackup"]
    parts = [f"{len(dumps)} backup{'s' * (len(dumps) != 1)}"]
    if safety:
        parts.append(f"{len(safety)} safety cop{'ies' if len(safety) != 1 else 'y'}")
    if base:
        parts.append(f"{len(base)} base")
    broken = len([r for r in rows if r.error is not None])
    if broken:
        parts.append(f"{broken} unreadable")
    newest = next((r for r in rows if r.created_at is not None), None)
    if newest is not None:
        parts.append(f"newest {short_age(newest.created_at, now)} ago")
    parts.append(format_bytes(sum(r.bytes or 0 for r in rows)))
    return ", ".join(parts)


class CatalogTable(FilterableTable):
    """One row per service, then its backups newest first."""

    def show(self, view: CatalogView, now: float, width: int) -> None:
        wide = width >= WIDE
        app = self.app
        if wide:
            fixed = [30, 11, 5, 9, 6, 36, 16]
            holds = _rest(width, fixed, 16)
            self.set_columns(
                [
                    Column("Backup", "id", 30),
                    Column("Taken", "taken", 11),
                    Column("Age", "age", 5),
                    Column("Size", "size", 9),
                    Column("Kind", "kind", 6),
                    Column("Verified", "check", 36),
                    Column("Server", "server", 16),
                    Column("Holds", "holds", holds),
                ]
            )
        else:
            fixed = [13, 5, 9, 6, 10]
            holds = _rest(width, fixed, 10)
            self.set_columns(
                [
                    Column("Backup", "id", 13),
                    Column("Age", "age", 5),
                    Column("Size", "size", 9),
                    Column("Kind", "kind", 6),
                    Column("Verified", "check", 10),
                    Column("Holds", "holds", holds),
                ]
            )
        rows: list[Row] = []
        for service in view.services:
            backups = view.of(service)
            heading = _cell(service, "bold")
            newest = next((r.created_at for r in backups if r.created_at is not None), None)
            age = _cell(short_age(newest, now) if newest else "", "bold")
            total = _cell(format_bytes(sum(r.bytes or 0 for r in backups)) if backups else "")
            count = _cell(service_count(backups), "dim" if not backups else "")
            blank = Text("")
            cells: tuple[str | Text, ...] = (
                (heading, blank, age, total, blank, blank, blank, count)
                if wide
                else (heading, age, total, blank, blank, count)
            )
            rows.append(Row(f"{SERVICE_KEY}{service}", cells))
            for row in backups:
                rows.append(Row(row.id, self._cells(app, row, now, wide)))
        self.set_rows(rows)

    @staticmethod
    def _cells(app: AnyApp, row: BackupRow, now: float, wide: bool) -> tuple[Text, ...]:
        # Every cell names the service, so the filter ("redis safety") finds backups too.
        if row.error is not None:
            label = _cell(f"  {row.id}" if wide else f"  {row.service}", "dim")
            error = _cell(f"unreadable: {row.error}", theme_colour(app, "error"))
            blank = Text("")
            if wide:
                return (label, blank, blank, blank, kind_text(app, row), blank, blank, error)
            return (label, blank, blank, kind_text(app, row), blank, error)
        age = _cell(short_age(row.created_at, now))
        size = _cell(row.size)
        holds = _cell("PITR base backup" if row.kind == "basebackup" else row.summary)
        check = check_text(app, row.check, now, wide)
        if wide:
            return (
                _cell(row.id),
                _cell(local_time(row.created_at)),
                age,
                size,
                kind_text(app, row),
                check,
                _cell(row.server_version, "dim"),
                holds,
            )
        return (_cell(f"  {local_time(row.created_at)}"), age, size, kind_text(app, row), check,
                holds)  # fmt: skip

    @property
    def selected_service(self) -> str | None:
        """The service of the row under the cursor (a service row or one of its backups)."""
        key = self.selected_key
        if key is None:
            return None
        if key.startswith(SERVICE_KEY):
            return key.removeprefix(SERVICE_KEY)
        # Backup ids start with their service's name (``redis-2025...``).
        return key.split("-", 1)[0]

    @property
    def selected_backup(self) -> str | None:
        """The id of the backup under the cursor, if the cursor is on a backup."""
        key = self.selected_key
        return None if key is None or key.startswith(SERVICE_KEY) else key


def backup_detail(row: BackupRow, now: float) -> Text:
    """Everything about one backup, for the line under the table."""
    text = Text(no_wrap=False, overflow="fold")
    text.append(row.id, style="bold")
    if row.error is not None:
        text.append(f"  unreadable: {row.error}\n{row.folder}")
        return text
    kind = {"basebackup": "  base backup for point-in-time recovery"}.get(row.kind, "")
    if row.safety_copy:
        kind = f"  safety copy ({row.safety_for})" if row.safety_for else "  safety copy"
    text.append(kind, style="dim")
    text.append(
        f"\ntaken {full_time(row.created_at)} ({short_age(row.created_at, now)} ago), "
        f"{row.size}, {row.summary}; {row.method}, from {row.server_version}"
    )
    check = row.check
    if check is None:
        text.append("; never verified since it was taken")
    elif check.ok:
        text.append(f"; verified {short_age(check.at, now)} ago ({check.how})")
    else:
        text.append(f"; last check FAILED: {'; '.join(check.problems)}")
    if row.protected:
        text.append("; kept by an unfinished restore")
    return text


class BackupDetail(Static):
    """The selected backup in full (the table's narrow layout leaves things out)."""

    DEFAULT_CSS = """
    BackupDetail { height: 3; padding: 0 1; }
    """

    def show(self, view: CatalogView, key: str | None, now: float) -> None:
        row = view.find(key) if key else None
        if row is not None:
            self.update(backup_detail(row, now))
            return
        service = key.removeprefix(SERVICE_KEY) if key else None
        if service:
            text = Text(no_wrap=False, overflow="fold")
            text.append(service, style="bold")
            text.append(f"  {service_summary(view.of(service), now)}\n", style="dim")
            text.append(f"catalog {view.root}", style="dim")
            self.update(text)
        else:
            self.update(Text(f"catalog {view.root}", style="dim"))


class CatalogNotes(Static):
    """Unfinished restores (journals left behind) and catalog errors, one line each."""

    DEFAULT_CSS = """
    CatalogNotes { height: auto; max-height: 4; padding: 0 1; }
    CatalogNotes.-empty { display: none; }
    """

    def show(self, view: CatalogView, readonly: bool) -> None:
        text = Text(no_wrap=False, overflow="fold")
        error = theme_colour(self.app, "error")
        for found in view.unfinished:
            if text:
                text.append("\n")
            text.append(f"{found.service} UNFINISHED RESTORE ", style=f"bold {error}")
            text.append(f"{found.mode} of {found.backup_id} stopped at '{found.step}'")
            if found.changed_data:
                text.append("; data may be half-restored")
            text.append(
                " (read-only session: cannot roll back)" if readonly else "; R: roll back or retry"
            )
        if view.error:
            if text:
                text.append("\n")
            text.append("catalog: ", style=f"bold {error}")
            text.append(view.error)
        self.set_class(not text, "-empty")
        self.update(text)


def pitr_text(app: AnyApp, reading: PitrReading | None, now: float, retry_in: float | None,
              wide: bool) -> Text:  # fmt: skip
    """PITR readiness in a few lines: verdict, settings, archive, window, problems."""
    text = Text(no_wrap=True, overflow="ellipsis")
    label = ("PITR ", "bold")
    if reading is None:
        text.append_text(Text.assemble(label, ("reading PostgreSQL's settings…", "dim")))
        return text
    if reading.disabled:
        text.append_text(Text.assemble(label, (reading.disabled, "dim")))
        return text
    if reading.interrupted:
        stopped = Text("INTERRUPTED", style=f"bold {theme_colour(app, 'error')}")
        text.append_text(Text.assemble(label, stopped, f" {reading.interrupted}\n"))
    if reading.error is not None:
        down = Text("DOWN", style=f"bold {theme_colour(app, 'error')}")
        retry = f" - retry in {retry_in:.0f} s" if retry_in else ""
        text.append_text(Text.assemble(label, down, f" {reading.error}{retry}"))
        return text
    view = reading.view
    assert view is not None
    verdict = (
        Text("READY", style=f"bold {theme_colour(app, 'success')}")
        if view.ready
        else Text("NOT READY", style=f"bold {theme_colour(app, 'warning')}")
    )
    text.append_text(Text.assemble(label, verdict))

    def field(name: str, value: str, style: str = "") -> None:
        text.append(f"  {name} ", style="dim")
        text.append(value or "-", style=style)

    field("wal_level", view.wal_level)
    field("archive_mode", view.archive_mode)
    field("archive_timeout", view.archive_timeout)
    if wide:
        field("base backups", str(view.base_backups))
        if view.failed_count:
            field("failed archivings", str(view.failed_count), f"bold {theme_colour(app, 'error')}")
    if view.in_recovery:
        text.append("  IN RECOVERY", style=f"bold {theme_colour(app, 'warning')}")
    text.append("\n")
    command = view.archive_command if view.archive_command not in ("", "(disabled)") else ""
    field("archive_command", command or "(empty)", "" if command else "dim")
    text.append("\n")
    newest = view.newest_wal or view.last_archived_wal
    newest_time = view.newest_wal_time or view.last_archived_time
    field("newest WAL", f"{newest} ({short_age(newest_time, now)} ago)" if newest else "-")
    if wide and view.archive_files is not None:
        field("in", f"{view.archive} ({view.archive_files} WAL files)")
    if newest or view.earliest:  # (two dashes share one line)
        text.append("\n")
    field("earliest recovery point", full_time(view.earliest) if view.earliest else "-")
    if wide and view.latest:
        field("latest", full_time(view.latest))
    for problem in view.problems[: 4 if wide else 2]:
        text.append("\n  - ", style=theme_colour(app, "warning"))
        text.append(problem)
    hidden = len(view.problems) - (4 if wide else 2)
    if hidden > 0:
        text.append(f"\n  (+{hidden} more: alfred-tui pitr status)", style="dim")
    return text


class PitrPanel(Static):
    """PostgreSQL's point-in-time-recovery readiness under the catalog."""

    DEFAULT_CSS = """
    PitrPanel { height: auto; max-height: 8; padding: 0 1; text-wrap: nowrap;
                text-overflow: ellipsis; }
    """

    def show(self, reading: PitrReading | None, now: float, retry_in: float | None,
             wide: bool) -> None:  # fmt: skip
        self.update(pitr_text(self.app, reading, now, retry_in, wide))
