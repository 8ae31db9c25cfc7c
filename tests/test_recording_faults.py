"""Record real faults, then replay them: the timeline and the Overview say what happened when.

On the local backend's real PostgreSQL, Redis and embedded Qdrant: ``alfred-tui
record`` runs while Redis is killed with SIGKILL and restarted by ``alfred-tui
restart`` (an operator action from the CLI), and PostgreSQL is frozen with
SIGSTOP and let go; then the timeline has the downs, the restart and the
recoveries at the moments they happened, and a replay shows the Overview with
the service down at the fault's moment. The running UI's black box records
a fault while another pane is on screen, and a restart made through the
UI's dialog, with who, the plan shown and the outcome; an incident saved with
``!`` holds them. On Docker, a container restarted behind alfred-tui's back
is in the timeline from the engine's own events; on Kubernetes (the API
server's stand-in), a scale from the CLI is there with the pod it created
and the controller's Event. No profile secret is in any file written.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import run_cli
from localdeploy import LocalDeployment
from ui_helpers import click_button, key_of, wait_for

from alfred_tui.backends.capabilities import Capability
from alfred_tui.operator_journal import who
from alfred_tui.recording.store import RecordingError, RecordingReader, TimelineEntry

pytestmark = [pytest.mark.timeout(300)]

SECRETS = {
    "postgres": "pg-rec-secret-5d1e07",
    "jwt": "jwt-rec-secret-88a0c4",
    "redis": "redis-rec-secret-c3f2b9",
}
INTERVAL = 0.5
#: A poll starts, then probes: an outage shows in the first poll after it, within
#: one interval plus the probe (a frozen server: the probe's timeout).
PROBE_TIMEOUT = 5.0


@pytest.fixture(scope="module")
def deployment() -> Iterator[LocalDeployment]:
    overrides = {
        "ui": {"refresh_seconds": INTERVAL},
        "services": {
            "postgres": {
                "environment": {
                    "POSTGRES_PASSWORD": SECRETS["postgres"],
                    "JWT_SECRET": SECRETS["jwt"],
                }
            },
            "redis": {"password": SECRETS["redis"]},
        },
    }
    with LocalDeployment(name="rec-faults", overrides=overrides) as local:
        local.up()
        yield local


def _pid(path: Path) -> int:
    return int(path.read_text().split()[0])


def redis_pid(local: LocalDeployment) -> int:
    return _pid(local.data_dir / "redis" / "redis.pid")


def postgres_pids(local: LocalDeployment) -> list[int]:
    """The postmaster and every process it started."""
    master = _pid(local.data_dir / "postgres" / "data" / "postmaster.pid")
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = (entry / "stat").read_text()
                if int(stat.rsplit(")", 1)[1].split()[1]) == master:
                    children.append(int(entry.name))
    return [master, *children]


def polled(path: Path, every_service_up: bool = True) -> bool:
    """Whether the file holds a poll (where every service answered, unless told not to)."""
    try:
        reader = RecordingReader(path)
    except RecordingError:
        return False
    try:
        found = reader.frame_at("overview", time.time())
        if found is None or not every_service_up:
            return found is not None
        services = json.loads(found[1])["services"]
        return all(item["report"] and item["report"]["up"] for item in services)
    finally:
        reader.close()


def entries_of(path: Path) -> list[TimelineEntry]:
    """The file's timeline, oldest first (an empty list while it is being created)."""
    try:
        reader = RecordingReader(path)
    except RecordingError:
        return []
    try:
        return [entry for _, entry in reader.timeline()]
    finally:
        reader.close()


def last_overview_at(path: Path) -> float:
    """When the file's newest overview reading was made (0 before the first)."""
    reader = RecordingReader(path)
    try:
        row = reader.db.execute("SELECT max(at) FROM frames WHERE kind = 'overview'").fetchone()
    finally:
        reader.close()
    return float(row[0] or 0.0)


def first(
    entries: list[TimelineEntry], kind: str, service: str | None, text: str, after: float = 0.0
) -> TimelineEntry | None:
    return next(
        (
            entry
            for entry in entries
            if entry.kind == kind
            and entry.service == service
            and text in entry.title
            and entry.at >= after
        ),
        None,
    )


def assert_seen_by_the_first_probe(path: Path, entry: TimelineEntry, moment: float) -> None:
    """``entry`` (a service down or back up) comes from the first probe after ``moment``.

    A poll is stamped with its start and probes after it, so the entry may
    come a little before the moment (by at most one poll's length); and no
    probe of that service that started after the moment may have missed the
    change (a down service is probed again with backoff, so "right after" is
    the next probe, not the next poll).
    """
    reader = RecordingReader(path)
    try:
        frames = reader.frames("overview", moment - 120, entry.at + 60)
    finally:
        reader.close()
    now_up = "back up" in entry.title
    probes = set()
    longest = 0.0
    for _, body in frames:
        poll = json.loads(body)
        longest = max(longest, poll["duration_ms"] / 1000)
        for item in poll["services"]:
            report = item["report"]
            if item["kind"] == entry.service and report:
                probes.add((report["checked_at"] - report["duration_ms"] / 1000, report["up"]))
    assert moment - longest - 0.2 <= entry.at, (entry, moment, longest)
    changed = min(start for start, up in probes if up == now_up and start > moment - longest)
    missed = [start for start, up in probes if moment + 0.2 < start < changed and up != now_up]
    assert not missed, (entry, moment, missed)


def wait_until(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def assert_no_secret(*paths: Path) -> None:
    for path in paths:
        data = path.read_bytes()
        for name, secret in SECRETS.items():
            assert secret.encode() not in data, f"the {name} secret is in {path}"


def stop_recorder(recorder: subprocess.Popen[str]) -> str:
    """SIGTERM, as a cron job's timeout sends it: it must end cleanly; what it printed."""
    recorder.send_signal(signal.SIGTERM)
    out, err = recorder.communicate(timeout=30)
    assert recorder.returncode == 0, err
    return out


def start_recorder(profile: Path | str, path: Path, *more: str) -> subprocess.Popen[str]:
    """``alfred-tui record`` on ``profile`` into ``path``, every INTERVAL, until SIGTERM."""
    import shutil

    executable = shutil.which("alfred-tui", path=str(Path(sys.executable).parent))
    argv = [executable or "alfred-tui", "record", "--profile", str(profile), *more]
    return subprocess.Popen(
        [*argv, "--interval", str(INTERVAL), "-o", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_recorded_faults_replay_at_the_moment_they_happened(
    deployment: LocalDeployment, tmp_path: Path
) -> None:
    path = tmp_path / "faults.sqlite"
    profile = str(deployment.profile_path)
    recorder = start_recorder(deployment.profile_path, path)
    try:
        wait_until(lambda: polled(path), 30, "a first poll of every service")
        time.sleep(2 * INTERVAL)

        # Redis killed, then restarted by an operator from the CLI.
        killed_at = time.time()
        os.kill(redis_pid(deployment), signal.SIGKILL)
        wait_until(lambda: first(entries_of(path), "service", "redis", "DOWN"), 20, "redis DOWN")
        restart_started = time.time()
        restarted = run_cli("restart", "redis", "--yes", "--profile", profile)
        assert restarted.returncode == 0, restarted.stderr
        restart_ended = time.time()
        wait_until(
            lambda: first(entries_of(path), "service", "redis", "back up"), 20, "redis back up"
        )

        # PostgreSQL frozen (SIGSTOP: it takes connections and never answers), then let go.
        pids = postgres_pids(deployment)
        stopped_at = time.time()
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
        try:
            wait_until(
                lambda: first(entries_of(path), "service", "postgres", "DOWN"),
                30,
                "postgres DOWN",
            )
        finally:
            continued_at = time.time()
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGCONT)
        wait_until(
            lambda: first(entries_of(path), "service", "postgres", "back up"),
            30,
            "postgres back up",
        )
        time.sleep(2 * INTERVAL)
    finally:
        out = stop_recorder(recorder)
    assert out.startswith(f"recorded {path}:")

    result = run_cli("timeline", "--from", str(path), "-o", "json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    entries = entries_of(path)

    redis_down = first(entries, "service", "redis", "DOWN")
    assert redis_down is not None
    assert_seen_by_the_first_probe(path, redis_down, killed_at)
    gone = first(entries, "engine", "redis", "running ->", after=killed_at - 5)
    assert gone is not None and gone.at <= restart_started
    action = first(entries, "action", "redis", "restart redis by")
    assert action is not None
    assert restart_started - 1 <= action.at <= restart_ended
    assert f"by {who()} (cli): ok" in action.title
    assert "plan shown:" in action.detail and "alfred-tui restart redis" in action.detail
    again = first(entries, "engine", "redis", "-> running", after=restart_started)
    redis_up = first(entries, "service", "redis", "back up")
    assert again is not None and redis_up is not None
    assert restart_started <= redis_up.at
    assert_seen_by_the_first_probe(path, redis_up, restart_ended)

    postgres_down = first(entries, "service", "postgres", "DOWN")
    postgres_up = first(entries, "service", "postgres", "back up")
    assert postgres_down is not None and postgres_up is not None
    assert "timeout" in postgres_down.title
    assert_seen_by_the_first_probe(path, postgres_down, stopped_at)
    assert_seen_by_the_first_probe(path, postgres_up, continued_at)
    assert redis_down.title in [entry["title"] for entry in document["entries"]]
    assert_no_secret(path)

    _replay_shows_the_faults(path, redis_down.at, postgres_down.at)


def _replay_shows_the_faults(path: Path, redis_down: float, postgres_down: float) -> None:
    import asyncio

    from alfred_tui.app import AlfredApp
    from alfred_tui.recording.replay import open_replay
    from alfred_tui.screens.panes import replay_panes

    async def replay() -> None:
        session = open_replay(path)
        app = AlfredApp(session, panes=replay_panes())
        async with app.run_test(size=(120, 36)) as pilot:
            overview = app._panes["overview"]

            def states() -> dict[str, str]:
                snapshot = overview.snapshot
                return {v.kind: v.state for v in snapshot.services} if snapshot else {}

            await wait_for(pilot, lambda: app.replay is not None, what="the replay")
            assert app.replay_badge().startswith("REPLAY ")
            app.replay.seek(redis_down + 0.05)  # type: ignore[union-attr]
            await wait_for(
                pilot,
                lambda: states().get("redis") == "DOWN" and states().get("postgres") == "OK",
                what="redis DOWN at its moment",
            )
            app.replay.seek(postgres_down + 0.05)  # type: ignore[union-attr]
            await wait_for(
                pilot,
                lambda: states().get("postgres") == "DOWN" and states().get("redis") == "OK",
                what="postgres DOWN at its moment",
            )
            # Every mutating action is absent: read-only, and the backend can do none.
            assert app.session.readonly
            assert not app.session.services_with(Capability.DEPLOY)
            for action in ("deploy", "restart", "scale", "teardown"):
                assert overview.check_action(action, ()) is False

            # Activity and Keyspace as `record` read them then (it reads what their panes
            # would): PostgreSQL's sessions a moment before it froze, the sampled analysis.
            app.replay.seek(redis_down + 0.05)  # type: ignore[union-attr]
            await pilot.press(key_of("activity"))
            await wait_for(pilot, lambda: "activity" in app._panes, what="the Activity pane")
            activity = app._panes["activity"]
            await wait_for(pilot, lambda: activity.view is not None, what="recorded sessions")
            assert activity.down == ""
            await pilot.press(key_of("keyspace"))
            await wait_for(pilot, lambda: "keyspace" in app._panes, what="the Keyspace pane")
            keyspace = app._panes["keyspace"]
            await wait_for(
                pilot, lambda: keyspace.view is not None, what="the recorded keyspace analysis"
            )
            assert keyspace.view.summary.startswith("recorded ")

            # The Timeline up to the cursor; Enter on the redis outage shows the Overview then.
            await pilot.press(key_of("timeline"))
            await wait_for(pilot, lambda: "timeline" in app._panes, what="the Timeline pane")
            timeline = app._panes["timeline"]
            await wait_for(pilot, lambda: timeline.view is not None, what="the timeline")
            assert all(entry.at <= postgres_down + 0.05 for entry in timeline.view.entries)
            keys = [k for k, e in timeline.entries.items() if "redis DOWN" in e.title]
            table = timeline.query_one("#timeline")
            table.focus()
            table.move_cursor(row=table.visible_keys.index(keys[0]))
            await pilot.press("enter")
            await wait_for(
                pilot,
                lambda: app.current_pane() is overview and states().get("redis") == "DOWN",
                what="the Overview at the redis outage",
            )
        session.replayed.reader.close()  # type: ignore[union-attr]

    asyncio.run(replay())


async def test_the_ui_black_box_records_a_fault_on_another_pane_and_a_ui_action(
    deployment: LocalDeployment, tmp_path: Path
) -> None:
    from textual.widgets import Input
    from ui_helpers import fast_app

    from alfred_tui.screens.dialogs import ConfirmDialog
    from alfred_tui.screens.recording_dialogs import SaveIncidentDialog
    from alfred_tui.widgets.overview_tables import ServicesTable

    app = fast_app(deployment.profile_path)
    async with app.run_test(size=(120, 36)) as pilot:
        overview = app._panes["overview"]

        def state(kind: str) -> str:
            view = overview.snapshot.view(kind) if overview.snapshot else None
            return view.state if view else ""

        await wait_for(
            pilot,
            lambda: app.blackbox.recorder is not None and state("redis") == "OK",
            timeout=30,
            what="recording, redis OK",
        )
        rolling = app.blackbox.recorder.path  # type: ignore[union-attr]

        # The fault happens while the Logs pane is on screen: still recorded.
        await pilot.press(key_of("logs"))
        killed_at = time.time()
        os.kill(redis_pid(deployment), signal.SIGKILL)
        await wait_for(
            pilot,
            lambda: first(entries_of(rolling), "service", "redis", "DOWN", after=killed_at - 5),
            timeout=20,
            what="redis DOWN recorded while the overview was hidden",
        )

        # The operator restarts it through the Overview's dialog.
        await pilot.press(key_of("overview"))
        table = overview.query_one(ServicesTable)
        table.focus()
        table.move_cursor(row=table.visible_keys.index("redis"))
        await pilot.press("R")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog), what="the plan")
        shown = list(app.screen.plan.lines)  # type: ignore[attr-defined]
        await click_button(pilot)
        await wait_for(
            pilot,
            lambda: any(m.startswith("Restarted redis") for _, _, m in app.notification_log),
            timeout=60,
            what="the restart",
        )
        await wait_for(
            pilot,
            lambda: first(entries_of(rolling), "service", "redis", "back up", after=killed_at),
            timeout=20,
            what="redis back up recorded",
        )
        action = first(entries_of(rolling), "action", "redis", "restart redis by")
        assert action is not None and f"by {who()} (ui): ok" in action.title
        assert all(line in action.detail for line in shown)

        # The Timeline pane shows it all, newest first.
        await pilot.press(key_of("timeline"))
        await wait_for(pilot, lambda: "timeline" in app._panes, what="the Timeline pane")
        timeline = app._panes["timeline"]
        await wait_for(
            pilot,
            lambda: (
                timeline.view is not None
                and any("restart redis by" in e.title for e in timeline.view.entries)
            ),
            what="the action on the Timeline",
        )
        titles = [entry.title for entry in timeline.view.entries]
        assert titles.index(action.title) < max(
            i for i, title in enumerate(titles) if title.startswith("redis DOWN")
        )

        # Enter on the outage rewinds the live UI to it in its own recording: the
        # Overview as it was then, read-only, while the black box goes on recording.
        live = app.session
        down = next(k for k, e in timeline.entries.items() if e.title.startswith("redis DOWN"))
        down_at = timeline.entries[down].at
        table = timeline.query_one("#timeline")
        table.focus()
        table.move_cursor(row=table.visible_keys.index(down))
        await pilot.press("enter")
        await wait_for(
            pilot,
            lambda: (
                app.rewound is not None
                and app.current_pane() is overview
                and overview.snapshot is not None
                and overview.snapshot.taken_at <= down_at + 1
                and state("redis") == "DOWN"
            ),
            timeout=20,
            what="the Overview rewound to the redis outage",
        )
        assert app.session is not live and app.session.readonly
        assert ("back_to_live", "back_to_live", "live") in app.global_hints()
        assert app.replay is not None and app.replay.cursor.at == down_at
        rewound_at = time.time()
        await wait_for(
            pilot,
            lambda: last_overview_at(rolling) > rewound_at,
            timeout=20,
            what="the black box still recording while rewound",
        )
        await pilot.press(key_of("backups"))  # not in a recording: refused, said why
        await wait_for(
            pilot,
            lambda: any(t == "Rewound" for _, t, _ in app.notification_log),
            what="the refusal",
        )
        assert app.current_pane() is overview
        await pilot.press("R")  # the restart dialog does not open on a moment
        await pilot.pause(0.2)
        assert not isinstance(app.screen, ConfirmDialog)

        await pilot.press("L")  # back to live
        await wait_for(
            pilot,
            lambda: (
                app.rewound is None
                and app.session is live
                and overview.snapshot is not None
                and overview.snapshot.taken_at > rewound_at
                and state("redis") == "OK"
            ),
            timeout=20,
            what="the live Overview again",
        )
        assert app.replay is None

        # An incident saved with ! holds the outage and the action.
        incident = tmp_path / "incident.sqlite"
        await pilot.press("exclamation_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, SaveIncidentDialog), what="dialog")
        app.screen.query_one("#path", Input).value = str(incident)
        await pilot.press("enter")
        await wait_for(
            pilot,
            lambda: any(t == "Incident saved" for _, t, _ in app.notification_log),
            timeout=30,
            what="the incident saved",
        )
    saved = entries_of(incident)
    assert first(saved, "service", "redis", "DOWN", after=killed_at - 5) is not None
    assert first(saved, "action", "redis", "restart redis by") is not None
    assert_no_secret(rolling, incident)


@pytest.mark.docker
@pytest.mark.slow
def test_a_container_restarted_on_docker_is_in_the_timeline(docker_engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from docker_support import docker_cli, docker_stack

    with docker_stack(tmp_path, services=["redis"]) as stack:
        container = stack.container("redis")
        path = tmp_path / "docker.sqlite"
        recorder = start_recorder(stack.profile_path, path)
        try:
            wait_until(lambda: polled(path), 60, "a first poll")
            time.sleep(2 * INTERVAL)  # the event stream is open
            restarted_at = time.time()
            docker_cli("restart", "-t", "1", container, check=True)
            restart_done = time.time()
            wait_until(
                lambda: first(entries_of(path), "engine", "redis", ": restart"),
                30,
                "the restart event",
            )
        finally:
            stop_recorder(recorder)
    entries = entries_of(path)
    for word in (": kill", ": die", ": start", ": restart"):
        entry = first(entries, "engine", "redis", f"{container}{word}")
        assert entry is not None, (word, [e.title for e in entries])
        assert restarted_at - 1 <= entry.at <= restart_done + 1, (word, entry)
    died = first(entries, "engine", "redis", f"{container}: die")
    assert died is not None and died.title.endswith("die: exit 0")  # SIGTERM: a clean exit
    assert died.severity == "INFO"


@pytest.mark.slow
def test_a_scale_on_kubernetes_is_in_the_timeline(  # type: ignore[no-untyped-def]
    k8s_kubeconfig, k8s_standin, qdrant_standin, tmp_path: Path
) -> None:
    """The Kubernetes **stand-in**: its pod watch and Events, as the recorder follows them."""
    k8s_standin.call(k8s_standin.kubelet.relay, "vector-db", 6333, "127.0.0.1", qdrant_standin.port)
    common = ("--profile", "dev", "--backend", "kubernetes")
    up = run_cli("up", "--yes", *common, timeout=180)
    assert up.returncode == 0, up.stdout + up.stderr
    path = tmp_path / "kubernetes.sqlite"
    recorder = start_recorder("dev", path, "--backend", "kubernetes")
    try:
        wait_until(lambda: polled(path, every_service_up=False), 60, "a first poll")
        time.sleep(2 * INTERVAL)  # the pod watch and the Events are open
        scaled_at = time.time()
        scaled = run_cli("scale", "redis", "2", "--yes", *common)
        assert scaled.returncode == 0, scaled.stderr
        wait_until(
            lambda: first(entries_of(path), "engine", "redis", "redis-1: ready"),
            30,
            "the new pod ready",
        )
        wait_until(
            lambda: first(entries_of(path), "action", "redis", "scale redis"),
            30,
            "the scale action from the journal",
        )
    finally:
        stop_recorder(recorder)
    entries = entries_of(path)
    titles = [(e.kind, e.service, e.title) for e in entries]
    for text in ("redis-1: created", "redis-1: ready", "SuccessfulCreate"):
        entry = first(entries, "engine", "redis", text)
        assert entry is not None, (text, titles)
        assert entry.at >= scaled_at - 1, (text, entry)
    action = first(entries, "action", "redis", "scale redis")
    assert action is not None and "(cli)" in action.title, titles
    assert "ok" in action.title and who() in action.title, action
