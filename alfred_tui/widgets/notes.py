"""Problems in words, under the services table: who is down, why, when it is retried."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from alfred_tui.control.monitor import OverviewSnapshot
from alfred_tui.control.troubleshoot_view import ServiceFlag
from alfred_tui.widgets.styles import state_style


class ServiceNotes(Static):
    """One line per down service, one per runbook marker, one for a backend that cannot
    report status."""

    DEFAULT_CSS = """
    ServiceNotes { height: auto; max-height: 6; padding: 0 1; }
    ServiceNotes.-empty { display: none; }
    """

    def show(
        self,
        snapshot: OverviewSnapshot,
        flags: dict[str, ServiceFlag] | None = None,
        runbook_key: str = "t",
    ) -> None:
        """Render the problems of ``snapshot`` and ``flags`` (hidden when there are none)."""
        text = Text(no_wrap=False, overflow="fold")
        for view in snapshot.services:
            if view.reason:
                if text:
                    text.append("\n")
                text.append(f"{view.kind} {view.state}: ", style=state_style(self.app, view.state))
                text.append(view.reason)
        for view in snapshot.services:
            flag = (flags or {}).get(view.kind)
            if flag is None or not flag.flagged or view.reason:
                continue  # a down service's runbooks only repeat that it is down
            if text:
                text.append("\n")
            text.append(f"⚑ {view.kind} {flag.word}: ", style=state_style(self.app, flag.verdict))
            text.append(f"{flag.summary} ")
            text.append(f"({runbook_key}: runbook)", style="bold")
        if snapshot.status_error:
            if text:
                text.append("\n")
            text.append("status: ", style=state_style(self.app, "UNKNOWN"))
            text.append(snapshot.status_error)
        self.set_class(not text, "-empty")
        self.update(text)
