"""Tallies of keys per group, and the estimates (with error bounds) a sample gives.

An exact scan adds every key; a sample adds n keys drawn uniformly with
replacement (``RANDOMKEY``) from a database of N keys. From a sample:

- a *count* (keys of a group, of a type, in a TTL bucket) is N times a
  proportion; its bound is the Wilson score interval, which stays sensible
  for proportions near 0 or 1, where the plain normal one collapses;
- a *sum* (memory) is N times the mean of y_i (the key's bytes if it is in
  the group, else 0); its bound is the normal interval of that mean, with the
  sample's standard deviation (the central limit theorem at n >= 1000);
- a *mean* (average TTL) is the mean over keys with a TTL, with its normal
  interval.

Sampling is with replacement, so no finite-population correction is applied:
the bounds are slightly conservative.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from statistics import NormalDist

from alfred_tui.databases.keyspace_scripts import TTL_BUCKETS, TYPES


@dataclass(frozen=True)
class Estimate:
    """A figure and its bounds; exact figures have ``low == value == high``."""

    value: float
    low: float
    high: float

    @classmethod
    def exact(cls, value: float) -> Estimate:
        """A figure read in full."""
        return cls(value, value, value)

    @property
    def is_exact(self) -> bool:
        """Whether the figure was read in full (no error bound)."""
        return self.low == self.value == self.high

    @property
    def margin(self) -> float:
        """Half the interval's width: the ``±`` people read."""
        return (self.high - self.low) / 2

    def plus(self, exact: float) -> Estimate:
        """This figure plus an exactly known amount (a certainty stratum's)."""
        return Estimate(self.value + exact, self.low + exact, self.high + exact)

    def contains(self, truth: float) -> bool:
        """Whether ``truth`` lies within the bounds."""
        return self.low <= truth <= self.high


def z_score(confidence: float) -> float:
    """The two-sided normal quantile: 1.96 for 0.95."""
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def scaled_proportion(hits: int, n: int, population: int, z: float) -> Estimate:
    """``population * hits / n`` with the Wilson score interval."""
    if n <= 0:
        return Estimate(0.0, 0.0, float(population))
    p = hits / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    spread = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    # At p = 0 or 1 the bound on that side is exact; say so rather than trust rounding.
    low = 0.0 if hits == 0 else population * max(0.0, centre - spread)
    high = float(population) if hits == n else population * min(1.0, centre + spread)
    value = population * p
    return Estimate(value, min(low, value), max(high, value))


def scaled_mean(total: float, total_sq: float, n: int, population: int, z: float) -> Estimate:
    """``population * mean(y)`` from the sum and sum of squares of n draws."""
    if n <= 0:
        return Estimate(0.0, 0.0, 0.0)
    mean = total / n
    variance = max(0.0, total_sq / n - mean * mean) * n / max(1, n - 1)
    margin = z * math.sqrt(variance / n)
    return Estimate(
        population * mean, population * max(0.0, mean - margin), population * (mean + margin)
    )


def sample_mean(total: float, total_sq: float, n: int, z: float) -> Estimate | None:
    """The mean of n draws with its normal interval (None without draws)."""
    if n <= 0:
        return None
    mean = total / n
    variance = max(0.0, total_sq / n - mean * mean) * n / max(1, n - 1)
    margin = z * math.sqrt(variance / n) if n > 1 else mean
    return Estimate(mean, max(0.0, mean - margin), mean + margin)


@dataclass
class GroupTally:
    """Running sums for one key group of one database."""

    count: int = 0
    memory: int = 0
    memory_sq: int = 0
    """Sum of squared bytes (sampled databases only; needed for the memory bound)."""
    ttl_count: int = 0
    ttl_sum_ms: int = 0
    ttl_sum_sq: int = 0
    """Sum of squared TTLs in ms² (sampled databases only; for the average TTL's bound)."""
    types: list[int] = field(default_factory=lambda: [0] * len(TYPES))
    buckets: list[int] = field(default_factory=lambda: [0] * len(TTL_BUCKETS))

    def add(self, type_slot: int, bucket: int, pttl_ms: int, memory: int) -> None:
        """Count one key."""
        self.count += 1
        self.memory += memory
        self.memory_sq += memory * memory
        self.types[type_slot] += 1
        self.buckets[bucket] += 1
        if pttl_ms >= 0:
            self.ttl_count += 1
            self.ttl_sum_ms += pttl_ms
            self.ttl_sum_sq += pttl_ms * pttl_ms

    def merge(self, other: GroupTally) -> None:
        """Add another tally's sums (the script's per-batch aggregate)."""
        self.count += other.count
        self.memory += other.memory
        self.memory_sq += other.memory_sq
        self.ttl_count += other.ttl_count
        self.ttl_sum_ms += other.ttl_sum_ms
        self.ttl_sum_sq += other.ttl_sum_sq
        self.types = [a + b for a, b in zip(self.types, other.types, strict=True)]
        self.buckets = [a + b for a, b in zip(self.buckets, other.buckets, strict=True)]
