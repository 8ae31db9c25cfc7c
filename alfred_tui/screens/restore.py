"""The guided Restore screen: the CLI's restore flow, one step at a time, on screen.

Opened from the Backups pane (``R`` on a backup, or "Restore <service>…"
in the palette). The left column lists the seven steps with status icons;
the right shows, first, the backups to choose from (step 1), then the
detail of the step under the cursor, which follows the running step::

    1 Backup        choose the service and the backup (age, size, verified)
    2 Pre-flight    SHA-256, the engine's own tool, versions: a failure stops here
    3 Plan          what is replaced, what is kept, the safety copy taken first
    4 Confirmation  type the service name (the button stays disabled until it matches)
    5 Safety copy   then 6 Restore, with progress; Esc cannot interrupt them
    7 Verification  the manifest's counts against the restored database;
                    on a mismatch ``u`` brings the safety copy back

Opening the screen reads the restore journals: an unfinished restore (a
killed process, a database that died midway) is offered at once, to roll
back to its safety copy or to retry. Every step runs in a worker under a
timeout (:func:`~alfred_tui.screens.io.run_io`); the flow itself is
:class:`~alfred_tui.control.restore.RestoreDriver`, which refuses a
read-only session at step 4 whatever the screen does.

Why one module of this size: one screen walks the seven steps of one
restore; its handlers move one state (the phase) and are read together. The
flow's rules live in control/restore.py, the step list and its details in
widgets/restore_steps.py.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import (
    Button,
    DataTable,
    Input,
    Label,
    OptionList,
    RadioButton,
    RadioSet,
    Static,
)

from alfred_tui.config.models import service_kind
from alfred_tui.control.backups import BackupsSource, CatalogView, Job, JobKind
from alfred_tui.control.restore import (
    RestoreDriver,
    RestoreMode,
    RestoreView,
    UnfinishedRestore,
    pending_steps,
)
from alfred_tui.screens.backup_messages import (
    RestoreCatalogRead,
    RestoreChanged,
    RestorePhaseEnded,
    UndoReady,
)
from alfred_tui.screens.dialogs import Dialog
from alfred_tui.screens.io import poster, run_io
from alfred_tui.widgets.action_progress import ActionProgress
from alfred_tui.widgets.backup_tables import backup_detail
from alfred_tui.widgets.footer import PaneFooter
from alfred_tui.widgets.header import TargetHeader
from alfred_tui.widgets.restore_steps import (
    BackupChoice,
    StepList,
    outcome_text,
    step_detail,
)

if TYPE_CHECKING:
    from alfred_tui.screens.base import PaneScreen

#: Steps 1-3: checksums of big files and the engine's read-back take time.
PREPARE_TIMEOUT = 3600.0
#: Steps 5-7: a safety copy, the restore and the count of a large database.
EXECUTE_TIMEOUT = 6 * 3600.0

CHOOSE, PREPARE, CONFIRM, EXECUTE, ENDED = "choose", "prepare", "confirm", "execute", "ended"


class JournalOfferDialog(Dialog):
    """An unfinished restore was found: roll back to its safety copy, retry it, or not now."""

    BINDINGS: ClassVar[list[Any]] = [
        Binding("b", "choose('rollback')", "Roll back", id="journal_rollback"),
        Binding("t", "choose('resume')", "Retry", id="journal_retry"),
    ]

    def __init__(self, unfinished: UnfinishedRestore, readonly: bool) -> None:
        super().__init__(classes="-destructive")
        self.unfinished = unfinished
        self.readonly = readonly

    def compose(self) -> ComposeResult:
        found = self.unfinished
        rollback = "Roll back (b)" if found.changed_data else "Forget it (b)"
        with Vertical(classes="dialog"):
            yield Label(Text(f"Unfinished restore of {found.service}"), classes="dialog-title")
            yield Static(Text(found.describe() + "."), classes="plan-line")
            yield Static(
                Text(
                    f"Roll back: restore the safety copy {found.safety_id}, the data from "
                    "before that restore."
                    if found.changed_data
                    else "Forget it: nothing had been changed; the journal is removed."
                ),
                classes="plan-line",
            )
            yield Static(
                Text(f"Retry: restore {found.backup_id} again (no new safety copy)."),
                classes="plan-line",
            )
            yield Static(
                Text("Either goes through pre-flight, plan and the typed confirmation."),
                classes="note",
            )
            yield Static(Text(f"started {found.started_at}; journal {found.path}"), classes="note")
            if self.readonly:
                yield Label(
                    Text("Read-only session: roll back or retry from one without --readonly."),
                    classes="error",
                )
            with Horizontal(classes="buttons"):
                yield Button("Not now", id="cancel")
                yield Button("Retry (t)", id="resume", disabled=self.readonly)
                yield Button(rollback, id="rollback", variant="error", disabled=self.readonly)

    def on_mount(self) -> None:
        self.query_one("#cancel" if self.readonly else "#rollback", Button).focus()

    def action_choose(self, mode: str) -> None:
        if self.readonly:
            self.notify(
                "roll back and retry change data: this session was opened with --readonly",
                title="Read-only",
                severity="warning",
                markup=False,
            )
            return
        self.dismiss(mode)

    @on(Button.Pressed, "#rollback")
    def _rollback(self) -> None:
        self.action_choose("rollback")

    @on(Button.Pressed, "#resume")
    def _resume(self) -> None:
        self.action_choose("resume")


class RestoreScreen(Screen[None]):
    """A guided restore of one service, step by step."""

    BINDINGS: ClassVar[list[Any]] = [
        Binding("escape", "back", "Back", id="restore_back", tooltip="Cancel or close"),
        Binding(
            "u",
            "undo",
            "Restore safety copy",
            id="restore_undo",
            tooltip="Bring back the data from before the failed restore",
        ),
        Binding("n", "again", "Another restore", id="restore_again"),
        Binding("j", "offer", "Unfinished restore", id="restore_offer"),
        Binding("q", "quit_guarded", "Quit", show=False, id="restore_quit"),
    ]

    def __init__(
        self,
        pane: PaneScreen,
        source: BackupsSource,
        service: str,
        backup_id: str | None = None,
    ) -> None:
        super().__init__(id="restore-screen")
        self.pane = pane
        self.source = source
        self.session = pane.session
        self.service = service
        self.preselect = backup_id
        self.catalog: CatalogView | None = None
        self.driver: RestoreDriver | None = None
        self.view = RestoreView(service, steps=pending_steps(), readonly=self.session.readonly)
        self.phase = CHOOSE
        self.stopped = ""
        """Why a phase stopped without an outcome (an internal error, a timeout)."""
        self._token = 0
        self._follow = True
        self._stale = False
        self._progress_shown = ""
        self._scrolled_to: tuple[str, str, int] = ("", "", 0)

    # --- layout ---------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield TargetHeader(id="target")
        yield Static("", id="restore-title")
        with Horizontal(id="restore-main"):
            yield StepList(self.view, id="steps")
            with Vertical(id="restore-right"):
                with Vertical(id="chooser"):
                    with RadioSet(id="restore-service"):
                        for service in self.session.services:
                            yield RadioButton(service, value=service == self.service, name=service)
                    yield BackupChoice(id="restore-backups")
                    yield Static("", id="choice-detail")
                with VerticalScroll(id="step-detail"):
                    for step in self.view.steps:
                        yield Static("", id=f"detail-{step.id}", classes="step-section")
        yield Static("", id="restore-outcome")
        yield ActionProgress(id="restore-progress")
        with Horizontal(id="confirm-bar"):
            yield Label("", id="confirm-label")
            yield Input(id="typed", compact=True, placeholder="service name")
            yield Button("Cancel", id="confirm-cancel", compact=True)
            yield Button("Restore", id="confirm", variant="error", compact=True, disabled=True)
        yield PaneFooter()

    def on_mount(self) -> None:
        app: Any = self.app
        self.query_one(TargetHeader).show(
            self.session.profile_name,
            self.session.backend_name,
            app.target_where,
            self.session.readonly,
        )
        self.call_after_refresh(self._show)  # is_mounted turns true after this handler
        self.read_catalog(offer=True)

    # --- the catalog and the journal offer ----------------------------------------------

    def read_catalog(self, offer: bool = False) -> None:
        source = self.source

        async def read() -> None:
            self.post_message(RestoreCatalogRead(await source.catalog(), offer))

        run_io(self, read, context="read the backup catalog", timeout=30, group="catalog")

    def on_restore_catalog_read(self, message: RestoreCatalogRead) -> None:
        self.catalog = message.view
        self._show_choice()
        if self.phase == CHOOSE:
            self.query_one(BackupChoice).focus()
            if message.offer:
                self.action_offer()

    def action_offer(self) -> None:
        """Offer to roll back or retry the unfinished restore (this service's first)."""
        if self.catalog is None or not self.catalog.unfinished or self.phase not in (CHOOSE, ENDED):
            return
        found = self.catalog.unfinished_for(self.service) or self.catalog.unfinished[0]

        offered: tuple[RestoreMode, ...] = ("rollback", "resume")

        def chosen(mode: str | None) -> None:
            if mode in offered:
                self.begin(mode, found.service, None)

        self.app.push_screen(JournalOfferDialog(found, self.session.readonly), chosen)

    # --- step 1: choosing -------------------------------------------------------------

    def _choices(self) -> list[Any]:
        if self.catalog is None:
            return []
        return [row for row in self.catalog.of(self.service) if row.restorable]

    def _show_choice(self) -> None:
        if not self.is_mounted:
            return
        table = self.query_one(BackupChoice)
        width = self.query_one("#restore-right").size.width or (self.app.size.width - 20)
        rows = self._choices()
        table.show(rows, self.session.clock(), width)
        if self.preselect and self.preselect in table.visible_keys:
            table.move_cursor(row=table.visible_keys.index(self.preselect), animate=False)
            self.preselect = None
        self._show_choice_detail()

    def _show_choice_detail(self) -> None:
        detail = self.query_one("#choice-detail", Static)
        key = self.query_one(BackupChoice).selected_key
        row = self.catalog.find(key) if self.catalog and key else None
        if row is not None:
            detail.update(backup_detail(row, self.session.clock()))
        elif self.catalog is None:
            detail.update(Text("reading the catalog…", style="dim"))
        else:
            detail.update(
                Text(
                    f"No {self.service} backup to restore in {self.catalog.root}; "
                    "Esc, then b on the Backups pane takes one.",
                    style="dim",
                )
            )

    @on(RadioSet.Changed, "#restore-service")
    def _service_changed(self, event: RadioSet.Changed) -> None:
        if self.phase != CHOOSE or event.pressed.name is None:
            return
        self.service = event.pressed.name
        self.view = RestoreView(self.service, steps=pending_steps(), readonly=self.session.readonly)
        self._show()

    @on(DataTable.RowHighlighted, "#restore-backups")
    def _choice_highlighted(self) -> None:
        self._show_choice_detail()

    @on(DataTable.RowSelected, "#restore-backups")
    def _choice_selected(self) -> None:
        key = self.query_one(BackupChoice).selected_key
        if key is not None and self.phase == CHOOSE:
            self.begin("restore", self.service, key)

    # --- the flow -----------------------------------------------------------------------

    @property
    def job(self) -> Job | None:
        """The restore holding its lock (from pre-flight until it ends)."""
        if self.phase in (PREPARE, CONFIRM, EXECUTE):
            return Job(JobKind.RESTORE, f"the restore of {self.service}", self.service)
        return None

    def begin(self, mode: RestoreMode, service: str, reference: str | None) -> None:
        """Start steps 1-3 on ``reference`` (the journal's backup for a resume or rollback)."""
        if self.phase not in (CHOOSE, ENDED):
            return
        self._token += 1
        token = self._token
        self.service = service
        self.stopped = ""
        self._follow = True
        changed: Callable[[RestoreView], None] = poster(
            self, lambda view: RestoreChanged(view, token)
        )
        driver = self.source.restore(service_kind(service), reference, mode, changed)
        self.driver = driver
        self._clear_confirmation()
        self.view = driver.view()
        self.phase = PREPARE
        self._show()

        async def prepare() -> None:
            try:
                if not await driver.prepare():
                    await driver.close()
            except BaseException:
                with contextlib.suppress(Exception):
                    await driver.close()
                raise
            finally:
                self.post_message(RestorePhaseEnded(PREPARE, token))

        run_io(
            self,
            prepare,
            context=f"restore {service}: pre-flight",
            timeout=PREPARE_TIMEOUT,
            group="flow",
            exclusive=True,
        )

    def on_restore_changed(self, message: RestoreChanged) -> None:
        if message.token != self._token:
            return  # a cancelled flow's last words
        self.view = message.view
        self._show()

    def on_restore_phase_ended(self, message: RestorePhaseEnded) -> None:
        if message.token != self._token or self.driver is None:
            return
        view = self.view = self.driver.view()
        if message.phase == PREPARE:
            if view.waiting_for_confirmation:
                self.phase = CONFIRM
            else:
                self.phase = ENDED
                if not view.finished:
                    self.stopped = (
                        "before anything was changed (see the notification); "
                        "n starts another restore"
                    )
        else:
            self.phase = ENDED
            if not view.finished:
                self.stopped = (
                    "while changing data (see the notification); the restore journal stays: "
                    "reopen the Restore screen to roll back or retry"
                )
            self._notify_outcome(view)
        self._show()
        if self.phase == CONFIRM:
            self.query_one("#typed", Input).focus()
        elif view.outcome == "interrupted_found":
            self.read_catalog(offer=True)
        self.pane.action_refresh()

    def _notify_outcome(self, view: RestoreView) -> None:
        if view.succeeded:
            self.notify(
                f"{view.service} restored from {view.backup_id} and verified",
                title="Restored",
                markup=False,
            )
        elif view.finished:
            self.notify(
                outcome_text(self.app, view).plain,
                title="Restore failed",
                severity="error",
                timeout=20,
                markup=False,
            )

    # --- step 4: confirmation ---------------------------------------------------------------

    @on(Input.Changed, "#typed")
    def _typed(self, event: Input.Changed) -> None:
        ok = self.driver is not None and self.driver.expects(event.value)
        self.query_one("#confirm", Button).disabled = not ok

    @on(Input.Submitted, "#typed")
    @on(Button.Pressed, "#confirm")
    def _confirmed(self) -> None:
        driver = self.driver
        typed = self.query_one("#typed", Input).value
        if driver is None or self.phase != CONFIRM:
            return
        if not driver.expects(typed):
            self.notify(
                f"type {self.service} exactly to restore it",
                title="Not confirmed",
                severity="warning",
                markup=False,
            )
            return
        if not driver.confirm(typed):
            self.view = driver.view()
            self.phase = ENDED
            self._close_later(driver)
            self._show()
            return
        self.phase = EXECUTE
        self.view = driver.view()
        self._show()
        self.query_one("#steps", StepList).focus()
        token = self._token

        async def execute() -> None:
            try:
                await driver.execute()
            finally:
                with contextlib.suppress(Exception):
                    await driver.close()
                self.post_message(RestorePhaseEnded(EXECUTE, token))

        run_io(
            self,
            execute,
            context=f"restore {self.service}",
            timeout=EXECUTE_TIMEOUT,
            group="flow",
            exclusive=True,
        )

    def _close_later(self, driver: RestoreDriver) -> None:
        """Release the flow's lock and connections in a worker that outlives this screen."""
        run_io(self.pane, driver.close, context="close the restore", timeout=10, group="close")

    def _clear_confirmation(self) -> None:
        """An empty name and a disabled button: each restore is confirmed on its own."""
        self.query_one("#typed", Input).value = ""
        self.query_one("#confirm", Button).disabled = True

    @on(Button.Pressed, "#confirm-cancel")
    def _cancel_pressed(self) -> None:
        self.action_back()

    # --- keys -------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "undo":
            return self.phase == ENDED and self.view.undo_offered and not self.session.readonly
        if action == "again":
            return self.phase == ENDED
        if action == "offer":
            return (
                self.phase in (CHOOSE, ENDED)
                and self.catalog is not None
                and bool(self.catalog.unfinished)
            )
        return True

    def action_back(self) -> None:
        """Cancel steps 1-4 (nothing has changed), or close; never interrupt steps 5-7."""
        if self.phase == EXECUTE:
            self.notify(
                "the restore is changing data and cannot be stopped from here; "
                "it ends with verification (the progress is shown)",
                title="Restore running",
                severity="warning",
                markup=False,
            )
            return
        if self.phase in (PREPARE, CONFIRM):
            self._abandon()
            self.notify("Restore cancelled; nothing was changed", title="Cancelled", markup=False)
            return
        self.dismiss(None)

    def _abandon(self) -> None:
        """Drop the flow before step 5: cancel its worker, release its lock."""
        self._token += 1
        self.workers.cancel_group(self, "flow")
        driver, self.driver = self.driver, None
        if driver is not None:
            self._close_later(driver)
        self.phase = CHOOSE
        self.stopped = ""
        self.view = RestoreView(self.service, steps=pending_steps(), readonly=self.session.readonly)
        self._clear_confirmation()
        self._show()
        self.read_catalog()

    def action_again(self) -> None:
        """After the end: back to step 1 (the catalog re-read, safety copy included)."""
        if self.phase != ENDED:
            return
        self.driver = None
        self.phase = CHOOSE
        self.stopped = ""
        self.view = RestoreView(self.service, steps=pending_steps(), readonly=self.session.readonly)
        self._clear_confirmation()
        self._show()
        self.read_catalog()

    def action_undo(self) -> None:
        """Bring the data from before back: a rollback, or a restore of the safety copy.

        It goes through the same pre-flight, plan and typed confirmation as
        any restore: it replaces data too.
        """
        driver = self.driver
        if self.phase != ENDED or driver is None or not self.view.undo_offered:
            return
        if self.session.readonly:
            self.notify("restores are disabled: --readonly", title="Read-only", markup=False)
            return
        token = self._token

        async def work() -> None:
            target = await driver.undo_target()
            if target is not None:
                self.post_message(UndoReady(target[0], target[1], token))

        run_io(self, work, context="find the safety copy", timeout=30, group="undo")

    def on_undo_ready(self, message: UndoReady) -> None:
        if message.token == self._token and self.phase == ENDED:
            self.begin(message.mode, self.service, message.reference)

    def action_quit_guarded(self) -> None:
        if self.phase == EXECUTE:
            self.action_back()
            return
        self.app.exit()

    def target_switched(self) -> None:
        """The app opened another profile or backend: this screen's target is gone."""
        if self.phase == EXECUTE:
            return  # the app does not switch while a restore runs
        self._abandon()
        if self.app.screen is self:
            self.dismiss(None)
        else:
            self._stale = True

    def on_screen_resume(self) -> None:
        if self._stale:
            self._stale = False
            self.dismiss(None)

    # --- drawing ----------------------------------------------------------------------

    @on(OptionList.OptionHighlighted, "#steps")
    def _step_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        current = [s.id for s in self.view.steps].index(self.view.current.id)
        self._follow = event.option_index == current
        self._show_detail()

    def _show(self) -> None:
        if not self.is_mounted:
            return
        view = self.view
        self._show_title()
        self.query_one("#chooser").display = self.phase == CHOOSE
        self.query_one("#step-detail").display = self.phase != CHOOSE
        self.query_one(StepList).show(view, self._follow)
        self._show_detail()
        outcome = self.query_one("#restore-outcome", Static)
        text = outcome_text(self.app, view, self.stopped) if self.phase == ENDED else Text("")
        outcome.update(text)
        outcome.display = bool(text)
        self._show_progress()
        bar = self.query_one("#confirm-bar")
        bar.display = self.phase == CONFIRM
        self.query_one("#confirm-label", Label).update(
            Text.assemble("Type ", (self.service, "bold"), " to restore it: ")
        )
        if self.phase == CHOOSE:
            for button in self.query(RadioButton):
                if button.name == self.service and not button.value:
                    button.value = True  # (the offer may have switched service)
            self._show_choice()
        self.refresh_bindings()

    def _show_title(self) -> None:
        view = self.view
        title = Text(no_wrap=True, overflow="ellipsis")
        verb = {"rollback": "Roll back", "resume": "Retry the restore of"}.get(view.mode, "Restore")
        title.append(f" {verb} {self.service}", style="bold")
        if view.backup_id:
            title.append(f"  from {view.backup_id}")
        if self.phase == CHOOSE:
            title.append("  - choose the backup (Enter), Esc closes", style="dim")
        self.query_one("#restore-title", Static).update(title)

    def _show_detail(self) -> None:
        """Every step that started, in order; the one under the cursor marked and in view."""
        view = self.view
        index = self.query_one(StepList).highlighted
        selected = view.steps[index] if index is not None else view.current
        for step in view.steps:
            section = self.query_one(f"#detail-{step.id}", Static)
            shown = step.status != "pending" or step.id == selected.id
            section.display = shown
            section.set_class(step.id == selected.id, "-selected")
            if shown:
                section.update(step_detail(self.app, view, step))
        # Waiting for the name: the plan is what the operator must read, keep it in view.
        target = "plan" if view.waiting_for_confirmation and self._follow else selected.id
        step = view.step(target)
        where = (target, step.status, len(step.messages))
        if where == self._scrolled_to:
            return  # progress only: leave the operator's scroll position alone
        self._scrolled_to = where
        section = self.query_one(f"#detail-{target}", Static)
        self.call_after_refresh(
            self.query_one("#step-detail", VerticalScroll).scroll_to_widget,
            section,
            animate=False,
            top=True,
        )

    def _show_progress(self) -> None:
        progress = self.query_one(ActionProgress)
        running = [s for s in self.view.steps if s.status == "running" and s.progress is not None]
        if not running:
            if progress.running:
                progress.stop()
            self._progress_shown = ""
            return
        step = running[0]
        if self._progress_shown != step.id:
            progress.start(f"{step.number} {step.title}")
            self._progress_shown = step.id
        assert step.progress is not None
        progress.advance(step.progress)

    def show_view(self, view: RestoreView, phase: str, stopped: str = "") -> None:
        """Draw ``view`` as if the flow were at ``phase`` (the snapshot tests' fixed data)."""
        self.view = view
        self.phase = phase
        self.service = view.service
        self.stopped = stopped
        self._follow = True
        self._show()
