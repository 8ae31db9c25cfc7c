"""One reading of a pane's data source: the value, or why there is none, and when to retry.

The data panes (migrations, collections) poll like the overview does: the
next read starts a while after the last one finished, and a database that
stops answering is shown DOWN at once with its reason, then retried with
:class:`~alfred_tui.control.backoff.Backoff` rather than hammered. A
:class:`Reader` wraps one source's read in a timeout and turns every failure
into one line, so a pane's handler never sees an exception.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from alfred_tui.control.backoff import Backoff
from alfred_tui.errors import AlfredError
from alfred_tui.redact import redact

T = TypeVar("T")

Clock = Callable[[], float]


@dataclass(frozen=True)
class Outcome(Generic[T]):
    """What one read gave: a value, or a one-line reason (then ``value`` is None)."""

    value: T | None
    error: str = ""
    """``connection refused (127.0.0.1:5432)``; empty when the read worked."""
    title: str = ""
    """The error's kind (``Migration error``, ``Qdrant unavailable``)."""
    taken_at: float = 0.0
    retry_in: float | None = None
    """Seconds until the next attempt after a failure."""
    failures: int = 0
    down: bool = False
    """The source did not answer (as opposed to answering with a refusal or a bad file)."""

    @property
    def ok(self) -> bool:
        """Whether the read worked."""
        return not self.error


class NotRecorded(AlfredError):
    """A replayed source has no reading for this moment (the pane was not open then).

    Not a failure of the database: a pane says "not recorded", not DOWN.
    """

    title = "Not recorded"


DOWN_ERRORS = frozenset(
    {
        "DatabaseUnavailable",
        "DatabaseUnreachable",
        "QdrantUnavailable",
        "RedisUnreachable",
        "PostgresUnreachable",
        "TimeoutError",
    }
)
"""Errors that mean "the database does not answer" (a pane says DOWN and retries)."""


def is_down(exc: BaseException) -> bool:
    """Whether ``exc`` says the source does not answer, rather than refuses."""
    return any(cls.__name__ in DOWN_ERRORS for cls in type(exc).__mro__)


def describe_error(exc: BaseException) -> tuple[str, str]:
    """(title, one line) for any failure; foreign text is redacted."""
    if isinstance(exc, AlfredError):
        return exc.title, exc.message.replace("\n", " ")
    reason = getattr(exc, "reason", None)  # DatabaseUnavailable and its kin
    if isinstance(reason, str):
        return "Unavailable", redact(reason)
    return "Unexpected error", redact(f"{type(exc).__name__}: {exc}")[:200]


class Reader(Generic[T]):
    """Reads one source under a timeout and keeps its backoff."""

    def __init__(
        self,
        read: Callable[[], Awaitable[T]],
        *,
        timeout: float,
        base: float,
        cap: float = 30.0,
        clock: Clock = time.time,
    ) -> None:
        self._read = read
        self.timeout = timeout
        self.backoff = Backoff(base, cap)
        self.clock = clock

    async def read(self) -> Outcome[T]:
        """One attempt; failures come back as an :class:`Outcome` with the reason."""
        try:
            async with asyncio.timeout(self.timeout):
                value = await self._read()
        except TimeoutError:
            title, error, down = "Timeout", f"no answer within {self.timeout:g} s", True
        except Exception as exc:  # one line on screen, never a crash
            (title, error), down = describe_error(exc), is_down(exc)
        else:
            self.backoff.succeeded()
            return Outcome(value, taken_at=self.clock())
        now = self.clock()
        wait = self.backoff.failed(now)
        return Outcome(
            None,
            error,
            title,
            taken_at=now,
            retry_in=wait,
            failures=self.backoff.failures,
            down=down,
        )

    def wait_after(self, outcome: Outcome[T], interval: float) -> float:
        """Seconds before the next read: ``interval`` after a success, the backoff after not."""
        if outcome.ok:
            return interval
        return max(0.0, self.backoff.next_attempt - self.clock())
