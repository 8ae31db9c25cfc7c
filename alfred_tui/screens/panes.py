"""The pane registry: every pane of the app, in the order of its number key.

A pane is a :class:`~alfred_tui.screens.base.PaneScreen` subclass run as a
Textual *mode* (its own screen stack, like a k9s view): it is created the
first time it is shown, kept while hidden (its polling paused), and told
to reload when the operator switches profile or backend.

Adding a pane is one line in :data:`PANES`; the number key, the tab, the
palette entry and the help screen follow from it. The class is named by
import path and imported on first use, so a pane nobody opens costs no
start-up time. See docs/ui.md.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from alfred_tui.screens.base import PaneScreen


@dataclass(frozen=True)
class PaneSpec:
    """One pane: its id (the mode name), its title, and where its class lives."""

    id: str
    title: str
    screen: str
    """``module:Class`` of the PaneScreen subclass."""
    summary: str
    """One line for the help screen and the palette."""
    twin: str = ""
    """The headless command that prints the same data (``alfred-tui check``)."""
    short: str = ""
    """Three letters for the pane bar at 80 columns (``Ovw``); the title's first three if empty."""
    replayed: bool = False
    """Whether a recording holds what it shows (``alfred-tui --replay`` shows it)."""

    @property
    def short_title(self) -> str:
        """The name the pane bar shows when the full titles do not fit."""
        return self.short or self.title[:3]

    def load(self) -> type[PaneScreen]:
        """Import the pane's class."""
        module_name, _, class_name = self.screen.partition(":")
        pane: type[PaneScreen] = getattr(importlib.import_module(module_name), class_name)
        return pane


PANES: tuple[PaneSpec, ...] = (
    PaneSpec(
        "overview",
        "Overview",
        "alfred_tui.screens.overview:OverviewPane",
        "Every service: deployment state, health, the spec's metrics, actions",
        "alfred-tui overview (and: alfred-tui check)",
        replayed=True,
        short="Ovw",
    ),
    PaneSpec(
        "logs",
        "Logs",
        "alfred_tui.screens.logs:LogsPane",
        "Every service's log lines merged by time: filter, search, pause, save",
        "alfred-tui logs [-f] [--level L] [--grep RE]",
        replayed=True,
        short="Log",
    ),
    PaneSpec(
        "activity",
        "Activity",
        "alfred_tui.screens.activity:ActivityPane",
        "PostgreSQL sessions and the blocking tree; cancel or terminate a session",
        "alfred-tui activity",
        replayed=True,
        short="Act",
    ),
    PaneSpec(
        "troubleshoot",
        "Troubleshoot",
        "alfred_tui.screens.troubleshoot:TroubleshootPane",
        "The spec's six common issues as live runbooks: what is wrong, why, what to do",
        "alfred-tui doctor",
        short="Fix",
    ),
    PaneSpec(
        "keyspace",
        "Keyspace",
        "alfred_tui.screens.keyspace:KeyspacePane",
        "Redis databases, key groups, biggest keys, queues, pub/sub channels",
        "alfred-tui keyspace [--exact|--sample PCT]",
        replayed=True,
        short="Key",
    ),
    PaneSpec(
        "collections",
        "Collections",
        "alfred_tui.screens.collections:CollectionsPane",
        "Qdrant collections against the profile: status, points, drift, missing, extra",
        "alfred-tui collections [--create-missing]",
        replayed=True,
        short="Col",
    ),
    PaneSpec(
        "migrations",
        "Migrations",
        "alfred_tui.screens.migrations:MigrationsPane",
        "Schema migrations (applied, pending, drift), apply pending; schemas and table sizes",
        "alfred-tui migrate status|up, alfred-tui schema",
        short="Mig",
    ),
    PaneSpec(
        "backups",
        "Backups",
        "alfred_tui.screens.backups:BackupsPane",
        "Backup catalog per service, back up/verify/prune, PITR readiness, guided restore",
        "alfred-tui backups list / backup / restore / pitr status",
        short="Bak",
    ),
    PaneSpec(
        "audit",
        "Audit",
        "alfred_tui.screens.audit:AuditPane",
        "Security findings (the spec's Security section), each with its fix",
        "alfred-tui audit",
        short="Aud",
    ),
    PaneSpec(
        "profile",
        "Profile",
        "alfred_tui.screens.profile:ProfilePane",
        "The resolved profile, secrets masked, with the file and line of each field",
        "alfred-tui profiles show NAME",
        short="Pro",
        replayed=True,
    ),
    PaneSpec(
        "timeline",
        "Timeline",
        "alfred_tui.screens.timeline:TimelinePane",
        "What happened, in order: outages, verdicts, engine events, errors, operator actions",
        "alfred-tui timeline [--from FILE] [--since 1h]",
        short="Tln",
        replayed=True,
    ),
)


@dataclass(frozen=True)
class NotRecordedSpec(PaneSpec):
    """A pane a recording has nothing for: in a replay it keeps its key and says so."""

    def load(self) -> type[PaneScreen]:
        from alfred_tui.screens.not_recorded import not_recorded_pane

        return not_recorded_pane(self.id)


def replay_panes(panes: tuple[PaneSpec, ...] = PANES) -> tuple[PaneSpec, ...]:
    """The panes of a replay: the same keys, the ones a recording cannot fill say so."""
    return tuple(
        pane
        if pane.replayed
        else NotRecordedSpec(pane.id, pane.title, pane.screen, pane.summary, pane.twin, pane.short)
        for pane in panes
    )
