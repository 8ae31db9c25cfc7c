"""The Backups pane and the guided Restore screen on the real local backend.

PostgreSQL and Redis are real servers run by the local backend; every
restore goes through the screen as an operator would drive it (keys, the
typed service name), and the database itself is checked with psql: every
row of every table must be what it was when the backup was taken.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from backup_support import kill_when, pg_fingerprint, psql, redis_fingerprint, seed_redis, take
from localdeploy import LocalDeployment
from textual.pilot import Pilot
from textual.widgets import Button, Input
from ui_helpers import (
    back_up,
    click_button,
    fast_app,
    notified,
    open_backups,
    select,
    settle,
    wait_for,
)

from alfred_tui.app import AlfredApp
from alfred_tui.backends.base import Progress
from alfred_tui.screens.backups import BackupsPane
from alfred_tui.screens.dialogs import ConfirmDialog
from alfred_tui.screens.restore import (
    CHOOSE,
    CONFIRM,
    ENDED,
    JournalOfferDialog,
    RestoreScreen,
)
from alfred_tui.widgets.action_progress import ActionProgress
from alfred_tui.widgets.backup_tables import CatalogNotes, CatalogTable, PitrPanel
from alfred_tui.widgets.restore_steps import BackupChoice

pytestmark = [pytest.mark.timeout(300), pytest.mark.slow]

SCHEMA_SQL = """
DROP TABLE IF EXISTS public.agents, public.agent_runs, public.big, public.created_later CASCADE;
CREATE TABLE public.agents (id bigserial PRIMARY KEY, name text NOT NULL, config jsonb);
CREATE TABLE public.agent_runs (
    id bigserial PRIMARY KEY,
    agent_id bigint REFERENCES public.agents(id) ON DELETE CASCADE,
    status text NOT NULL,
    tokens int
);
INSERT INTO public.agents (name, config)
    SELECT 'agent-' || i, jsonb_build_object('model', 'm' || (i % 3))
    FROM generate_series(1, 2000) i;
INSERT INTO public.agent_runs (agent_id, status, tokens)
    SELECT 1 + (i % 2000), (ARRAY['ok', 'failed', 'running'])[1 + i % 3], i * 7
    FROM generate_series(1, 5000) i;
"""

CHANGES_SQL = """
DELETE FROM public.agent_runs WHERE id % 3 = 0;
UPDATE public.agents SET name = name || '-renamed' WHERE id < 500;
CREATE TABLE public.created_later (a int);
INSERT INTO public.created_later VALUES (1), (2);
"""


@pytest.fixture(scope="module")
def deployment() -> Iterator[LocalDeployment]:
    """PostgreSQL, Redis and embedded Qdrant on the local backend, for this module."""
    with LocalDeployment(
        name="ui-backups",
        overrides={"ui": {"refresh_seconds": 0.3}, "backups": {"keep_last": 1, "keep_daily": 0}},
    ) as deployment:
        deployment.up()
        yield deployment


async def open_restore(
    pilot: Pilot, app: AlfredApp, pane: BackupsPane, backup: str
) -> RestoreScreen:
    await select(pilot, pane, backup)
    await pilot.press("R")
    await wait_for(pilot, lambda: isinstance(app.screen, RestoreScreen), what="Restore screen")
    screen = app.screen
    assert isinstance(screen, RestoreScreen)
    await wait_for(pilot, lambda: screen.catalog is not None, what="its catalog")
    return screen


async def confirm_by_typing(pilot: Pilot, screen: RestoreScreen, service: str) -> None:
    """Step 4 as an operator does it: the button stays disabled until the name matches."""
    await wait_for(pilot, lambda: screen.phase == CONFIRM, timeout=120, what="confirmation step")
    button = screen.query_one("#confirm", Button)
    typed = screen.query_one("#typed", Input)
    assert typed.has_focus and button.disabled
    await pilot.press(*service[:-1])
    await settle(pilot, 0.1)
    assert button.disabled, "the button must stay disabled until the whole name is typed"
    await pilot.press("enter")  # a partial name does not confirm
    await settle(pilot, 0.1)
    assert screen.phase == CONFIRM
    await pilot.press(service[-1])
    await settle(pilot, 0.1)
    assert not button.disabled
    await pilot.press("enter")


def statuses(screen: RestoreScreen) -> list[str]:
    return [step.status for step in screen.view.steps]


async def test_backup_verify_and_a_guided_restore_bring_every_row_back(
    deployment: LocalDeployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = deployment.postgres_port
    psql(port, SCHEMA_SQL)
    original = pg_fingerprint(port)
    assert original["public.agent_runs"].startswith("5000:")
    shown: list[Progress] = []
    advance = ActionProgress.advance

    def record(self: ActionProgress, progress: Progress) -> None:
        shown.append(progress)
        advance(self, progress)

    monkeypatch.setattr(ActionProgress, "advance", record)

    app = fast_app(deployment.profile_path)
    async with app.run_test(size=(120, 40)) as pilot:
        pane = await open_backups(pilot, app)
        assert pane.query_one(PitrPanel).render().plain.startswith("PITR NOT READY")  # type: ignore[union-attr]

        # b: a backup of PostgreSQL, with byte progress, enters the catalog.
        backup = await back_up(pilot, app, pane, "postgres")
        assert any(p.unit == "bytes" and p.current for p in shown), shown
        row = pane.catalog.find(backup)  # type: ignore[union-attr]
        assert row is not None and row.summary == "7,000 rows in 2 tables"
        assert row.check is not None and row.check.ok
        assert "7,000 rows in 2 tables" in pane.query_one(CatalogTable).row_text(backup)

        # v: read it back again.
        await select(pilot, pane, backup)
        await pilot.press("v")
        await wait_for(pilot, lambda: notified(app, "Done", "reads back whole"), timeout=60)

        psql(port, CHANGES_SQL)
        changed = pg_fingerprint(port)
        assert changed != original

        # R: the guided restore, preselected on this backup.
        screen = await open_restore(pilot, app, pane, backup)
        assert screen.query_one("#chooser").display
        # Esc at the confirmation changes nothing and releases the restore's lock...
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.phase == CONFIRM, timeout=120)
        await pilot.press("escape")
        await wait_for(pilot, lambda: notified(app, "Cancelled", "nothing was changed"))
        assert screen.phase == CHOOSE and screen.query_one("#chooser").display
        assert pg_fingerprint(port) == changed
        # ... so the restore can start again at once.
        await wait_for(pilot, lambda: screen.query_one(BackupChoice).selected_key == backup)
        screen.query_one(BackupChoice).focus()
        await pilot.press("enter")
        await confirm_by_typing(pilot, screen, "postgres")
        plan = " ".join(screen.view.step("plan").messages)
        assert "public.created_later" in plan and "safety copy" in plan
        await wait_for(pilot, lambda: screen.phase == ENDED, timeout=180, what="the restore")
        assert screen.view.outcome == "restored", screen.view
        assert statuses(screen) == ["done"] * 7
        assert (
            "counts match the manifest: 7,000 rows in 2 tables"
            in screen.view.step("verify").messages[-1]
        )
        assert notified(app, "Restored", backup)

        after = pg_fingerprint(port)
        kept = after.pop("public.created_later")
        assert after == original
        assert kept.startswith("2:")

        # Back on the pane, the safety copy is in the catalog, marked as such.
        safety = screen.view.safety_id
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is pane)
        await wait_for(
            pilot, lambda: pane.catalog is not None and pane.catalog.find(safety) is not None
        )
        assert pane.catalog.find(safety).safety_copy  # type: ignore[union-attr]
        assert "safety" in pane.query_one(CatalogTable).row_text(safety)  # type: ignore[arg-type]


async def test_a_corrupted_backup_stops_at_pre_flight_in_the_screen(
    deployment: LocalDeployment,
) -> None:
    port = deployment.postgres_port
    psql(port, SCHEMA_SQL)
    (backup,) = take(deployment.profile_path, "postgres")
    psql(port, CHANGES_SQL)
    before = pg_fingerprint(port)
    dump = Path(backup["folder"]) / "postgres.dump"
    data = bytearray(dump.read_bytes())
    data[len(data) // 2] ^= 0x01
    dump.write_bytes(bytes(data))

    app = fast_app(deployment.profile_path)
    async with app.run_test(size=(80, 24)) as pilot:
        pane = await open_backups(pilot, app)
        ids = {row.id for row in pane.catalog.rows}  # type: ignore[union-attr]
        screen = await open_restore(pilot, app, pane, backup["id"])
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.phase == ENDED, timeout=60, what="pre-flight")
        assert screen.view.outcome == "preflight_failed"
        assert statuses(screen) == ["done", "failed"] + ["pending"] * 5
        assert any("SHA-256 differs" in m for m in screen.view.step("preflight").messages)
        assert not screen.query_one("#confirm-bar").display
        outcome = screen.query_one("#restore-outcome").render().plain  # type: ignore[union-attr]
        assert outcome.startswith("PRE-FLIGHT FAILED") and "nothing was changed" in outcome
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is pane)
        await wait_for(pilot, lambda: pane.catalog.find(backup["id"]).check.ok is False)  # type: ignore[union-attr]
        assert {row.id for row in pane.catalog.rows} == ids  # no safety copy was taken  # type: ignore[union-attr]
    assert pg_fingerprint(port) == before


async def test_read_only_refuses_restore_and_prune_but_backs_up(
    deployment: LocalDeployment,
) -> None:
    port = deployment.postgres_port
    psql(port, SCHEMA_SQL)
    (backup,) = take(deployment.profile_path, "postgres")
    psql(port, CHANGES_SQL)
    before = pg_fingerprint(port)

    app = fast_app(deployment.profile_path, readonly=True)
    async with app.run_test(size=(80, 24)) as pilot:
        pane = await open_backups(pilot, app)
        footer_keys = {b.binding.action for b in pane.active_bindings.values()}
        assert "backup" in footer_keys and "verify" in footer_keys
        assert "restore" not in footer_keys and "prune" not in footer_keys
        titles = [title for title, _, _ in app.palette_entries(pane)]
        assert "Back up postgres" in titles
        assert not [t for t in titles if t.startswith(("Restore", "Prune"))]

        await select(pilot, pane, backup["id"])
        await pilot.press("R")
        await settle(pilot)
        assert app.screen is pane
        assert notified(app, "Read-only", "restore is disabled")
        await pilot.press("P")
        await settle(pilot)
        assert notified(app, "Read-only", "prune is disabled")

        # Whatever path opens the screen, step 4 refuses (the flow records why).
        screen = RestoreScreen(pane, pane.source, "postgres", backup["id"])  # type: ignore[arg-type]
        app.push_screen(screen)
        await wait_for(pilot, lambda: screen.catalog is not None)
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.phase == ENDED, timeout=60)
        assert screen.view.outcome == "refused"
        assert statuses(screen)[:4] == ["done", "done", "done", "failed"]
        assert "read-only" in screen.view.step("confirm").messages[-1]
        assert not screen.query_one("#confirm-bar").display
        await pilot.press("escape")

        # Backing up changes no data: it stays available.
        await back_up(pilot, app, pane, "redis")
    assert pg_fingerprint(port) == before


async def test_a_count_mismatch_fails_the_restore_and_u_brings_the_safety_copy_back(
    deployment: LocalDeployment,
) -> None:
    port = deployment.postgres_port
    psql(port, SCHEMA_SQL)
    (backup,) = take(deployment.profile_path, "postgres")
    # The manifest says one row more than the dump holds: the restore will not verify.
    manifest_path = Path(backup["folder"]) / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    runs = next(c for c in manifest["contents"] if c["name"] == "public.agent_runs")
    runs["count"] += 1
    manifest_path.write_text(json.dumps(manifest))
    psql(port, CHANGES_SQL)
    before = pg_fingerprint(port)

    app = fast_app(deployment.profile_path)
    async with app.run_test(size=(100, 30)) as pilot:
        pane = await open_backups(pilot, app)
        screen = await open_restore(pilot, app, pane, backup["id"])
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.phase == CONFIRM, timeout=120)
        app.action_switch_target()  # the restore holds its lock: no switching meanwhile
        assert notified(app, "An action is running", "wait for restore to finish")
        await confirm_by_typing(pilot, screen, "postgres")
        await wait_for(pilot, lambda: screen.phase == ENDED, timeout=180, what="the restore")
        assert screen.view.outcome == "verify_failed"
        assert statuses(screen)[-1] == "failed"
        assert (
            "rows in public.agent_runs: expected 5001, found 5000"
            in screen.view.step("verify").messages
        )
        safety = screen.view.safety_id
        assert safety is not None
        outcome = screen.query_one("#restore-outcome").render().plain  # type: ignore[union-attr]
        assert f"u restores the safety copy {safety}" in outcome
        assert notified(app, "Restore failed")

        # u: the safety copy, through pre-flight, plan and the typed name again.
        await pilot.press("u")
        await wait_for(pilot, lambda: screen.view.backup_id == safety, what="the undo flow")
        await confirm_by_typing(pilot, screen, "postgres")
        await wait_for(pilot, lambda: screen.phase == ENDED, timeout=180, what="the undo")
        assert screen.view.outcome == "restored", screen.view
    assert pg_fingerprint(port) == before


async def test_a_redis_restore_through_the_screen_brings_every_key_back(
    deployment: LocalDeployment,
) -> None:
    port = deployment.redis_port
    import redis as redis_client

    client = redis_client.Redis(host="127.0.0.1", port=port)
    client.flushall()
    seed_redis(port, "before", keys_per_type=40)  # 1,200 keys of every type in DBs 0-4
    original = redis_fingerprint(port)

    app = fast_app(deployment.profile_path)
    async with app.run_test(size=(80, 24)) as pilot:
        pane = await open_backups(pilot, app)
        backup = await back_up(pilot, app, pane, "redis")
        client.flushdb()
        seed_redis(port, "after", keys_per_type=5)
        assert redis_fingerprint(port) != original

        screen = await open_restore(pilot, app, pane, backup)
        await pilot.press("enter")
        await confirm_by_typing(pilot, screen, "redis")
        await wait_for(pilot, lambda: screen.phase == ENDED, timeout=180, what="the restore")
        assert screen.view.outcome == "restored", screen.view
        assert statuses(screen) == ["done"] * 7
    client.close()
    assert redis_fingerprint(port) == original


def _journal(profile_name: str) -> Path:
    return Path(os.environ["ALFRED_TUI_STATE_DIR"]) / "restores" / profile_name / "postgres.json"


def _journal_step(path: Path) -> str | None:
    try:
        return json.loads(path.read_text())["step"]
    except (OSError, ValueError, KeyError):
        return None


async def test_an_interrupted_restore_is_offered_on_opening_and_rolled_back(
    deployment: LocalDeployment,
) -> None:
    port, profile = deployment.postgres_port, deployment.profile_path
    psql(port, SCHEMA_SQL)
    psql(
        port,
        "CREATE TABLE public.big AS SELECT i, md5(i::text) AS h FROM generate_series(1, 300000) i",
    )
    (backup,) = take(profile, "postgres")
    psql(port, CHANGES_SQL + "DELETE FROM public.big WHERE i % 2 = 0;")
    previous = pg_fingerprint(port)

    # A CLI restore killed midway leaves its journal, as a crash would.
    journal = _journal(deployment.name)
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "alfred-tui"), "restore", "postgres", backup["id"],
         "--yes", "--profile", str(profile)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    kill_when(process, lambda: _journal_step(journal) == "restore")
    assert journal.exists()

    app = fast_app(profile)
    async with app.run_test(size=(80, 24)) as pilot:
        pane = await open_backups(pilot, app)
        notes = pane.query_one(CatalogNotes).render().plain  # type: ignore[union-attr]
        assert "postgres UNFINISHED RESTORE" in notes and backup["id"] in notes
        await pilot.press("R")
        await wait_for(
            pilot, lambda: isinstance(app.screen, JournalOfferDialog), what="the journal offer"
        )
        offer = app.screen
        assert offer.unfinished.backup_id == backup["id"]  # type: ignore[attr-defined]
        assert offer.unfinished.changed_data  # type: ignore[attr-defined]
        await pilot.press("b")  # roll back
        screen = app.screen
        assert isinstance(screen, RestoreScreen)
        await wait_for(pilot, lambda: screen.view.mode == "rollback")
        await confirm_by_typing(pilot, screen, "postgres")
        await wait_for(pilot, lambda: screen.phase == ENDED, timeout=180, what="the rollback")
        assert screen.view.outcome == "restored", screen.view
        assert screen.view.step("safety_copy").status == "skipped"
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is pane)
        await wait_for(pilot, lambda: not pane.catalog.unfinished)  # type: ignore[union-attr]
    assert pg_fingerprint(port) == previous
    assert not journal.exists()


async def test_prune_asks_for_the_word_and_deletes_what_retention_drops(
    deployment: LocalDeployment,
) -> None:
    app = fast_app(deployment.profile_path)
    async with app.run_test(size=(100, 30)) as pilot:
        pane = await open_backups(pilot, app)
        first = await back_up(pilot, app, pane, "redis")
        newest = await back_up(pilot, app, pane, "redis")
        redis = [r.id for r in pane.catalog.of("redis") if not r.safety_copy]  # type: ignore[union-attr]
        assert first in redis and newest in redis
        await pilot.press("P")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog), what="prune dialog")
        dialog = app.screen
        text = "\n".join(dialog.plan.lines)  # type: ignore[attr-defined]
        assert first in text and newest not in text
        assert dialog.query_one("#confirm", Button).disabled
        dialog.query_one("#typed", Input).value = "delete"
        await settle(pilot)
        await click_button(pilot)
        await wait_for(pilot, lambda: notified(app, "Done", "Pruned"), timeout=60)
        await wait_for(
            pilot,
            lambda: [r.id for r in pane.catalog.of("redis") if not r.safety_copy] == [newest],  # type: ignore[union-attr]
            what="only the newest redis backup left",
        )


async def test_an_interrupted_recovery_gets_a_line_of_its_own(deployment: LocalDeployment) -> None:
    """A journal left by a killed ``pitr recover`` is shown with the command that undoes it.

    The journal is written by the product's own store, as ``recover`` writes it
    (the kill itself is exercised in tests/test_backup_pitr.py).
    """
    from alfred_tui.backup.journal import PITR_JOURNAL, Journal, JournalStore

    store = JournalStore()
    journal = Journal(
        profile=deployment.name,
        service=PITR_JOURNAL,
        backend="local",
        backup_id="postgres-base-20261125T100000Z",
        backup_folder="/nowhere",
        mode="pitr",
        step="install",
        safety_folder="/nowhere/safety/pitr-20261125T100500Z",
        details={"data_dir": "/nowhere/data", "target": "2026-11-25 10:03:00+00:00"},
    )
    store.write(journal)
    app = fast_app(deployment.profile_path)
    async with app.run_test(size=(80, 24)) as pilot:
        pane = await open_backups(pilot, app)
        pitr = pane.query_one(PitrPanel)
        first = pitr.render().plain.splitlines()[0]  # type: ignore[union-attr]
        assert first == (
            "PITR INTERRUPTED at step 'install': run alfred-tui pitr recover --rollback"
            f" --profile {deployment.name}"
        )
        assert pane.pitr is not None and pane.pitr.view is not None
        assert not pane.pitr.view.ready  # PostgreSQL answers, but PITR is not to be relied on

        store.clear(deployment.name, PITR_JOURNAL)
        pane.action_refresh()
        await wait_for(
            pilot, lambda: "INTERRUPTED" not in pitr.render().plain,  # type: ignore[union-attr]
            what="the line gone with the journal",
        )  # fmt: skip


async def test_a_stopped_postgres_is_shown_down_and_the_pane_keeps_working(
    deployment: LocalDeployment,
) -> None:
    port = deployment.postgres_port
    psql(port, SCHEMA_SQL)
    (backup,) = take(deployment.profile_path, "postgres")
    backend = deployment.backend()
    app = fast_app(deployment.profile_path)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            pane = await open_backups(pilot, app)
            pitr = pane.query_one(PitrPanel)
            await backend.stop("postgres")
            pane.action_refresh()
            await wait_for(pilot, lambda: "DOWN" in pitr.render().plain, what="PITR DOWN")  # type: ignore[union-attr]
            text = pitr.render().plain  # type: ignore[union-attr]
            assert f"127.0.0.1:{port}" in text and "retry in" in text

            # A backup of it fails with the reason, and the pane stays usable.
            await select(pilot, pane, "service:postgres")
            await pilot.press("b")
            await wait_for(
                pilot,
                lambda: any(s == "error" and f"{port}" in m for s, _, m in app.notification_log),
                timeout=60,
                what="the backup's failure",
            )
            await wait_for(pilot, lambda: pane.action_running is None, what="the job to end")
            await back_up(pilot, app, pane, "redis")  # the other services keep working

            # The guided restore stops at pre-flight, saying why, before anything changes.
            screen = await open_restore(pilot, app, pane, backup["id"])
            await pilot.press("enter")
            await wait_for(pilot, lambda: screen.phase == ENDED, timeout=60, what="pre-flight")
            assert screen.view.outcome == "preflight_failed"
            assert f"127.0.0.1:{port}" in screen.view.step("preflight").messages[-1]
            await pilot.press("escape")

            # Started again, it is read back without a restart of the UI.
            await backend.start("postgres")
            pane.action_refresh()
            await wait_for(
                pilot, lambda: "PITR NOT READY" in pitr.render().plain, timeout=60,  # type: ignore[union-attr]
                what="PITR read again",
            )  # fmt: skip
    finally:
        await backend.start("postgres")
        await backend.close()
