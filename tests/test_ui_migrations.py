"""The Migrations pane driven by Pilot against the session's real PostgreSQL (a fresh database).

Fresh database -> every bundled migration pending -> ``u`` -> the dialog lists
exactly those files -> per-migration progress -> all applied, the tables
exist, the schema view lists them; an edited file shows as drift and ``u``
refuses until drift is allowed in the dialog; a broken migration shows
PostgreSQL's error with file:line and keeps the earlier ones; read-only
hides and refuses ``u``; a stopped PostgreSQL is shown DOWN and comes back.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from servers import PgServer, _as_owner, postgres_server
from textual.widgets import Button, Checkbox
from ui_helpers import click_button, fast_app, settle, wait_for

from alfred_tui.paths import assets_dir
from alfred_tui.screens.data_dialogs import MigrateUpDialog
from alfred_tui.screens.migrations import FailureNote, MigrationsPane
from alfred_tui.widgets.action_progress import ActionProgress
from alfred_tui.widgets.migrations_tables import MigrationsTable, SchemasTable, TablesTable
from alfred_tui.widgets.source_line import SourceLine
from alfred_tui.widgets.subviews import SubviewTab

pytestmark = pytest.mark.timeout(180)

BUNDLED = sorted(path.stem for path in (assets_dir() / "migrations").glob("*.sql"))


def db_profile_text(port: int, password: str, database: str, folders: str = "") -> str:
    return (
        "extends: local\n"
        "ui:\n  refresh_seconds: 0.2\n"
        f"{folders}"
        "services:\n"
        "  postgres:\n"
        f'    ports: ["127.0.0.1:{port}:5432"]\n'
        "    environment:\n"
        f"      POSTGRES_PASSWORD: {password}\n"
        f"      POSTGRES_DB: {database}\n"
        "  redis:\n    enabled: false\n"
        "  qdrant:\n    enabled: false\n"
    )


@pytest.fixture
def extra_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "app-migrations"
    folder.mkdir()
    (folder / "0100_app.sql").write_text(
        "SELECT pg_sleep(0.3);\nCREATE TABLE app_things (x int);\n"
    )
    return folder


@pytest.fixture
def db_profile(write_profile, pg: PgServer, fresh_database: str, extra_folder: Path) -> Path:
    return write_profile(
        db_profile_text(
            pg.port, pg.password, fresh_database, f"migrations:\n  folders: [{extra_folder}]\n"
        ),
        name="db",
    )


def restart(server: PgServer) -> None:
    """Start a stopped throwaway cluster again on its port."""
    import subprocess

    log = server.data_dir.parent / "server.log"
    subprocess.run(
        _as_owner(
            [
                str(server.bindir / "pg_ctl"),
                "-D",
                str(server.data_dir),
                "-l",
                str(log),
                "-w",
                "start",
            ],
            server.owner,
        ),
        check=True,
        capture_output=True,
        timeout=90,
    )


def pane_of(app) -> MigrationsPane:  # type: ignore[no-untyped-def]
    pane = app._panes["migrations"]
    assert isinstance(pane, MigrationsPane)
    return pane


async def show_migrations(app, pilot) -> MigrationsPane:  # type: ignore[no-untyped-def]
    app.switch_mode("migrations")
    await wait_for(pilot, lambda: "migrations" in app._panes, what="the pane")
    pane = pane_of(app)
    await wait_for(pilot, lambda: pane.view is not None, what="the first read")
    return pane


def states(pane: MigrationsPane) -> dict[str, str]:
    assert pane.view is not None
    return {row.name: row.state for row in pane.view.migrations}


def notices(app, severity: str | None = None) -> list[str]:  # type: ignore[no-untyped-def]
    return [
        f"{title}: {message}"
        for level, title, message in app.notification_log
        if severity is None or level == severity
    ]


async def test_fresh_database_all_pending_then_up_applies_them_with_progress(
    db_profile: Path, pg: PgServer, fresh_database: str, extra_folder: Path
) -> None:
    app = fast_app(db_profile)
    async with app.run_test(size=(120, 36)) as pilot:
        pane = await show_migrations(app, pilot)
        expected = [*BUNDLED, "0100_app"]
        assert list(states(pane)) == expected
        assert set(states(pane).values()) == {"pending"}
        table = pane.query_one(MigrationsTable)
        assert table.visible_keys == expected
        assert "pending" in table.row_text("0001_extensions")
        source = str(pane.query_one(SourceLine).render())
        assert f"database {fresh_database} at 127.0.0.1:{pg.port}" in source
        assert "0 applied, 8 pending, 0 drifted, 0 missing" in source

        await pilot.press("u")
        await wait_for(pilot, lambda: isinstance(app.screen, MigrateUpDialog), what="dialog")
        dialog = app.screen
        assert isinstance(dialog, MigrateUpDialog)
        assert [row.name for row in dialog.up_plan.files] == expected
        text = "\n".join(dialog.up_plan.plan.lines)
        for index, name in enumerate(expected, 1):
            assert f"    {index}. {name}.sql" in dialog.up_plan.plan.lines
        assert f"  from {assets_dir() / 'migrations'} (bundled):" in dialog.up_plan.plan.lines
        assert f"  from {extra_folder} ({extra_folder}):" in dialog.up_plan.plan.lines
        assert f"database {fresh_database}" in text
        await click_button(pilot)

        # Progress per migration: the bar's step names the file in flight (0100 sleeps 0.3 s).
        progress = pane.query_one(ActionProgress)
        await wait_for(
            pilot,
            lambda: pane.live.get("0100_app") == "applying…",
            what="0100_app in flight",
        )
        assert progress.running
        assert "apply 0100_app (8 of 8)" in str(progress.query_one("#action-step").render())
        assert pane.live["0001_extensions"] == "applied"
        assert "applying…" in table.row_text("0100_app")

        await wait_for(
            pilot,
            lambda: pane.view is not None and set(states(pane).values()) == {"applied"},
            what="all applied",
        )
        assert not progress.running
        assert any("applied 8: 0001_extensions" in n for n in notices(app))
        tables = pg.psql(
            "SELECT string_agg(schemaname || '.' || tablename, ',' ORDER BY 1) FROM pg_tables "
            "WHERE schemaname NOT IN ('pg_catalog', 'information_schema')",
            fresh_database,
        ).split(",")
        assert {"public.tasks", "public.app_things", "model_registry.models"} <= set(tables)
        assert "8 applied, 0 pending" in str(pane.query_one(SourceLine).render())

        # The schema view lists the schemas and the tables the migrations made.
        await pilot.press("right_square_bracket")
        assert pane.subview == "schema-view"
        schemas = pane.query_one(SchemasTable)
        assert {"schema/public", "schema/model_registry", "schema/auth"} <= set(
            schemas.visible_keys
        )
        assert "table/public.tasks" in pane.query_one(TablesTable).visible_keys
        assert schemas.has_focus  # the shown view takes the focus

        # Nothing pending: u says so instead of opening a dialog.
        await pilot.press("u")
        await settle(pilot)
        assert not isinstance(app.screen, MigrateUpDialog)
        assert any("nothing to apply" in n for n in notices(app))


async def test_drift_is_shown_and_up_refuses_until_allowed_in_the_dialog(
    db_profile: Path, extra_folder: Path, pg: PgServer, fresh_database: str
) -> None:
    app = fast_app(db_profile)
    async with app.run_test(size=(80, 24)) as pilot:
        pane = await show_migrations(app, pilot)
        await pilot.press("u")
        await wait_for(pilot, lambda: isinstance(app.screen, MigrateUpDialog))
        await pilot.press("enter")  # the focus is on Apply when nothing drifted
        await wait_for(
            pilot,
            lambda: pane.view is not None and set(states(pane).values()) == {"applied"},
            what="all applied",
        )
        # An applied file changes; a new one is added; another tool recorded one we lack.
        (extra_folder / "0100_app.sql").write_text("CREATE TABLE app_things (x int, y int);\n")
        (extra_folder / "0101_more.sql").write_text("CREATE TABLE more_things (x int);\n")
        pg.psql(
            "INSERT INTO migrations (name, source) VALUES ('0042_flyway_seed', 'flyway')",
            fresh_database,
        )
        await pilot.press("r")
        await wait_for(pilot, lambda: states(pane).get("0100_app") == "drifted", what="drift")
        assert states(pane)["0101_more"] == "pending"
        assert states(pane)["0042_flyway_seed"] == "missing"
        assert "missing" in pane.query_one(MigrationsTable).row_text("0042_flyway_seed")
        assert "drifted" in pane.query_one(MigrationsTable).row_text("0100_app")
        assert "1 drifted" in str(pane.query_one(SourceLine).render())
        # Sub-views: a click on a name switches too (the mouse works as well as [ and ]).
        tabs = list(pane.query(SubviewTab))
        await pilot.click(tabs[1])
        assert pane.subview == "schema-view"
        await pilot.click(tabs[0])
        assert pane.subview == "migrations-view"

        await pilot.press("u")
        await wait_for(pilot, lambda: isinstance(app.screen, MigrateUpDialog))
        dialog = app.screen
        assert [row.name for row in dialog.up_plan.drifted] == ["0100_app"]
        confirm = dialog.query_one("#confirm", Button)
        assert confirm.disabled and dialog.query_one("#cancel", Button).has_focus
        await click_button(pilot)  # disabled: nothing happens
        await settle(pilot)
        assert app.screen is dialog
        dialog.query_one("#allow-drift", Checkbox).value = True
        await settle(pilot)
        assert not confirm.disabled
        await click_button(pilot)
        await wait_for(pilot, lambda: states(pane).get("0101_more") == "applied", what="applied")
        assert states(pane)["0100_app"] == "drifted"  # left as it is
        assert pg.psql("SELECT count(*) FROM more_things", fresh_database) == "0"


async def test_a_broken_migration_shows_the_error_with_file_and_line(
    write_profile, pg: PgServer, fresh_database: str, tmp_path: Path
) -> None:
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "0100_good.sql").write_text("CREATE TABLE good_things (x int);\n")
    (folder / "0101_broken.sql").write_text(
        "CREATE TABLE fine (x int);\n\nCREATE TABLE broken (x nosuchtype);\n"
    )
    profile = write_profile(
        db_profile_text(
            pg.port, pg.password, fresh_database, f"migrations:\n  folders: [{folder}]\n"
        ),
        name="broken",
    )
    app = fast_app(profile)
    async with app.run_test(size=(80, 24)) as pilot:
        pane = await show_migrations(app, pilot)
        await pilot.press("u")
        await wait_for(pilot, lambda: isinstance(app.screen, MigrateUpDialog))
        await pilot.press("enter")
        note = pane.query_one(FailureNote)
        await wait_for(pilot, lambda: not note.has_class("-empty"), what="the failure note")
        text = str(note.render())
        assert '0101_broken.sql:3:24: type "nosuchtype" does not exist [42704]' in text
        assert "rolled back; 8 earlier migrations kept" in text
        assert any("0101_broken.sql:3:24" in n for n in notices(app, "error"))
        await wait_for(pilot, lambda: states(pane).get("0100_good") == "applied")
        assert states(pane)["0101_broken"] == "pending"
        assert pg.psql("SELECT to_regclass('public.fine') IS NULL", fresh_database) == "t"


async def test_read_only_hides_and_refuses_up(db_profile: Path, fresh_database: str, pg) -> None:  # type: ignore[no-untyped-def]
    app = fast_app(db_profile, readonly=True)
    async with app.run_test(size=(80, 24)) as pilot:
        pane = await show_migrations(app, pilot)
        assert pane.check_action("migrate_up", ()) is False  # not in the footer
        entries = [title for title, _help, _cb in app.palette_entries(pane)]
        assert "Apply pending migrations…" not in entries
        await pilot.press("u")
        await settle(pilot)
        assert not isinstance(app.screen, MigrateUpDialog)
        assert any("migrate_up is disabled" in n for n in notices(app, "warning"))
        # A direct call (a future path around the UI) is refused by the control layer.
        from alfred_tui.control.migrations_view import source_for

        with pytest.raises(Exception, match="refused: this session was opened with --readonly"):
            await source_for(app.session).up()
        assert pg.psql("SELECT to_regclass('public.migrations') IS NULL", fresh_database) == "t"


async def test_a_stopped_postgres_is_shown_down_and_comes_back(
    write_profile, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    with postgres_server() as server:
        port = server.port
        profile = write_profile(
            db_profile_text(server.port, server.password, server.database), name="own"
        )
        app = fast_app(profile)
        async with app.run_test(size=(80, 24)) as pilot:
            pane = await show_migrations(app, pilot)
            server.stop()
            line = pane.query_one(SourceLine)
            await wait_for(
                pilot,
                lambda: pane.outcome is not None and not pane.outcome.ok,
                what="DOWN",
            )
            text = str(line.render())
            assert "PostgreSQL DOWN:" in text and f"127.0.0.1:{port}" in text
            assert "retry in" in text and "showing data read at" in text
            assert line.has_class("-down")
            # The UI still answers: the sub-view switches at once.
            await pilot.press("right_square_bracket")
            assert pane.subview == "schema-view"
            restart(server)
            await wait_for(
                pilot, lambda: pane.outcome is not None and pane.outcome.ok, what="back", timeout=20
            )
            assert not line.has_class("-down")


async def test_one_connection_kept_read_again_when_shown_closed_on_switch(
    db_profile: Path, write_profile, pg: PgServer, fresh_database: str
) -> None:  # type: ignore[no-untyped-def]
    sql = (
        "SELECT count(*) FROM pg_stat_activity "
        f"WHERE application_name = 'alfred-tui' AND datname = '{fresh_database}'"
    )
    app = fast_app(db_profile)
    async with app.run_test(size=(80, 24)) as pilot:
        monitor = app.session.monitor
        await wait_for(pilot, lambda: monitor.polls >= 1, what="the overview's first poll")
        overview = int(pg.psql(sql))  # the overview's probe keeps its own
        pane = await show_migrations(app, pilot)
        first = pane.outcome
        await pilot.press("r")
        await wait_for(pilot, lambda: pane.outcome is not first, timeout=5, what="a second read")
        assert int(pg.psql(sql)) == overview + 1  # reads share one open connection

        # Shown again, the pane reads at once, not POLL_SECONDS later.
        await pilot.press("1")
        before = pane.outcome
        app.switch_mode("migrations")
        await wait_for(pilot, lambda: pane.outcome is not before, timeout=3, what="a read on show")

        # Another target: every connection to the old one is closed.
        other = write_profile(db_profile_text(pg.port, pg.password, "postgres"), name="other")
        app.switch_target(str(other))
        await wait_for(pilot, lambda: app.session.generation == 1, what="the switch")
        await wait_for(
            pilot, lambda: pg.psql(sql) == "0", timeout=10, what="old connections closed"
        )
        await wait_for(
            pilot,
            lambda: pane.view is not None and pane.view.database == "postgres",
            what="the new target's status",
        )
