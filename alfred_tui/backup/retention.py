"""Which backups ``backups prune`` keeps: the last N, and the newest of each of N days.

The rule is restic's ``--keep-last``/``--keep-daily``, applied per service and
separately for ordinary backups, safety copies and PostgreSQL base backups
(so restores piling up safety copies never push real backups out, and base
backups keep the earliest recovery point alive). Days are calendar days in
the machine's local time, the days an operator thinks in. A backup protected
by an unfinished restore (its journal names it) is never pruned.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import tzinfo

from alfred_tui.backup.catalog import CatalogEntry


@dataclass(frozen=True)
class Decision:
    """What prune does with one backup, and why."""

    entry: CatalogEntry
    keep: bool
    reasons: tuple[str, ...]


def group_key(entry: CatalogEntry) -> tuple[str, str, bool]:
    manifest = entry.require()
    return (manifest.service, manifest.kind, manifest.safety_copy)


def plan_retention(
    entries: Iterable[CatalogEntry],
    keep_last: int,
    keep_daily: int,
    protected: Iterable[str] = (),
    tz: tzinfo | None = None,
) -> list[Decision]:
    """A decision for every readable backup, newest first within each group.

    Unreadable catalog entries are left out: prune never deletes what it
    cannot identify.
    """
    protected_ids = set(protected)
    groups: dict[tuple[str, str, bool], list[CatalogEntry]] = {}
    for entry in entries:
        if entry.ok:
            groups.setdefault(group_key(entry), []).append(entry)
    decisions: list[Decision] = []
    for key in sorted(groups):
        members = sorted(groups[key], key=lambda e: e.require().created_at, reverse=True)
        days_seen: list[str] = []
        for position, entry in enumerate(members):
            reasons: list[str] = []
            if position < keep_last:
                reasons.append(f"one of the last {keep_last}")
            day = entry.require().created_at.astimezone(tz).date().isoformat()
            if day not in days_seen:
                days_seen.append(day)
                if len(days_seen) <= keep_daily:
                    reasons.append(f"newest of {day}")
            if entry.id in protected_ids:
                reasons.append("safety copy of an unfinished restore")
            decisions.append(Decision(entry, bool(reasons), tuple(reasons)))
    return decisions
