"""The data panes' confirmations that need more than yes or no.

:class:`MigrateUpDialog` lists exactly which files ``up`` will run, in
order; when applied files changed on disk (drift) it refuses to go ahead
until the operator ticks that they apply anyway, as ``--allow-drift`` does
on the command line.
"""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Checkbox, Label, Static

from alfred_tui.control.migrations_view import UpPlan
from alfred_tui.screens.dialogs import Dialog


class MigrateUpDialog(Dialog):
    """Confirm ``migrate up``; returns whether drift is allowed (None: cancelled)."""

    DEFAULT_CSS = """
    MigrateUpDialog VerticalScroll { height: auto; max-height: 10; }
    MigrateUpDialog #drift-warning { color: $error; text-style: bold; }
    """

    def __init__(self, up_plan: UpPlan) -> None:
        super().__init__(classes="-destructive" if up_plan.drifted else "")
        self.up_plan = up_plan

    def compose(self) -> ComposeResult:
        plan = self.up_plan.plan
        with Vertical(classes="dialog"):
            yield Label(Text(plan.title), classes="dialog-title")
            warnings = [line for line in plan.lines if line.startswith("DRIFT:")]
            with VerticalScroll(id="plan"):
                yield Static(Text("\n".join(line for line in plan.lines if line not in warnings)))
            # Outside the scrolling list, so it can never be scrolled out of sight.
            for line in warnings:
                yield Static(Text(line), id="drift-warning", classes="plan-line")
            if self.up_plan.drifted:
                yield Checkbox(
                    "Apply anyway: the drifted files stay as they are (--allow-drift)",
                    id="allow-drift",
                )
            yield Horizontal(
                Button("Cancel", id="cancel"),
                Button(
                    plan.confirm,
                    id="confirm",
                    variant="error" if self.up_plan.drifted else "primary",
                    disabled=bool(self.up_plan.drifted),
                ),
                classes="buttons",
            )

    def on_mount(self) -> None:
        if self.up_plan.drifted:
            self.query_one("#cancel", Button).focus()
        else:
            self.query_one("#confirm", Button).focus()

    @property
    def allow_drift(self) -> bool:
        """Whether the operator ticked that drift is accepted."""
        boxes = list(self.query("#allow-drift").results(Checkbox))
        return bool(boxes and boxes[0].value)

    @on(Checkbox.Changed, "#allow-drift")
    def _ticked(self) -> None:
        self.query_one("#confirm", Button).disabled = not self.allow_drift

    @on(Button.Pressed, "#confirm")
    def _confirmed(self) -> None:
        if self.up_plan.drifted and not self.allow_drift:
            return
        self.dismiss(self.allow_drift)
