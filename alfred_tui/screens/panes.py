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
    ),
    PaneSpec(
        "logs",
        "Logs",
        "alfred_tui.screens.logs:LogsPane",
        "Every service's log lines merged by time: filter, search, pause, save",
        "alfred-tui logs [-f] [--level L] [--grep RE]",
    ),
    PaneSpec(
        "activity",
        "Activity",
        "alfred_tui.screens.activity:ActivityPane",
        "PostgreSQL sessions and the blocking tree; cancel or terminate a session",
        "alfred-tui activity",
    ),
    PaneSpec(
        "troubleshoot",
        "Troubleshoot",
        "alfred_tui.screens.troubleshoot:TroubleshootPane",
        "The spec's six common issues as live runbooks: what is wrong, why, what to do",
        "alfred-tui doctor",
    ),
    PaneSpec(
        "keyspace",
        "Keyspace",
        "alfred_tui.screens.keyspace:KeyspacePane",
        "Redis databases, key groups, biggest keys, queues, pub/sub channels",
        "alfred-tui keyspace [--exact|--sample PCT]",
    ),
    PaneSpec(
        "collections",
        "Collections",
        "alfred_tui.screens.collections:CollectionsPane",
        "Qdrant collections against the profile: status, points, drift, missing, extra",
        "alfred-tui collections [--create-missing]",
    ),
    PaneSpec(
        "migrations",
        "Migrations",
        "alfred_tui.screens.migrations:MigrationsPane",
        "Schema migrations (applied, pending, drift), apply pending; schemas and table sizes",
        "alfred-tui migrate status|up, alfred-tui schema",
    ),
    PaneSpec(
        "backups",
        "Backups",
        "alfred_tui.screens.backups:BackupsPane",
        "Backup catalog per service, back up/verify/prune, PITR readiness, guided restore",
        "alfred-tui backups list / backup / restore / pitr status",
    ),
    PaneSpec(
        "audit",
        "Audit",
        "alfred_tui.screens.audit:AuditPane",
        "Security findings (the spec's Security section), each with its fix",
        "alfred-tui audit",
    ),
    PaneSpec(
        "profile",
        "Profile",
        "alfred_tui.screens.profile:ProfilePane",
        "The resolved profile, secrets masked, with the file and line of each field",
        "alfred-tui profiles show NAME",
    ),
)


#: Panes with a number key: ``1``..``9``, then ``0`` for the tenth (binding ids
#: ``pane_1``..``pane_10``). Further panes are reached by the palette and by click.
MAX_NUMBERED_PANES = 10


def pane_key(number: int) -> str:
    """The key of the ``number``-th pane (1-based): ``1``..``9``, ``0`` for the tenth."""
    return str(number % 10) if number <= MAX_NUMBERED_PANES else ""


def pane_by_id(pane_id: str, panes: tuple[PaneSpec, ...] = PANES) -> PaneSpec | None:
    """The registered pane ``pane_id``, if any."""
    return next((pane for pane in panes if pane.id == pane_id), None)
