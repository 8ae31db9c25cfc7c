"""A fixed recording for the Timeline and replay snapshots: the same file every run.

Twenty minutes of the frozen Docker-like deployment of ``ui_fixed.py``, one
poll every two seconds up to ``NOW``, written by the real
:class:`~alfred_tui.recording.recorder.Recorder` (so the file and its
timeline are what the product writes): Redis's primary container dies and
Redis is DOWN from ``OUTAGE`` for a minute, PostgreSQL logs errors meanwhile,
the operator restarts Redis from the UI, and a runbook flags Redis's memory
and clears. Nothing here talks to a server; behaviour on real engines is in
``test_recording_faults.py``.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ui_fixed import NOW, NOW_DT, REPLICATION, STATUSES, USAGE, VALUES, fixed_report

from alfred_tui.backends.base import BackendEvent, InstanceUsage, LogRecord
from alfred_tui.checks.instances import InstanceReplication
from alfred_tui.config.loader import load_profile
from alfred_tui.control.history import MetricHistory
from alfred_tui.control.monitor import OverviewSnapshot, ServiceView
from alfred_tui.control.troubleshoot_view import ServiceFlag
from alfred_tui.metrics import Reading
from alfred_tui.operator_journal import OperatorAction
from alfred_tui.recording.recorder import Recorder, recording_meta

START = NOW - 1200
OUTAGE = NOW - 600
"""When Redis goes down (for a minute)."""
RESTART = OUTAGE + 50
"""When the operator restarts it from the UI."""


@functools.cache
def _thresholds() -> dict:  # type: ignore[type-arg]
    return load_profile("dev").profile.metrics


def _report(kind: str, at: float, step: int, down: bool) -> object:
    thresholds = _thresholds()
    if down:
        return dataclasses.replace(
            fixed_report(kind, thresholds, "connection refused (127.0.0.1:6379)"),  # type: ignore[arg-type]
            checked_at=at,
        )
    report = fixed_report(kind, thresholds)  # type: ignore[arg-type]
    readings = []
    for phase, reading in enumerate(report.readings):
        value = VALUES[kind][reading.name][0]  # type: ignore[index]
        if value is not None and not reading.name.endswith("_up"):
            value *= 1 + 0.35 * math.sin(step / 18 + phase) + 0.15 * math.sin(step / 5)
        readings.append(Reading(reading.name, value, reading.verdict, reading.note))
    return dataclasses.replace(report, readings=tuple(readings), checked_at=at)


def _status(kind: str, at: float) -> object:
    status = STATUSES[kind]  # type: ignore[index]
    if kind != "redis" or at < OUTAGE:
        return status
    primary, replica = status.instances
    if at < RESTART + 4:
        down = dataclasses.replace(primary, state="exited", health="none", detail="exit 137")
        return dataclasses.replace(status, ready=1, instances=(down, replica))
    started = datetime.fromtimestamp(RESTART + 4, UTC)
    again = dataclasses.replace(primary, restarts=primary.restarts + 1, started_at=started)
    return dataclasses.replace(status, instances=(again, replica))


def _replication(at: float, down: bool) -> dict[str, dict[str, InstanceReplication]]:
    """Streaming replicas; while Redis's primary is dead its replica's link is down."""
    if not down:
        return REPLICATION  # type: ignore[return-value]
    primary = InstanceReplication(
        "alfred-redis-1", "", "not answering", reason="connection refused (127.0.0.1:6379)"
    )
    replica = dataclasses.replace(
        REPLICATION["redis"]["alfred-redis-2"],
        state="not streaming",
        link_up=False,
        lag_bytes=None,
        reason=f"master_link_status down for {at - OUTAGE:.0f} s",
    )
    return {**REPLICATION, "redis": {primary.instance: primary, replica.instance: replica}}  # type: ignore[dict-item]


def _usage(at: float, step: int) -> dict[str, InstanceUsage]:
    """Each instance's CPU and memory, wandering around ``USAGE``; a new reading each poll."""
    usage = {}
    for phase, (name, reading) in enumerate(USAGE.items()):
        swing = 1 + 0.4 * math.sin(step / 70 + phase)
        cpu = None if reading.cpu_percent is None else round(reading.cpu_percent * swing, 1)
        usage[name] = dataclasses.replace(reading, cpu_percent=cpu, taken_at=at)
    return usage


def _action(path: Path) -> Path:
    """The operator's restart, as the journal holds it (a fixed who)."""
    action = OperatorAction(
        id="4f2a9c0e5b7d4e1f8a6b3c2d1e0f9a8b",
        at=RESTART,
        who="op@ops-box",
        origin="ui",
        profile="dev",
        backend="docker",
        action="restart",
        service="redis",
        plan=(
            "Restart every instance of redis (1 ready) on the docker backend (profile dev).",
            "Open connections are dropped; clients must reconnect.",
            "Data is kept.",
        ),
        outcome="ok",
        detail="Restarted redis",
        ended_at=RESTART + 6.2,
    )
    path.write_text(json.dumps(action.document()) + "\n")
    return path


def write_fixed_recording(path: Path) -> Path:
    """The recording described in the module docstring, at ``path``."""
    from alfred_tui.operator_journal import JournalTail

    profile = load_profile("dev").profile
    clock = {"now": START}
    meta = recording_meta(
        profile, "docker", 2.0, host="ops-box", user="op@ops-box", created_at=START
    )
    journal = JournalTail(_action(path.with_suffix(".journal")), from_start=True)
    recorder = Recorder(path, meta, profile, journal=journal, clock=lambda: clock["now"])
    recorder.events_followed(True)
    for step in range(601):
        at = START + 2 * step
        clock["now"] = at
        down = OUTAGE <= at < OUTAGE + 60
        views = tuple(
            ServiceView(
                kind,  # type: ignore[arg-type]
                _report(kind, at, step, down and kind == "redis"),  # type: ignore[arg-type]
                _status(kind, at),  # type: ignore[arg-type]
                retry_in=4.0 if down and kind == "redis" else None,
                failures=2 if down and kind == "redis" else 0,
            )
            for kind in ("postgres", "redis", "qdrant")
        )
        snapshot = OverviewSnapshot(
            "dev",
            "docker",
            at,
            views,
            MetricHistory(),
            poll=step,
            replication=_replication(at, down),  # type: ignore[arg-type]
            usage=_usage(at, step),
        )
        recorder.overview(snapshot)
        if step % 5 == 0:
            flagged = START + 900 <= at < START + 1000
            flag = ServiceFlag(
                "redis",
                "WARNING" if flagged else "OK",
                "redis-memory",
                "Redis memory pressure",
                "used of maxmemory: 1.9 GiB of 2.0 GiB (95%)" if flagged else "memory fine",
            )
            recorder.markers({"redis": flag})
        if OUTAGE <= at < OUTAGE + 20:
            for number in range(3):
                moment = datetime.fromtimestamp(at + number * 0.3, UTC)
                recorder.log(
                    LogRecord(
                        "postgres",
                        "alfred-db-postgres-1",
                        moment,
                        "stderr",
                        f"{moment:%Y-%m-%d %H:%M:%S.%f}"[:-3]
                        + " UTC [61] ERROR:  could not reach redis for job queue sync",
                    )
                )
        if at == OUTAGE:
            recorder.event(
                BackendEvent(
                    NOW_DT - timedelta(seconds=600),
                    "redis",
                    "alfred-redis-1",
                    "die",
                    "exit 137: killed (SIGKILL, or out of memory)",
                )
            )
        if at == RESTART + 4:
            moment = datetime.fromtimestamp(RESTART + 4, UTC)
            for kind in ("start", "restart"):
                recorder.event(BackendEvent(moment, "redis", "alfred-redis-1", kind))
        if step % 30 == 0:
            recorder.flush()
    recorder.close(single_file=True)
    path.with_suffix(".journal").unlink()
    return path
