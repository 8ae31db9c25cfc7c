"""The Troubleshoot pane: the spec's six common issues as live runbooks, with remedies.

Top: every runbook of the profile's services with its verdict and finding.
Below: the selected runbook in full (what it detects and why, the evidence,
the live diagnostics, what to do). The overview's ⚑ marker and its ``t``
key open this pane on the runbook that found the problem; the arrows (or a
click, or the palette) open any other by hand.

While the pane is shown, the selected runbook is run again and the others'
verdicts refreshed every ``REFRESH_SECONDS``; ``r`` does it now. ``a``
applies a remedy: the action first says exactly what it will do, a
confirmation dialog shows that plan, and only a yes applies it; the result
is a notification and the diagnostics are run again at once. Read-only
sessions have no ``a``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Static

from alfred_tui.control.remedy_plans import (
    EDITABLE,
    applicable,
    needs_sessions,
    outcome_message,
    outcome_plan,
)
from alfred_tui.control.session import Session
from alfred_tui.screens.base import PaletteCommand, PaneScreen
from alfred_tui.screens.io import report, run_io
from alfred_tui.screens.troubleshoot_dialogs import (
    ExplainDialog,
    PlanDialog,
    RemedyChooser,
    RemedyValuesDialog,
)
from alfred_tui.troubleshoot.model import Detection, Remedy, RunbookInfo, RunbookReport
from alfred_tui.widgets.runbook_view import RunbookList, info_renderable, report_renderable

#: A runbook reads more than a probe: the shown one is run again this often.
REFRESH_SECONDS = 10.0
#: The longest a runbook (or a round of detection) may take before it is given up.
RUN_TIMEOUT = 60.0


class RunbooksListed(Message):
    def __init__(self, generation: int, infos: list[RunbookInfo]) -> None:
        super().__init__()
        self.generation = generation
        self.infos = infos


class RunbookReported(Message):
    def __init__(self, generation: int, report: RunbookReport) -> None:
        super().__init__()
        self.generation = generation
        self.report = report


class RunbooksDetected(Message):
    def __init__(self, generation: int, detections: dict[str, Detection]) -> None:
        super().__init__()
        self.generation = generation
        self.detections = detections


class RemedyPlanned(Message):
    def __init__(
        self, generation: int, remedy: Remedy, parameters: dict[str, Any], outcome: Any
    ) -> None:
        super().__init__()
        self.generation = generation
        self.remedy = remedy
        self.parameters = parameters
        self.outcome = outcome


class RemedyApplied(Message):
    def __init__(self, generation: int, remedy: Remedy, outcome: Any) -> None:
        super().__init__()
        self.generation = generation
        self.remedy = remedy
        self.outcome = outcome


class TroubleshootPane(PaneScreen):
    """Runbooks: detection, diagnostics, remedies."""

    pane_id = "troubleshoot"
    MUTATING = frozenset({"apply_remedy"})

    BINDINGS: ClassVar[list[Any]] = [
        Binding(
            "a",
            "apply_remedy",
            "Apply remedy",
            id="apply_remedy",
            tooltip="Apply one of this runbook's remedies (shows the plan, asks first)",
        ),
        Binding(
            "e",
            "explain",
            "Explain",
            id="explain",
            tooltip="EXPLAIN a PostgreSQL statement or a pg_stat_statements entry",
        ),
        Binding(
            "enter",
            "read_report",
            "Read",
            id="read_report",
            show=False,
            tooltip="Move to the report (scroll it with the arrows)",
        ),
    ]

    DEFAULT_CSS = """
    TroubleshootPane #runbooks {
        height: auto; max-height: 8; border-bottom: solid $panel-lighten-1;
    }
    TroubleshootPane #report { height: 1fr; padding: 0 1; }
    TroubleshootPane #report:focus { background-tint: $foreground 3%; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.infos: list[RunbookInfo] = []
        self.detections: dict[str, Detection] = {}
        self.reports: dict[str, RunbookReport] = {}
        self.selected: str | None = None
        self._wanted: tuple[str | None, str | None] | None = None
        """(runbook, service) asked for before the list was known."""
        self._wake = asyncio.Event()
        self._running_runbook: str | None = None

    def compose_body(self) -> ComposeResult:
        yield RunbookList(id="runbooks")
        with VerticalScroll(id="report"):
            yield Static("", id="report-body")

    # --- loading ----------------------------------------------------------------

    def load(self, session: Session) -> None:
        super().load(session)
        self.infos, self.detections, self.reports = [], {}, {}
        self.selected = None
        self._wake = asyncio.Event()
        self._render_list()
        self.query_one("#report-body", Static).update("Loading the runbooks…")
        run_io(
            self,
            lambda: self._poll_loop(session),
            context="troubleshoot runbooks",
            timeout=None,
            group="poll",
            exclusive=True,
        )

    async def _poll_loop(self, session: Session) -> None:
        diagnostics = session.troubleshoot
        infos = await diagnostics.runbooks()
        self.post_message(RunbooksListed(session.generation, infos))
        while True:
            await self.in_view.wait()
            name = self.selected
            try:
                async with asyncio.timeout(RUN_TIMEOUT):
                    if name is not None:
                        self._running_runbook = name
                        result = await diagnostics.run(name)
                        self.post_message(RunbookReported(session.generation, result))
                    others = [info.name for info in infos if info.name != name]
                    detections = await diagnostics.detect(others)
                    self.post_message(RunbooksDetected(session.generation, detections))
            except Exception as exc:  # one failed round must not stop the pane
                report(self, exc, "troubleshoot runbooks")
            finally:
                self._running_runbook = None
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), max(REFRESH_SECONDS, 0.1))

    def _run_selected(self) -> None:
        """Run the selected runbook now, apart from the refresh loop (a new selection)."""
        session, name = self.session, self.selected
        if name is None:
            return

        async def work() -> None:
            self._running_runbook = name
            try:
                result = await session.troubleshoot.run(name)
            finally:
                self._running_runbook = None
            self.post_message(RunbookReported(session.generation, result))

        run_io(
            self, work, context=f"runbook {name}", timeout=RUN_TIMEOUT, group="run", exclusive=True
        )

    # --- messages ---------------------------------------------------------------

    def on_runbooks_listed(self, message: RunbooksListed) -> None:
        if message.generation != self.session.generation:
            return
        self.infos = message.infos
        self._render_list()
        wanted = self._wanted
        self._wanted = None
        if wanted is not None:
            self._select(self._resolve(*wanted))
        elif self.infos:
            self._select(self.infos[0].name)
        else:
            self.query_one("#report-body", Static).update(
                "The profile enables no service with a runbook."
            )

    def on_runbook_reported(self, message: RunbookReported) -> None:
        if message.generation != self.session.generation:
            return
        result = message.report
        self.reports[result.info.name] = result
        self.detections[result.info.name] = result.detection
        self._render_list()
        if result.info.name == self.selected:
            self._render_report()
        self.refresh_bindings()

    def on_runbooks_detected(self, message: RunbooksDetected) -> None:
        if message.generation != self.session.generation:
            return
        for name, detection in message.detections.items():
            if name != self.selected:
                self.detections[name] = detection
        self._render_list()

    # --- selection --------------------------------------------------------------

    def open_runbook(self, name: str | None, service: str | None = None) -> None:
        """Show runbook ``name`` (or ``service``'s first); called by the overview's ``t``."""
        if not self.infos:
            self._wanted = (name, service)
            return
        self._select(self._resolve(name, service))

    def _resolve(self, name: str | None, service: str | None) -> str | None:
        names = [info.name for info in self.infos]
        if name in names:
            return name
        if name is not None:
            self.notify(
                f"runbook {name} is not available for profile {self.session.profile_name}",
                title="Troubleshoot",
                severity="warning",
                markup=False,
            )
        return next((i.name for i in self.infos if i.service == service), self.selected)

    def _select(self, name: str | None) -> None:
        if name is None or not self.is_mounted:
            return
        table = self.query_one(RunbookList)
        if name in table.visible_keys:
            table.move_cursor(row=table.visible_keys.index(name), animate=False)
        if name == self.selected:
            return
        self.selected = name
        self.query_one("#report", VerticalScroll).scroll_home(animate=False)
        self._render_report()
        self.refresh_bindings()
        self._run_selected()

    @on(DataTable.RowHighlighted, "#runbooks")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        key = str(event.row_key.value or "")
        if key != self.query_one(RunbookList).selected_key:
            return  # stale: the cursor moved on (rows redrawn, a runbook opened from elsewhere)
        if key and key != self.selected:
            self._select(key)

    def action_open_runbook(self, name: str) -> None:
        self._select(name)

    def action_read_report(self) -> None:
        self.query_one("#report", VerticalScroll).focus()

    @on(DataTable.RowSelected, "#runbooks")
    def _row_selected(self) -> None:
        self.action_read_report()

    def action_refresh(self) -> None:
        self._wake.set()

    # --- rendering --------------------------------------------------------------

    def on_resize(self) -> None:
        self._render_list()

    def _render_list(self) -> None:
        if not self.is_mounted:
            return
        width = self.size.width or self.app.size.width
        self.query_one(RunbookList).show(self.infos, self.detections, self._running_runbook, width)

    def _apply_key(self) -> str:
        key = self.alfred.keymap.get("apply_remedy", "a").split(",")[0].strip() or "a"
        return self.app.get_key_display(Binding(key, "apply_remedy"))

    def _render_report(self) -> None:
        body = self.query_one("#report-body", Static)
        name = self.selected
        info = next((i for i in self.infos if i.name == name), None)
        if info is None:
            return
        result = self.reports.get(info.name)
        if result is None:
            body.update(info_renderable(self.app, info))
            return
        body.update(
            report_renderable(
                self.app,
                result,
                can_apply=not self.session.readonly,
                apply_key=self._apply_key(),
            )
        )

    @property
    def report(self) -> RunbookReport | None:
        """The selected runbook's latest report."""
        return self.reports.get(self.selected or "")

    # --- palette and availability -------------------------------------------------

    def commands(self) -> Iterable[PaletteCommand]:
        yield PaletteCommand("Run the runbook again", "Refresh its diagnostics now", "refresh")
        for info in self.infos:
            yield PaletteCommand(
                f"Open runbook: {info.title}", info.symptoms, f"open_runbook('{info.name}')"
            )
        current = self.report
        if current is not None:
            for remedy in current.remedies:
                if applicable(remedy) and remedy.action != "explain":
                    yield PaletteCommand(
                        f"Apply: {remedy.title}",
                        remedy.what_it_does,
                        f"apply_remedy('{remedy.id}')",
                        True,
                    )
        if self.session.profile.postgres is not None:
            yield PaletteCommand(
                "Explain a PostgreSQL statement…", "EXPLAIN by query id or SQL", "explain"
            )

    def why_not(self, action: str) -> str | None:
        if action == "explain" and self.session.profile.postgres is None:
            return f"profile {self.session.profile_name} has no PostgreSQL"
        return None

    # --- remedies ---------------------------------------------------------------

    def action_apply_remedy(self, remedy_id: str = "") -> None:
        if self.blocked("apply_remedy"):
            return
        current = self.report
        if current is None:
            self.notify(
                "wait for the runbook to finish, then choose a remedy",
                title="Troubleshoot",
                markup=False,
            )
            return
        options = [r for r in current.remedies if applicable(r)]
        if remedy_id:
            options = [r for r in options if r.id == remedy_id]
        if not options:
            self.notify(
                "nothing here that alfred-tui applies: the remedies under 'What you can do' "
                "are done by hand (each says how)",
                title=current.info.title,
                markup=False,
            )
            return
        if len(options) == 1:
            self._start_remedy(options[0])
            return

        def chosen(remedy: Remedy | None) -> None:
            if remedy is not None:
                self._start_remedy(remedy)

        self.app.push_screen(RemedyChooser(current.info.title, options), chosen)

    def _start_remedy(self, remedy: Remedy) -> None:
        if remedy.action == "explain":
            query_id = remedy.parameters.get("queryid")
            self.action_explain(query_id if isinstance(query_id, int) else None)
            return
        if needs_sessions(remedy):
            key = "K" if remedy.action == "terminate" else "C"
            if self.goto_pane("activity") is not None:
                self.notify(
                    f"choose the session (arrows, / filters), then {key} to "
                    f"{remedy.action} it; it asks first",
                    title=remedy.title,
                    markup=False,
                )
            return
        if remedy.action in EDITABLE:

            def edited(parameters: dict[str, Any] | None) -> None:
                if parameters is not None:
                    self._plan(remedy, parameters)

            self.app.push_screen(RemedyValuesDialog(remedy), edited)
            return
        self._plan(remedy, dict(remedy.parameters))

    def _plan(self, remedy: Remedy, parameters: dict[str, Any]) -> None:
        """Ask the action what it would do (nothing changes yet)."""
        if self.blocked("apply_remedy"):
            return
        session = self.session

        async def work() -> None:
            outcome = await session.troubleshoot.perform(remedy.action, parameters, confirm=False)
            self.post_message(RemedyPlanned(session.generation, remedy, parameters, outcome))

        run_io(self, work, context=f"plan: {remedy.title}", timeout=30, group="remedy")

    def on_remedy_planned(self, message: RemedyPlanned) -> None:
        if message.generation != self.session.generation:
            return

        def decided(confirmed: bool | None) -> None:
            if confirmed and message.generation == self.session.generation:
                self._apply(message.remedy, message.parameters)

        plan = outcome_plan(message.outcome, message.remedy.title)
        self.app.push_screen(PlanDialog(plan), decided)

    def _apply(self, remedy: Remedy, parameters: dict[str, Any]) -> None:
        if self.blocked("apply_remedy"):
            return
        session = self.session

        async def work() -> None:
            outcome = await session.troubleshoot.perform(remedy.action, parameters, confirm=True)
            self.post_message(RemedyApplied(session.generation, remedy, outcome))

        run_io(self, work, context=remedy.title, timeout=60, group="remedy")

    def on_remedy_applied(self, message: RemedyApplied) -> None:
        if message.generation != self.session.generation:
            return
        self.notify(
            outcome_message(message.outcome),
            title=f"Done: {message.remedy.title}",
            timeout=12,
            markup=False,
        )
        self._run_selected()
        self._wake.set()

    # --- EXPLAIN ----------------------------------------------------------------

    def action_explain(self, query_id: int | None = None) -> None:
        if self.blocked("explain"):
            return
        if query_id is None:
            current = self.reports.get("postgres-slow-queries")
            remedy = current.remedy("explain") if current else None
            found = remedy.parameters.get("queryid") if remedy else None
            query_id = found if isinstance(found, int) else None
        self.app.push_screen(ExplainDialog(self.session, query_id))
