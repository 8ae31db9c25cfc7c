"""The UI on the Kubernetes backend, against the Kubernetes API-server **stand-in**.

No cluster here: the stand-in (tests/kube_standin) serves the API, and its
port-forwards relay to the test session's real PostgreSQL and Redis
(tests/servers.py) and to a Qdrant **stand-in** server. So the overview's
probes do real work through the backend's loopback port-forwards.

* ``--backend kubernetes`` opens the app on the cluster: the header names
  the context and namespace, the overview shows every service up through
  the port-forwards;
* one session switches local -> kubernetes (the target dialog) -> local
  (the command palette); each switch reloads the overview for the new
  target and closes the old one (probes, tunnels, API client).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from servers import PgServer, RedisServer
from textual.widgets import Input, RadioButton
from ui_helpers import fast_session, settle, wait_for

from alfred_tui.app import AlfredApp
from alfred_tui.backends.kubernetes import KubernetesBackend
from alfred_tui.config.loader import load_profile
from alfred_tui.screens.dialogs import TargetDialog
from alfred_tui.screens.overview import OverviewPane
from alfred_tui.widgets.header import TargetHeader
from alfred_tui.widgets.overview_tables import ServicesTable

pytestmark = pytest.mark.timeout(240)

NS = "alfred-platform"


@pytest.fixture
def both_profile(write_profile, pg: PgServer, redis: RedisServer, tmp_path: Path, monkeypatch):  # type: ignore[no-untyped-def]
    """One profile for both backends: local points at the real servers' ports;
    on Kubernetes the same credentials reach them through the stand-in's relays."""
    monkeypatch.setenv("ALFRED_TUI_PROFILE_PATH", str(tmp_path))
    return write_profile(
        "extends: local\n"
        "ui:\n  refresh_seconds: 0.3\n"
        "services:\n"
        f'  postgres:\n    ports: ["127.0.0.1:{pg.port}:5432"]\n'
        f"    environment:\n      POSTGRES_PASSWORD: {pg.password}\n"
        f'  redis:\n    ports: ["127.0.0.1:{redis.port}:6379"]\n',
        name="both",
    )


@pytest.fixture
async def deployed(  # type: ignore[no-untyped-def]
    both_profile: Path, k8s_kubeconfig, k8s_standin, qdrant_standin, pg, redis
) -> Any:
    """The profile deployed on the stand-in cluster, its pods relaying to real servers."""
    server = k8s_standin.server
    k8s_standin.call(server.connect_backend, "db-postgres", 5432, "127.0.0.1", pg.port)
    k8s_standin.call(server.connect_backend, "redis", 6379, "127.0.0.1", redis.port)
    k8s_standin.call(server.connect_backend, "vector-db", 6333, "127.0.0.1", qdrant_standin.port)
    backend = KubernetesBackend(
        load_profile(str(both_profile)), wait_timeout=30, poll_interval=0.05
    )
    try:
        await backend.deploy()
    finally:
        await backend.close()
    return k8s_standin


def opener(profile, backend, readonly):  # type: ignore[no-untyped-def]
    return fast_session(profile or "local", backend, readonly)


def overview(app: AlfredApp) -> OverviewPane:
    pane = app._panes["overview"]
    assert isinstance(pane, OverviewPane)
    return pane


def all_up(app: AlfredApp, kinds: tuple[str, ...]) -> bool:
    """Every service in ``kinds`` answered its probe (up, whatever its metrics say)."""
    if not app.has_session or "overview" not in app._panes:
        return False
    snapshot = overview(app).snapshot
    if snapshot is None or snapshot.profile != "both":
        return False
    views = [snapshot.view(kind) for kind in kinds]  # type: ignore[arg-type]
    return all(v is not None and v.report is not None and v.report.up for v in views)


def header(app: AlfredApp) -> str:
    return str(app.screen.query_one(TargetHeader).render())


async def test_backend_kubernetes_shows_context_namespace_and_services_through_port_forwards(
    deployed: Any, both_profile: Path
) -> None:
    app = AlfredApp(profile=str(both_profile), backend="kubernetes", open_target=opener)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(
            pilot,
            lambda: all_up(app, ("postgres", "redis", "qdrant")),
            timeout=60,
            what="every service up through the port-forwards",
        )
        assert app.session.backend_name == "kubernetes"
        await wait_for(pilot, lambda: f"stand-in/{NS}" in app.target_where, what="the target")
        await settle(pilot)
        text = header(app)
        assert "backend kubernetes" in text and f"stand-in/{NS}" in text  # context/namespace

        snapshot = overview(app).snapshot
        assert snapshot is not None
        for kind in ("postgres", "redis", "qdrant"):
            view = snapshot.view(kind)  # type: ignore[arg-type]
            assert view is not None and view.state != "DOWN", (kind, view)
            assert view.status is not None and view.status.ready >= 1, kind
        # The probes went through loopback port-forwards, not to the servers' own ports.
        tunnels = app.session.backend._tunnels  # type: ignore[attr-defined]
        assert set(tunnels) == {"postgres", "redis", "qdrant"}
        services = overview(app).query_one(ServicesTable)
        assert services.visible_keys == ["postgres", "redis", "qdrant"]
        for kind in ("postgres", "redis"):
            assert "DOWN" not in services.row_text(kind)


async def test_switch_local_to_kubernetes_and_back_in_one_session(
    deployed: Any, both_profile: Path
) -> None:
    app = AlfredApp(profile=str(both_profile), open_target=opener)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, lambda: all_up(app, ("postgres", "redis")), what="local up")
        local = app.session
        assert local.backend_name == "local"
        assert "backend local" in header(app)

        # local -> kubernetes, with the target dialog (keyboard and mouse).
        await pilot.press("p")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, TargetDialog)
        assert dialog.query_one("#profile", Input).value == "both"
        choice = next(b for b in dialog.query(RadioButton) if b.name == "kubernetes")
        await pilot.click(choice)
        await pilot.click("#confirm")
        await wait_for(pilot, lambda: app.session is not local, what="the switch to kubernetes")
        kube = app.session
        assert kube.backend_name == "kubernetes" and kube.generation == local.generation + 1
        await wait_for(
            pilot,
            lambda: all_up(app, ("postgres", "redis", "qdrant")),
            timeout=60,
            what="the cluster's services up through the port-forwards",
        )
        await wait_for(pilot, lambda: f"stand-in/{NS}" in app.target_where, what="the target")
        await settle(pilot)
        assert "backend kubernetes" in header(app) and f"stand-in/{NS}" in header(app)
        await wait_for(pilot, lambda: local._monitor is None, what="the local session closed")

        # kubernetes -> local, with the command palette.
        await pilot.press("colon")
        await settle(pilot)
        await pilot.press(*"backend local")
        await settle(pilot, 0.5)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.session is not kube, what="the switch back to local")
        assert app.session.backend_name == "local"
        await wait_for(pilot, lambda: all_up(app, ("postgres", "redis")), what="local up again")
        await settle(pilot)
        assert "backend local" in header(app) and "stand-in" not in header(app)
        # The cluster session let go of everything: probes, port-forwards, API client.
        await wait_for(pilot, lambda: kube._monitor is None, what="the kubernetes session closed")
        assert kube.backend._tunnels == {}  # type: ignore[attr-defined]
        assert kube.backend._api is None  # type: ignore[attr-defined]
        pollers = [w for w in overview(app).workers if w.group == "poll" and not w.is_finished]
        assert len(pollers) == 1
