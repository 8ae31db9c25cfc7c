"""The overview's poller: every service's state and health, one snapshot per poll.

Each poll reads the backend's status and probes every service that is due,
concurrently, each under its own timeout, so one service that hangs never
holds up the others. A service that stops answering is reported DOWN at
once and then retried with :class:`~alfred_tui.control.backoff.Backoff`
while the rest keep their refresh rate. The caller decides when the next
poll starts (after this one finished: polls never overlap).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from alfred_tui.backends.base import ServiceStatus
from alfred_tui.checks.report import ServiceReport
from alfred_tui.config.models import ServiceKind
from alfred_tui.control.backoff import Backoff
from alfred_tui.control.history import MetricHistory
from alfred_tui.control.sources import OverviewSource
from alfred_tui.errors import AlfredError
from alfred_tui.metrics import Verdict
from alfred_tui.redact import redact

Clock = Callable[[], float]


@dataclass(frozen=True)
class ServiceView:
    """What the overview knows about one service right now."""

    kind: ServiceKind
    report: ServiceReport | None = None
    """The latest health reading; ``None`` until the first probe finished."""
    status: ServiceStatus | None = None
    """The backend's deployment state; ``None`` when the backend could not say."""
    retry_in: float | None = None
    """Seconds until the next attempt, while the service is down."""
    failures: int = 0
    """Failed probes in a row."""

    @property
    def state(self) -> str:
        """One word for the row: OK, WARNING, CRITICAL, UNKNOWN, DOWN or CONNECTING."""
        if self.report is None:
            return "CONNECTING"
        if not self.report.up:
            return "UNKNOWN" if self.report.verdict == Verdict.UNKNOWN else "DOWN"
        return self.report.verdict.name

    @property
    def reason(self) -> str:
        """Why the service is down, with when it is retried; empty when up."""
        if self.report is None or self.report.up:
            return ""
        retry = f" - retry in {self.retry_in:.0f} s" if self.retry_in else ""
        return f"{self.report.reason}{retry}"


@dataclass(frozen=True)
class OverviewSnapshot:
    """One poll's result: every service, plus the backend's own trouble if any."""

    profile: str
    backend: str
    taken_at: float
    """Clock time of the poll (the right edge of every sparkline)."""
    services: tuple[ServiceView, ...]
    history: MetricHistory
    status_error: str = ""
    """Why ``Backend.status()`` failed, or empty."""
    duration_ms: float = 0.0
    poll: int = 0
    """Sequence number of the poll since the monitor started."""

    def view(self, kind: ServiceKind) -> ServiceView | None:
        """The view of ``kind``, if the profile has it."""
        return next((view for view in self.services if view.kind == kind), None)


def history_key(kind: ServiceKind, metric: str) -> str:
    """The key of one metric's series in :class:`MetricHistory`."""
    return f"{kind}/{metric}"


@dataclass
class _ServiceState:
    backoff: Backoff
    report: ServiceReport | None = None


@dataclass
class ServiceMonitor:
    """Polls a profile's services through an :class:`OverviewSource`."""

    source: OverviewSource
    profile: str
    backend: str
    services: Sequence[ServiceKind]
    refresh_seconds: float = 2.0
    status_timeout: float = 10.0
    backoff_cap: float = 30.0
    clock: Clock = time.time
    history: MetricHistory = field(init=False)
    _states: dict[ServiceKind, _ServiceState] = field(init=False)
    _status: dict[ServiceKind, ServiceStatus] = field(init=False, default_factory=dict)
    _status_error: str = field(init=False, default="")
    _status_backoff: Backoff = field(init=False)
    _polls: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self.history = MetricHistory(refresh_seconds=self.refresh_seconds)
        self._states = {
            kind: _ServiceState(Backoff(self.refresh_seconds, self.backoff_cap))
            for kind in self.services
        }
        self._status_backoff = Backoff(self.refresh_seconds, self.backoff_cap)

    @property
    def polls(self) -> int:
        """Polls completed since the monitor started."""
        return self._polls

    def retry_now(self) -> None:
        """Forget every backoff: the operator asked for a refresh, or an action finished."""
        for state in self._states.values():
            state.backoff.next_attempt = 0.0
        self._status_backoff.next_attempt = 0.0

    async def poll(
        self, on_partial: Callable[[OverviewSnapshot], None] | None = None
    ) -> OverviewSnapshot:
        """Read what is due, record history, and return the whole picture.

        ``on_partial`` gets a snapshot each time one part (a service, the
        status) finishes, so a slow service never keeps the others off screen.
        """
        started = time.perf_counter()
        now = self.clock()
        due = [kind for kind in self.services if self._states[kind].backoff.due(now)]
        jobs: list[asyncio.Future[None]] = [
            asyncio.ensure_future(self._probe(kind, now)) for kind in due
        ]
        if self._status_backoff.due(now):
            jobs.append(asyncio.ensure_future(self._read_status(now)))
        try:
            for job in asyncio.as_completed(jobs):
                await job
                if on_partial is not None and len(jobs) > 1:
                    on_partial(self.snapshot(now))
        finally:
            for job in jobs:
                job.cancel()
        self._polls += 1
        return self.snapshot(now, (time.perf_counter() - started) * 1000)

    def snapshot(self, now: float | None = None, duration_ms: float = 0.0) -> OverviewSnapshot:
        """The current picture without polling (for a redraw)."""
        now = self.clock() if now is None else now
        views = []
        for kind in self.services:
            state = self._states[kind]
            down = state.report is not None and not state.report.up
            views.append(
                ServiceView(
                    kind=kind,
                    report=state.report,
                    status=self._status.get(kind),
                    retry_in=max(0.0, state.backoff.next_attempt - now) if down else None,
                    failures=state.backoff.failures,
                )
            )
        return OverviewSnapshot(
            profile=self.profile,
            backend=self.backend,
            taken_at=now,
            services=tuple(views),
            history=self.history,
            status_error=self._status_error,
            duration_ms=duration_ms,
            poll=self._polls,
        )

    async def _probe(self, kind: ServiceKind, now: float) -> None:
        state = self._states[kind]
        report = await self.source.probe(kind)
        state.report = report
        if report.up:
            state.backoff.succeeded()
        else:
            state.backoff.failed(now)
        for reading in report.readings:
            self.history.add(history_key(kind, reading.name), now, reading.value)

    async def _read_status(self, now: float) -> None:
        try:
            async with asyncio.timeout(self.status_timeout):
                statuses = await self.source.status()
        except TimeoutError:
            self._status_error = f"the {self.backend} backend did not answer within " + (
                f"{self.status_timeout:g} s"
            )
        except AlfredError as exc:
            self._status_error = exc.one_line()
        except NotImplementedError:
            self._status_error = f"the {self.backend} backend cannot report status yet"
        except Exception as exc:  # an engine SDK surprise: shown, retried, never a crash
            self._status_error = redact(f"{type(exc).__name__}: {exc}")[:200]
        else:
            self._status = {status.service: status for status in statuses}
            self._status_error = ""
            self._status_backoff.succeeded()
            return
        self._status_backoff.failed(now)

    async def close(self) -> None:
        """Close the source's connections."""
        await self.source.close()
