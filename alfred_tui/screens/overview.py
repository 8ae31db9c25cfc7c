"""The Overview pane: every service's deployment state, health and metrics, and actions.

It is the first pane, so its module is imported on the way to the first
overview on screen: the dialogs and the detail screen are imported when first
opened instead.

Polling: one worker loops ``poll -> post -> wait refresh_seconds``, so the
next poll starts only after the last one finished; it waits while the pane
is hidden, unless the black box records the session (an outage must be
recorded whichever pane is on screen: the same polls, drawn only when
shown); the monitor under it keeps connections open and retries a down
service with backoff while the others keep updating. Actions run in their
own worker, show the backend's progress, end in a notification, and wake
the poller so the table shows the result at once.

Why one module of this size: the overview is the pane with the actions
(deploy, scale, resize, restart, teardown), and each action's dialog,
progress and outcome are read with the table they change.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any, ClassVar

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable
from textual.worker import Worker

from alfred_tui.backends.base import ServiceStatus
from alfred_tui.backends.capabilities import Capability
from alfred_tui.config.models import ServiceKind
from alfred_tui.control import deployment_actions
from alfred_tui.control.deployment_actions import ActionKind, ActionRequest
from alfred_tui.control.monitor import OverviewSnapshot
from alfred_tui.control.session import Session
from alfred_tui.control.troubleshoot_view import ServiceFlag
from alfred_tui.errors import AlfredError
from alfred_tui.screens.base import PaletteCommand, PaneScreen
from alfred_tui.screens.io import poster, report, run_io, worker_ended
from alfred_tui.screens.messages import (
    ActionEnded,
    ActionProgressed,
    ActionSucceeded,
    FailoverPlanned,
    MarkersUpdated,
    OverviewUpdated,
)
from alfred_tui.widgets.action_progress import ActionProgress
from alfred_tui.widgets.notes import ServiceNotes
from alfred_tui.widgets.overview_tables import (
    InstancesTable,
    Layout,
    MetricsTable,
    ServicesTable,
)

if TYPE_CHECKING:
    from alfred_tui.backends.base import Progress
    from alfred_tui.control.failover import FailoverPlan

#: Below this many rows the instances table is left out (Enter shows it per service).
TALL = 36

#: Runbook markers are detected at most this often (their queries are heavier than a
#: probe's), and never more often than the overview refreshes.
MARKER_SECONDS = 5.0
#: The longest one round of runbook detection may take before it is given up.
MARKER_TIMEOUT = 45.0

_ACTION_CAPABILITY = {
    "deploy": Capability.DEPLOY,
    "teardown": Capability.TEARDOWN,
    "scale": Capability.SCALE,
    "resize": Capability.RESIZE,
    "restart": Capability.RESTART,
    "failover": Capability.FAILOVER,
}


class OverviewPane(PaneScreen):
    """Services, metrics with sparklines, instances; deploy/teardown/scale/resize/restart."""

    pane_id = "overview"
    MUTATING = frozenset(_ACTION_CAPABILITY)

    BINDINGS: ClassVar[list[Any]] = [
        Binding("d", "deploy", "Deploy", id="deploy", tooltip="Deploy every service"),
        Binding("s", "scale", "Scale", id="scale", tooltip="Scale the selected service"),
        Binding("z", "resize", "Resize", id="resize", tooltip="Change CPU and memory limits"),
        Binding("R", "restart", "Restart", id="restart", tooltip="Restart the selected service"),
        Binding("X", "teardown", "Teardown", id="teardown", tooltip="Stop and remove everything"),
        Binding(
            "F",
            "failover",
            "Failover",
            id="failover",
            show=False,
            tooltip="Promote a replica of the selected service when its primary is down",
        ),
        Binding(
            "t",
            "runbook",
            "Runbook",
            id="runbook",
            tooltip="Open the runbook of the selected service (⚑ marks a problem)",
        ),
        Binding(
            "enter",
            "details",
            "Details",
            id="details",
            show=False,
            tooltip="Everything about a service",
        ),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.snapshot: OverviewSnapshot | None = None
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._probing = asyncio.Lock()
        """Held by a poll in flight; an action waits for it before it starts."""
        self._action: ActionRequest | None = None
        self.flags: dict[str, ServiceFlag] = {}
        """Each service's worst runbook verdict (the ⚑ markers)."""
        self._marker_failed = False
        self._marker_wake = asyncio.Event()
        self._loaded_for: Session | None = None

    def compose_body(self) -> ComposeResult:
        # Pick the short or tall layout before the widgets exist: toggling the
        # class after they are mounted restyles all of them (about 10 ms at start).
        self.set_class(self.app.size.height < TALL, "-short")
        yield ServicesTable(id="services")
        yield ServiceNotes(id="notes", classes="-empty")
        yield MetricsTable(id="metrics")
        yield InstancesTable(id="instances")
        yield ActionProgress(id="progress")

    # --- loading and polling ------------------------------------------------

    def on_mount(self) -> None:
        # (Textual also runs PaneScreen.on_mount: handlers run for every class.)
        # Verdict colours come from the theme: redraw at once when it changes.
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self._render_snapshot())

    def load(self, session: Session) -> None:
        super().load(session)  # cancels the previous session's poller and action
        seek = session is self._loaded_for  # a replay's seek: the same session, another moment
        self._loaded_for = session
        self._action = None
        self._idle.set()
        self.query_one(ActionProgress).stop()
        self._wake = asyncio.Event()
        self._marker_wake = asyncio.Event()
        if not seek:
            self.flags = {}
        snapshot = session.monitor.snapshot()
        if snapshot is not self.snapshot:
            self.snapshot = snapshot
            self._render_snapshot()
        # (A seek: the replayed monitor hands back what is drawn; the first poll reads
        # the new moment in a thread and draws it, at once: nothing waits for a frame.)
        # Otherwise polling starts once this frame is on screen: the first poll imports
        # the database clients in threads, and that must not delay the first paint.
        if seek:
            self._start_polling(session)
        else:
            self.call_after_refresh(self._start_polling, session)
        self.call_after_refresh(self._start_markers, session)

    def _start_polling(self, session: Session) -> None:
        if session is not self.session:
            return  # switched again before the first paint
        run_io(
            self,
            lambda: self._poll_loop(session),
            context="overview poll",
            timeout=None,
            group="poll",
            exclusive=True,
        )

    async def _shown_or_recorded(self, session: Session) -> None:
        """Wait while hidden, unless the black box records this session."""
        if not session.recording:
            await self.in_view.wait()

    async def _poll_loop(self, session: Session) -> None:
        monitor = session.monitor
        while True:
            await self._shown_or_recorded(session)
            await self._idle.wait()

            def partial(snapshot: OverviewSnapshot) -> None:
                self.post_message(OverviewUpdated(session.generation, snapshot))

            try:
                async with self._probing:
                    snapshot = await monitor.poll(partial)
            except Exception as exc:  # a bug in one poll must not stop the overview
                report(self, exc, "overview poll")
            else:
                self.post_message(OverviewUpdated(session.generation, snapshot))
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), session.refresh_seconds)

    def _start_markers(self, session: Session) -> None:
        if session is not self.session:
            return
        run_io(
            self,
            lambda: self._marker_loop(session),
            context="runbook markers",
            timeout=None,
            group="markers",
            exclusive=True,
        )

    async def _marker_loop(self, session: Session) -> None:
        """Ask the runbooks for their verdicts, apart from the probes.

        Runbook detection is heavier than a probe and may wait on a slow
        server for a while: it runs in its own loop so it never holds up the
        overview's refresh, pauses while the pane is hidden or an action runs,
        and a failure is reported once, not at every round.
        """
        interval = max(session.refresh_seconds, MARKER_SECONDS)
        while True:
            await self._shown_or_recorded(session)
            await self._idle.wait()
            try:
                async with asyncio.timeout(MARKER_TIMEOUT):
                    flags = await session.troubleshoot.markers()
            except Exception as exc:
                if not self._marker_failed:
                    if isinstance(exc, TimeoutError):
                        exc = AlfredError(
                            f"the runbooks gave no verdict within {MARKER_TIMEOUT:g} s",
                            title="Runbook markers",
                        )
                    report(self, exc, "runbook markers")
                self._marker_failed = True
            else:
                self._marker_failed = False
                self.post_message(MarkersUpdated(session.generation, flags))
            self._marker_wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._marker_wake.wait(), interval)

    def on_markers_updated(self, message: MarkersUpdated) -> None:
        if message.generation != self.session.generation or message.flags == self.flags:
            return  # another target's, or nothing to redraw (a full redraw costs ~0.1 s)
        self.flags = message.flags
        if self.in_view.is_set():  # hidden: drawn when shown (on_screen_resume)
            self._render_snapshot()
            self.refresh_bindings()

    def on_overview_updated(self, message: OverviewUpdated) -> None:
        if message.generation != self.session.generation:
            return  # a poll of the previous target, finished after the switch
        if message.snapshot is self.snapshot:
            return  # a replay's moment already drawn (its monitor hands the same one back)
        self.snapshot = message.snapshot
        if self.in_view.is_set():  # hidden (polling for the black box): drawn when shown
            self._render_snapshot()

    def on_screen_resume(self) -> None:
        self._render_snapshot()
        self.refresh_bindings()

    def action_refresh(self) -> None:
        """Poll now, retrying down services without waiting for their backoff."""
        self.session.monitor.retry_now()
        self._wake.set()
        self._marker_wake.set()

    # --- rendering ------------------------------------------------------------

    def _layout(self) -> Layout:
        return Layout(self.size.width or self.app.size.width, self.size.height or 24)

    def on_resize(self, event: events.Resize) -> None:
        self.set_class(event.size.height < TALL, "-short")
        self._render_snapshot()

    def _render_snapshot(self) -> None:
        snapshot = self.snapshot
        if snapshot is None or not self.is_mounted:
            return
        layout = self._layout()
        profile = self.session.profile
        self.query_one(ServicesTable).show(snapshot, profile, layout, self.flags)
        self.query_one(ServiceNotes).show(snapshot, self.flags, self._runbook_key())
        self.query_one(MetricsTable).show(snapshot, profile, layout)
        self.query_one(InstancesTable).show(snapshot, layout)

    def _runbook_key(self) -> str:
        keys = self.alfred.keymap.get("runbook", "t").split(",")[0].strip() or "t"
        return self.app.get_key_display(Binding(keys, "runbook"))

    @property
    def selected_service(self) -> ServiceKind | None:
        """The service under the cursor of the services table (or the first)."""
        key = self.query_one(ServicesTable).selected_key
        services = self.session.services
        if key in services:
            return key
        return services[0] if services else None

    def _statuses(self) -> dict[ServiceKind, ServiceStatus]:
        if self.snapshot is None:
            return {}
        return {view.kind: view.status for view in self.snapshot.services if view.status}

    # --- availability -----------------------------------------------------------

    def why_not(self, action: str) -> str | None:
        capability = _ACTION_CAPABILITY.get(action)
        if capability is None:
            return None
        if not self.session.services_with(capability):
            return (
                f"the {self.session.backend_name} backend cannot {action} any service "
                f"of profile {self.session.profile_name}"
            )
        return None

    def commands(self) -> Iterable[PaletteCommand]:
        session = self.session
        yield PaletteCommand("Refresh overview now", "Poll every service now", "refresh")
        for service, flag in self.flags.items():
            if flag.flagged:
                yield PaletteCommand(
                    f"Open runbook: {flag.title} (⚑ {service} {flag.verdict})",
                    flag.summary,
                    f"runbook('{service}')",
                )
        for service in session.services:
            yield PaletteCommand(
                f"Troubleshoot {service}", f"The runbooks of {service}", f"runbook('{service}')"
            )
        for service in session.services:
            yield PaletteCommand(
                f"Details of {service}", "Deployment, instances, health", f"details('{service}')"
            )
        if session.services_with(Capability.DEPLOY):
            yield PaletteCommand(
                "Deploy all services", "Create or update every service", "deploy", True
            )
        for service in session.services_with(Capability.DEPLOY):
            yield PaletteCommand(
                f"Deploy {service}", f"Create or update {service}", f"deploy('{service}')", True
            )
        for service in session.services_with(Capability.RESTART):
            yield PaletteCommand(
                f"Restart {service}", "Restart every instance", f"restart('{service}')", True
            )
        for service in session.services_with(Capability.SCALE):
            yield PaletteCommand(
                f"Scale {service}…", "Change the number of instances", f"scale('{service}')", True
            )
        for service in session.services_with(Capability.RESIZE):
            yield PaletteCommand(
                f"Resize {service}…", "Change CPU and memory limits", f"resize('{service}')", True
            )
        for service in session.services_with(Capability.FAILOVER):
            if service in ("postgres", "redis"):
                yield PaletteCommand(
                    f"Fail {service} over…",
                    "Its primary is down: promote the most advanced replica",
                    f"failover('{service}')",
                    True,
                )
                yield PaletteCommand(
                    f"Switch {service} over (planned)…",
                    "Stop the primary cleanly, then promote the most advanced replica",
                    f"failover('{service}', True)",
                    True,
                )
        if session.services_with(Capability.TEARDOWN):
            yield PaletteCommand(
                f"Tear down {session.profile_name}…",
                "Stop and remove every service (volumes kept unless ticked)",
                "teardown",
                True,
            )

    # --- actions --------------------------------------------------------------

    def _service(self, service: str) -> ServiceKind | None:
        return service if service in self.session.services else self.selected_service

    def action_details(self, service: str = "") -> None:
        kind = self._service(service)
        if self.snapshot is None or kind is None:
            return
        view = self.snapshot.view(kind)
        if view is not None:
            from alfred_tui.screens.detail import ServiceDetailScreen

            self.app.push_screen(ServiceDetailScreen(view, self.snapshot, self.session.profile))

    def action_runbook(self, service: str = "") -> None:
        """Open the Troubleshoot pane on the service's worst runbook (the one its ⚑ names)."""
        kind = self._service(service)
        if kind is None:
            return
        flag = self.flags.get(kind)
        pane = self.goto_pane("troubleshoot")
        opener = getattr(pane, "open_runbook", None)
        if opener is not None:
            opener(flag.runbook if flag is not None else None, kind)

    @on(DataTable.RowSelected)
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        key = str(event.row_key.value or "")
        self.action_details(key.split("/")[0])

    def action_deploy(self, service: str = "") -> None:
        if self.blocked("deploy"):
            return
        kind = service if service in self.session.services else None
        self.confirm_and_run(ActionRequest(ActionKind.DEPLOY, kind))

    def action_restart(self, service: str = "") -> None:
        if self.blocked("restart"):
            return
        kind = self._service(service)
        if kind is not None:
            self.confirm_and_run(ActionRequest(ActionKind.RESTART, kind))

    def action_teardown(self) -> None:
        if self.blocked("teardown") or self._busy():
            return
        from alfred_tui.screens.dialogs import TeardownDialog

        self.app.push_screen(TeardownDialog(self.session), self._confirmed_request)

    def action_scale(self, service: str = "") -> None:
        if self.blocked("scale") or self._busy():
            return
        from alfred_tui.screens.dialogs import ScaleDialog

        session = self.session
        dialog = ScaleDialog(
            session,
            session.services_with(Capability.SCALE),
            self._service(service),
            self._statuses(),
        )
        self.app.push_screen(dialog, self._requested)

    def action_resize(self, service: str = "") -> None:
        if self.blocked("resize") or self._busy():
            return
        from alfred_tui.screens.dialogs import ResizeDialog

        session = self.session
        dialog = ResizeDialog(
            session,
            session.services_with(Capability.RESIZE),
            self._service(service),
            self._statuses(),
        )
        self.app.push_screen(dialog, self._requested)

    def action_failover(self, service: str = "", force: bool = False) -> None:
        """Plan a failover of the service (in a worker: it reads every instance), confirm it,
        run it with progress; the same procedure as ``alfred-tui failover``."""
        if self.blocked("failover") or self._busy():
            return
        kind = self._service(service)
        if kind not in ("postgres", "redis"):
            self.notify(
                "failover applies to postgres and redis (they have replicas)",
                title="Failover",
                severity="warning",
                markup=False,
            )
            return
        session = self.session
        generation = session.generation

        async def plan_it() -> None:
            from alfred_tui.control.failover import plan_failover

            plan = await plan_failover(session.backend, kind, force=force)
            self.post_message(FailoverPlanned(generation, plan))

        run_io(self, plan_it, context=f"plan the failover of {kind}", timeout=60, group="plan")

    def on_failover_planned(self, message: FailoverPlanned) -> None:
        if message.generation != self.session.generation:
            return
        plan = message.plan
        from alfred_tui.control.deployment_actions import ActionPlan
        from alfred_tui.screens.dialogs import ConfirmDialog

        confirmation = ActionPlan(
            plan.title,
            tuple(f"⚠ {warning}" for warning in plan.warnings) + plan.lines,
            "Fail over",
            destructive=True,
        )

        def decided(confirmed: bool | None) -> None:
            if confirmed:
                self._run_failover(plan)

        self.app.push_screen(ConfirmDialog(confirmation), decided)

    def _run_failover(self, plan: FailoverPlan) -> None:
        from alfred_tui.control.failover import execute_failover

        session = self.session

        async def work(progress: Any) -> str:
            with session.journaled("failover", plan=plan.lines, service=plan.service):
                outcome = await execute_failover(session.backend, plan, progress)
            return outcome.summary()

        self._run_work(ActionRequest(ActionKind.FAILOVER, plan.service), plan.title, work)

    def _requested(self, request: ActionRequest | None) -> None:
        if request is not None:
            self.confirm_and_run(request)

    def _busy(self) -> bool:
        if self._action is not None:
            self.notify(
                f"wait for {self._action.kind.value} to finish",
                title="An action is running",
                severity="warning",
                markup=False,
            )
            return True
        return False

    def _allowed(self, request: ActionRequest) -> bool:
        if self.blocked(request.kind.value) or self._busy():
            return False
        try:
            deployment_actions.check_allowed(self.session, request)
        except AlfredError as exc:
            self.notify(exc.message, title=exc.title, severity="error", markup=False)
            return False
        return True

    def confirm_and_run(self, request: ActionRequest) -> None:
        """Show what ``request`` will do; run it if the operator confirms."""
        if not self._allowed(request):
            return
        status = self._statuses().get(request.service) if request.service else None
        plan = deployment_actions.plan(self.session, request, status)

        def decided(confirmed: bool | None) -> None:
            if confirmed:
                self.run_action_request(request)

        from alfred_tui.screens.dialogs import ConfirmDialog

        self.app.push_screen(ConfirmDialog(plan), decided)

    def _confirmed_request(self, request: ActionRequest | None) -> None:
        """The teardown dialog is its own confirmation."""
        if request is not None and self._allowed(request):
            self.run_action_request(request)

    def run_action_request(self, request: ActionRequest) -> None:
        """Run a confirmed action in a worker, with progress and a notification at the end."""
        if not self._allowed(request):
            return
        session = self.session
        before = self._statuses().get(request.service) if request.service else None
        plan = deployment_actions.plan(session, request, before)  # as the confirmation showed it
        current = before.desired if before is not None else None

        async def work(progress: Callable[[Progress], None]) -> str:
            return await deployment_actions.execute(session, request, progress, current, plan)

        self._run_work(request, plan.title, work)

    def _run_work(
        self,
        request: ActionRequest,
        title: str,
        work: Callable[[Callable[[Progress], None]], Awaitable[str]],
    ) -> None:
        """Run a confirmed action's ``work(progress)`` in a worker: progress on screen, a
        notification with its result, the poller paused meanwhile."""
        generation = self.session.generation
        progress: Callable[[Progress], None] = poster(
            self, lambda update: ActionProgressed(generation, update)
        )

        async def run() -> None:
            async with self._probing:  # let a poll in flight finish first
                text = await work(progress)
            self.post_message(ActionSucceeded(generation, text))

        self._action = request
        # No probing while the deployment changes under it: a probe could hold a
        # store the action must take (an embedded Qdrant) or race a restart.
        # The table catches up the moment the action ends.
        self._idle.clear()
        self.query_one(ActionProgress).start(title)
        run_io(self, run, context=title, timeout=None, group="action")

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if worker_ended(event, "action"):
            self.post_message(ActionEnded(self.session.generation))

    def on_action_progressed(self, message: ActionProgressed) -> None:
        if message.generation == self.session.generation:
            self.query_one(ActionProgress).advance(message.progress)

    def on_action_succeeded(self, message: ActionSucceeded) -> None:
        if message.generation == self.session.generation:
            self.notify(message.text, title="Done", markup=False)

    def on_action_ended(self, message: ActionEnded) -> None:
        if message.generation != self.session.generation:
            return
        self._action = None
        self._idle.set()
        self.query_one(ActionProgress).stop()
        self.action_refresh()  # show the result now, not at the next tick

    @property
    def action_running(self) -> ActionRequest | None:
        """The action in progress, if any (the app refuses to switch target meanwhile)."""
        return self._action
