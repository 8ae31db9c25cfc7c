"""The guided restore's widgets: the step list, a step's detail, the outcome, the backup choice.

Drawn from :class:`~alfred_tui.control.restore.RestoreView` only. Every
status is an icon *and* a word (``✓ done``, ``✗ failed``), so a monochrome
terminal or a colour-blind operator reads it as well.
"""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import App
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from alfred_tui.control.backups import BackupRow, short_age
from alfred_tui.control.restore import RestoreView, StepView
from alfred_tui.units import format_bytes
from alfred_tui.widgets.backup_tables import check_text, kind_text, local_time
from alfred_tui.widgets.filter_table import Column, FilterableTable, Row
from alfred_tui.widgets.styles import theme_colour

ICONS = {"pending": "○", "running": "▶", "done": "✓", "failed": "✗", "skipped": "-"}
_ROLES = {"running": "warning", "done": "success", "failed": "error", "skipped": ""}

#: From this many columns on the backup choice shows every column.
WIDE = 120


def status_style(app: App[Any], status: str) -> str:
    role = _ROLES.get(status, "")
    if not role:
        return "dim"
    bold = "bold " if status in ("running", "failed") else ""
    return bold + theme_colour(app, role)


def step_prompt(app: App[Any], step: StepView) -> Text:
    """``✓ 2 Pre-flight`` in the colour of its status."""
    style = status_style(app, step.status)
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(ICONS.get(step.status, "?"), style=style)
    text.append(f" {step.number} ", style="dim")
    text.append(step.title, style=style if step.status != "pending" else "dim")
    return text


def progress_line(step: StepView) -> str:
    """``sha256 postgres.dump: 12.0 MiB of 40.0 MiB``, or the step's words."""
    item = step.progress
    if item is None:
        return ""
    if item.unit == "bytes" and item.current is not None:
        total = f" of {format_bytes(item.total)}" if item.total else ""
        return f"{item.step}: {format_bytes(item.current)}{total}"
    if item.total and item.current is not None:
        return f"{item.step} ({item.current}/{item.total})"
    return item.step


def _lines(lines: list[str] | tuple[str, ...], style: str = "", last_style: str = "") -> Table:
    """Messages as a list with a hanging indent (a wrapped line stays under its bullet)."""
    table = Table(box=None, show_header=False, pad_edge=False, padding=(0, 1, 0, 0), expand=True)
    table.add_column(width=1, no_wrap=True, style="dim")
    table.add_column(ratio=1, overflow="fold")
    for index, line in enumerate(lines):
        is_last = index == len(lines) - 1
        table.add_row("•", Text(line, style=last_style if is_last and last_style else style))
    return table


def step_detail(app: App[Any], view: RestoreView, step: StepView) -> Group:
    """What one step said, under a heading with its status and duration."""
    heading = Text(no_wrap=False, overflow="fold")
    heading.append(f"{step.number} {step.title}", style="bold")
    word = "waiting for you" if step.id == "confirm" and step.status == "running" else step.status
    status = f"  {ICONS.get(step.status, '')} {word}"
    if step.duration is not None:
        status += f" in {step.duration:.1f} s"
    heading.append(status, style=status_style(app, step.status))
    parts: list[Any] = [heading]
    if step.id == "confirm" and view.waiting_for_confirmation:
        prompt = Text()
        prompt.append(f"Type {view.service} below, then Enter, to go ahead. ", style="bold")
        prompt.append("Esc cancels; nothing has been changed yet.", style="dim")
        parts.append(prompt)
        return Group(*parts)
    if not step.messages and step.status in ("pending", "running"):
        parts.append(Text(_pending_hint(step.id), style="dim"))
    else:
        failed = theme_colour(app, "error") if step.status == "failed" else ""
        parts.append(_lines(step.messages, last_style=failed))
    return Group(*parts)


def _pending_hint(step_id: str) -> str:
    return {
        "backup": "Choose the backup to restore.",
        "preflight": "SHA-256 against the manifest, the engine's own tool, versions.",
        "plan": "What will be replaced, what is kept, and the safety copy taken first.",
        "confirm": "Type the service name to go ahead.",
        "safety_copy": "A normal backup of the current data, marked as a safety copy.",
        "restore": "The backup is put in place, with progress.",
        "verify": "The counts in the manifest are compared with the restored database.",
    }.get(step_id, "")


def outcome_text(app: App[Any], view: RestoreView, stopped: str = "") -> Text:
    """One or two lines on how the restore ended and what the operator can do next."""
    good = f"bold {theme_colour(app, 'success')}"
    bad = f"bold {theme_colour(app, 'error')}"
    warn = f"bold {theme_colour(app, 'warning')}"
    text = Text(no_wrap=False, overflow="fold")
    if stopped:
        text.append("STOPPED ", style=bad)
        text.append(stopped)
        return text
    outcome = view.outcome
    if outcome == "pending":
        return text
    if outcome == "restored":
        text.append("RESTORED ", style=good)
        verify = view.step("verify").messages
        text.append(verify[-1] if verify else f"{view.backup_id} restored and verified")
        if view.safety_id:
            text.append(f"; the data from before is kept in {view.safety_id}", style="dim")
        return text
    if outcome == "nothing_to_do":
        text.append("NOTHING TO DO ", style=good)
        text.append("nothing had been changed; the unfinished restore was forgotten")
        return text
    if outcome == "refused":
        confirm = view.step("confirm").messages
        text.append("REFUSED ", style=warn)
        text.append(confirm[-1] if confirm else "nothing was changed")
        return text
    if outcome == "interrupted_found":
        text.append("UNFINISHED RESTORE ", style=bad)
        text.append(
            view.unfinished.describe() if view.unfinished else "an earlier restore did not finish"
        )
        text.append("; roll back or retry it first", style="dim")
        return text
    titles = {
        "preflight_failed": "PRE-FLIGHT FAILED",
        "safety_failed": "NO SAFETY COPY",
        "restore_failed": "RESTORE FAILED",
        "verify_failed": "VERIFICATION FAILED",
    }
    text.append(f"{titles.get(outcome, outcome.upper())} ", style=bad)
    failed = [s for s in view.steps if s.status == "failed"]
    if outcome == "verify_failed" and len(view.step("verify").messages) > 1:
        # The counts that differ say more than the closing sentence (which names the CLI).
        mismatches = view.step("verify").messages[:-1]
        text.append(mismatches[0])
        if len(mismatches) > 1:
            text.append(f" (+{len(mismatches) - 1} more)", style="dim")
    elif failed and failed[0].messages:
        text.append(failed[0].messages[-1])
    if view.changed_nothing:
        text.append(" - nothing was changed", style="dim")
    if view.undo_offered:
        text.append(f"\nu restores the safety copy {view.safety_id}", style=warn)
    return text


class StepList(OptionList):
    """The seven steps with their status icons; moving the cursor shows a step's detail."""

    def __init__(self, view: RestoreView, *, id: str | None = None) -> None:
        super().__init__(*(Option(step.title, id=step.id) for step in view.steps), id=id)

    def show(self, view: RestoreView, follow: bool) -> None:
        for index, step in enumerate(view.steps):
            self.replace_option_prompt_at_index(index, step_prompt(self.app, step))
        if follow or self.highlighted is None:
            current = [s.id for s in view.steps].index(view.current.id)
            if self.highlighted != current:
                self.highlighted = current


class BackupChoice(FilterableTable):
    """The restorable backups of one service, newest first."""

    def show(self, rows: list[BackupRow], now: float, width: int) -> None:
        app = self.app
        wide = width >= WIDE
        if wide:
            columns = [
                Column("Backup", "id", 27),
                Column("Taken", "taken", 11),
                Column("Age", "age", 6),
                Column("Size", "size", 9),
                Column("Kind", "kind", 6),
                Column("Verified", "check", 34),
            ]
        else:
            columns = [
                Column("Taken", "taken", 11),
                Column("Age", "age", 6),
                Column("Size", "size", 9),
                Column("Kind", "kind", 6),
                Column("Verified", "check", 10),
            ]
        used = sum(c.width or 0 for c in columns) + 2 * (len(columns) + 1) + 2
        holds = width - used
        if holds >= 12:
            columns.append(Column("Holds", "holds", holds))
        self.set_columns(columns)
        table_rows = []
        for row in rows:
            cells: list[str | Text] = []
            if wide:
                cells.append(Text(row.id, no_wrap=True))
            cells += [
                Text(local_time(row.created_at), no_wrap=True),
                Text(short_age(row.created_at, now), no_wrap=True),
                Text(row.size, no_wrap=True),
                kind_text(app, row),
                check_text(app, row.check, now, wide),
            ]
            if holds >= 12:
                cells.append(Text(row.summary, no_wrap=True, overflow="ellipsis"))
            table_rows.append(Row(row.id, tuple(cells)))
        self.set_rows(table_rows)
