"""The Audit pane: the spec's Security section as findings, each with its fix.

Top: the verdict and counts. Then the findings, critical first; the one
under the cursor is shown in full below: what is wrong, why it matters, how
to fix it, the profile YAML that fixes it, and where (the profile's
``file:line``, the live server, or the manifest). ``c`` switches the list
to the checks that ran (and those that could not, with why); on a tall
terminal both are shown.

Live checks (Redis without a password, PostgreSQL ssl and pg_hba) run when
the servers answer; one that does not leaves its check "unknown" with the
reason rather than failing the pane. The audit runs when the pane is first
shown, after a switch of target, and on ``r``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Static

from alfred_tui.audit.model import AuditReport
from alfred_tui.control.session import Session
from alfred_tui.screens.base import PaletteCommand, PaneScreen
from alfred_tui.screens.io import run_io
from alfred_tui.widgets.audit_view import (
    ChecksTable,
    FindingsTable,
    check_status,
    finding_renderable,
    summary_text,
)

#: The audit reaches every server under its own timeout; this bounds the whole run.
AUDIT_TIMEOUT = 60.0
#: From this many rows on, the checks are shown under the findings.
TALL = 36


class AuditDone(Message):
    def __init__(self, generation: int, report: AuditReport) -> None:
        super().__init__()
        self.generation = generation
        self.report = report


class AuditPane(PaneScreen):
    """Security findings with what, why and how to fix; the checks behind them."""

    pane_id = "audit"

    BINDINGS: ClassVar[list[Any]] = [
        Binding(
            "c",
            "toggle_checks",
            "Checks",
            id="audit_checks",
            tooltip="Show the checks that ran instead of the findings (and back)",
        ),
    ]

    DEFAULT_CSS = """
    AuditPane #audit-summary { height: auto; padding: 0 1; background: $boost; }
    AuditPane #findings { height: auto; max-height: 45%; min-height: 4; }
    AuditPane #checks { height: 1fr; display: none; border-top: solid $panel-lighten-1; }
    AuditPane #finding-detail { height: 1fr; padding: 0 1; border-top: solid $panel-lighten-1; }
    AuditPane.-checks #findings, AuditPane.-checks #finding-detail { display: none; }
    AuditPane.-checks #checks { display: block; border-top: none; }
    AuditPane #check-detail { display: none; height: auto; padding: 0 1; }
    AuditPane.-checks #check-detail { display: block; border-top: solid $panel-lighten-1; }
    AuditPane.-tall #checks { display: block; border-top: solid $panel-lighten-1; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.report: AuditReport | None = None
        self.running = False

    def compose_body(self) -> ComposeResult:
        yield Static("", id="audit-summary")
        yield FindingsTable(id="findings")
        with VerticalScroll(id="finding-detail"):
            yield Static("", id="finding-body")
        yield ChecksTable(id="checks")
        yield Static("", id="check-detail")

    # --- running the audit -------------------------------------------------------

    def load(self, session: Session) -> None:
        super().load(session)
        self.report = None
        self._redraw()
        self._run(session)

    def _run(self, session: Session) -> None:
        self.running = True
        self._render_summary()

        async def work() -> None:
            try:
                result = await session.troubleshoot.audit()
            finally:
                self.running = False
            self.post_message(AuditDone(session.generation, result))

        run_io(
            self,
            work,
            context="security audit",
            timeout=AUDIT_TIMEOUT,
            group="audit",
            exclusive=True,
        )

    def on_audit_done(self, message: AuditDone) -> None:
        if message.generation != self.session.generation:
            return
        self.report = message.report
        self._redraw()

    def action_refresh(self) -> None:
        if not self.running:
            self._run(self.session)

    # --- rendering ----------------------------------------------------------------

    def on_resize(self, event: events.Resize) -> None:
        self.set_class(event.size.height >= TALL, "-tall")
        self._redraw()

    def _redraw(self) -> None:
        if not self.is_mounted:
            return
        width = self.size.width or self.app.size.width
        if self.report is not None:
            self.query_one(FindingsTable).show(self.report, width)
            self.query_one(ChecksTable).show(self.report, width)
        self._render_summary()
        self._render_detail()
        self._render_check()

    def _render_summary(self) -> None:
        summary = self.query_one("#audit-summary", Static)
        if self.report is None:
            summary.update(Text("Auditing the profile and the live servers…", style="italic"))
            return
        text = summary_text(self.app, self.report)
        if self.running:
            text.append("  (auditing again…)", style="italic")
        summary.update(text)

    def _render_detail(self) -> None:
        body = self.query_one("#finding-body", Static)
        table = self.query_one(FindingsTable)
        key = table.selected_key
        finding = table.findings.get(key) if key else None
        if finding is None:
            if self.report is not None and not self.report.findings:
                body.update(
                    Text(
                        "Nothing to fix: every check that ran passed. The checks that "
                        "could not run (if any) are listed with c.",
                        style="dim",
                    )
                )
            else:
                body.update("")
            return
        body.update(finding_renderable(self.app, finding))

    @on(DataTable.RowHighlighted, "#findings")
    def _highlighted(self) -> None:
        self._render_detail()

    @on(DataTable.RowHighlighted, "#checks")
    def _check_highlighted(self) -> None:
        self._render_check()

    def _render_check(self) -> None:
        """The highlighted check in words: the table cuts its note at 80 columns."""
        detail = self.query_one("#check-detail", Static)
        key = self.query_one(ChecksTable).selected_key
        check = next((c for c in self.report.checks if c.id == key), None) if self.report else None
        if check is None:
            detail.update("")
            return
        text = Text.assemble((check.title, "bold"), f"  ({check.source}) ")
        text.append_text(check_status(self.app, check))
        if check.findings:
            text.append(f", {len(check.findings)} finding(s)")
        if check.note:
            text.append(f"\n{check.note}", style="dim")
        detail.update(text)

    # --- checks -------------------------------------------------------------------

    def action_toggle_checks(self) -> None:
        showing = not self.has_class("-checks")
        self.set_class(showing, "-checks")
        target = self.query_one(ChecksTable if showing else FindingsTable)
        target.focus()

    def commands(self) -> Iterable[PaletteCommand]:
        yield PaletteCommand("Run the audit again", "Profile and live checks", "refresh")
        yield PaletteCommand(
            "Show the audit's checks" if not self.has_class("-checks") else "Show the findings",
            "Checks that ran, and why some could not",
            "toggle_checks",
        )
