"""What a check found: per service, per metric, and overall."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from alfred_tui.config.models import ServiceKind
from alfred_tui.metrics import Reading, Verdict, worst


@dataclass(frozen=True)
class ServiceReport:
    """One service's check: reachable or not, and each metric's value and verdict."""

    service: ServiceKind
    address: str
    up: bool
    verdict: Verdict
    reason: str = ""
    """Why the service is down or unknown, in one line; empty when up."""
    readings: tuple[Reading, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)
    """Extra facts (versions, database size, keys per DB, memory policy)."""
    duration_ms: float = 0.0
    checked_at: float = 0.0

    def reading(self, name: str) -> Reading | None:
        """The reading of metric ``name``, if the check produced one."""
        return next((r for r in self.readings if r.name == name), None)

    def summary(self) -> str:
        """One line for people: the reason, or the metrics outside their normal range."""
        if self.reason:
            return self.reason
        flagged = [r.name for r in self.readings if r.verdict not in (None, Verdict.OK)]
        return ("outside normal: " + ", ".join(flagged)) if flagged else "all metrics normal"


@dataclass(frozen=True)
class CheckReport:
    """A whole check run."""

    profile: str
    backend: str
    checked_at: datetime
    services: tuple[ServiceReport, ...]

    @property
    def verdict(self) -> Verdict:
        """The worst service verdict (OK with no services)."""
        return worst(s.verdict for s in self.services)

    @property
    def exit_code(self) -> int:
        """Nagios exit code: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN."""
        return int(self.verdict)
