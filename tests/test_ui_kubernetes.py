"""The UI on the Kubernetes backend, over the stand-in whose kubelet runs real containers.

The cluster is the API-server stand-in with its Docker kubelet
(tests/kube_support.py): PostgreSQL, Redis and the Qdrant stand-in run as
pods, and the UI reaches them through the backend's own port-forwards. One
app session walks the panes an operator uses on the bastion: the overview
(every service up, the header naming context and namespace), logs from the
containers, PostgreSQL's activity, the keyspace, the collections and a
backup; a killed Qdrant process then shows as a restart with its ⚑.
Switching local -> kubernetes -> local in one session closes each old
target. An account that may only look (RBAC ``view``) makes the session
read-only, saying why.
"""

from __future__ import annotations

import asyncio
import subprocess
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import redis.asyncio as aioredis
from textual.widgets import Input, RadioButton
from ui_helpers import back_up, click_button, fast_session, key_of, open_backups, settle, wait_for

from alfred_tui.app import AlfredApp
from alfred_tui.screens.dialogs import TargetDialog
from alfred_tui.screens.overview import OverviewPane
from alfred_tui.widgets.collections_table import CollectionsTable
from alfred_tui.widgets.header import TargetHeader
from alfred_tui.widgets.overview_tables import ServicesTable

pytestmark = pytest.mark.timeout(420)

SPEC_COLLECTIONS = [
    "general-knowledge",
    "financial-knowledge",
    "legal-knowledge",
    "social-knowledge",
]


def opener(profile, backend, readonly):  # type: ignore[no-untyped-def]
    return fast_session(profile or "local", backend, readonly)


def overview(app: AlfredApp) -> OverviewPane:
    pane = app._panes["overview"]
    assert isinstance(pane, OverviewPane)
    return pane


def all_up(app: AlfredApp, kinds: tuple[str, ...], profile: str | None = None) -> bool:
    """Every service in ``kinds`` answered its probe (up, whatever its metrics say)."""
    if not app.has_session or "overview" not in app._panes:
        return False
    snapshot = overview(app).snapshot
    if snapshot is None or (profile is not None and snapshot.profile != profile):
        return False
    views = [snapshot.view(kind) for kind in kinds]  # type: ignore[arg-type]
    return all(v is not None and v.report is not None and v.report.up for v in views)


def header(app: AlfredApp) -> str:
    return str(app.screen.query_one(TargetHeader).render())


async def test_the_panes_over_real_pods(kube_shared: Any) -> None:
    deployment = kube_shared
    mark = f"e2e{uuid.uuid4().hex[:8]}"
    app = AlfredApp(fast_session(deployment.profile_path, "kubernetes"), open_target=opener)
    ours = deployment.backend()  # the test's own port-forwards, in the app's loop
    async with app.run_test(size=(160, 48)) as pilot:
        everything = ("postgres", "redis", "qdrant")
        await wait_for(pilot, lambda: all_up(app, everything), timeout=90, what="all up")
        where = f"stand-in/{deployment.namespace}"
        await wait_for(pilot, lambda: where in app.target_where, what="the target")
        await settle(pilot)
        assert "backend kubernetes" in header(app) and where in header(app)
        tunnels = app.session.backend.tunnels  # type: ignore[attr-defined]
        assert set(tunnels) == set(everything)  # probes go through port-forwards
        services = overview(app).query_one(ServicesTable)
        assert services.visible_keys == list(everything)
        assert all("DOWN" not in services.row_text(kind) for kind in everything)

        pg = await ours.endpoint("postgres")
        password = deployment.secret("db-password")
        busy = await asyncpg.connect(
            host=pg.host, port=pg.port, user="postgres", password=password,
            database="postgres", server_settings={"application_name": mark},
        )  # fmt: skip
        sleeper = asyncio.create_task(busy.fetchval("SELECT pg_sleep(60)"))
        try:
            # Logs: the containers' own lines, and one the test makes PostgreSQL write.
            await pilot.press(key_of("logs"))
            await wait_for(pilot, lambda: "logs" in app._panes, what="the logs pane")
            logs = app._panes["logs"]

            def shown(text: str) -> list[str]:
                return [line for line in logs.view.lines if text in line]  # type: ignore[attr-defined]

            await wait_for(
                pilot, lambda: shown("Ready to accept connections"), timeout=60, what="redis"
            )
            failing = await asyncpg.connect(
                host=pg.host, port=pg.port, user="postgres", password=password, database="postgres"
            )
            with pytest.raises(asyncpg.UndefinedTableError):
                await failing.fetch(f"SELECT * FROM {mark}_missing")
            await failing.close()
            await wait_for(pilot, lambda: shown(f"{mark}_missing"), timeout=60, what="pg error")
            assert any(line.startswith("postgres-primary-0") for line in shown(f"{mark}_missing"))

            # Activity: the test's sleeping session, seen from inside the pod's PostgreSQL.
            from alfred_tui.widgets.activity_tables import SessionsTable

            await pilot.press(key_of("activity"))
            await wait_for(pilot, lambda: "activity" in app._panes, what="the activity pane")
            sessions = app._panes["activity"].query_one(SessionsTable)
            pid = str(busy.get_server_pid())
            await wait_for(pilot, lambda: pid in sessions.visible_keys, timeout=60, what=pid)
            assert mark in sessions.row_text(pid) and "pg_sleep" in sessions.row_text(pid)
        finally:
            sleeper.cancel()
            busy.terminate()

        # Keyspace: keys the test writes through its own port-forward.
        from alfred_tui.widgets.keyspace_tables import GroupsTable

        rd = await ours.endpoint("redis")
        client = aioredis.Redis(
            host=rd.host, port=rd.port, password=deployment.secret("redis-password")
        )
        try:
            await client.mset({f"alfred:cache:{mark}:{i}": "v" for i in range(25)})
        finally:
            await client.aclose()
        await pilot.press(key_of("keyspace"))
        await wait_for(pilot, lambda: "keyspace" in app._panes, what="the keyspace pane")
        groups = app._panes["keyspace"].query_one(GroupsTable)
        await wait_for(
            pilot, lambda: "0/alfred:cache:*" in groups.visible_keys, timeout=60, what="groups"
        )

        # Collections: the profile's, created by up in the pod's Qdrant.
        await pilot.press(key_of("collections"))
        await wait_for(pilot, lambda: "collections" in app._panes, what="the collections pane")
        table = app._panes["collections"].query_one(CollectionsTable)
        await wait_for(
            pilot, lambda: table.visible_keys == SPEC_COLLECTIONS, timeout=60, what="collections"
        )

        # Backups: b takes one through exec in the pod; it enters the catalog.
        pane = await open_backups(pilot, app)
        backup = await back_up(pilot, app, pane, "redis")
        row = pane.catalog.find(backup)  # type: ignore[union-attr]
        assert row is not None and row.check is not None and row.check.ok

        # A killed process: the kubelet restarts it; the overview counts it and flags it.
        container = deployment.container("qdrant-0", "qdrant")
        subprocess.run(["docker", "kill", "--signal", "KILL", container], check=True, timeout=60)
        await pilot.press(key_of("overview"))
        await wait_for(
            pilot,
            lambda: "⚑ qdrant" in str(overview(app).query_one("ServiceNotes").render()),
            timeout=90,
            what="the runbook marker of qdrant",
        )
        # The ⚑ can come with the exited container, before the kubelet starts it again and
        # counts the restart (restartCount grows when the new run starts, as on a cluster).

        def restarts() -> int:
            view = overview(app).snapshot.view("qdrant")  # type: ignore[union-attr]
            return view.status.restarts if view is not None and view.status is not None else 0

        await wait_for(pilot, lambda: restarts() >= 1, timeout=90, what="qdrant's restart")
    await ours.close()


async def test_switch_local_to_kubernetes_and_back_in_one_session(
    kube_shared: Any, servers_profile: Path
) -> None:
    app = AlfredApp(fast_session(servers_profile), open_target=opener)
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
        dialog.query_one("#profile", Input).value = str(kube_shared.profile_path)
        choice = next(b for b in dialog.query(RadioButton) if b.name == "kubernetes")
        await pilot.click(choice)
        await click_button(pilot)
        await wait_for(pilot, lambda: app.session is not local, what="the switch to kubernetes")
        kube = app.session
        assert kube.backend_name == "kubernetes" and kube.generation == local.generation + 1
        await wait_for(
            pilot,
            lambda: all_up(app, ("postgres", "redis", "qdrant")),
            timeout=90,
            what="the cluster's services up through the port-forwards",
        )
        where = f"stand-in/{kube_shared.namespace}"
        await wait_for(pilot, lambda: where in app.target_where, what="the target")
        await settle(pilot)
        assert "backend kubernetes" in header(app) and where in header(app)
        await wait_for(pilot, lambda: local._monitor is None, what="the local session closed")

        # kubernetes -> local, with the command palette.
        app.switch_target(str(servers_profile), "local")
        await wait_for(pilot, lambda: app.session is not kube, what="the switch back to local")
        assert app.session.backend_name == "local"
        await wait_for(pilot, lambda: all_up(app, ("postgres", "redis")), what="local up again")
        await settle(pilot)
        assert "backend local" in header(app) and "stand-in" not in header(app)
        # The cluster session let go of everything: probes, port-forwards, API client.
        await wait_for(pilot, lambda: kube._monitor is None, what="the kubernetes session closed")
        assert kube.backend.tunnels == {}  # type: ignore[attr-defined]
        assert kube.backend._api is None  # type: ignore[attr-defined]
        pollers = [w for w in overview(app).workers if w.group == "poll" and not w.is_finished]
        assert len(pollers) == 1


async def test_an_account_that_may_only_look_makes_the_session_read_only(
    k8s_standin: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """API behaviour only (the fake kubelet's pods): RBAC's ``view`` role in the namespace."""
    from kube_standin.rbac import viewer

    from alfred_tui.backends.kubernetes.backend import KubernetesBackend
    from alfred_tui.config.loader import load_profile

    monkeypatch.setenv("KUBECONFIG", str(k8s_standin.kubeconfig(tmp_path / "admin")))
    admin = KubernetesBackend(load_profile("dev"), wait_timeout=20, poll_interval=0.05)
    try:
        await admin.deploy()
    finally:
        await admin.close()
    path = k8s_standin.kubeconfig(
        tmp_path / "viewer", user=viewer("ops-viewer", ["alfred-platform"])
    )
    monkeypatch.setenv("KUBECONFIG", str(path))
    app = AlfredApp(fast_session("dev", "kubernetes"), open_target=opener)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.has_session and app.session.readonly, what="read-only")
        await settle(pilot)
        (message,) = [m for _, t, m in app.notification_log if t == "Read-only"]
        assert message.startswith(
            "your account (context 'stand-in') cannot patch statefulsets.apps in namespace "
            "alfred-platform; alfred-tui shows everything and changes nothing"
        )
        assert "read-only" in header(app).lower()
        pane = overview(app)
        assert pane.check_action("scale", ()) is False  # gone from the footer and palette
        await pilot.press("s")
        await settle(pilot)
        assert not any(t == "Scale" for _, t, _ in app.notification_log)
