"""Dialogs: confirm an action, pick a scale or a size, tear down, switch target.

Input dialogs validate as you type (the error names the field) and return an
:class:`~alfred_tui.control.deployment_actions.ActionRequest`; the pane then shows a
:class:`ConfirmDialog` with the action's plan, which says exactly what will
happen. Destructive plans put the focus on Cancel, and deleting data needs
the profile's name typed in.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import (
    Button,
    Checkbox,
    Input,
    Label,
    OptionList,
    RadioButton,
    RadioSet,
    Static,
)
from textual.widgets.option_list import Option

from alfred_tui.backends.base import ServiceStatus
from alfred_tui.config.models import ServiceKind, service_kind
from alfred_tui.control import deployment_actions
from alfred_tui.control.deployment_actions import (
    ActionKind,
    ActionPlan,
    ActionRequest,
    InvalidInput,
)
from alfred_tui.control.session import Session
from alfred_tui.screens.io import run_io
from alfred_tui.units import format_bytes


class Dialog(ModalScreen[Any]):
    """A centred box; Escape cancels."""

    BINDINGS: ClassVar[list[Any]] = [Binding("escape", "cancel", "Cancel", id="dialog_cancel")]

    DEFAULT_CSS = """
    Dialog { align: center middle; }
    """

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#cancel")
    def _cancel_pressed(self) -> None:
        self.dismiss(None)


def _buttons(confirm: str, destructive: bool) -> Horizontal:
    return Horizontal(
        Button("Cancel", id="cancel"),
        Button(confirm, id="confirm", variant="error" if destructive else "primary"),
        classes="buttons",
    )


class ConfirmDialog(Dialog):
    """Says what an action will do; returns True to go ahead."""

    def __init__(self, plan: ActionPlan, type_to_confirm: str | None = None) -> None:
        super().__init__(classes="-destructive" if plan.destructive else "")
        self.plan = plan
        self.type_to_confirm = type_to_confirm

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(Text(self.plan.title), classes="dialog-title")
            for line in self.plan.lines:
                yield Static(Text(line), classes="plan-line")
            if self.type_to_confirm:
                yield Label(Text(f"Type {self.type_to_confirm} to confirm:"))
                yield Input(id="typed")
            yield _buttons(self.plan.confirm, self.plan.destructive)

    def on_mount(self) -> None:
        confirm = self.query_one("#confirm", Button)
        if self.type_to_confirm:
            confirm.disabled = True
            self.query_one("#typed", Input).focus()
        elif self.plan.destructive:
            self.query_one("#cancel", Button).focus()
        else:
            confirm.focus()

    @on(Input.Changed, "#typed")
    def _typed(self, event: Input.Changed) -> None:
        self.query_one("#confirm", Button).disabled = event.value.strip() != self.type_to_confirm

    @on(Button.Pressed, "#confirm")
    def _confirmed(self) -> None:
        self.dismiss(True)


class _ServiceChoice(RadioSet):
    """The services an action can apply to (only those the backend can do it for)."""

    def __init__(self, services: list[ServiceKind], selected: ServiceKind | None) -> None:
        chosen = selected if selected in services else services[0]
        super().__init__(
            *(RadioButton(service, value=service == chosen, name=service) for service in services),
            id="service",
        )

    @property
    def service(self) -> ServiceKind:
        pressed = self.pressed_button
        assert pressed is not None and pressed.name is not None
        return service_kind(pressed.name)


class ScaleDialog(Dialog):
    """Choose a service and a number of instances."""

    def __init__(
        self,
        session: Session,
        services: list[ServiceKind],
        selected: ServiceKind | None,
        statuses: dict[ServiceKind, ServiceStatus],
    ) -> None:
        super().__init__()
        self.session = session
        self.services = services
        self.selected = selected
        self.statuses = statuses

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Scale", classes="dialog-title")
            yield Label(
                Text(
                    f"Services the {self.session.backend_name} backend can scale:"
                    if self.services
                    else f"The {self.session.backend_name} backend cannot scale any service."
                )
            )
            if self.services:
                yield _ServiceChoice(self.services, self.selected)
                yield Static("", id="current")
                yield Label(f"Instances (0 to {deployment_actions.MAX_REPLICAS}):")
                yield Input(id="replicas", placeholder="e.g. 2", restrict=r"[0-9]*")
                yield Label("", id="error", classes="error")
            yield _buttons("Next", False)

    def on_mount(self) -> None:
        if not self.services:
            self.query_one("#confirm", Button).disabled = True
            self.query_one("#cancel", Button).focus()
            return
        self._show_current()
        self.query_one("#replicas", Input).focus()

    def _show_current(self) -> None:
        service = self.query_one(_ServiceChoice).service
        status = self.statuses.get(service)
        spec = self.session.profile.service(service)
        now = f"now {status.ready} ready of {status.desired}" if status else "now: unknown"
        profile = f"; the profile says {spec.replicas}" if spec else ""
        self.query_one("#current", Static).update(Text(now + profile))

    @on(RadioSet.Changed)
    def _service_changed(self) -> None:
        self._show_current()

    @on(Input.Changed, "#replicas")
    def _validate(self, event: Input.Changed) -> None:
        message = ""
        if event.value:
            try:
                deployment_actions.parse_replicas(event.value)
            except InvalidInput as exc:
                message = exc.message
        self.query_one("#error", Label).update(Text(message))

    @on(Input.Submitted, "#replicas")
    @on(Button.Pressed, "#confirm")
    def _submit(self) -> None:
        try:
            replicas = deployment_actions.parse_replicas(self.query_one("#replicas", Input).value)
        except InvalidInput as exc:
            self.query_one("#error", Label).update(Text(exc.message))
            return
        service = self.query_one(_ServiceChoice).service
        self.dismiss(ActionRequest(ActionKind.SCALE, service, replicas=replicas))


class ResizeDialog(Dialog):
    """Choose a service and its new CPU and memory limits."""

    def __init__(
        self,
        session: Session,
        services: list[ServiceKind],
        selected: ServiceKind | None,
        statuses: dict[ServiceKind, ServiceStatus],
    ) -> None:
        super().__init__()
        self.session = session
        self.services = services
        self.selected = selected
        self.statuses = statuses

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Resize", classes="dialog-title")
            if not self.services:
                yield Label(
                    Text(f"The {self.session.backend_name} backend cannot resize any service.")
                )
            else:
                yield _ServiceChoice(self.services, self.selected)
                yield Static("", id="current")
                with Horizontal(classes="fields"):
                    with Vertical():
                        yield Label("CPUs (0.5, 2, 500m)")
                        yield Input(id="cpus", placeholder="unchanged")
                    with Vertical():
                        yield Label("Memory (512M, 4G, 1Gi)")
                        yield Input(id="memory", placeholder="unchanged")
                yield Label("", id="error", classes="error")
            yield _buttons("Next", False)

    def on_mount(self) -> None:
        if not self.services:
            self.query_one("#confirm", Button).disabled = True
            self.query_one("#cancel", Button).focus()
            return
        self._show_current()
        self.query_one("#cpus", Input).focus()

    def _show_current(self) -> None:
        service = self.query_one(_ServiceChoice).service
        status = self.statuses.get(service)
        if status is None:
            text = "Limits now: unknown"
        else:
            text = "Limits now: " + _amounts(status.limits.cpus, status.limits.memory)
            text += "\nReservations: " + _amounts(
                status.reservations.cpus, status.reservations.memory
            )
        self.query_one("#current", Static).update(Text(text))

    @on(RadioSet.Changed)
    def _service_changed(self) -> None:
        self._show_current()

    def _request(self) -> ActionRequest:
        return deployment_actions.resize_request(
            self.query_one(_ServiceChoice).service,
            self.query_one("#cpus", Input).value,
            self.query_one("#memory", Input).value,
        )

    @on(Input.Changed)
    def _validate(self) -> None:
        message = ""
        cpus = self.query_one("#cpus", Input).value
        memory = self.query_one("#memory", Input).value
        if cpus or memory:
            try:
                self._request()
            except InvalidInput as exc:
                message = exc.message
        self.query_one("#error", Label).update(Text(message))

    @on(Input.Submitted)
    @on(Button.Pressed, "#confirm")
    def _submit(self) -> None:
        try:
            request = self._request()
        except InvalidInput as exc:
            self.query_one("#error", Label).update(Text(exc.message))
            return
        self.dismiss(request)


def _amounts(cpus: float | None, memory: int | None) -> str:
    cpu_text = "no limit" if cpus is None else f"{cpus:g}"
    memory_text = "no limit" if memory is None else format_bytes(memory)
    return f"cpus {cpu_text}, memory {memory_text}"


class TeardownDialog(Dialog):
    """Tear the profile down; data kept unless ticked, and then a safety copy first.

    The plan starts from the profile and is replaced, as soon as the backend
    answers, by its own account (which instances, which pids, which folders
    and how big), fetched in a worker so the dialog opens at once.
    """

    def __init__(self, session: Session) -> None:
        super().__init__(classes="-destructive")
        self.session = session
        self.described: dict[bool, list[str]] = {}

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(Text(f"Tear down {self.session.profile_name}"), classes="dialog-title")
            yield Static("", id="plan")
            yield Checkbox("Also delete the data (a safety copy is kept first)", id="volumes")
            yield Label("", id="typed-label")
            yield Input(id="typed", classes="-hidden")
            yield _buttons("Tear down", True)

    def on_mount(self) -> None:
        self._update()
        self.query_one("#cancel", Button).focus()
        session = self.session

        async def describe() -> None:
            for remove in (False, True):
                self.described[remove] = await deployment_actions.describe_teardown(session, remove)
            self._update()

        run_io(self, describe, context="describe the teardown", timeout=15)

    @property
    def remove_volumes(self) -> bool:
        return self.query_one("#volumes", Checkbox).value

    def plan_text(self) -> str:
        """What the dialog says will happen, for the state of the checkbox."""
        remove = self.remove_volumes
        plan = deployment_actions.plan(
            self.session, ActionRequest(ActionKind.TEARDOWN, remove_volumes=remove)
        )
        lines = list(plan.lines)
        detail = self.described.get(remove)
        if detail:
            lines = [lines[0], *(f"  - {line}" for line in detail), *lines[1:]]
        return "\n".join(lines)

    def _update(self) -> None:
        if not self.is_mounted:
            return
        self.query_one("#plan", Static).update(Text(self.plan_text()))
        typed = self.query_one("#typed", Input)
        typed.set_class(not self.remove_volumes, "-hidden")
        self.query_one("#typed-label", Label).update(
            Text(f"Type {self.session.profile_name} to delete its data:")
            if self.remove_volumes
            else ""
        )
        self._check()

    def _check(self) -> None:
        ok = not self.remove_volumes or (
            self.query_one("#typed", Input).value.strip() == self.session.profile_name
        )
        self.query_one("#confirm", Button).disabled = not ok

    @on(Checkbox.Changed, "#volumes")
    def _volumes(self) -> None:
        self._update()
        if self.remove_volumes:
            self.query_one("#typed", Input).focus()

    @on(Input.Changed, "#typed")
    def _typed(self) -> None:
        self._check()

    @on(Button.Pressed, "#confirm")
    def _confirmed(self) -> None:
        self.dismiss(ActionRequest(ActionKind.TEARDOWN, remove_volumes=self.remove_volumes))


BACKEND_CHOICES = ("profile's", "local", "docker", "kubernetes")


class TargetDialog(Dialog):
    """Switch to another profile and/or backend without restarting."""

    def __init__(self, profiles: list[str], current: str, backend: str) -> None:
        super().__init__()
        self.profiles = profiles
        self.current = current
        self.backend = backend

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Switch profile or backend", classes="dialog-title")
            yield Label("Profile (a name from the list, or a path to a YAML file):")
            yield Input(value=self.current, id="profile")
            yield OptionList(
                *(
                    Option(f"{name}{'  (current)' if name == self.current else ''}", id=name)
                    for name in self.profiles
                ),
                id="profiles",
            )
            yield Label("Backend:")
            with RadioSet(id="backend"):
                for choice in BACKEND_CHOICES:
                    yield RadioButton(choice, value=choice == "profile's", name=choice)
            yield _buttons("Switch", False)

    def on_mount(self) -> None:
        self.query_one("#profiles", OptionList).focus()
        if self.current in self.profiles:
            self.query_one("#profiles", OptionList).highlighted = self.profiles.index(self.current)

    @on(OptionList.OptionHighlighted, "#profiles")
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option.id:
            self.query_one("#profile", Input).value = event.option.id

    @on(OptionList.OptionSelected, "#profiles")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        if event.option.id:
            self.query_one("#profile", Input).value = event.option.id
        self._submit()

    @on(Input.Submitted, "#profile")
    @on(Button.Pressed, "#confirm")
    def _submit(self) -> None:
        profile = self.query_one("#profile", Input).value.strip()
        if not profile:
            self.notify("enter a profile name or path", severity="warning")
            return
        pressed = self.query_one("#backend", RadioSet).pressed_button
        backend = pressed.name if pressed is not None else None
        self.dismiss((profile, None if backend in (None, "profile's") else backend))
