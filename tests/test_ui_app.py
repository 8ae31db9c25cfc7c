"""The Textual app driven by Pilot against real PostgreSQL and Redis (and embedded Qdrant).

Behaviour, not looks (the snapshots cover looks): services healthy, a Redis
that stops turns DOWN with its reason within two polls while PostgreSQL
keeps updating, and comes back by itself; connections stay open between
polls; scale's dialog validates and the local backend refuses it; read-only
refuses; switching profile reloads every pane; hidden panes stop polling.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console
from servers import PgServer, RedisServer, free_port, start_redis
from textual.widgets import Input
from ui_helpers import click_button, fast_app, key_of, settle, wait_for

from alfred_tui.control.deployment_actions import ActionKind, ActionRequest
from alfred_tui.screens.dialogs import ConfirmDialog, ScaleDialog, TargetDialog
from alfred_tui.screens.help import HelpScreen
from alfred_tui.screens.overview import OverviewPane
from alfred_tui.screens.profile import ProfilePane
from alfred_tui.widgets.filter_table import FilterableTable
from alfred_tui.widgets.header import TargetHeader
from alfred_tui.widgets.notes import ServiceNotes
from alfred_tui.widgets.overview_tables import MetricsTable, ServicesTable

pytestmark = pytest.mark.timeout(180)

QDRANT_OFF = "  qdrant:\n    enabled: false\n"


def profile_text(pg: PgServer, redis_port: int, extra: str = "", qdrant: bool = False) -> str:
    return (
        "extends: local\n"
        "ui:\n  refresh_seconds: 0.3\n"
        f"{extra}"
        "services:\n"
        "  postgres:\n"
        f'    ports: ["127.0.0.1:{pg.port}:5432"]\n'
        "    environment:\n"
        f"      POSTGRES_PASSWORD: {pg.password}\n"
        "  redis:\n"
        f'    ports: ["127.0.0.1:{redis_port}:6379"]\n' + ("" if qdrant else QDRANT_OFF)
    )


@pytest.fixture
def ui_profile(write_profile, pg: PgServer, redis: RedisServer) -> Path:
    """The session's servers, Qdrant embedded, a 0.3 s refresh."""
    return write_profile(profile_text(pg, redis.port, qdrant=True), name="servers")


@pytest.fixture
def qdrant_store(isolated_dirs: Path) -> Path:
    """The embedded Qdrant store of profile 'servers', holding the spec's four collections."""
    from qdrant_client import QdrantClient, models

    path = Path(isolated_dirs / "data" / "servers" / "qdrant")
    client = QdrantClient(path=str(path))
    for name in ("general-knowledge", "financial-knowledge", "legal-knowledge", "social-knowledge"):
        client.create_collection(name, models.VectorParams(size=4, distance=models.Distance.COSINE))
    client.close()
    return path


def overview(app) -> OverviewPane:  # type: ignore[no-untyped-def]
    pane = app._panes["overview"]
    assert isinstance(pane, OverviewPane)
    return pane


def notices(app, severity: str | None = None) -> list[str]:  # type: ignore[no-untyped-def]
    return [
        f"{title}: {message}"
        for level, title, message in app.notification_log
        if severity is None or level == severity
    ]


async def test_overview_shows_every_service_healthy_and_keeps_connections_open(
    ui_profile: Path, qdrant_store: Path, pg: PgServer
) -> None:
    app = fast_app(ui_profile)
    async with app.run_test(size=(160, 48)) as pilot:
        pane = overview(app)
        monitor = app.session.monitor
        await wait_for(
            pilot,
            lambda: (
                pane.snapshot is not None
                and monitor.polls >= 3
                and all(view.state == "OK" for view in pane.snapshot.services)
            ),
            what="every service OK",
        )
        services = pane.query_one(ServicesTable)
        assert services.visible_keys == ["postgres", "redis", "qdrant"]
        for kind in ("postgres", "redis", "qdrant"):
            assert " OK " in f" {services.row_text(kind)} "
        metrics = pane.query_one(MetricsTable)
        assert "postgres_connections" in metrics.row_text("postgres/postgres_connections")
        assert "OK" in metrics.row_text("redis/redis_connected_clients")
        collections = metrics.row_text("qdrant/qdrant_collections_count")
        assert " 4 " in f" {collections} " and "OK" in collections
        # A sparkline has been drawn for a metric that has history.
        assert any(ch in metrics.row_text("postgres/postgres_up") for ch in "▁▂▃▄▅▆▇█")

        # One connection, reused: the same backend pid answers poll after poll.
        sql = "SELECT pid FROM pg_stat_activity WHERE application_name = 'alfred-tui'"
        first = pg.psql(sql).split()
        polls = monitor.polls
        await wait_for(pilot, lambda: monitor.polls >= polls + 3, what="three more polls")
        assert pg.psql(sql).split() == first and len(first) == 1


async def test_redis_stopped_turns_down_within_two_polls_and_recovers(
    write_profile, pg: PgServer, tmp_path: Path
) -> None:
    directory = tmp_path / "redis-own"
    directory.mkdir()
    port = free_port()
    server = start_redis(port, directory)
    try:
        app = fast_app(write_profile(profile_text(pg, port), name="stopper"))
        async with app.run_test(size=(80, 24)) as pilot:
            pane = overview(app)
            monitor = app.session.monitor

            def state(kind: str) -> str:
                view = pane.snapshot.view(kind) if pane.snapshot else None
                return view.state if view else ""

            await wait_for(pilot, lambda: state("redis") == "OK" and state("postgres") == "OK")
            server.stop()
            polls_at_stop = monitor.polls
            await wait_for(pilot, lambda: state("redis") == "DOWN", what="redis DOWN")
            assert monitor.polls - polls_at_stop <= 2
            row = pane.query_one(ServicesTable).row_text("redis")
            assert "DOWN" in row
            notes = str(pane.query_one(ServiceNotes).render())
            # The open connection is closed by the stopping server; then nothing listens.
            assert f"redis DOWN: connection closed by server (127.0.0.1:{port})" in notes or (
                f"redis DOWN: connection refused (127.0.0.1:{port})" in notes
            )
            await wait_for(
                pilot,
                lambda: (
                    "connection refused (127.0.0.1:" in str(pane.query_one(ServiceNotes).render())
                ),
                what="the retry's reason",
            )

            # PostgreSQL keeps updating while Redis is retried with backoff.
            pg_before = pane.snapshot.view("postgres").report.checked_at
            polls_down = monitor.polls
            await wait_for(pilot, lambda: monitor.polls >= polls_down + 6, what="six polls")
            assert pane.snapshot.view("postgres").report.checked_at > pg_before
            assert state("postgres") == "OK" and state("redis") == "DOWN"
            # Backoff: fewer Redis attempts than polls since it went down.
            assert pane.snapshot.view("redis").failures < monitor.polls - polls_at_stop

            server = start_redis(port, directory)
            await wait_for(pilot, lambda: state("redis") == "OK", timeout=10, what="recovery")
            assert "DOWN" not in pane.query_one(ServicesTable).row_text("redis")
    finally:
        server.stop()


async def test_scale_dialog_validates_and_the_local_backend_refuses(ui_profile: Path) -> None:
    app = fast_app(ui_profile)
    async with app.run_test(size=(80, 24)) as pilot:
        pane = overview(app)
        await pilot.press("s")
        await settle(pilot)
        assert not isinstance(app.screen, ScaleDialog)
        assert any("local backend cannot scale" in n for n in notices(app, "warning"))

        # The dialog itself, offered a service: integers in range only.
        results: list[object] = []
        app.push_screen(ScaleDialog(app.session, ["redis"], "redis", {}), results.append)
        await settle(pilot)
        replicas = app.screen.query_one("#replicas", Input)
        error = app.screen.query_one("#error")
        await pilot.press("a", "b")  # letters are not accepted at all
        assert replicas.value == ""
        await pilot.press("enter")
        assert "enter a whole number" in str(error.render())
        await pilot.press("9", "9")
        await settle(pilot)
        assert "99 is out of range (0 to 64)" in str(error.render())
        await pilot.press("enter")
        assert isinstance(app.screen, ScaleDialog) and results == []
        await pilot.press("backspace", "backspace", "2", "enter")
        await settle(pilot)
        assert results == [ActionRequest(ActionKind.SCALE, "redis", replicas=2)]

        # Confirming it on the local backend is refused before any dialog.
        app.notification_log.clear()
        pane.confirm_and_run(results[0])  # type: ignore[arg-type]
        await settle(pilot)
        assert not isinstance(app.screen, ConfirmDialog)
        assert notices(app) == [
            "Not supported: the local backend cannot scale any service of profile servers"
        ]


async def test_readonly_hides_and_refuses_every_mutating_action(
    write_profile, pg: PgServer, redis: RedisServer
) -> None:
    path = write_profile(
        profile_text(pg, redis.port, extra="  keymap:\n    restart: ctrl+r\n"), name="ro"
    )
    app = fast_app(path, readonly=True)
    async with app.run_test(size=(80, 24)) as pilot:
        pane = overview(app)
        await settle(pilot)
        header = pane.query_one(TargetHeader)
        assert "READ-ONLY" in str(header.render())
        shown = {b.binding.action for b in app.screen.active_bindings.values()}
        assert not shown & {"deploy", "teardown", "scale", "resize", "restart"}
        titles = [title for title, _, _ in app.palette_entries(app.screen)]
        assert not [t for t in titles if t.split()[0] in ("Deploy", "Restart", "Tear", "Scale")]
        assert "Refresh overview now" in titles

        for key in ("s", "d", "X", "ctrl+r"):  # ctrl+r: restart remapped by the profile
            app.notification_log.clear()
            await pilot.press(key)
            await settle(pilot, 0.1)
            assert isinstance(app.screen, OverviewPane)
            assert any(n.startswith("Read-only:") for n in notices(app)), key

        # Called directly (as a future pane or a script might): refused as well.
        app.notification_log.clear()
        pane.confirm_and_run(ActionRequest(ActionKind.SCALE, "redis", replicas=2))
        await settle(pilot)
        assert not isinstance(app.screen, ConfirmDialog)
        assert any(n.startswith("Read-only:") for n in notices(app))


async def test_profile_switch_reloads_every_pane(
    write_profile, pg: PgServer, redis: RedisServer, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("ALFRED_TUI_PROFILE_PATH", str(tmp_path))
    first = write_profile(profile_text(pg, redis.port), name="first")
    write_profile(
        "extends: local\nui:\n  refresh_seconds: 0.3\n  theme: nord\n"
        "services:\n  postgres:\n    enabled: false\n"
        f'  redis:\n    ports: ["127.0.0.1:{redis.port}:6379"]\n' + QDRANT_OFF,
        name="second",
    )
    app = fast_app(first)
    async with app.run_test(size=(100, 30)) as pilot:
        pane = overview(app)
        await wait_for(pilot, lambda: app.session.monitor.polls >= 1)
        await pilot.press(key_of("profile"))  # open the Profile pane so it exists before the switch
        await settle(pilot)
        assert isinstance(app.screen, ProfilePane)
        await pilot.press("1")
        old = app.session

        await pilot.press("p")
        await settle(pilot)
        assert isinstance(app.screen, TargetDialog)
        app.screen.query_one("#profile", Input).value = "second"
        await click_button(pilot)
        await wait_for(pilot, lambda: app.session is not old, what="the switch")
        await wait_for(
            pilot,
            lambda: (
                pane.snapshot is not None
                and pane.snapshot.profile == "second"
                and pane.snapshot.view("redis") is not None
                and pane.snapshot.view("redis").state == "OK"
            ),
            what="the new profile polled",
        )
        assert app.session.generation == old.generation + 1
        assert pane.query_one(ServicesTable).visible_keys == ["redis"]
        assert "second" in str(pane.query_one(TargetHeader).render())
        assert app.theme == "nord"
        # The old session's probes are closed and its poller is gone.
        await wait_for(pilot, lambda: old._monitor is None, what="old session closed")
        pollers = [w for w in pane.workers if w.group == "poll" and not w.is_finished]
        assert len(pollers) == 1
        profile_pane = app._panes["profile"]
        fields = profile_pane.query_one(FilterableTable)
        assert "services.postgres.enabled" in fields.visible_keys
        assert "False" in fields.row_text("services.postgres.enabled")


async def test_hidden_pane_pauses_polling_and_help_lists_binding_ids(
    write_profile, pg: PgServer, redis: RedisServer
) -> None:
    # Without the black box: a recording keeps the overview polling while hidden
    # (test_recording_faults.py records an outage while the Logs pane is shown).
    extra = "recording:\n  enabled: false\n"
    app = fast_app(write_profile(profile_text(pg, redis.port, extra, qdrant=True), name="quiet"))
    async with app.run_test(size=(80, 24)) as pilot:
        monitor = app.session.monitor
        await wait_for(pilot, lambda: monitor.polls >= 2)
        await pilot.press(key_of("profile"))
        await settle(pilot, 0.5)  # let an in-flight poll finish
        paused_at = monitor.polls
        await pilot.pause(1.2)  # four refresh intervals
        assert monitor.polls == paused_at
        await pilot.press("1")
        await wait_for(pilot, lambda: monitor.polls > paused_at, what="polling resumed")

        await pilot.press("question_mark")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        console = Console(width=120, record=True, file=io.StringIO())
        console.print(app.screen.content())
        text = console.export_text()
        for binding_id in ("scale", "teardown", "help", "switch_target", "pane_2"):
            assert binding_id in text
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, OverviewPane)


async def test_filter_narrows_every_table_of_the_pane(ui_profile: Path) -> None:
    app = fast_app(ui_profile)
    async with app.run_test(size=(80, 24)) as pilot:
        pane = overview(app)
        await wait_for(pilot, lambda: app.session.monitor.polls >= 1)
        await pilot.press("slash", "r", "e", "d", "i", "s")
        await settle(pilot)
        assert pane.query_one(ServicesTable).visible_keys == ["redis"]
        assert all(k.startswith("redis/") for k in pane.query_one(MetricsTable).visible_keys)
        await pilot.press("escape")
        await settle(pilot)
        assert pane.query_one(ServicesTable).visible_keys == ["postgres", "redis", "qdrant"]


async def test_bad_theme_and_unknown_keymap_id_are_named_with_file_and_line(
    write_profile, pg: PgServer, redis: RedisServer
) -> None:
    path = write_profile(
        profile_text(pg, redis.port, extra="  theme: no-such-theme\n  keymap:\n    scael: x\n"),
        name="typos",
    )
    app = fast_app(path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, 0.3)
        warnings = notices(app, "warning")
        assert any("typos.yaml:4: ui.theme: no theme 'no-such-theme'" in w for w in warnings)
        assert any("typos.yaml:6: ui.keymap.scael: no such binding" in w for w in warnings)


async def test_keymap_from_the_profile_moves_keys(
    write_profile, pg: PgServer, redis: RedisServer
) -> None:  # type: ignore[no-untyped-def]
    from alfred_tui.screens.panes import PANES

    profile_pane = f"pane_{[pane.id for pane in PANES].index('profile') + 1}"
    path = write_profile(
        profile_text(
            pg, redis.port, extra=f"  keymap:\n    help: f1\n    {profile_pane}: ctrl+n\n"
        ),
        name="keys",
    )
    app = fast_app(path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")  # no longer help
        await settle(pilot)
        assert isinstance(app.screen, OverviewPane)
        await pilot.press("f1")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape", "ctrl+n")
        await settle(pilot)
        assert isinstance(app.screen, ProfilePane)
        assert app.key_for("help") == "f1"


async def test_the_palette_lists_and_runs_actions(ui_profile: Path) -> None:
    app = fast_app(ui_profile)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        # The profile names are read in a worker after the first paint.
        await wait_for(pilot, lambda: "dev" in app.profile_names, what="the profile list")
        titles = [title for title, _, _ in app.palette_entries(app.screen)]
        for expected in (
            "Go to Overview",
            "Go to Profile",
            "Deploy all services",
            "Restart redis",
            "Tear down servers…",
            "Switch profile or backend…",
            "Switch to profile dev",
            "Switch to backend docker",
            "Details of qdrant",
        ):
            assert expected in titles, expected
        assert not [t for t in titles if t.startswith(("Scale", "Resize"))]  # local cannot
        await pilot.press("colon")
        await settle(pilot, 0.3)
        await pilot.press(*"restart redis")
        await settle(pilot, 0.5)
        await pilot.press("enter")
        await settle(pilot, 0.3)
        assert isinstance(app.screen, ConfirmDialog)
        assert app.screen.plan.title == "Restart redis"
        await pilot.press("escape")


async def test_a_moment_without_a_recording_shows_the_pane_as_it_is_now(
    write_profile, pg: PgServer, redis: RedisServer
) -> None:
    # The Timeline's jump in a live UI with the black box off: nothing to rewind into.
    extra = "recording:\n  enabled: false\n"
    app = fast_app(write_profile(profile_text(pg, redis.port, extra), name="unrecorded"))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: "overview" in app._panes, what="the overview")
        await pilot.press(key_of("profile"))
        await wait_for(pilot, lambda: app.current_mode == "profile", what="the Profile pane")
        app.show_moment("overview", 1_700_000_000.0)
        await wait_for(pilot, lambda: app.current_mode == "overview", what="the overview now")
        assert app.rewound is None and app.replay is None
        assert any(
            title == "Timeline" and "no recording of this profile" in message
            for _, title, message in app.notification_log
        )
        assert not app.session.readonly
