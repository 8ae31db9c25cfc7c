"""Changes we make to a live database: planned first, applied only when confirmed.

Every remedy that changes something (terminate a session, ``CONFIG SET``,
enable an extension) is one ``async`` function that takes ``confirm`` and
``readonly`` explicitly. Called with ``confirm=False`` it changes nothing and
returns an :class:`ActionOutcome` that says exactly what it *would* do, so the
UI can show that text in its confirmation dialog and the CLI can print it
before asking for ``--yes``. Read-only mode refuses before anything is read.

Before a change is applied its safety copy (the session that is about to be
terminated, the setting's previous value) is appended to a journal in the
state dir, so "what did we kill at 3 a.m., and what was maxmemory before?"
always has an answer. The journal never holds a secret: callers pass text
that went through :func:`alfred_tui.redact.redact`.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from alfred_tui import paths
from alfred_tui.errors import AlfredError

JOURNAL_NAME = "doctor-actions.jsonl"


class ReadOnlyRefused(AlfredError):
    """A change was asked for while alfred-tui runs read-only (``--readonly``)."""

    title = "Read-only mode"

    def __init__(self, action: str) -> None:
        super().__init__(
            f"refusing to {action}: alfred-tui runs with --readonly; run it again "
            "without --readonly to make changes"
        )


class ActionRefused(AlfredError):
    """The action cannot be done on this target (our own session, a system process)."""

    title = "Refused"


@dataclass(frozen=True)
class ActionOutcome:
    """What an action would do (``applied`` False) or did (``applied`` True)."""

    action: str
    """Machine name: ``terminate``, ``cancel``, ``redis-memory``, ``latency-monitor``..."""
    service: str
    applied: bool
    summary: str
    """One sentence for people: what changes and for whom."""
    steps: tuple[str, ...] = ()
    """The exact statements or commands, in order."""
    results: tuple[str, ...] = ()
    """One line per target after applying (``pid 412 terminated``)."""
    previous: dict[str, Any] = field(default_factory=dict)
    """The safety copy: what was there before the change."""
    undo: str = ""
    """How to go back, where going back is possible."""
    profile_yaml: str = ""
    """What to write in the profile to keep the change across restarts."""
    restart_needed: bool = False
    destructive: bool = False
    journal: str | None = None
    """Path of the journal the safety copy went to."""

    def to_json(self) -> dict[str, Any]:
        """Plain data for JSON output."""
        return asdict(self)


def journal_path() -> Path:
    """The action journal in the state dir."""
    return paths.state_dir() / JOURNAL_NAME


def record(outcome: ActionOutcome, target: str) -> str | None:
    """Append the safety copy of ``outcome`` to the journal; the path, or None if unwritable.

    A full or read-only disk must not stop an operator from fixing an outage,
    so a failed write is reported in the outcome (journal None), not raised.
    """
    path = journal_path()
    entry = {
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "action": outcome.action,
        "service": outcome.service,
        "target": target,
        "summary": outcome.summary,
        "steps": list(outcome.steps),
        "previous": outcome.previous,
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(descriptor, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry, default=str) + "\n")
    except OSError:
        return None
    return str(path)


def read_journal(limit: int = 50) -> list[dict[str, Any]]:
    """The newest ``limit`` journal entries, oldest first (malformed lines skipped)."""
    try:
        lines = journal_path().read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    entries = []
    for line in lines[-limit:]:
        try:
            entries.append(json.loads(line))
        except ValueError:
            continue
    return entries
