"""The Collections pane's data: Qdrant's collections against the profile, and creating missing ones.

:class:`CollectionsSource` runs what ``alfred-tui collections`` runs
(:func:`~alfred_tui.databases.qdrant_collections.inspect_collections`) on
the session's Qdrant and turns the report into plain rows. Every read opens
the target, reads and closes it: an embedded store (qdrant-client local
mode) admits one client at a time, so holding it between refreshes would
lock out ``alfred-tui check`` and the overview's probe. When that probe
holds the store at the very moment of a read, the read waits briefly and
tries again before it reports the store as busy.

Creating missing collections is refused here for a read-only session as
well as in the UI.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from alfred_tui.control.data_targets import import_in_thread, qdrant_endpoint
from alfred_tui.control.deployment_actions import ActionPlan, ReadOnlyRefused

if TYPE_CHECKING:
    from alfred_tui.control.session import Session
    from alfred_tui.databases.qdrant_collections import CollectionReport, CollectionsReport

RESOURCE_KEY = "collections"
REQUEST_TIMEOUT = 10.0
BUSY_RETRIES = 3
BUSY_WAIT = 0.3
"""Seconds between attempts while another client holds the embedded store."""


@dataclass(frozen=True)
class CollectionRow:
    """One collection as the pane shows it."""

    name: str
    state: str
    """``ok``, ``drift``, ``missing`` or ``extra``."""
    status: str
    """``green``, ``yellow``, ``grey``, ``red``; empty for a missing collection."""
    points: str
    indexed: str
    segments: str
    vectors: str
    """``1536 Cosine``; ``(1536 Cosine)`` for a missing one (what it will be created with)."""
    expected: str
    """The profile's vector (``1536 Cosine``); empty for an extra collection."""
    optimizer: str
    payload_indexes: str
    purpose: str
    drift: tuple[str, ...]
    notes: tuple[str, ...]


@dataclass(frozen=True)
class CollectionsView:
    """Every collection of one Qdrant target against the profile."""

    address: str
    embedded: bool
    collections: tuple[CollectionRow, ...]
    note: str = ""
    """Something about the target as a whole (an embedded store not created yet)."""

    def of(self, state: str) -> list[CollectionRow]:
        """The collections in ``state``."""
        return [row for row in self.collections if row.state == state]

    def summary(self) -> str:
        """``4 expected: 1 ok, 2 drift, 1 missing; 1 extra``."""
        expected = sum(1 for row in self.collections if row.state != "extra")
        parts = ", ".join(f"{len(self.of(state))} {state}" for state in ("ok", "drift", "missing"))
        return f"{expected} in the profile: {parts}; {len(self.of('extra'))} extra"


def _count(value: int | None) -> str:
    return "n/a" if value is None else f"{value:,}"


def collection_row(collection: CollectionReport) -> CollectionRow:
    """One collection of the report as a row."""
    absent = collection.state == "missing"
    expected = collection.expected.describe() if collection.expected else ""
    if absent:
        vectors = f"({expected})"
        payload = ""
    else:
        vectors = ", ".join(v.describe() for v in collection.vectors) or "-"
        if collection.payload_indexes is None:
            payload = "n/a"
        else:
            payload = (
                ", ".join(
                    f"{i.field}:{i.data_type}"
                    + (f" ({i.points:,})" if i.points is not None else "")
                    for i in collection.payload_indexes
                )
                or "-"
            )
    return CollectionRow(
        name=collection.name,
        state=collection.state,
        status=collection.status or "",
        points="" if absent else _count(collection.points),
        indexed="" if absent else _count(collection.indexed_vectors),
        segments="" if absent else _count(collection.segments),
        vectors=vectors,
        expected=expected,
        optimizer="" if absent else (collection.optimizer or "n/a"),
        payload_indexes=payload,
        purpose=collection.purpose,
        drift=collection.drift,
        notes=collection.notes,
    )


def build_view(report: CollectionsReport, note: str = "") -> CollectionsView:
    """The pane's rows from the report."""
    return CollectionsView(
        report.address,
        report.embedded,
        tuple(collection_row(c) for c in report.collections),
        note,
    )


NO_STORE_NOTE = "the embedded store does not exist yet: every collection is missing"


def plan_create(session: Session, view: CollectionsView) -> ActionPlan:
    """Exactly what creating the missing collections does."""
    missing = view.of("missing")
    where = "the embedded store" if view.embedded else "Qdrant"
    noun = "collection" if len(missing) == 1 else "collections"
    lines = [f"Create {len(missing)} {noun} in {where} {view.address}:"]
    lines += [f"  {row.name}  vectors {row.expected}" for row in missing]
    lines.append(
        "As the spec's deployment step 3: PUT /collections/NAME with the profile's vector "
        "size and distance. Existing collections, drifted ones included, are not changed."
    )
    return ActionPlan(
        f"Create {len(missing)} missing collection{'s' if len(missing) != 1 else ''}",
        tuple(lines),
        "Create",
    )


class CollectionsReader(Protocol):
    """What the pane needs from a collections source (fixed data stands in for snapshots)."""

    async def read(self) -> CollectionsView:
        """Every collection against the profile."""
        ...

    async def create_missing(self, plan: Sequence[str] = ()) -> tuple[list[str], CollectionsView]:
        """Create the profile's missing collections: the names created, and the view after."""
        ...

    async def close(self) -> None:
        """Release what is held (nothing between reads, for the real one)."""
        ...


class CollectionsSource:
    """The session's Qdrant (server or embedded), opened for each read."""

    def __init__(self, session: Session, *, timeout: float = REQUEST_TIMEOUT) -> None:
        self.session = session
        self.timeout = timeout
        self._lock = asyncio.Lock()
        """One reader of the target at a time (an embedded store admits one client)."""

    async def _inspect(self, create_missing: bool) -> CollectionsReport:
        await import_in_thread("alfred_tui.databases.qdrant_collections")
        from alfred_tui.databases.qdrant import QdrantBusy
        from alfred_tui.databases.qdrant_collections import QdrantUnavailable, inspect_collections

        endpoint = await qdrant_endpoint(self.session)
        async with self._lock:
            for attempt in range(BUSY_RETRIES):
                try:
                    return await inspect_collections(
                        self.session.profile,
                        endpoint,
                        create_missing=create_missing,
                        timeout=self.timeout,
                    )
                except QdrantUnavailable as exc:
                    busy = "is held by another process" in exc.message
                    if not busy or attempt == BUSY_RETRIES - 1:
                        raise
                except QdrantBusy:  # pragma: no cover - inspect_collections wraps it
                    if attempt == BUSY_RETRIES - 1:
                        raise
                await asyncio.sleep(BUSY_WAIT)
        raise AssertionError("unreachable")

    async def read(self) -> CollectionsView:
        absent = await self._absent_store()
        view = absent if absent is not None else build_view(await self._inspect(False))
        self.session.tap.collections(view)
        return view

    async def _absent_store(self) -> CollectionsView | None:
        """An embedded store not created yet: every collection of the profile is missing.

        (Reading it through qdrant-client would create an empty store; ``c``
        creates it with the profile's collections, as ``--create-missing`` does.)
        """
        endpoint = await qdrant_endpoint(self.session)
        if not endpoint.embedded:
            return None
        await import_in_thread("alfred_tui.databases.qdrant_collections")
        from alfred_tui.databases.qdrant import embedded_store_exists
        from alfred_tui.databases.qdrant_collections import CollectionsReport, missing_report

        path = str(endpoint.path)
        if await asyncio.to_thread(embedded_store_exists, path):
            return None
        profile = self.session.profile
        report = CollectionsReport(
            profile.name,
            f"embedded:{path}",
            True,
            tuple(missing_report(c) for c in profile.qdrant_collections),
        )
        return build_view(report, NO_STORE_NOTE)

    async def create_missing(self, plan: Sequence[str] = ()) -> tuple[list[str], CollectionsView]:
        if self.session.readonly:
            raise ReadOnlyRefused(
                "creating collections refused: this session was opened with --readonly"
            )
        with self.session.journaled("create collections", plan=plan, service="qdrant") as journal:
            report = await self._inspect(True)
            journal.succeeded(f"created: {', '.join(report.created) or 'none missing'}")
        return report.created, build_view(report)

    async def close(self) -> None:
        return None  # nothing is held between reads


def source_for(session: Session) -> CollectionsReader:
    """The session's collections source."""
    reader: CollectionsReader = session.resource(RESOURCE_KEY, CollectionsSource)
    return reader
