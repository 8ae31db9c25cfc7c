"""Typed messages that workers post and handlers turn into widget updates."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.message import Message

if TYPE_CHECKING:  # the app imports this module before the first frame: keep it light
    from alfred_tui.backends.base import Progress
    from alfred_tui.control.failover import FailoverPlan
    from alfred_tui.control.monitor import OverviewSnapshot
    from alfred_tui.control.troubleshoot_view import ServiceFlag


class IoFailed(Message):
    """A worker failed; the app shows it as one notification (see ``AlfredApp``)."""

    def __init__(self, error: BaseException, context: str) -> None:
        super().__init__()
        self.error = error
        self.context = context


class OverviewUpdated(Message):
    """A poll finished; ``generation`` tells a stale session's result from a current one."""

    def __init__(self, generation: int, snapshot: OverviewSnapshot) -> None:
        super().__init__()
        self.generation = generation
        self.snapshot = snapshot


class ActionProgressed(Message):
    """A running action reported progress."""

    def __init__(self, generation: int, progress: Progress) -> None:
        super().__init__()
        self.generation = generation
        self.progress = progress


class ActionSucceeded(Message):
    """An action finished well; ``text`` says what was done."""

    def __init__(self, generation: int, text: str) -> None:
        super().__init__()
        self.generation = generation
        self.text = text


class FailoverPlanned(Message):
    """A failover's plan was read from the deployment: ask the operator."""

    def __init__(self, generation: int, plan: FailoverPlan) -> None:
        super().__init__()
        self.generation = generation
        self.plan = plan


class ActionEnded(Message):
    """An action stopped, well or not: the progress display goes away."""

    def __init__(self, generation: int) -> None:
        super().__init__()
        self.generation = generation


class MarkersUpdated(Message):
    """The runbooks' verdicts per service, for the overview's markers."""

    def __init__(self, generation: int, flags: dict[str, ServiceFlag]) -> None:
        super().__init__()
        self.generation = generation
        self.flags = flags
