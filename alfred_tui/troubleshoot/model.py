"""What a runbook produces: a verdict from live data, tables of evidence, remedies.

Plain frozen dataclasses, so a Textual worker can hand a report to the UI
thread as is and the CLI can print it as a table or JSON. Every text field is
written for a tired operator: what is wrong, why it matters, what to do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from alfred_tui.metrics import Verdict


@dataclass(frozen=True)
class Evidence:
    """One fact the verdict rests on, with its own verdict."""

    label: str
    value: str
    verdict: Verdict = Verdict.OK
    note: str = ""
    """The threshold or reason: ``alert above 80% of usable slots``."""

    def to_json(self) -> dict[str, Any]:
        """Plain data."""
        return {
            "label": self.label,
            "value": self.value,
            "status": self.verdict.name,
            "note": self.note or None,
        }


@dataclass(frozen=True)
class Detection:
    """The runbook's verdict on its symptom, from live data."""

    verdict: Verdict
    summary: str
    """One line: ``18 of 17 usable connections in use (100%)``."""
    evidence: tuple[Evidence, ...] = ()

    @classmethod
    def from_evidence(cls, evidence: list[Evidence], healthy: str) -> Detection:
        """The worst verdict of ``evidence``; the summary names what is wrong, or ``healthy``."""
        from alfred_tui.metrics import worst

        verdict = worst(e.verdict for e in evidence)
        flagged = [e for e in evidence if e.verdict != Verdict.OK]
        flagged.sort(key=lambda e: -int(e.verdict == Verdict.CRITICAL))
        summary = "; ".join(f"{e.label}: {e.value}" for e in flagged) if flagged else healthy
        return cls(verdict, summary, tuple(evidence))

    def to_json(self) -> dict[str, Any]:
        """Plain data."""
        return {
            "status": self.verdict.name,
            "summary": self.summary,
            "evidence": [e.to_json() for e in self.evidence],
        }


@dataclass(frozen=True)
class Table:
    """A titled table of diagnostics, with why it is worth reading."""

    title: str
    explanation: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...] = ()
    empty: str = "nothing to show"
    """What to say when there are no rows."""
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        """Plain data: rows as objects keyed by column."""
        return {
            "title": self.title,
            "explanation": self.explanation,
            "columns": list(self.columns),
            "rows": [dict(zip(self.columns, row, strict=True)) for row in self.rows],
            "empty": self.empty,
            "note": self.note or None,
        }


@dataclass(frozen=True)
class Remedy:
    """One thing the operator can do, with exactly what it does and costs."""

    id: str
    title: str
    what_it_does: str
    cost: str = ""
    """The price: downtime, lost data, memory, a restart."""
    steps: tuple[str, ...] = ()
    """The statements or requests it runs, in order."""
    command: str = ""
    """The ``alfred-tui`` command line that applies it, when alfred-tui can."""
    profile_yaml: str = ""
    """What to write in the profile to keep it (or to do it)."""
    destructive: bool = False
    needs_restart: bool = False
    action: str = ""
    """Name of the action function (``terminate``, ``redis-memory``...) the UI calls."""
    parameters: dict[str, Any] = field(default_factory=dict)
    """The parameters a UI passes to that action (pids, values)."""

    def to_json(self) -> dict[str, Any]:
        """Plain data."""
        return {
            "id": self.id,
            "title": self.title,
            "what_it_does": self.what_it_does,
            "cost": self.cost or None,
            "steps": list(self.steps),
            "command": self.command or None,
            "profile_yaml": self.profile_yaml or None,
            "destructive": self.destructive,
            "needs_restart": self.needs_restart,
            "action": self.action or None,
            "parameters": self.parameters,
        }


@dataclass(frozen=True)
class RunbookInfo:
    """What a runbook is about, shown before any data: the symptom, why, what it reads."""

    name: str
    service: str
    title: str
    symptoms: str
    why: str
    detects: str

    def to_json(self) -> dict[str, Any]:
        """Plain data."""
        return {
            "name": self.name,
            "service": self.service,
            "title": self.title,
            "symptoms": self.symptoms,
            "why": self.why,
            "detects": self.detects,
        }


@dataclass(frozen=True)
class RunbookReport:
    """A runbook's whole answer: detection, diagnostics, remedies."""

    info: RunbookInfo
    detection: Detection
    diagnostics: tuple[Table, ...] = ()
    remedies: tuple[Remedy, ...] = ()
    notes: tuple[str, ...] = ()
    """Limits of this diagnosis: what could not be read and why."""
    duration_ms: float = 0.0

    @property
    def verdict(self) -> Verdict:
        """The detection's verdict."""
        return self.detection.verdict

    def table(self, title: str) -> Table | None:
        """The diagnostics table with that title, if present."""
        return next((t for t in self.diagnostics if t.title == title), None)

    def remedy(self, remedy_id: str) -> Remedy | None:
        """The remedy with that id, if offered."""
        return next((r for r in self.remedies if r.id == remedy_id), None)

    def to_json(self) -> dict[str, Any]:
        """Plain data."""
        return {
            **self.info.to_json(),
            "status": self.verdict.name,
            "detection": self.detection.to_json(),
            "diagnostics": [t.to_json() for t in self.diagnostics],
            "remedies": [r.to_json() for r in self.remedies],
            "notes": list(self.notes),
            "duration_ms": round(self.duration_ms, 3),
        }
