"""Request statistics of the stand-in, reported the way Qdrant reports its own.

Qdrant keeps, per REST route pattern and status code, a count, a fail count,
the mean of the 128 latest durations, the minimum and maximum since start
and the total; ``/telemetry`` shows them in microseconds under
``requests.rest.responses["METHOD /pattern"]["status"]`` and ``/metrics``
turns the same figures into ``rest_responses_*`` gauges labelled
``endpoint``, ``method`` and ``status``. The stand-in records every request
it serves here, so both endpoints report what really happened.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

RECENT_WINDOW = 128
"""Qdrant's average covers the latest 128 operations, not the whole run."""


@dataclass
class OperationStats:
    """Figures of one (route, status) pair."""

    count: int = 0
    fail_count: int = 0
    recent: deque[float] = field(default_factory=lambda: deque(maxlen=RECENT_WINDOW))
    minimum: float | None = None
    maximum: float | None = None
    total: float = 0.0
    last_responded: datetime | None = None

    def add(self, seconds: float, failed: bool) -> None:
        """Count one response that took ``seconds``."""
        self.count += 1
        self.fail_count += int(failed)
        self.recent.append(seconds)
        self.minimum = seconds if self.minimum is None else min(self.minimum, seconds)
        self.maximum = seconds if self.maximum is None else max(self.maximum, seconds)
        self.total += seconds
        self.last_responded = datetime.now(UTC)

    @property
    def average(self) -> float:
        """Mean of the latest :data:`RECENT_WINDOW` durations, in seconds."""
        return sum(self.recent) / len(self.recent) if self.recent else 0.0

    def telemetry(self) -> dict[str, Any]:
        """Qdrant's ``OperationDurationStatistics``: durations in microseconds."""
        return {
            "count": self.count,
            "fail_count": self.fail_count,
            "avg_duration_micros": self.average * 1e6,
            "min_duration_micros": (self.minimum or 0.0) * 1e6,
            "max_duration_micros": (self.maximum or 0.0) * 1e6,
            "total_duration_micros": int(self.total * 1e6),
            "last_responded": (
                self.last_responded.isoformat().replace("+00:00", "Z")
                if self.last_responded
                else None
            ),
        }


class RequestRecorder:
    """Thread-safe record of every REST response the stand-in sent."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rest: dict[tuple[str, str], dict[int, OperationStats]] = {}

    def record(self, method: str, pattern: str, status: int, seconds: float) -> None:
        """Count a response to ``method pattern`` (the route, not the concrete path)."""
        with self._lock:
            by_status = self._rest.setdefault((method, pattern), {})
            by_status.setdefault(status, OperationStats()).add(seconds, status >= 400)

    def snapshot(self) -> list[tuple[str, str, int, OperationStats]]:
        """A consistent copy: (method, pattern, status, stats), sorted."""
        with self._lock:
            rows = []
            for (method, pattern), by_status in self._rest.items():
                for status, stats in by_status.items():
                    copy = OperationStats(
                        stats.count,
                        stats.fail_count,
                        deque(stats.recent, maxlen=RECENT_WINDOW),
                        stats.minimum,
                        stats.maximum,
                        stats.total,
                        stats.last_responded,
                    )
                    rows.append((method, pattern, status, copy))
        return sorted(rows, key=lambda row: (row[1], row[0], row[2]))

    def telemetry(self) -> dict[str, Any]:
        """Qdrant's ``RequestsTelemetry``: REST responses by route and status; no gRPC."""
        responses: dict[str, dict[str, Any]] = {}
        for method, pattern, status, stats in self.snapshot():
            responses.setdefault(f"{method} {pattern}", {})[str(status)] = stats.telemetry()
        return {"rest": {"responses": responses}, "grpc": {"responses": {}}}


def _labels(**labels: str) -> str:
    # Qdrant's exporter (the Rust prometheus crate) prints labels sorted by name.
    inner = ",".join(
        f'{key}="{value.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
        for key, value in sorted(labels.items())
    )
    return "{" + inner + "}"


def _metric(lines: list[str], name: str, kind: str, help_text: str) -> None:
    lines.append(f"# HELP {name} {help_text}")
    lines.append(f"# TYPE {name} {kind}")


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def prometheus_text(
    recorder: RequestRecorder,
    *,
    version: str,
    collections: int,
    vectors: int,
) -> str:
    """The ``/metrics`` exposition with Qdrant's metric names and labels."""
    lines: list[str] = []
    _metric(lines, "app_info", "gauge", "information about qdrant server")
    lines.append(f"app_info{_labels(name='qdrant', version=version)} 1")
    _metric(lines, "app_status_recovery_mode", "gauge", "features enabled in qdrant server")
    lines.append("app_status_recovery_mode 0")
    _metric(lines, "collections_total", "gauge", "number of collections")
    lines.append(f"collections_total {collections}")
    _metric(
        lines, "collections_vector_total", "gauge", "total number of vectors in all collections"
    )
    lines.append(f"collections_vector_total {vectors}")
    _metric(lines, "collections_full_total", "gauge", "number of full collections")
    lines.append(f"collections_full_total {collections}")
    _metric(lines, "collections_aggregated_total", "gauge", "number of aggregated collections")
    lines.append("collections_aggregated_total 0")
    rows = recorder.snapshot()
    series = (
        ("rest_responses_total", "total number of responses", lambda s: s.count),
        ("rest_responses_fail_total", "total number of failed responses", lambda s: s.fail_count),
        ("rest_responses_avg_duration_seconds", "average response duration", lambda s: s.average),
        (
            "rest_responses_min_duration_seconds",
            "minimum response duration",
            lambda s: s.minimum or 0.0,
        ),
        (
            "rest_responses_max_duration_seconds",
            "maximum response duration",
            lambda s: s.maximum or 0.0,
        ),
    )
    for name, help_text, value in series:
        if not rows:
            break
        _metric(lines, name, "gauge", help_text)
        for method, pattern, status, stats in rows:
            labels = _labels(endpoint=pattern, method=method, status=str(status))
            lines.append(f"{name}{labels} {_number(value(stats))}")
    _metric(lines, "cluster_enabled", "gauge", "is cluster support enabled")
    lines.append("cluster_enabled 0")
    return "\n".join(lines) + "\n"
