"""The Logs pane driven by Pilot on the real local backend: PostgreSQL and Redis write, we read.

Every line here is written by a real server: psql errors and warnings in
PostgreSQL's log, BGSAVE in Redis's. The pane must show them with instance
names, follow new ones, filter by service and level, search with n/N,
pause without losing a line, hold its bound, save what it shows (secrets
masked, never over a file without asking), say when a service stops, and
when the stream itself breaks, retry until it works again. A Docker engine
that does not answer is shown and retried too (no engine needed for that).
"""

from __future__ import annotations

import asyncio
import os
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from localdeploy import LocalDeployment
from rich.cells import cell_len
from textual.widgets import Button, Input, SelectionList
from ui_helpers import click_button, fast_app, key_of, settle, wait_for

from alfred_tui.control.log_buffer import split_display_line
from alfred_tui.loglevels import Level, parse_level
from alfred_tui.redact import MASK
from alfred_tui.screens.log_dialogs import SaveLogDialog, ServicesDialog
from alfred_tui.screens.logs import LogsPane
from alfred_tui.widgets.log_bars import LogControls, LogProblem, LogStatus

pytestmark = [pytest.mark.timeout(240), pytest.mark.slow]

SECRET = "your-super-secret-password"  # the local profile's PostgreSQL password


@pytest.fixture(scope="module")
def deployment() -> Iterator[LocalDeployment]:
    """PostgreSQL and Redis run by the local backend for this module (Qdrant embedded)."""
    with LocalDeployment(name="ui-logs", overrides={"ui": {"refresh_seconds": 0.3}}) as deployed:
        deployed.up()
        yield deployed


def logs_pane(app) -> LogsPane:  # type: ignore[no-untyped-def]
    pane = app._panes["logs"]
    assert isinstance(pane, LogsPane)
    return pane


def view_lines(app) -> list[str]:  # type: ignore[no-untyped-def]
    return list(logs_pane(app).view.lines)


def status_text(app) -> str:  # type: ignore[no-untyped-def]
    """The status line and, when shown, the problem box above it."""
    pane = logs_pane(app)
    parts = [str(static.render()) for static in pane.query_one(LogStatus).query("Static")]
    problem = pane.query_one(LogProblem)
    if problem.has_class("-shown"):
        parts.insert(0, str(problem.render()))
    return " ".join(parts)


def notices(app) -> list[str]:  # type: ignore[no-untyped-def]
    return [f"{title}: {message}" for _level, title, message in app.notification_log]


async def open_logs(pilot, both: bool = True) -> LogsPane:  # type: ignore[no-untyped-def]
    await pilot.press(key_of("logs"))
    await wait_for(pilot, lambda: "logs" in pilot.app._panes, what="logs pane")
    pane = logs_pane(pilot.app)
    await wait_for(
        pilot,
        lambda: (
            any(line.startswith("db-postgres") for line in pane.view.lines)
            and (not both or any(line.startswith("redis") for line in pane.view.lines))
        ),
        what="history of the servers",
    )
    return pane


async def psql(deployment: LocalDeployment, sql: str) -> None:
    result = await deployment.backend().exec("postgres", ["psql", "-X", "-c", sql])
    assert result.exit_code in (0, 1), result.stderr  # an error is what we want logged


async def bgsave(deployment: LocalDeployment) -> None:
    result = await deployment.backend().exec("redis", ["redis-cli", "BGSAVE"])
    assert result.ok, result.stderr


def tag() -> str:
    return f"t{uuid.uuid4().hex[:8]}"


def shown(pane: LogsPane, text: str) -> list[str]:
    return [line for line in pane.view.lines if text in line]


# --- following ------------------------------------------------------------------------------


async def test_lines_of_both_servers_appear_with_instance_names_and_new_ones_follow(
    deployment: LocalDeployment,
) -> None:
    app = fast_app(deployment.profile_path)
    async with app.run_test(size=(120, 40)) as pilot:
        pane = await open_logs(pilot)
        names = {split_display_line(line)[0] for line in pane.view.lines}
        assert names == {"db-postgres", "redis"}
        assert any(
            "database system is ready to accept connections" in line for line in pane.view.lines
        )
        assert any("Ready to accept connections" in line for line in pane.view.lines)
        await wait_for(pilot, lambda: "FOLLOWING" in status_text(app), what="following")
        assert "postgres, redis" in status_text(app)

        mark = tag()
        await psql(deployment, f'select * from "{mark}_表"')  # wide characters, too
        await bgsave(deployment)
        await wait_for(pilot, lambda: len(shown(pane, mark)) >= 2, what="the new error")
        error, statement = shown(pane, mark)[:2]
        assert error.startswith("db-postgres | ") and "ERROR:" in error
        assert "STATEMENT:" in statement
        await wait_for(
            pilot, lambda: shown(pane, "Background saving started"), what="Redis's BGSAVE lines"
        )
        # The view's scroll width fits the widest line (LogLines measures it itself).
        await settle(pilot)
        widest = max(cell_len(line) for line in pane.view.lines)
        assert pane.view.virtual_size.width == widest
        # the bars say what is there
        controls = pane.query_one(LogControls)
        assert [t.service for t in controls.query("ServiceToggle")] == ["postgres", "redis"]
        await wait_for(
            pilot,
            lambda: (
                f"{len(pane.view.lines):,} lines (max 10,000)"
                in str(controls.query_one("#log-count").render())
            ),
            what="the count",
        )


async def test_filter_by_level_and_by_service(deployment: LocalDeployment) -> None:
    app = fast_app(deployment.profile_path)
    async with app.run_test(size=(120, 40)) as pilot:
        pane = await open_logs(pilot)
        mark = tag()
        await psql(deployment, f"select * from {mark}")
        await wait_for(pilot, lambda: len(shown(pane, mark)) >= 2, what="the error")

        await pilot.press("l", "l", "l")  # all -> info -> warning -> error
        await settle(pilot)
        assert pane.buffer.min_level is Level.ERROR
        lines = pane.view.lines
        assert lines and all(line.startswith("db-postgres") for line in lines)
        levels = {parse_level("postgres", split_display_line(line)[1])[0] for line in lines}
        assert levels <= {Level.ERROR, Level.FATAL, None}  # None: a STATEMENT after its error
        assert len(shown(pane, mark)) == 2  # the error and its statement
        assert "level ≥ error" in str(pane.query_one("#level-toggle").render())
        assert "shown of" in str(pane.query_one("#log-count").render())

        await pilot.press("l", "l")  # fatal -> all again
        await settle(pilot)
        assert pane.buffer.min_level is Level.DEBUG
        assert any(line.startswith("redis") for line in pane.view.lines)

        # Services: the dialog (keyboard only), then clicks on the bar.
        await pilot.press("s")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, ServicesDialog)
        picks = dialog.query_one(SelectionList)
        assert picks.highlighted == 0  # postgres
        await pilot.press("space", "enter")  # untick postgres, apply
        await settle(pilot)
        assert app.screen is pane
        assert pane.view.lines and all(line.startswith("redis") for line in pane.view.lines)
        await pilot.click("ServiceToggle.-redis")  # the only one shown: refused, said why
        await settle(pilot)
        assert "Logs: redis is the only service shown" in notices(app)
        await pilot.click("ServiceToggle.-postgres")
        await settle(pilot)
        names = {split_display_line(line)[0] for line in pane.view.lines}
        assert names == {"db-postgres", "redis"}
        await pilot.click("#level-toggle")
        await settle(pilot)
        assert pane.buffer.min_level is Level.INFO


async def test_search_highlights_and_moves_with_n_and_shift_n(deployment: LocalDeployment) -> None:
    app = fast_app(deployment.profile_path)
    async with app.run_test(size=(120, 40)) as pilot:
        pane = await open_logs(pilot)
        mark = tag()
        for n in (1, 2, 3):
            await psql(deployment, f"select * from {mark}_{n}")
        await wait_for(pilot, lambda: len(shown(pane, mark)) >= 6, what="three errors")
        errors = [
            i for i, line in enumerate(pane.view.lines) if f'"{mark}_' in line and "ERROR" in line
        ]
        assert len(errors) == 3

        await pilot.press("slash", *f"error.*{mark}", "enter")
        await settle(pilot)
        assert pane.view.current == errors[2]  # Enter: the newest match
        assert "3 of 3" in status_text(app)
        await pilot.press("N")
        await settle(pilot)
        assert pane.view.current == errors[1] and "2 of 3" in status_text(app)
        await pilot.press("N", "N")  # wraps to the newest
        await settle(pilot)
        assert pane.view.current == errors[2]
        await pilot.press("n")  # wraps to the oldest
        await settle(pilot)
        assert pane.view.current == errors[0] and "1 of 3" in status_text(app)
        # matches are highlighted on the visible lines (reverse video)
        strip = pane.view.render_line(errors[0] - pane.view.scroll_offset.y)
        assert any(segment.style and segment.style.reverse for segment in strip)

        # A broken pattern says what is wrong; nothing breaks.
        await pilot.press("slash", "ctrl+u", "(", "enter")
        await settle(pilot)
        assert "is not a regular expression" in status_text(app)
        assert pane.pattern is None
        await pilot.press("slash", "escape")
        await settle(pilot)
        assert pane.search_text == "" and "regular expression" not in status_text(app)
        await pilot.press("n")
        await settle(pilot)
        assert "Search: no search yet: press / and type a pattern" in notices(app)


async def test_pause_and_resume_lose_nothing_and_a_hidden_pane_catches_up(
    deployment: LocalDeployment,
) -> None:
    app = fast_app(deployment.profile_path)
    async with app.run_test(size=(120, 40)) as pilot:
        pane = await open_logs(pilot)
        await pilot.press("space")
        await settle(pilot)
        frozen = view_lines(app)
        assert "PAUSED" in status_text(app)
        mark = tag()
        for n in range(5):
            await psql(deployment, f"select * from {mark}_{n}")
        await wait_for(pilot, lambda: pane.buffer.waiting >= 10, what="lines waiting")
        assert view_lines(app) == frozen  # nothing moved
        await wait_for(
            pilot,
            lambda: f"{pane.buffer.waiting:,} new lines waiting" in status_text(app),
            what="the count waiting",
        )
        await pilot.press("space")
        await settle(pilot)
        assert "PAUSED" not in status_text(app)
        got = [line for line in pane.view.lines if mark in line and "ERROR" in line]
        assert [line.split(f"{mark}_")[1][0] for line in got] == ["0", "1", "2", "3", "4"]
        assert view_lines(app)[: len(frozen)] == frozen

        # Hidden: the stream keeps going, drawing waits; shown again, it is all there.
        await pilot.press("1")
        await settle(pilot)
        late = tag()
        await psql(deployment, f"select * from {late}")
        await wait_for(pilot, lambda: any(late in t for t in pane.buffer._pending), what="kept")
        assert not shown(pane, late)
        await pilot.press(key_of("logs"))
        await wait_for(pilot, lambda: len(shown(pane, late)) == 2, what="drawn once shown")


async def test_the_bound_holds(deployment: LocalDeployment, tmp_path: Path) -> None:
    bounded = tmp_path / "bounded.yaml"
    bounded.write_text(
        yaml.safe_dump(
            {
                "extends": str(deployment.profile_path),
                "name": deployment.name,  # the same deployment, so the same log files
                "logs": {"max_lines": 100},
            }
        )
    )
    app = fast_app(bounded)
    async with app.run_test(size=(120, 40)) as pilot:
        pane = await open_logs(pilot, both=False)  # the newest 100 may all be PostgreSQL's
        mark = tag()
        await psql(
            deployment,
            f"DO $$ BEGIN FOR i IN 1..300 LOOP RAISE WARNING '{mark} %', i; END LOOP; END $$",
        )
        await wait_for(pilot, lambda: shown(pane, f"{mark} 300"), what="the last warning")
        await settle(pilot)
        assert len(pane.view.lines) == 100 and pane.buffer.kept == 100
        assert pane.buffer.total > 300
        await wait_for(  # the bars catch up at their own pace (BARS_SECONDS), not every flush
            pilot,
            lambda: "100 lines (max 100)" in str(pane.query_one("#log-count").render()),
            what="the count",
        )
        warnings = [line for line in pane.view.lines if f"WARNING:  {mark}" in line]
        numbers = [int(line.rsplit(" ", 1)[1]) for line in warnings]
        assert numbers == sorted(numbers) and numbers[-1] == 300 and numbers[0] > 200


async def test_save_writes_the_view_masked_and_asks_before_overwriting(
    deployment: LocalDeployment, tmp_path: Path
) -> None:
    target = tmp_path / "saved.log"
    app = fast_app(deployment.profile_path)
    async with app.run_test(size=(120, 40)) as pilot:
        pane = await open_logs(pilot)
        await psql(deployment, f'select * from "{SECRET}"')
        await wait_for(pilot, lambda: shown(pane, f'"{MASK}" does not exist'), what="masked")
        assert not shown(pane, SECRET)

        async def save_to(path: Path) -> SaveLogDialog:
            await pilot.press("w")
            await settle(pilot)
            dialog = app.screen
            assert isinstance(dialog, SaveLogDialog)
            field = dialog.query_one("#path", Input)
            field.value = str(path)
            await pilot.press("enter")
            await settle(pilot, 0.4)
            return dialog

        await save_to(target)
        await wait_for(pilot, lambda: any(n.startswith("Saved: ") for n in notices(app)))
        first = target.read_text()
        assert first == "".join(line + "\n" for line in pane.view.lines[: first.count("\n")])
        assert f'"{MASK}" does not exist' in first and SECRET not in first
        assert stat.S_IMODE(target.stat().st_mode) == 0o600

        # Again to the same file: the dialog comes back asking, Cancel focused.
        await psql(deployment, f"select * from {tag()}")
        await save_to(target)
        asking = app.screen
        assert isinstance(asking, SaveLogDialog) and asking.existing == target
        assert app.focused is asking.query_one("#cancel", Button)
        await pilot.press("enter")  # Cancel
        await settle(pilot)
        assert app.screen is pane and target.read_text() == first

        await save_to(target)
        asking = app.screen
        assert isinstance(asking, SaveLogDialog) and asking.existing == target
        await click_button(pilot)  # Overwrite
        await wait_for(pilot, lambda: target.read_text() != first, what="overwritten")
        assert target.read_text() == "".join(
            line + "\n" for line in pane.view.lines[: target.read_text().count("\n")]
        )


async def test_read_only_sessions_follow_search_and_save(
    deployment: LocalDeployment, tmp_path: Path
) -> None:
    app = fast_app(deployment.profile_path, readonly=True)
    async with app.run_test(size=(120, 40)) as pilot:
        pane = await open_logs(pilot)
        assert not pane.MUTATING  # nothing here changes a deployment
        assert not any(command.mutating for command in pane.commands())
        footer_keys = {
            binding.action for (_n, binding, enabled, _t) in app.active_bindings.values() if enabled
        }
        assert {"toggle_pause", "save", "next_level", "choose_services"} <= footer_keys
        await pilot.press("w")
        await settle(pilot)
        app.screen.query_one("#path", Input).value = str(tmp_path / "ro.log")
        await pilot.press("enter")
        await wait_for(pilot, lambda: (tmp_path / "ro.log").exists(), what="saved")
        # The session stays read-only from here: no changing action offered or run.
        titles = [title for title, _help, _run in app.palette_entries(pane)]
        assert "Logs: save the view…" in titles
        assert not [t for t in titles if t.split()[0] in {"Deploy", "Restart", "Scale", "Tear"}]
        await pilot.press("d", "X", "R")  # the overview's keys do nothing here
        await settle(pilot)
        assert app.screen is pane and app.session.readonly
        assert (await deployment.backend().status())[1].ready == 1  # redis untouched


# --- when things go wrong ----------------------------------------------------------------------


async def test_a_stopped_service_is_shown_and_its_lines_come_back(
    deployment: LocalDeployment,
) -> None:
    app = fast_app(deployment.profile_path)
    backend = deployment.backend()
    async with app.run_test(size=(120, 40)) as pilot:
        pane = await open_logs(pilot)
        ready_before = len(shown(pane, "Ready to accept connections"))
        try:
            await backend.stop("redis")
            await wait_for(
                pilot,
                lambda: "redis: not running" in status_text(app),
                what="redis shown as not running",
            )
            await wait_for(pilot, lambda: shown(pane, "ready to exit, bye bye"), what="shutdown")
            assert "FOLLOWING" in status_text(app)  # the stream itself is fine
        finally:
            await backend.start("redis")
        await wait_for(
            pilot,
            lambda: len(shown(pane, "Ready to accept connections")) > ready_before,
            what="redis's start-up lines",
        )
        await wait_for(pilot, lambda: "not running" not in status_text(app), what="note gone")


async def test_a_broken_stream_is_shown_retried_and_resumed_without_repeats(
    deployment: LocalDeployment,
) -> None:
    log = deployment.backend().runner("redis").log_file
    app = fast_app(deployment.profile_path)
    async with app.run_test(size=(120, 40)) as pilot:
        pane = await open_logs(pilot)
        before = view_lines(app)
        saved, owner = log.read_bytes(), log.stat()
        log.unlink()
        log.mkdir()  # the log path is a folder now: the backend cannot read it
        try:
            await wait_for(pilot, lambda: "STREAM LOST" in status_text(app), what="lost")
            assert "Is a directory" in status_text(app) and "retry #1" in status_text(app)
            await wait_for(pilot, lambda: pane.state.failures >= 2, what="retried")
            assert "retry #2" in status_text(app) or pane.state.failures > 2
        finally:
            log.rmdir()
            log.write_bytes(saved)  # as it was: these lines were seen already
            os.chown(log, owner.st_uid, owner.st_gid)  # Redis (not root) appends to it
        await pilot.press("r")  # retry now
        await wait_for(pilot, lambda: "FOLLOWING" in status_text(app), what="following again")
        await bgsave(deployment)  # Redis opens its log file for every line: new lines land here
        await wait_for(pilot, lambda: shown(pane, "Background saving started"), what="new lines")
        await settle(pilot, 0.5)
        after = view_lines(app)
        assert after[: len(before)] == before
        # nothing seen before the break came again after it
        assert all(after.count(line) == before.count(line) for line in set(before))


async def test_an_unreachable_docker_engine_is_shown_and_retried(
    write_profile, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    socket = tmp_path / "no-docker.sock"
    profile = write_profile(
        f"""
        extends: dev
        name: dead-engine
        ui:
          refresh_seconds: 0.3
        docker:
          host: unix://{socket}
        """
    )
    app = fast_app(profile)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press(key_of("logs"))
        await wait_for(pilot, lambda: "logs" in app._panes, what="logs pane")
        pane = logs_pane(app)
        await wait_for(pilot, lambda: pane.state.phase == "retrying", timeout=30, what="lost")
        text = status_text(app)
        assert "STREAM LOST" in text and "Engine unreachable" in text and str(socket) in text
        failures = pane.state.failures
        await wait_for(pilot, lambda: pane.state.failures > failures, timeout=30, what="retried")
        await asyncio.sleep(0)


async def test_pod_logs_through_the_kubernetes_backend_and_its_standin(
    write_profile, k8s_kubeconfig, k8s_standin
) -> None:  # type: ignore[no-untyped-def]
    """The Kubernetes backend against the API-server **stand-in**: pods' lines in the pane."""
    import datetime as dt

    from ui_helpers import fast_session

    from alfred_tui.app import AlfredApp
    from alfred_tui.backends.kubernetes.backend import KubernetesBackend
    from alfred_tui.config.loader import load_profile

    profile = write_profile("extends: dev\nui:\n  refresh_seconds: 0.3\n", name="k8s-logs")
    deployer = KubernetesBackend(load_profile(str(profile)), wait_timeout=20, poll_interval=0.05)
    try:
        await deployer.deploy()
    finally:
        await deployer.close()
    app = AlfredApp(fast_session(profile, "kubernetes"))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press(key_of("logs"))
        await wait_for(pilot, lambda: "logs" in app._panes, what="logs pane")
        pane = logs_pane(app)
        await wait_for(pilot, lambda: pane.state.phase == "following", timeout=30, what="following")
        mark = tag()
        at = dt.datetime.now(dt.UTC)
        line = f"1:M {at:%d %b %Y %H:%M:%S}.000 # {mark} written in the stand-in"
        k8s_standin.call(k8s_standin.kubelet.write_log, "alfred-platform", "redis-0", line, at)
        await wait_for(pilot, lambda: shown(pane, mark), timeout=30, what="the pod's line")
        (got,) = shown(pane, mark)
        assert split_display_line(got) == ("redis-0", line)
        assert pane.buffer.instance_service["redis-0"] == "redis"


async def test_switching_target_starts_over_without_stale_lines(
    deployment: LocalDeployment, tmp_path: Path
) -> None:
    """After a switch the pane follows the new target only; nothing of the old one stays."""
    app = fast_app(deployment.profile_path)
    async with app.run_test(size=(120, 40)) as pilot:
        pane = await open_logs(pilot)
        generation = app.session.generation
        mark = tag()
        await psql(deployment, f"select * from {mark}")
        await wait_for(pilot, lambda: shown(pane, mark), what="the error")
        empty = tmp_path / "empty.yaml"  # nothing deployed: no log lines at all
        empty.write_text(
            yaml.safe_dump(
                {"extends": "local", "name": "empty", "local": {"data_dir": str(tmp_path / "d")}}
            )
        )
        app.switch_target(str(empty))
        await wait_for(pilot, lambda: app.session.generation == generation + 1, what="switched")
        await wait_for(pilot, lambda: pane.state.phase == "following", what="following anew")
        await settle(pilot, 0.5)
        assert list(pane.view.lines) == [] and pane.buffer.kept == 0
        hint = str(pane.query_one("#log-empty").render())
        assert "Waiting for the first line of postgres, redis" in hint
        await psql(deployment, f"select * from {tag()}")  # the old target still logs...
        await settle(pilot, 1.0)
        assert list(pane.view.lines) == []  # ...but it is not followed any more
