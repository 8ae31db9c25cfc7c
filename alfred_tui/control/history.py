"""Ring buffers of recent metric values and the sparklines drawn from them.

The overview keeps the last ten minutes of each metric in memory only. The
buffers are bounded by count (so a fast refresh cannot grow them without
limit) and read by time (so a gap while a service was down shows as a gap,
not as a squeezed line).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable

#: How far back the overview's sparklines reach.
WINDOW_SECONDS = 600.0

_BARS = "▁▂▃▄▅▆▇█"


class MetricHistory:
    """The recent values of many series, keyed by ``service/metric``."""

    def __init__(self, window: float = WINDOW_SECONDS, refresh_seconds: float = 2.0) -> None:
        self.window = window
        # One sample per poll at most; a little headroom for immediate refreshes.
        self.capacity = max(16, math.ceil(window / max(refresh_seconds, 0.05) * 1.5))
        self._series: dict[str, deque[tuple[float, float | None]]] = {}

    def add(self, key: str, at: float, value: float | None) -> None:
        """Append one sample (``None`` records a gap)."""
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = deque(maxlen=self.capacity)
        series.append((at, value))

    def extend(self, key: str, samples: Iterable[tuple[float, float | None]]) -> None:
        """Append several samples, oldest first (in one go: a replay's seek loads thousands)."""
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = deque(maxlen=self.capacity)
        series.extend(samples)

    def samples(self, key: str, now: float) -> list[tuple[float, float | None]]:
        """Samples of ``key`` inside the window ending at ``now``, oldest first."""
        start = now - self.window
        return [(at, value) for at, value in self._series.get(key, ()) if at > start]

    def latest(self, key: str) -> float | None:
        """The newest value of ``key`` (``None`` if none or a gap)."""
        series = self._series.get(key)
        return series[-1][1] if series else None

    def clear(self) -> None:
        """Forget every series (a new target was chosen)."""
        self._series.clear()

    def sparkline(self, key: str, now: float, width: int) -> str:
        """The window ending at ``now`` drawn in ``width`` characters.

        An ``*_up`` series keeps the lowest value of each span: an outage of
        one poll must show, where for a load metric the peak is what matters.
        """
        lowest = key.endswith("_up")
        series = self._series.get(key, ())  # sparkline() keeps the window's samples itself
        return sparkline(series, now, self.window, width, lowest=lowest)


def sparkline(
    samples: Iterable[tuple[float, float | None]],
    now: float,
    window: float,
    width: int,
    lowest: bool = False,
) -> str:
    """Samples drawn as block characters on a fixed time axis, newest on the right.

    Each character covers ``window / width`` seconds and shows the highest
    value in it (a spike must not average away; ``lowest`` shows the lowest
    instead, for series where a dip is the news); a span with no value is a
    blank. The scale runs from the lowest to the highest value shown, as a
    dashboard's autoscaled graph does, so a change stands out whatever the
    metric's size; a series that did not change is a flat bottom line.
    """
    if width <= 0:
        return ""
    buckets: list[float | None] = [None] * width
    start = now - window
    span = window / width
    last = width - 1
    # The overview draws a few dozen of these per refresh, over hundreds of samples
    # each: one pass, no call per sample.
    for at, value in samples:
        if value is None or at <= start or at > now:
            continue
        index = int((at - start) / span)
        if index > last:
            index = last
        current = buckets[index]
        if current is None or (value < current if lowest else value > current):
            buckets[index] = value
    values = [v for v in buckets if v is not None]
    if not values:
        return " " * width
    low = min(values)
    high = max(values)
    scale = high - low
    chars = []
    for value in buckets:
        if value is None:
            chars.append(" ")
        elif scale <= 0:
            chars.append(_BARS[0])
        else:
            level = round((value - low) / scale * (len(_BARS) - 1))
            chars.append(_BARS[level])
    return "".join(chars)
