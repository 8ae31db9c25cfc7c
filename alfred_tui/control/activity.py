"""The Activity pane's view of PostgreSQL sessions: order, idle toggle, the blocking tree.

The data is :mod:`alfred_tui.databases.activity`'s, re-exported here so the
screens read plain data without importing the database layer. This module
adds only what a pane needs on top: the sort keys in the order ``s`` cycles
through them, and the tree as (depth, session, waiting-count) rows.
"""

from __future__ import annotations

from dataclasses import dataclass

from alfred_tui.databases.activity import (
    SORT_KEYS,
    Activity,
    BlockingNode,
    blocking_tree,
    sort_sessions,
)
from alfred_tui.databases.activity import Session as PgSession

__all__ = [
    "SORT_KEYS",
    "Activity",
    "ActivityView",
    "PgSession",
    "TreeRow",
    "next_sort",
    "view_of",
]


def next_sort(current: str, step: int = 1) -> str:
    """The sort key after (``step`` 1) or before (-1) ``current``."""
    keys = list(SORT_KEYS)
    index = keys.index(current) if current in keys else 0
    return keys[(index + step) % len(keys)]


@dataclass(frozen=True)
class TreeRow:
    """One line of the blocking tree: how deep, who, and how many wait below it."""

    depth: int
    session: PgSession
    waiting: int
    """Sessions below this one, at any depth."""
    last: bool
    """The last child of its parent (draws ``└─`` rather than ``├─``)."""


@dataclass(frozen=True)
class ActivityView:
    """What the Activity pane draws from one reading."""

    activity: Activity
    sessions: tuple[PgSession, ...]
    """Client sessions, in the chosen order, idle ones left out unless asked for."""
    tree: tuple[TreeRow, ...]
    blocked: int
    """Sessions waiting on another session's lock."""

    @property
    def used(self) -> int:
        """Client connections, alfred-tui's own included."""
        return len(self.activity.clients) + 1

    def session(self, pid: int) -> PgSession | None:
        """The session ``pid`` in this reading."""
        return self.activity.session(pid)


def _flatten(node: BlockingNode, depth: int, last: bool, rows: list[TreeRow]) -> None:
    rows.append(TreeRow(depth, node.session, node.total_waiting, last))
    for index, child in enumerate(node.waiting):
        _flatten(child, depth + 1, index == len(node.waiting) - 1, rows)


def view_of(activity: Activity, sort: str, include_idle: bool) -> ActivityView:
    """Order the client sessions, build the tree (from every session, idle or not)."""
    sessions = [s for s in activity.clients if include_idle or s.state != "idle"]
    rows: list[TreeRow] = []
    trees = blocking_tree(activity.sessions)
    for index, tree in enumerate(trees):
        _flatten(tree, 0, index == len(trees) - 1, rows)
    blocked = sum(1 for s in activity.sessions if s.blocked_by)
    return ActivityView(activity, tuple(sort_sessions(sessions, sort)), tuple(rows), blocked)
