"""The replay's time cursor: the moment shown, play/pause, speed, and typed moments."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

#: Speeds ``x`` cycles through while playing.
SPEEDS = (1.0, 10.0, 60.0)


def clock_text(at: float) -> str:
    """``2025-05-13 03:12:04 UTC``: how the replay names a moment."""
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


class ReplayCursor:
    """The moment being shown, and whether (and how fast) it moves."""

    def __init__(self, start: float, end: float) -> None:
        self.start = start
        self.end = end
        self.at = end
        self.speed = SPEEDS[0]
        self.playing = False
        self._changed: asyncio.Event | None = None

    def now(self) -> float:
        """The cursor as a clock (the session's clock in a replay)."""
        return self.at

    def seek(self, at: float) -> float:
        """Move to ``at`` (kept inside the recording); returns where it landed."""
        self.at = min(self.end, max(self.start, at))
        self._touch()
        return self.at

    def advance(self, seconds: float) -> None:
        """Move on by ``seconds`` of real time at the current speed; stop at the end."""
        if not self.playing:
            return
        self.at = min(self.end, self.at + seconds * self.speed)
        if self.at >= self.end:
            self.playing = False
        self._touch()

    def toggle_play(self) -> bool:
        """Play or pause; playing from the end starts again from the beginning."""
        self.playing = not self.playing
        if self.playing and self.at >= self.end:
            self.at = self.start
        self._touch()
        return self.playing

    def next_speed(self) -> float:
        """1x -> 10x -> 60x -> 1x."""
        index = SPEEDS.index(self.speed) if self.speed in SPEEDS else -1
        self.speed = SPEEDS[(index + 1) % len(SPEEDS)]
        return self.speed

    def describe(self) -> str:
        """``2025-05-13 03:12:04 UTC ▶ 10x`` (or ``paused``), for the header."""
        state = f"▶ {self.speed:g}x" if self.playing else "paused"
        return f"{clock_text(self.at)} {state}"

    def _touch(self) -> None:
        event = self._changed
        self._changed = None
        if event is not None:
            event.set()

    async def changed(self) -> None:
        """Wait until the cursor moves."""
        if self._changed is None:
            self._changed = asyncio.Event()
        await self._changed.wait()


def parse_moment(text: str, cursor: ReplayCursor) -> float:
    """A typed time: ``03:12``, ``03:12:04`` (UTC, the cursor's day), an ISO time, ``-5m``,
    ``+30s``, ``start`` or ``end``. Raises ValueError with what was wrong."""
    from alfred_tui.units import parse_duration

    value = text.strip()
    if not value:
        raise ValueError("type a time: 03:12, 2025-05-13 03:12:04, -5m, +30s, start or end")
    if value in ("start", "end"):
        return cursor.start if value == "start" else cursor.end
    if value[0] in "+-":
        try:
            seconds = parse_duration(value[1:])
        except ValueError:
            raise ValueError(f"'{value}': not a duration (5m, 1h30m, 90s)") from None
        return cursor.at + (seconds if value[0] == "+" else -seconds)
    try:
        if len(value) <= 8 and value.count(":") in (1, 2):
            day = datetime.fromtimestamp(cursor.at, UTC).date().isoformat()
            value = f"{day}T{value}"
        moment = datetime.fromisoformat(value.replace(" ", "T", 1))
    except ValueError:
        raise ValueError(
            f"'{text.strip()}': not a time (03:12, 2025-05-13 03:12:04, -5m, +30s, start, end)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()
