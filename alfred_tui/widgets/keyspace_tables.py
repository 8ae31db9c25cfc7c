"""The Keyspace pane's tables: databases, key groups, biggest keys, queues, pub/sub channels.

Sampled figures carry their error bound on the same line (``12.3k ±410``);
exact ones have none. A database the profile does not map, and a profile
prefix found in another database than the profile's, are flagged in the
theme's warning colour. Below 120 columns the groups table shows the type
mix and leaves the TTL distribution to the line under it.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from alfred_tui.control.keyspace_view import GroupRow, KeyspaceView
from alfred_tui.widgets.columns import Spec, cells, fit
from alfred_tui.widgets.filter_table import FilterableTable, Row
from alfred_tui.widgets.styles import theme_colour

WIDE = 120


def group_key(group: GroupRow) -> str:
    """A group's row key (the same name may be in several databases)."""
    return f"{group.db}/{group.name}"


#: Below this width the databases table leaves out how each was read (a ``±`` says it).
READ_COLUMN_FROM = 100


class DatabasesTable(FilterableTable):
    """One row per database: keys, expires, average TTL, memory, how it was read."""

    def show(self, view: KeyspaceView, width: int) -> None:
        read = width >= READ_COLUMN_FROM
        specs = [
            Spec("DB", "db", right=True, minimum=2),
            Spec("Purpose", "purpose", flex=True, minimum=10, cap=48),
            Spec("Keys", "keys", right=True, cap=14),
            Spec("Expires", "expires", right=True, cap=14),
            Spec("Avg TTL", "ttl", right=True, cap=16, minimum=7),
            Spec("Memory", "memory", right=True, cap=22, minimum=8),
        ]
        if read:
            specs.append(Spec("Read", "read", cap=14, minimum=5))
        warning = theme_colour(self.app, "warning")
        rows = []
        for database in view.databases:
            purpose: str | Text = database.purpose or Text("not in the profile", style=warning)
            values: list[str | Text] = [
                str(database.db),
                purpose,
                database.keys,
                database.expires,
                database.avg_ttl,
                database.memory,
            ]
            if read:
                values.append(database.read)
            rows.append(Row(f"db/{database.db}", cells(specs, values)))
        self.set_columns(fit(specs, [row.cells for row in rows], width))
        self.set_rows(rows)


class GroupsTable(FilterableTable):
    """Key groups of every database, largest memory first within each."""

    def show(self, view: KeyspaceView, width: int) -> None:
        wide = width >= WIDE
        # Narrow and sampled, the figures with their bounds need the room: the type mix
        # and the TTL distribution are then in the lines under the table.
        types = wide or not view.sampled
        specs = [
            Spec("DB", "db", right=True, minimum=2),
            Spec("Group", "group", cap=40 if wide else 28, minimum=12, flex=not types),
            Spec("Keys", "keys", right=True, cap=16),
            Spec("Memory", "memory", right=True, cap=22, minimum=8),
        ]
        if types:
            specs.append(Spec("Types", "types", flex=True, minimum=10, cap=36))
        if wide:
            specs.append(Spec("TTL", "ttl", flex=True, minimum=10, cap=40))
        warning = theme_colour(self.app, "warning")
        rows = []
        for group in view.groups:
            name = Text(group.name)
            if group.misplaced:
                marker = (
                    f" ({group.misplaced})" if wide else f" (→db {group.misplaced.split()[-1]})"
                )
                name.append(marker, style=warning)
            values: list[str | Text] = [str(group.db), name, group.keys, group.memory]
            if types:
                values.append(group.types)
            if wide:
                values.append(group.ttl)
            rows.append(Row(group_key(group), cells(specs, values)))
        self.set_columns(fit(specs, [row.cells for row in rows], width))
        self.set_rows(rows)


def group_detail(group: GroupRow | None) -> Text:
    """The selected group's types and TTL distribution in full."""
    if group is None:
        return Text("no keys", style="dim")
    text = Text(no_wrap=False, overflow="fold")
    text.append(f"db {group.db} {group.name}", style="bold")
    text.append(f"  {group.keys} key{'' if group.keys == '1' else 's'}, {group.memory}")
    if group.misplaced:
        text.append(f"  (the {group.misplaced.replace(': ', ' puts it in ')})", style="dim")
    text.append("\ntypes ", style="dim")
    text.append(group.types or "-")
    text.append("   TTL ", style="dim")
    text.append(group.ttl or "-")
    return text


class GroupDetail(Static):
    """The line under the groups table about the selected group."""

    DEFAULT_CSS = """
    GroupDetail { height: auto; max-height: 3; padding: 0 1; }
    """


class BigKeysTable(FilterableTable):
    """The 20 biggest keys: database, key, type, length, memory, TTL."""

    def show(self, view: KeyspaceView, width: int) -> None:
        specs = [
            Spec("DB", "db", right=True, minimum=2),
            Spec("Key", "key", flex=True, minimum=16),
            Spec("Type", "type", minimum=6),
            Spec("Elements", "elements", right=True, cap=14),
            Spec("Memory", "memory", right=True, minimum=8, cap=14),
            Spec("TTL", "ttl", right=True, minimum=5, cap=10),
        ]
        rows = [
            Row(
                f"{key.db}/{key.key}",
                cells(
                    specs,
                    [str(key.db), key.key, key.type, key.elements, key.memory, key.ttl],
                ),
            )
            for key in view.top_keys
        ]
        self.set_columns(fit(specs, [row.cells for row in rows], width))
        self.set_rows(rows)


class QueuesTable(FilterableTable):
    """Queues under the queue prefix, longest first."""

    def show(self, view: KeyspaceView, width: int) -> None:
        specs = [
            Spec("DB", "db", right=True, minimum=2),
            Spec("Queue", "queue", flex=True, minimum=16),
            Spec("Type", "type", minimum=6),
            Spec("Length", "length", right=True, minimum=8, cap=14),
        ]
        rows = [
            Row(
                f"{queue.db}/{queue.key}",
                cells(specs, [str(queue.db), queue.key, queue.type, queue.length]),
            )
            for queue in view.queues
        ]
        self.set_columns(fit(specs, [row.cells for row in rows], width))
        self.set_rows(rows)


class ChannelsTable(FilterableTable):
    """Pub/sub channels with subscribers, most subscribed first."""

    def show(self, view: KeyspaceView, width: int) -> None:
        specs = [
            Spec("Channel", "channel", flex=True, minimum=16),
            Spec("Subscribers", "subscribers", right=True, minimum=11),
        ]
        rows = [
            Row(
                f"channel/{channel.name}",
                cells(specs, [channel.name, f"{channel.subscribers:,}"]),
            )
            for channel in view.channels
        ]
        self.set_columns(fit(specs, [row.cells for row in rows], width))
        self.set_rows(rows)
