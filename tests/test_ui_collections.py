"""The Collections pane driven by Pilot against the Qdrant stand-in server and an embedded store.

Stand-in (a real process serving Qdrant's REST subset over qdrant-edge): the
spec's collections in every state (ok with points and a payload index, drift
in size and in distance, missing, extra) are shown as ``alfred-tui
collections`` prints them; ``c`` names the missing one, creates it, and it is
there with the profile's vectors. Embedded (qdrant-client local mode): the
same, with the figures embedded mode does not keep shown as n/a, and the
store is free between reads (another client opens it while the pane runs).
Read-only hides and refuses ``c``; a stopped server is DOWN, then back.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from qdrant_standin.launcher import StandinProcess, start_standin, write_qdrant_shim
from test_qdrant_collections import SPEC_COLLECTIONS, server_state
from ui_helpers import click_button, fast_app, settle, wait_for

from alfred_tui.screens.collections import CollectionsPane, CollectionsSummary
from alfred_tui.screens.dialogs import ConfirmDialog
from alfred_tui.widgets.collections_table import CollectionDetail, CollectionsTable
from alfred_tui.widgets.source_line import SourceLine

pytestmark = pytest.mark.timeout(240)


def qdrant_profile_text(port: int | None = None) -> str:
    qdrant = f'  qdrant:\n    ports: ["127.0.0.1:{port}:6333"]\n' if port else ""
    return (
        "extends: local\n"
        "ui:\n  refresh_seconds: 0.2\n"
        "services:\n"
        "  postgres:\n    enabled: false\n"
        "  redis:\n    enabled: false\n" + qdrant
    )


@pytest.fixture
def server_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A ``qdrant`` on PATH (the stand-in's shim): the local backend then talks to a server."""
    folder = write_qdrant_shim(tmp_path / "bin").parent
    monkeypatch.setenv("PATH", f"{folder}:/usr/bin:/bin")


@pytest.fixture
def embedded_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """No ``qdrant`` on PATH: the local backend's Qdrant is an embedded store."""
    monkeypatch.setenv("PATH", "/usr/bin:/bin")


def pane_of(app) -> CollectionsPane:  # type: ignore[no-untyped-def]
    pane = app._panes["collections"]
    assert isinstance(pane, CollectionsPane)
    return pane


async def show_collections(app, pilot) -> CollectionsPane:  # type: ignore[no-untyped-def]
    app.switch_mode("collections")
    await wait_for(pilot, lambda: "collections" in app._panes, what="the pane")
    pane = pane_of(app)
    await wait_for(pilot, lambda: pane.outcome is not None, what="the first read")
    return pane


def notices(app, severity: str | None = None) -> list[str]:  # type: ignore[no-untyped-def]
    return [
        f"{title}: {message}"
        for level, title, message in app.notification_log
        if severity is None or level == severity
    ]


async def test_stand_in_every_state_then_c_creates_the_missing_one(
    write_profile: Any, server_path: None, qdrant_standin: StandinProcess
) -> None:
    server_state(qdrant_standin)
    app = fast_app(write_profile(qdrant_profile_text(qdrant_standin.port), name="standin"))
    async with app.run_test(size=(160, 48)) as pilot:
        pane = await show_collections(app, pilot)
        assert pane.outcome is not None and pane.outcome.ok, pane.outcome
        table = pane.query_one(CollectionsTable)
        assert table.visible_keys == [*SPEC_COLLECTIONS, "scratch"]
        general = table.row_text("general-knowledge").split()
        assert general[:5] == ["general-knowledge", "ok", "green", "120", "120"]
        assert int(general[5]) >= 1  # segments
        assert "source:keyword (120)" in table.row_text("general-knowledge")
        assert "768 Cosine ≠ profile 1536 Cosine" in table.row_text("financial-knowledge")
        assert "1536 Dot ≠ profile 1536 Cosine" in table.row_text("legal-knowledge")
        assert table.row_text("social-knowledge").split()[:3] == [
            "social-knowledge",
            "missing",
            "-",
        ]
        assert "(1536 Cosine)" in table.row_text("social-knowledge")
        assert table.row_text("scratch").split()[:2] == ["scratch", "extra"]
        summary = str(pane.query_one(CollectionsSummary).render())
        assert "Missing: social-knowledge - c creates them" in summary
        assert "Drift: financial-knowledge, legal-knowledge" in summary
        assert "Not in the profile: scratch" in summary
        source = str(pane.query_one(SourceLine).render())
        assert f"Qdrant {qdrant_standin.url}" in source
        assert "4 in the profile: 1 ok, 2 drift, 1 missing; 1 extra" in source

        # The detail lines follow the cursor.
        table.focus()
        await pilot.press("down")
        await settle(pilot)
        detail = str(pane.query_one(CollectionDetail).render())
        assert "financial-knowledge drift" in detail and "size 768, profile expects 1536" in detail

        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog), what="dialog")
        dialog = app.screen
        lines = "\n".join(dialog.plan.lines)
        assert f"Create 1 collection in Qdrant {qdrant_standin.url}:" in lines
        assert "social-knowledge  vectors 1536 Cosine" in lines
        assert "Existing collections, drifted ones included, are not changed." in lines
        await click_button(pilot)
        await wait_for(
            pilot,
            lambda: "ok" in table.row_text("social-knowledge").split()[:2],
            what="created",
        )
        assert any("created 1: social-knowledge" in n for n in notices(app))
        info = httpx.get(f"{qdrant_standin.url}/collections/social-knowledge").json()["result"]
        assert info["config"]["params"]["vectors"] == {"size": 1536, "distance": "Cosine"}
        # The drifted ones are left as they were.
        info = httpx.get(f"{qdrant_standin.url}/collections/legal-knowledge").json()["result"]
        assert info["config"]["params"]["vectors"]["distance"] == "Dot"

        await pilot.press("c")  # nothing missing any more
        await settle(pilot)
        assert not isinstance(app.screen, ConfirmDialog)
        assert any("nothing to create" in n for n in notices(app))


async def test_embedded_store_is_read_without_holding_it(
    write_profile: Any, embedded_path: None, isolated_dirs: Path
) -> None:
    from qdrant_client import QdrantClient, models

    store = isolated_dirs / "data" / "embedded" / "qdrant"
    client = QdrantClient(path=str(store))
    client.create_collection(
        "general-knowledge", models.VectorParams(size=1536, distance=models.Distance.COSINE)
    )
    client.upsert(
        "general-knowledge",
        [models.PointStruct(id=i, vector=[0.1] * 1536, payload={"n": i}) for i in range(5)],
    )
    client.create_collection("scratch", models.VectorParams(size=4, distance=models.Distance.DOT))
    client.close()

    app = fast_app(write_profile(qdrant_profile_text(), name="embedded"))
    async with app.run_test(size=(80, 24)) as pilot:
        pane = await show_collections(app, pilot)
        await wait_for(pilot, lambda: pane.view is not None, what="a good read")
        table = pane.query_one(CollectionsTable)
        assert table.row_text("general-knowledge").split()[:5] == [
            "general-knowledge",
            "ok",
            "green",
            "5",
            "n/a",
        ]
        assert table.row_text("legal-knowledge").split()[:2] == ["legal-knowledge", "missing"]
        assert "extra" in table.row_text("scratch")
        detail = str(pane.query_one(CollectionDetail).render())
        assert "segments n/a" in detail and "embedded mode keeps no segments" in detail
        assert f"embedded store {store}" in str(pane.query_one(SourceLine).render())

        # Between reads the store is free: another client can open it while the pane runs.
        reads = pane.outcome
        opened = await asyncio.to_thread(open_store_between_reads, store)
        assert "general-knowledge" in opened
        await wait_for(pilot, lambda: pane.outcome is not reads, what="another read")

        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        assert "Create 3 collections in the embedded store" in app.screen.plan.lines[0]
        await pilot.press("enter")  # the focus is on Create: it adds, it deletes nothing
        await wait_for(
            pilot,
            lambda: pane.view is not None and not pane.view.of("missing"),
            what="created",
        )
        assert [row.state for row in pane.view.collections] == ["ok", "ok", "ok", "ok", "extra"]
    names = await asyncio.to_thread(open_store_between_reads, store)
    assert sorted(names) == sorted([*SPEC_COLLECTIONS, "scratch"])


def open_store_between_reads(store: Path) -> list[str]:
    """Open the embedded store as another client would (retrying while a read holds it)."""
    from qdrant_client import QdrantClient

    deadline = time.monotonic() + 10
    while True:
        try:
            client = QdrantClient(path=str(store))
        except Exception as exc:  # held by a read in flight: a moment later it is free
            if "already accessed" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)
            continue
        try:
            return [c.name for c in client.get_collections().collections]
        finally:
            client.close()


async def test_read_only_hides_and_refuses_create(
    write_profile: Any, server_path: None, qdrant_standin: StandinProcess
) -> None:
    app = fast_app(
        write_profile(qdrant_profile_text(qdrant_standin.port), name="ro"), readonly=True
    )
    async with app.run_test(size=(80, 24)) as pilot:
        pane = await show_collections(app, pilot)
        await wait_for(pilot, lambda: pane.view is not None)
        assert len(pane.view.of("missing")) == 4
        assert "(read-only)" in str(pane.query_one(CollectionsSummary).render())
        assert pane.check_action("create_missing", ()) is False
        titles = [title for title, _help, _cb in app.palette_entries(pane)]
        assert "Create missing collections…" not in titles
        await pilot.press("c")
        await settle(pilot)
        assert not isinstance(app.screen, ConfirmDialog)
        assert any("create_missing is disabled" in n for n in notices(app, "warning"))
        from alfred_tui.control.collections_view import source_for

        with pytest.raises(Exception, match="refused: this session was opened with --readonly"):
            await source_for(app.session).create_missing()
    listing = httpx.get(f"{qdrant_standin.url}/collections").json()["result"]["collections"]
    assert listing == []


async def test_a_stopped_server_is_shown_down_and_comes_back(
    write_profile: Any, server_path: None, qdrant_standin: StandinProcess
) -> None:
    server_state(qdrant_standin)
    app = fast_app(write_profile(qdrant_profile_text(qdrant_standin.port), name="down"))
    async with app.run_test(size=(80, 24)) as pilot:
        pane = await show_collections(app, pilot)
        await wait_for(pilot, lambda: pane.view is not None)
        qdrant_standin.stop()
        await wait_for(pilot, lambda: pane.outcome is not None and not pane.outcome.ok, what="DOWN")
        line = pane.query_one(SourceLine)
        text = str(line.render())
        assert f"Qdrant DOWN: connection refused (127.0.0.1:{qdrant_standin.port})" in text
        assert "retry in" in text
        # Still shown: the last data, and the keys work.
        assert "general-knowledge" in pane.query_one(CollectionsTable).visible_keys
        await pilot.press("c")
        await settle(pilot)
        assert not isinstance(app.screen, ConfirmDialog)
        assert any("cannot tell what is missing" in n for n in notices(app, "warning"))

        again = start_standin(qdrant_standin.storage, port=qdrant_standin.port)
        try:
            await wait_for(pilot, lambda: pane.outcome is not None and pane.outcome.ok, timeout=30)
            assert not line.has_class("-down")
        finally:
            again.stop()


async def test_embedded_store_not_created_yet_everything_missing_then_c_creates_it(
    write_profile: Any, embedded_path: None, isolated_dirs: Path
) -> None:
    store = isolated_dirs / "data" / "nostore" / "qdrant"
    app = fast_app(write_profile(qdrant_profile_text(), name="nostore"))
    async with app.run_test(size=(80, 24)) as pilot:
        pane = await show_collections(app, pilot)
        await wait_for(pilot, lambda: pane.view is not None, what="a view")
        assert [row.state for row in pane.view.collections] == ["missing"] * 4
        assert not (store / "meta.json").exists()  # looking created nothing
        assert "the embedded store does not exist yet" in str(pane.query_one(SourceLine).render())
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        assert "Create 4 collections in the embedded store" in app.screen.plan.lines[0]
        await pilot.press("enter")
        await wait_for(
            pilot,
            lambda: pane.view is not None and not pane.view.of("missing"),
            what="created",
        )
        assert not pane.view.note
    names = await asyncio.to_thread(open_store_between_reads, store)
    assert sorted(names) == sorted(SPEC_COLLECTIONS)
