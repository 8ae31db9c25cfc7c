"""Messages the Backups pane's and the Restore screen's workers post to their handlers.

Each carries the session ``generation`` it was made for, so a result that
arrives after a profile or backend switch is dropped (see docs/ui.md).
"""

from __future__ import annotations

from textual.message import Message

from alfred_tui.backends.base import Progress
from alfred_tui.control.backups import CatalogView, PitrReading, PrunePlan
from alfred_tui.control.restore import RestoreMode, RestoreView


class CatalogLoaded(Message):
    """The catalog and the restore journals were read."""

    def __init__(self, generation: int, view: CatalogView) -> None:
        super().__init__()
        self.generation = generation
        self.view = view


class PitrLoaded(Message):
    """PITR readiness was read (or PostgreSQL did not answer: ``retry_in`` seconds)."""

    def __init__(self, generation: int, reading: PitrReading, retry_in: float | None) -> None:
        super().__init__()
        self.generation = generation
        self.reading = reading
        self.retry_in = retry_in


class JobProgressed(Message):
    """A backup, verification or prune reported progress."""

    def __init__(self, generation: int, progress: Progress) -> None:
        super().__init__()
        self.generation = generation
        self.progress = progress


class JobFinished(Message):
    """A job ended well (``text``: what was done) or found problems (``problems``)."""

    def __init__(
        self, generation: int, text: str, problems: tuple[str, ...] = (), select: str = ""
    ) -> None:
        super().__init__()
        self.generation = generation
        self.text = text
        self.problems = problems
        self.select = select
        """A backup id to put the cursor on (the one just taken)."""


class JobEnded(Message):
    """A job stopped, well or not: the progress line goes away, the catalog is re-read."""

    def __init__(self, generation: int) -> None:
        super().__init__()
        self.generation = generation


class PrunePlanned(Message):
    """Retention was applied on paper; the pane asks before deleting."""

    def __init__(self, generation: int, plan: PrunePlan) -> None:
        super().__init__()
        self.generation = generation
        self.plan = plan


class RestoreChanged(Message):
    """The guided restore moved: a step started, said something, progressed or ended."""

    def __init__(self, view: RestoreView, token: int) -> None:
        super().__init__()
        self.view = view
        self.token = token
        """Which flow of the screen it belongs to (a cancelled one's views are dropped)."""


class UndoReady(Message):
    """How to bring the data from before back was worked out (rollback, or a restore)."""

    def __init__(self, mode: RestoreMode, reference: str | None, token: int) -> None:
        super().__init__()
        self.mode = mode
        self.reference = reference
        self.token = token


class RestoreCatalogRead(Message):
    """The Restore screen read the catalog (its backup list and unfinished restores)."""

    def __init__(self, view: CatalogView, offer: bool) -> None:
        super().__init__()
        self.view = view
        self.offer = offer
        """Offer to roll back or retry an unfinished restore (on opening only)."""


class RestorePhaseEnded(Message):
    """A phase of the restore (steps 1-3, or 5-7) stopped running, however it ended."""

    def __init__(self, phase: str, token: int) -> None:
        super().__init__()
        self.phase = phase
        self.token = token
