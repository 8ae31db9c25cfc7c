"""What changed: the timeline's entries worked out from the readings, as they are recorded.

The recorder hands every reading to a :class:`TimelineDetector`, which
remembers the last state of each thing it watches and returns an entry when
it changes:

- a service going down or coming back, or its verdict changing (kind ``service``);
- a metric's verdict changing, with the value that crossed the threshold (``verdict``);
- the engine's own account: container/pod events where the backend reports
  them, otherwise what ``status()`` shows changing - an instance exiting,
  restarting, appearing or going, the desired count changing (``engine``);
- a runbook's marker appearing or clearing (``runbook``);
- log lines at ERROR or above - the first few of each minute and service one
  by one, then how many more (``log``);
- every operator action from the journal (``action``).

Plain Python, no I/O and no clock of its own: the UI's recorder and the
headless ``alfred-tui record`` feed it the same way, and tests feed it by hand.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from alfred_tui.loglevels import Level, may_be_severe, parse_level
from alfred_tui.recording.store import TimelineEntry

if TYPE_CHECKING:
    from alfred_tui.backends.base import BackendEvent, LogRecord, ServiceStatus
    from alfred_tui.checks.report import ServiceReport
    from alfred_tui.config.models import MetricThreshold
    from alfred_tui.control.monitor import OverviewSnapshot
    from alfred_tui.control.troubleshoot_view import ServiceFlag
    from alfred_tui.metrics import Reading
    from alfred_tui.operator_journal import OperatorAction

KINDS = ("service", "verdict", "engine", "runbook", "log", "action")
SEVERITIES = ("OK", "INFO", "WARNING", "CRITICAL")

#: Error lines of one service in one minute shown one by one; the rest are counted.
ERRORS_SHOWN_PER_MINUTE = 3

#: Engine events that are noise on an incident's timeline: Docker's exec_* and attach
#: are alfred-tui's own backups, probes and logs; a watch reconnecting is ours too.
_EVENT_NOISE = frozenset(
    {
        "exec_create",
        "exec_start",
        "exec_die",
        "exec_detach",
        "attach",
        "detach",
        "resize",
        "top",
        "copy",
        "archive-path",
        "extract-to-dir",
        "export",
        "commit",
        "watch_resumed",
    }
)
#: How bad an engine event is (Docker's actions, Kubernetes reasons and pod changes);
#: any other kind is INFO.
_EVENT_SEVERITY = {
    "die": "WARNING",
    "oom": "CRITICAL",
    "kill": "WARNING",
    "stop": "INFO",
    "start": "INFO",
    "restart": "WARNING",
    "create": "INFO",
    "destroy": "INFO",
    "pause": "WARNING",
    "unpause": "INFO",
    "health_status": "INFO",
    # Kubernetes Events (reasons) and pod changes
    "Killing": "WARNING",
    "BackOff": "CRITICAL",
    "OOMKilled": "CRITICAL",
    "Failed": "CRITICAL",
    "FailedScheduling": "CRITICAL",
    "Unhealthy": "WARNING",
    "Pulling": "INFO",
    "Pulled": "INFO",
    "Created": "INFO",
    "Started": "INFO",
    "Scheduled": "INFO",
    "SuccessfulCreate": "INFO",
    "SuccessfulDelete": "INFO",
    "ScalingReplicaSet": "INFO",
    "deleted": "INFO",
    "created": "INFO",
    "ready": "OK",
    "not_ready": "WARNING",
    "watch_error": "WARNING",
}

#: The pane an operator action concerns (where "jump to it" goes).
_ACTION_PANES = {
    "restore": "backups",
    "backup": "backups",
    "prune": "backups",
    "pitr": "backups",
    "migrate": "migrations",
    "create": "collections",
    "cancel": "activity",
    "terminate": "activity",
    "redis-memory": "troubleshoot",
    "latency-monitor": "troubleshoot",
    "enable-pg-stat-statements": "troubleshoot",
}


def action_pane(action: str) -> str:
    """The pane an operator action concerns (``restore --rollback`` -> backups)."""
    return _ACTION_PANES.get(action.split()[0], "overview")


def action_entry(action: OperatorAction) -> TimelineEntry:
    """An operator action as a timeline entry (replaced when its end is journaled)."""
    severity = {"ok": "INFO", "started": "INFO"}.get(action.outcome, "WARNING")
    when = datetime.fromtimestamp(action.at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    took = f", took {action.duration:.1f} s" if action.duration is not None else ""
    lines = [
        f"who      {action.who} ({action.origin}), profile {action.profile} on {action.backend}",
        f"when     {when}{took}",
        f"outcome  {action.outcome}" + (f": {action.detail}" if action.detail else ""),
    ]
    if action.plan:  # a browser's login (serve) showed no plan
        lines += ["plan shown:", *(f"  {line}" for line in action.plan)]
    return TimelineEntry(
        at=action.at,
        kind="action",
        service=action.service,
        severity=severity,
        title=action.summary(),
        detail="\n".join(lines),
        pane=action_pane(action.action),
        ref=f"action:{action.id}",
    )


@dataclass
class _ErrorMinute:
    minute: int
    count: int = 0
    last_at: float = 0.0


def _minute(at: float) -> int:
    return int(at // 60)


def _clock(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%H:%M")


class TimelineDetector:
    """Remembers the last state of everything watched; returns entries for what changed."""

    def __init__(self, thresholds: dict[str, MetricThreshold] | None = None) -> None:
        self.thresholds = thresholds or {}
        self.engine_events = False
        """True while the backend's own event stream is followed (then instance changes
        come from it, not from comparing status readings)."""
        self._states: dict[str, str] = {}
        self._verdicts: dict[str, str] = {}
        self._statuses: dict[str, ServiceStatus] = {}
        self._flags: dict[str, tuple[str, str] | None] = {}
        self._errors: dict[str, _ErrorMinute] = {}
        self._closed_through: int | None = None
        """The minute of the last full look at the counters: until the clock passes it or a
        counter is opened, there is nothing to close (a log line's check costs one compare)."""

    # --- the overview's readings ----------------------------------------------------

    def overview(self, snapshot: OverviewSnapshot) -> list[TimelineEntry]:
        """Service, metric and deployment changes in one poll's snapshot."""
        at = snapshot.taken_at
        entries: list[TimelineEntry] = []
        for view in snapshot.services:
            service = view.kind
            if view.report is not None:
                entries += self._service(at, service, view.state, view.reason, view.report)
            if view.status is not None:
                entries += self._deployment(at, view.status)
        return entries

    def _service(
        self, at: float, service: str, state: str, reason: str, report: ServiceReport
    ) -> list[TimelineEntry]:
        entries: list[TimelineEntry] = []
        before = self._states.get(service)
        self._states[service] = state
        down = state in ("DOWN", "UNKNOWN")
        if state != before and not (before is None and state == "OK"):
            if down:
                started = " when the recording started" if before is None else ""
                title, severity = f"{service} {state}{started}: {report.reason}", "CRITICAL"
            elif before in ("DOWN", "UNKNOWN"):
                title, severity = f"{service} back up ({state})", _severity(state)
            elif before is None:
                title, severity = f"{service} {state} when the recording started", _severity(state)
            else:
                title, severity = f"{service} {state} (was {before})", _severity(state)
            detail = reason if down else report.summary()
            entries.append(
                TimelineEntry(at, "service", service, severity, title, detail, "overview")
            )
        if not down:
            for reading in report.readings:
                entries += self._verdict(at, service, reading)
        return entries

    def _verdict(self, at: float, service: str, reading: Reading) -> list[TimelineEntry]:
        from alfred_tui.checks.output import format_threshold, format_value

        if reading.verdict is None:
            return []  # not available: says nothing about the threshold
        key = f"{service}/{reading.name}"
        now, before = reading.verdict.name, self._verdicts.get(key)
        self._verdicts[key] = now
        if now == before or (before is None and now == "OK"):
            return []
        threshold = self.thresholds.get(reading.name)
        value = format_value(reading.value, threshold.unit if threshold is not None else "")
        context = [f"was {before}"] if before else []
        if threshold is not None:
            context.append(f"limits {format_threshold(threshold)}")
        title = f"{reading.name} {now} at {value}" + (f" ({'; '.join(context)})" if context else "")
        return [
            TimelineEntry(at, "verdict", service, _severity(now), title, reading.note, "overview")
        ]

    def _deployment(self, at: float, status: ServiceStatus) -> list[TimelineEntry]:
        service = status.service
        before = self._statuses.get(service)
        self._statuses[service] = status
        if before is None:
            return []
        entries = []

        def add(severity: str, title: str, detail: str = "") -> None:
            entries.append(
                TimelineEntry(at, "engine", service, severity, title, detail, "overview")
            )

        if status.desired != before.desired:
            add("INFO", f"{service} scaled {before.desired} -> {status.desired}")
        if self.engine_events:
            return entries
        old = {instance.name: instance for instance in before.instances}
        new = {instance.name: instance for instance in status.instances}
        for name, instance in new.items():
            previous = old.get(name)
            detail = f" ({instance.detail})" if instance.detail else ""
            if previous is None:
                add("INFO", f"{name}: new instance, {instance.state}{detail}")
            elif instance.state != previous.state:
                severity = "INFO" if instance.state == "running" else "WARNING"
                add(severity, f"{name}: {previous.state} -> {instance.state}{detail}")
            elif instance.restarts > previous.restarts:
                add("WARNING", f"{name}: restarted ({instance.restarts} restarts){detail}")
            elif (
                instance.started_at is not None
                and previous.started_at is not None
                and instance.started_at > previous.started_at
            ):
                started = instance.started_at.astimezone(UTC).strftime("%H:%M:%S UTC")
                add("WARNING", f"{name}: restarted (started {started})")
        for name in old.keys() - new.keys():
            add("INFO", f"{name}: instance gone")
        return entries

    # --- the rest ---------------------------------------------------------------------

    def markers(self, at: float, flags: dict[str, ServiceFlag]) -> list[TimelineEntry]:
        """Runbook findings appearing, changing and clearing."""
        entries = []
        for service, flag in flags.items():
            before = self._flags.get(service)
            now = (flag.verdict, flag.runbook) if flag.flagged else None
            if now == before:
                continue
            self._flags[service] = now
            if now is not None:
                title = f"runbook {flag.title}: {flag.verdict}: {flag.summary}"
                entries.append(
                    TimelineEntry(
                        at, "runbook", service, _severity(flag.verdict), title, "", "troubleshoot"
                    )
                )
            elif before is not None:
                title = f"runbook {flag.title}: clear ({flag.verdict})"
                entries.append(
                    TimelineEntry(at, "runbook", service, "OK", title, "", "troubleshoot")
                )
        self._flags = {k: v for k, v in self._flags.items() if v is not None}
        return entries

    def event(self, event: BackendEvent) -> list[TimelineEntry]:
        """One engine event, when it says something about the deployment."""
        if event.kind in _EVENT_NOISE:
            return []
        severity = _EVENT_SEVERITY.get(event.kind, "INFO")
        if event.kind == "die" and event.message.startswith("exit 0"):
            severity = "INFO"
        if event.kind == "health_status" and "unhealthy" in event.message:
            severity = "WARNING"
        what = f"{event.kind}: {event.message}" if event.message else event.kind
        title = f"{event.instance or event.service or 'engine'}: {what}"
        return [
            TimelineEntry(
                event.timestamp.timestamp(),
                "engine",
                event.service,
                severity,
                title,
                "",
                "overview",
            )
        ]

    def log(self, record: LogRecord) -> list[TimelineEntry]:
        """A log line at ERROR or above; after the first few of a minute, only counted."""
        at = record.timestamp.timestamp()
        entries = self._close_minutes(at)
        if not may_be_severe(record.service, record.line):
            return entries
        level, where, _ = parse_level(record.service, record.line)
        if level is None or level < Level.ERROR:
            return entries
        minute = _minute(at)
        counter = self._errors.get(record.service)
        if counter is None or counter.minute != minute:
            counter = self._errors[record.service] = _ErrorMinute(minute)
            self._closed_through = None
        counter.count += 1
        counter.last_at = at
        if counter.count <= ERRORS_SHOWN_PER_MINUTE:
            line = record.line.strip()
            # From the level word on: the server's own time and pid say nothing here.
            message = " ".join(record.line[max(where, 0) :].split())
            title = f"{record.service}: {message[:160]}"
            entries.append(
                TimelineEntry(
                    at,
                    "log",
                    record.service,
                    "CRITICAL" if level >= Level.FATAL else "WARNING",
                    title,
                    f"{record.instance} | {line}",
                    "logs",
                )
            )
        return entries

    def flush(self, now: float) -> list[TimelineEntry]:
        """Counts of minutes that ended (call it every flush, so a quiet log still reports)."""
        return self._close_minutes(now)

    def _close_minutes(self, now: float) -> list[TimelineEntry]:
        current = _minute(now)
        if current == self._closed_through:
            return []
        self._closed_through = current
        entries = []
        for service, counter in list(self._errors.items()):
            if counter.minute >= current:
                continue
            del self._errors[service]
            more = counter.count - ERRORS_SHOWN_PER_MINUTE
            if more > 0:
                title = (
                    f"{service}: {more} more error lines in the minute {_clock(counter.last_at)} "
                    f"({counter.count} in all)"
                )
                entries.append(
                    TimelineEntry(counter.last_at, "log", service, "WARNING", title, "", "logs")
                )
        return entries

    def actions(self, actions: Iterable[OperatorAction]) -> list[TimelineEntry]:
        """Operator actions from the journal (a start, then its end replacing it)."""
        return [action_entry(action) for action in actions]


def _severity(verdict: str) -> str:
    return {"OK": "OK", "WARNING": "WARNING", "CRITICAL": "CRITICAL"}.get(verdict, "CRITICAL")
