"""Previous samples kept between ``check`` runs, so rates need no second sample.

Rates (transactions, commands and queries per second) are differences of two
counters. The UI keeps the previous sample in memory; ``check`` runs once and
exits, so it keeps the last one on disk (counters and times only, never
secrets) and computes rates against it when it is recent enough; cron runs
every minute get a rate over that minute.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from alfred_tui import paths

#: A previous sample older than this is not used (the rate would mean little).
MAX_AGE_SECONDS = 900.0


class SampleStore:
    """A small JSON file of the last sample per (profile, service, address)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or paths.state_dir() / "samples.json"
        self._data: dict[str, dict[str, Any]] | None = None

    def _load(self) -> dict[str, dict[str, Any]]:
        if self._data is None:
            try:
                loaded = json.loads(self.path.read_text())
                self._data = loaded if isinstance(loaded, dict) else {}
            except (OSError, ValueError):
                self._data = {}
        return self._data

    def get(self, key: str) -> dict[str, Any] | None:
        """The stored sample for ``key`` if it is recent enough."""
        entry = self._load().get(key)
        if not isinstance(entry, dict):
            return None
        taken_at = entry.get("taken_at")
        if not isinstance(taken_at, int | float) or time.time() - taken_at > MAX_AGE_SECONDS:
            return None
        return entry

    def put(self, key: str, sample: dict[str, Any]) -> None:
        """Remember ``sample`` for ``key`` (written by :meth:`save`)."""
        self._load()[key] = sample

    def save(self) -> None:
        """Write atomically; a read-only or full disk only costs the next rate."""
        data = self._load()
        now = time.time()
        fresh = {k: v for k, v in data.items() if now - v.get("taken_at", 0) <= MAX_AGE_SECONDS}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}")
            temporary.write_text(json.dumps(fresh))
            os.replace(temporary, self.path)
        except OSError:
            pass
