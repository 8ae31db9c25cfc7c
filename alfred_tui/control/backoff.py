"""Exponential backoff for a service (or an engine) that stopped answering.

A service that is down is not hammered at the refresh rate: the first retry
comes after one refresh interval, then the wait doubles up to a cap. Any
success resets it. A little jitter keeps several panes (or several operators)
from retrying in lockstep.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class Backoff:
    """When to try again after ``failures`` failures in a row."""

    base: float
    """Wait after the first failure (seconds)."""
    cap: float = 30.0
    """Longest wait between two attempts."""
    factor: float = 2.0
    jitter: float = 0.1
    """Fraction of the wait added or removed at random."""
    failures: int = 0
    next_attempt: float = 0.0
    """Clock time before which no attempt is made."""
    _random: random.Random = field(default_factory=random.Random, repr=False)

    def due(self, now: float) -> bool:
        """Whether an attempt may be made at ``now``."""
        return now >= self.next_attempt

    def failed(self, now: float) -> float:
        """Record a failure at ``now``; returns the wait before the next attempt."""
        self.failures += 1
        wait = min(self.cap, self.base * self.factor ** (self.failures - 1))
        if self.jitter:
            wait *= 1 + self._random.uniform(-self.jitter, self.jitter)
        wait = min(self.cap, max(0.0, wait))
        self.next_attempt = now + wait
        return wait

    def succeeded(self) -> None:
        """Record a success: the next attempt is not delayed."""
        self.failures = 0
        self.next_attempt = 0.0
