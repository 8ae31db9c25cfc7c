"""Dialogs of the troubleshooting panes: pick a remedy, adjust its values, EXPLAIN, a session.

They follow :mod:`alfred_tui.screens.dialogs`: a centred box, Escape
cancels, values are checked as they are typed with the field named, and
nothing changes until a :class:`PlanDialog` showing the action's own plan was
answered yes.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, OptionList, Select, Static
from textual.widgets.option_list import Option

from alfred_tui.control.activity import PgSession
from alfred_tui.control.deployment_actions import InvalidInput
from alfred_tui.control.remedy_plans import (
    REDIS_POLICIES,
    analyze_plan,
    maxmemory_text,
    memory_parameters,
    needs_sessions,
    parse_threshold_ms,
)
from alfred_tui.control.session import Session
from alfred_tui.screens.dialogs import ConfirmDialog, Dialog, _buttons
from alfred_tui.screens.io import run_io
from alfred_tui.troubleshoot.model import Remedy
from alfred_tui.units import format_duration


class PlanDialog(ConfirmDialog):
    """A confirmation whose plan scrolls, so a long one (many sessions, a profile's YAML)
    is read in full at 80x24 while the buttons stay on screen."""

    DEFAULT_CSS = """
    PlanDialog .plan-lines { height: auto; max-height: 60vh; }
    """

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(Text(self.plan.title), classes="dialog-title")
            with VerticalScroll(classes="plan-lines"):
                for line in self.plan.lines:
                    yield Static(Text(line), classes="plan-line")
            yield _buttons(self.plan.confirm, self.plan.destructive)


class RemedyChooser(Dialog):
    """The remedies alfred-tui can apply for this runbook; returns the one chosen."""

    def __init__(self, title: str, remedies: list[Remedy]) -> None:
        super().__init__()
        self.title_text = title
        self.remedies = remedies

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(Text(f"Apply a remedy: {self.title_text}"), classes="dialog-title")
            yield Label(Text("Each one shows its exact plan and asks again before it runs."))
            yield OptionList(
                *(
                    Option(Text(f"{number}. {remedy.title}", no_wrap=True, overflow="ellipsis"))
                    for number, remedy in enumerate(self.remedies, 1)
                ),
                id="remedies",
            )
            yield Static("", id="remedy-what", classes="note")
            yield _buttons("Next", False)

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        options.highlighted = 0
        options.focus()
        self._describe(0)

    @on(OptionList.OptionHighlighted)
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        self._describe(event.option_index)

    def _describe(self, index: int) -> None:
        remedy = self.remedies[index]
        what = remedy.what_it_does
        if needs_sessions(remedy):
            what = "Opens the Activity pane: choose the sessions there (K terminates, C cancels)."
        text = Text(what)
        if remedy.cost:
            text.append(f"\nCost: {remedy.cost}")
        self.query_one("#remedy-what", Static).update(text)

    def _chosen(self) -> Remedy | None:
        index = self.query_one(OptionList).highlighted
        return self.remedies[index] if index is not None else None

    @on(OptionList.OptionSelected)
    @on(Button.Pressed, "#confirm")
    def _submit(self) -> None:
        self.dismiss(self._chosen())


class RemedyValuesDialog(Dialog):
    """The runbook's suggested values for a setting change, which the operator may adjust.

    Returns the action's parameters; the plan (previous values, the exact
    ``CONFIG SET``, the profile YAML) comes next, from the action itself.
    """

    def __init__(self, remedy: Remedy) -> None:
        super().__init__()
        self.remedy = remedy

    def compose(self) -> ComposeResult:
        parameters = self.remedy.parameters
        with Vertical(classes="dialog"):
            yield Label(Text(self.remedy.title), classes="dialog-title")
            if self.remedy.action == "redis-memory":
                yield Label("maxmemory (2gb, 512mb, 0 = no limit; empty = unchanged):")
                yield Input(
                    value=maxmemory_text(parameters.get("maxmemory")),
                    placeholder="unchanged",
                    id="maxmemory",
                )
                yield Label("maxmemory-policy:")
                yield Select(
                    [(policy, policy) for policy in REDIS_POLICIES],
                    value=parameters.get("policy") or Select.NULL,
                    prompt="unchanged",
                    id="policy",
                )
            else:
                threshold = parameters.get("threshold_ms", 100)
                yield Label("Record events slower than (ms; 0 switches the monitor off):")
                yield Input(value=str(threshold), id="threshold", restrict=r"[0-9]*")
            yield Label("", id="error", classes="error")
            yield _buttons("Next", False)

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def parameters(self) -> dict[str, Any]:
        """The values as the action takes them (raises InvalidInput naming the field)."""
        if self.remedy.action == "redis-memory":
            policy = self.query_one("#policy", Select).value
            return memory_parameters(
                self.query_one("#maxmemory", Input).value,
                policy if isinstance(policy, str) else None,  # not chosen: unchanged
            )
        return {"threshold_ms": parse_threshold_ms(self.query_one("#threshold", Input).value)}

    @on(Input.Changed)
    @on(Select.Changed)
    def _validate(self) -> None:
        message = ""
        try:
            self.parameters()
        except InvalidInput as exc:
            message = exc.message
        self.query_one("#error", Label).update(Text(message))

    @on(Input.Submitted)
    @on(Button.Pressed, "#confirm")
    def _submit(self) -> None:
        try:
            parameters = self.parameters()
        except InvalidInput as exc:
            self.query_one("#error", Label).update(Text(exc.message))
            return
        self.dismiss(parameters)


class ExplainDialog(Dialog):
    """EXPLAIN a pg_stat_statements entry (by query id) or a statement typed in.

    A plain EXPLAIN plans without running; ANALYZE runs the statement, so it
    asks first (with what it will do) and runs in a rolled-back transaction.
    """

    STATEMENT_TIMEOUT = 30.0

    DEFAULT_CSS = """
    ExplainDialog #plan-scroll { height: auto; max-height: 60vh; }
    """

    def __init__(self, session: Session, query_id: int | None = None) -> None:
        super().__init__(classes="explain")
        self.session = session
        self.query_id = query_id

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog explain"):
            yield Label("EXPLAIN a PostgreSQL statement", classes="dialog-title")
            yield Label("A query id from 'Top statements', or one SQL statement:")
            yield Input(
                value="" if self.query_id is None else str(self.query_id),
                placeholder="e.g. 4180591393027845112 or SELECT ... FROM ...",
                id="statement",
            )
            yield Checkbox("ANALYZE: run it for real and measure (asks first)", id="analyze")
            yield Label("", id="error", classes="error")
            with VerticalScroll(id="plan-scroll"):
                yield Static("", id="plan")
            yield _buttons("Explain", False)

    def on_mount(self) -> None:
        # Plans are wide: as wide as the help screen (the app's .dialog rule says 76).
        self.query_one(".dialog").styles.width = 110
        self.query_one("#statement", Input).focus()
        self.query_one("#cancel", Button).label = "Close"

    def _target(self) -> tuple[str, int | None]:
        text = self.query_one("#statement", Input).value.strip()
        if not text:
            raise InvalidInput("statement: enter a query id or a SQL statement")
        if text.isdigit() or (text.startswith("-") and text[1:].isdigit()):
            return "", int(text)
        return text, None

    @on(Input.Submitted, "#statement")
    @on(Button.Pressed, "#confirm")
    def _submit(self) -> None:
        try:
            statement, query_id = self._target()
        except InvalidInput as exc:
            self.query_one("#error", Label).update(Text(exc.message))
            return
        self.query_one("#error", Label).update("")
        analyze = self.query_one("#analyze", Checkbox).value
        if not analyze:
            self._explain(statement, query_id, analyze=False)
            return
        shown = statement or f"the statement with query id {query_id}"
        plan = analyze_plan(shown, self.STATEMENT_TIMEOUT, self.session.readonly)

        def decided(confirmed: bool | None) -> None:
            if confirmed:
                self._explain(statement, query_id, analyze=True)

        self.app.push_screen(PlanDialog(plan), decided)

    def _explain(self, statement: str, query_id: int | None, *, analyze: bool) -> None:
        diagnostics = self.session.troubleshoot
        self.query_one("#plan", Static).update(Text("planning…", style="italic"))

        async def work() -> None:
            result = await diagnostics.explain(
                statement, query_id, analyze=analyze, consent=analyze
            )
            lines = [Text(f"-- {result.statement}", style="dim")]
            if result.note:
                lines.append(Text(f"-- {result.note}", style="dim"))
            lines += [Text(line, no_wrap=True, overflow="ellipsis") for line in result.plan]
            self.query_one("#plan", Static).update(Group(*lines))

        run_io(
            self,
            work,
            context="EXPLAIN ANALYZE" if analyze else "EXPLAIN",
            timeout=self.STATEMENT_TIMEOUT + 15,
            group="explain",
            exclusive=True,
        )


class SessionDetailScreen(ModalScreen[None]):
    """One PostgreSQL session in full: the whole query, every timing, who blocks it."""

    BINDINGS: ClassVar[list[Any]] = [Binding("escape,q,enter", "close", "Close", id="detail_close")]

    def __init__(self, session: PgSession) -> None:
        super().__init__()
        self.pg_session = session

    def compose(self) -> ComposeResult:
        s = self.pg_session
        with Vertical(classes="dialog detail"):
            yield Label(Text(f"Session {s.pid}  (Esc closes)"), classes="dialog-title")
            with VerticalScroll():
                yield Static(self.content())

    def content(self) -> Group:
        s = self.pg_session
        facts = Table(box=None, show_header=False, expand=True, pad_edge=False)
        facts.add_column(no_wrap=True, style="bold")
        facts.add_column(ratio=1, overflow="fold")
        rows = [
            ("pid", str(s.pid)),
            ("user", s.user or "-"),
            ("database", s.database or "-"),
            ("application", s.application or "-"),
            ("client", s.client or "-"),
            ("state", s.state or "-"),
            ("waiting on", s.wait or "nothing"),
            ("blocked by", ", ".join(str(p) for p in s.blocked_by) or "nobody"),
            ("connected for", format_duration(s.backend_seconds)),
            ("transaction open for", format_duration(s.transaction_seconds)),
            ("query running for" if s.state == "active" else "last query ran", _ago(s)),
            ("in this state for", format_duration(s.state_seconds)),
        ]
        for label, value in rows:
            facts.add_row(label, value)
        return Group(
            facts,
            Text(""),
            Text("Query (password literals masked)", style="bold"),
            Text(s.query or "-", overflow="fold"),
        )

    def action_close(self) -> None:
        self.dismiss(None)


def _ago(session: PgSession) -> str:
    if session.query_seconds is None:
        return "-"
    if session.state == "active":
        return format_duration(session.query_seconds)
    return f"started {format_duration(session.query_seconds)} ago"
