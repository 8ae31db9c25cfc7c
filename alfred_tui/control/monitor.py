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

from alfred_tui.backends.base import InstanceUsage, ServiceStatus
from alfred_tui.checks.instances import REPLICATED, InstanceReplication
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
    replication: dict[ServiceKind, dict[str, InstanceReplication]] = field(default_factory=dict)
    """Each instance's part in replication, by service and instance name."""
    usage: dict[str, InstanceUsage] = field(default_factory=dict)
    """Each instance's CPU and memory, by instance name."""
    instances_error: str = ""
    """Why the instances could not be read, or empty."""

    def view(self, kind: ServiceKind) -> ServiceView | None:
        """The view of ``kind``, if the profile has it."""
        return next((view for view in self.services if view.kind == kind), None)


def history_key(kind: ServiceKind, metric: str) -> str:
    """The key of one metric's series in :class:`MetricHistory`."""
    return f"{kind}/{metric}"


def instance_key(kind: ServiceKind, instance: str, measure: str) -> str:
    """The key of one instance's series (``cpu``, ``memory``, ``lag_seconds``, ``lag_bytes``)."""
    return f"{kind}/{instance}/{measure}"


def usage_series(usage: InstanceUsage) -> list[tuple[str, float | None]]:
    """An instance's usage reading as the values of its sparklines' series (cpu, memory).

    The monitor's history and the black-box recording keep the same series.
    """
    memory = None if usage.memory is None else float(usage.memory)
    return [
        (instance_key(usage.service, usage.instance, "cpu"), usage.cpu_percent),
        (instance_key(usage.service, usage.instance, "memory"), memory),
    ]


def replication_series(
    kind: ServiceKind, instance: str, row: InstanceReplication
) -> list[tuple[str, float | None]]:
    """An instance's replication reading as its series' values (lag_seconds, lag_bytes)."""
    lag_bytes = None if row.lag_bytes is None else float(row.lag_bytes)
    return [
        (instance_key(kind, instance, "lag_seconds"), row.lag_seconds),
        (instance_key(kind, instance, "lag_bytes"), lag_bytes),
    ]


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
    on_poll: Callable[[OverviewSnapshot], None] | None = None
    """Told every finished poll's snapshot (the black-box recorder's tap)."""
    history: MetricHistory = field(init=False)
    _states: dict[ServiceKind, _ServiceState] = field(init=False)
    _status: dict[ServiceKind, ServiceStatus] = field(init=False, default_factory=dict)
    _status_error: str = field(init=False, default="")
    _status_backoff: Backoff = field(init=False)
    _polls: int = field(init=False, default=0)
    _replication: dict[ServiceKind, dict[str, InstanceReplication]] = field(
        init=False, default_factory=dict
    )
    _usage: dict[str, InstanceUsage] = field(init=False, default_factory=dict)
    _instances_error: str = field(init=False, default="")

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
            jobs.append(asyncio.ensure_future(self._read_engine(now)))
        try:
            for job in asyncio.as_completed(jobs):
                await job
                if on_partial is not None and len(jobs) > 1:
                    on_partial(self.snapshot(now))
        finally:
            for job in jobs:
                job.cancel()
        self._polls += 1
        snapshot = self.snapshot(now, (time.perf_counter() - started) * 1000)
        if self.on_poll is not None:
            self.on_poll(snapshot)
        return snapshot

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
            replication=dict(self._replication),
            usage=dict(self._usage),
            instances_error=self._instances_error,
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

    async def _read_engine(self, now: float) -> None:
        """The status, then each instance's usage and replication (after the status, so
        an engine that lists its instances once per refresh can reuse that list)."""
        if await self._read_status(now):
            await self._read_instances(now)

    async def _read_instances(self, now: float) -> None:
        kinds = [kind for kind in self.services if kind in REPLICATED]
        problems: list[str] = []
        try:
            async with asyncio.timeout(self.status_timeout):
                usage = await self.source.usage()
        except Exception as exc:  # shown beside the instances, retried next poll
            problems.append(f"usage: {_one_line(exc)}")
            usage = []
        self._usage = {entry.instance: entry for entry in usage}
        for entry in usage:
            for key, value in usage_series(entry):
                self.history.add(key, now, value)
        for kind in kinds:
            try:
                async with asyncio.timeout(self.status_timeout):
                    rows = await self.source.replication(kind)
            except Exception as exc:
                problems.append(f"{kind} replication: {_one_line(exc)}")
                continue
            self._replication[kind] = rows
            for name, row in rows.items():
                for key, value in replication_series(kind, name, row):
                    self.history.add(key, now, value)
        self._instances_error = "; ".join(problems)

    async def _read_status(self, now: float) -> bool:
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
            return True
        self._status_backoff.failed(now)
        return False

    async def close(self) -> None:
        """Close the source's connections."""
        await self.source.close()


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    if isinstance(exc, AlfredError):
        return exc.one_line()
    return redact(f"{type(exc).__name__}: {exc}")[:200]
