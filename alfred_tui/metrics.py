"""Verdicts: judging a metric's value against the profile's thresholds.

The rule, from the spec's metrics table: inside the normal range is OK,
outside it is WARNING, past the alert threshold is CRITICAL. A metric the
target does not expose has no verdict and never changes the service's.
Verdicts order as Nagios exit codes, so the worst one is ``max()``.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from alfred_tui.config.models import MetricThreshold


class Verdict(enum.IntEnum):
    """A check outcome; the value is the Nagios exit code."""

    OK = 0
    WARNING = 1
    CRITICAL = 2
    UNKNOWN = 3


def worst(verdicts: Iterable[Verdict]) -> Verdict:
    """The worst verdict (OK when there is none).

    UNKNOWN ranks above WARNING but below CRITICAL, as Nagios plugins treat
    it: a definite CRITICAL is more urgent than an unknown.
    """
    rank = {Verdict.OK: 0, Verdict.WARNING: 1, Verdict.UNKNOWN: 2, Verdict.CRITICAL: 3}
    return max(verdicts, key=rank.__getitem__, default=Verdict.OK)


def judge(value: float, threshold: MetricThreshold | None) -> Verdict:
    """The verdict for ``value`` under ``threshold`` (OK when there is none)."""
    if threshold is None:
        return Verdict.OK
    alert = threshold.alert
    if (alert.above is not None and value > alert.above) or (
        alert.below is not None and value < alert.below
    ):
        return Verdict.CRITICAL
    normal = threshold.normal
    too_low = normal.min is not None and value < normal.min
    too_high = normal.max is not None and value > normal.max
    if (too_high and threshold.warn in ("outside", "above")) or (
        too_low and threshold.warn in ("outside", "below")
    ):
        return Verdict.WARNING
    return Verdict.OK


@dataclass(frozen=True)
class Reading:
    """One metric's value and verdict; ``value`` None means not available."""

    name: str
    value: float | None
    verdict: Verdict | None
    note: str = ""
    """Why the value is missing, or what it was computed from."""

    @property
    def available(self) -> bool:
        """Whether the target exposed this metric."""
        return self.value is not None


def read(
    name: str, value: float | None, thresholds: dict[str, MetricThreshold], note: str = ""
) -> Reading:
    """A :class:`Reading` for ``value`` judged by the threshold named ``name``."""
    if value is None:
        return Reading(name, None, None, note or "not available")
    return Reading(name, value, judge(value, thresholds.get(name)), note)
