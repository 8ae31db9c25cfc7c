"""Where the black-box recorder listens: the readings the panes already make, one place each.

The recorder must not read anything itself (no extra round trip to a
database): it is handed what the panes' sources read, at the moment they read
it. A :class:`DataTap` receives each kind of reading from exactly one place:

- ``overview``: every poll of :class:`~alfred_tui.control.monitor.ServiceMonitor`;
- ``markers`` and ``activity``: the session's troubleshooting source
  (:class:`TappedTroubleshoot` wraps it);
- ``keyspace``: :class:`~alfred_tui.control.keyspace_view.KeyspaceScanner` after a scan;
- ``collections``: :class:`~alfred_tui.control.collections_view.CollectionsSource`
  after a read.

A session without a recorder (a replay, a test, recording turned off) holds
:data:`NO_TAP`, which drops everything.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from alfred_tui.control.monitor import OverviewSnapshot
    from alfred_tui.control.troubleshoot_view import ServiceFlag, TroubleshootSource

#: The readings of the data panes are plain dataclasses of the modules that make them
#: (``databases.activity.Activity``, ``keyspace_view.KeyspaceView``,
#: ``collections_view.CollectionsView``); named ``Any`` here, since those modules
#: reach this one through the session (control's modules import no cycle).
Reading = Any


class DataTap(Protocol):
    """Receives the panes' readings (on the event loop: it must only queue them)."""

    def overview(self, snapshot: OverviewSnapshot) -> None:
        """One poll of the overview."""
        ...

    def markers(self, flags: dict[str, ServiceFlag]) -> None:
        """One round of runbook markers."""
        ...

    def activity(self, activity: Reading) -> None:
        """One reading of PostgreSQL's sessions."""
        ...

    def keyspace(self, view: Reading) -> None:
        """One keyspace analysis."""
        ...

    def collections(self, view: Reading) -> None:
        """One read of Qdrant's collections."""
        ...


class NoTap:
    """The tap of a session that records nothing."""

    def overview(self, snapshot: OverviewSnapshot) -> None:
        return None

    def markers(self, flags: dict[str, ServiceFlag]) -> None:
        return None

    def activity(self, activity: Reading) -> None:
        return None

    def keyspace(self, view: Reading) -> None:
        return None

    def collections(self, view: Reading) -> None:
        return None


NO_TAP: DataTap = NoTap()


class TappedTroubleshoot:
    """A troubleshooting source whose markers and activity readings also go to a tap.

    Everything else is passed through unchanged (``__getattr__``), so the
    :class:`~alfred_tui.control.troubleshoot_view.TroubleshootSource` contract stays
    in one place.
    """

    def __init__(self, source: TroubleshootSource, tap: Callable[[], DataTap]) -> None:
        self.source = source
        self.tap = tap
        """The tap as it is now (a recorder may be attached after the source was built)."""

    async def markers(self) -> dict[str, ServiceFlag]:
        flags = await self.source.markers()
        self.tap().markers(flags)
        return flags

    async def activity(self) -> Reading:
        activity = await self.source.activity()
        self.tap().activity(activity)
        return activity

    def __getattr__(self, name: str) -> Any:
        return getattr(self.source, name)
