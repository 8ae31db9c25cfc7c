"""The recording file and the operator journal, on real SQLite files and the real CLI.

What a recording holds and how it is read back (also with the plain
``sqlite3`` shell), what survives a recorder killed with SIGKILL, how a
damaged, truncated, foreign or newer file is refused (one line, exit 2, no
traceback), a file from another version and profile opening with a note,
retention, saving an incident window, the ``timeline`` command's filters and
JSON schema, and the operator journal's entries (who, plan, outcome,
secrets masked). The fault tests on real engines are in
``test_recording_faults.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import run_cli
from servers import free_port

from alfred_tui import operator_journal
from alfred_tui.backends.base import InstanceStatus, InstanceUsage, ServiceStatus
from alfred_tui.checks.instances import InstanceReplication
from alfred_tui.checks.report import ServiceReport
from alfred_tui.config.loader import load_profile
from alfred_tui.control.history import MetricHistory
from alfred_tui.control.monitor import OverviewSnapshot, ServiceView, instance_key
from alfred_tui.metrics import Reading, Verdict
from alfred_tui.recording.recorder import Recorder, recording_meta
from alfred_tui.recording.replay import open_replay
from alfred_tui.recording.store import RecordingError, RecordingReader, copy_window
from alfred_tui.redact import register_secret

pytestmark = pytest.mark.timeout(120)

T0 = datetime(2025, 5, 13, 3, 0, 0, tzinfo=UTC).timestamp()


def _view(kind: str, up: bool, at: float, connections: float = 5.0) -> ServiceView:
    if up:
        readings = (
            Reading(f"{kind}_up", 1.0, Verdict.OK),
            Reading(
                "postgres_connections",
                connections,
                Verdict.OK if connections < 500 else Verdict.WARNING,
            ),
        )
        report = ServiceReport(
            kind,
            "127.0.0.1:5432",
            True,
            readings[1].verdict or Verdict.OK,
            readings=readings,
            checked_at=at,
        )  # type: ignore[arg-type]
    else:
        reason = "connection refused (127.0.0.1:5432)"
        report = ServiceReport(
            kind,
            "127.0.0.1:5432",
            False,
            Verdict.CRITICAL,
            reason,
            (Reading(f"{kind}_up", 0.0, Verdict.CRITICAL),),
            checked_at=at,
        )  # type: ignore[arg-type]
    instance = InstanceStatus("local-postgres", "running" if up else "exited", restarts=0)
    status = ServiceStatus("postgres", 1, 1 if up else 0, (instance,))  # type: ignore[arg-type]
    return ServiceView(kind, report, status)  # type: ignore[arg-type]


def _snapshot(at: float, up: bool, connections: float = 5.0) -> OverviewSnapshot:
    return OverviewSnapshot(
        "local", "local", at, (_view("postgres", up, at, connections),), MetricHistory()
    )


def _recording(path: Path, polls: list[tuple[float, bool, float]]) -> Recorder:
    """A recording of the local profile's postgres going through ``polls`` (at, up, conns)."""
    profile = load_profile("local").profile
    recorder = Recorder(path, recording_meta(profile, "local", 1.0), profile)
    for at, up, connections in polls:
        recorder.overview(_snapshot(at, up, connections))
    recorder.close(single_file=True)
    return recorder


def test_a_recording_is_plain_sqlite_with_its_timeline(tmp_path: Path) -> None:
    path = tmp_path / "rec.sqlite"
    polls = [(T0 + i, True, 5.0) for i in range(5)]
    polls += [(T0 + 5, True, 612.0), (T0 + 6, False, 0.0), (T0 + 9, True, 5.0)]
    _recording(path, polls)
    assert path.stat().st_mode & 0o777 == 0o600  # it holds what the databases said
    assert not Path(f"{path}-wal").exists()  # closed as a single file, ready to hand over

    sqlite = shutil.which("sqlite3")
    assert sqlite, "the sqlite3 shell is a test dependency (scripts/ensure-system-deps.sh)"

    def query(sql: str) -> str:
        return subprocess.run(
            [sqlite, str(path), sql], capture_output=True, text=True, check=True
        ).stdout.strip()

    assert query("SELECT value FROM meta WHERE key = 'format'") == "alfred-tui/recording"
    assert query("SELECT value FROM meta WHERE key = 'format_version'") == "1"
    assert query("SELECT count(*) FROM frames WHERE kind = 'overview'") == "8"
    assert (
        query(
            "SELECT value FROM metric_samples WHERE series = 'postgres/postgres_connections' "
            "ORDER BY at DESC LIMIT 1"
        )
        == "5.0"
    )
    assert (
        query(
            "SELECT json_extract(body, '$.services[0].report.up') FROM frames ORDER BY at LIMIT 1"
        )
        == "1"
    )
    titles = query("SELECT kind || ' ' || title FROM timeline ORDER BY at").splitlines()
    assert titles == [
        "service postgres WARNING (was OK)",
        "verdict postgres_connections WARNING at 612 (was OK; limits 0-500, >800)",
        "service postgres DOWN: connection refused (127.0.0.1:5432)",
        "engine local-postgres: running -> exited",
        "service postgres back up (OK)",
        "verdict postgres_connections OK at 5 (was WARNING; limits 0-500, >800)",
        "engine local-postgres: exited -> running",
    ]


def test_a_recorder_killed_with_sigkill_leaves_a_file_that_opens(
    write_profile, tmp_path: Path
) -> None:
    """``alfred-tui record`` on services that do not answer (so it needs none), then SIGKILL."""
    profile = write_profile(
        f"""
        extends: local
        services:
          postgres: {{ports: ["127.0.0.1:{free_port()}:5432"]}}
          redis: {{ports: ["127.0.0.1:{free_port()}:6379"]}}
          qdrant: {{enabled: false}}
        """
    )
    path = tmp_path / "killed.sqlite"
    executable = shutil.which("alfred-tui", path=str(Path(sys.executable).parent))
    process = subprocess.Popen(
        [executable, "record", "--profile", str(profile), "--interval", "0.2", "-o", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(RecordingError):  # created, not written yet
                if RecordingReader(path).span():
                    break
            time.sleep(0.2)
        time.sleep(2.0)
        killed_at = time.time()
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    finally:
        if process.poll() is None:
            process.kill()
    reader = RecordingReader(path)
    span = reader.span()
    assert span is not None
    assert killed_at - span[1] < 2.0, "more than the last seconds were lost"
    reader.close()
    result = run_cli("timeline", "--from", str(path), "-o", "json")
    assert result.returncode == 0, result.stderr
    entries = json.loads(result.stdout)["entries"]
    assert {entry["title"].split(":")[0] for entry in entries} >= {
        "postgres DOWN when the recording started",
        "redis DOWN when the recording started",
    }


def _damaged(tmp_path: Path) -> dict[str, Path]:
    good = tmp_path / "good.sqlite"
    _recording(good, [(T0 + i, True, 5.0) for i in range(200)])
    files = {}
    files["text"] = tmp_path / "notes.txt"
    files["text"].write_text("not a recording\n")
    files["empty"] = tmp_path / "empty.sqlite"
    files["empty"].write_bytes(b"")
    data = good.read_bytes()
    files["truncated"] = tmp_path / "truncated.sqlite"
    files["truncated"].write_bytes(data[: len(data) // 3])
    files["corrupted"] = tmp_path / "corrupted.sqlite"
    files["corrupted"].write_bytes(data[:100] + os.urandom(len(data) - 100))
    files["foreign"] = tmp_path / "foreign.sqlite"
    with sqlite3.connect(files["foreign"]) as db:
        db.execute("CREATE TABLE meta (key TEXT, value TEXT)")
    files["newer"] = tmp_path / "newer.sqlite"
    shutil.copy(good, files["newer"])
    with sqlite3.connect(files["newer"]) as db:
        db.execute("UPDATE meta SET value = '7' WHERE key = 'format_version'")
    files["missing"] = tmp_path / "nowhere.sqlite"
    return files


def test_damaged_truncated_foreign_and_newer_files_get_one_line(tmp_path: Path) -> None:
    reasons = {
        "text": "not an alfred-tui recording (not a SQLite file)",
        "empty": "empty",
        "truncated": "damaged or truncated",
        "corrupted": "damaged or truncated",
        "foreign": "not an alfred-tui recording",
        "newer": "recording format 7",
        "missing": "no such file",
    }
    for name, path in _damaged(tmp_path).items():
        for args in (("timeline", "--from", str(path)), ("--replay", str(path))):
            result = run_cli(*args)
            assert result.returncode == 2, (name, args, result.stdout, result.stderr)
            lines = result.stderr.strip().splitlines()
            assert len(lines) == 1 and "Traceback" not in result.stderr, (name, result.stderr)
            assert lines[0].startswith(f"Recording: {path}: "), (name, lines)
            assert reasons[name] in lines[0], (name, lines[0])


def test_a_file_from_another_version_and_profile_opens_with_a_note(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite"
    _recording(path, [(T0 + i, True, 5.0) for i in range(3)])
    with sqlite3.connect(path) as db:
        profile = json.loads(
            db.execute("SELECT value FROM meta WHERE key='profile_json'").fetchone()[0]
        )
        profile["name"] = "elsewhere"
        profile["ui"]["a_future_setting"] = True
        db.execute("UPDATE meta SET value = ? WHERE key = 'profile_json'", (json.dumps(profile),))
        db.execute("UPDATE meta SET value = '9.9.9' WHERE key = 'app_version'")
        db.execute("UPDATE meta SET value = 'another-host' WHERE key = 'host'")
    session = open_replay(path)
    try:
        assert session.profile_name == "elsewhere"  # no such profile here: the file's own
        assert any("alfred-tui 9.9.9" in note for note in session.notes)
        assert any("ui.a_future_setting" in note for note in session.notes)
        assert session.readonly and session.cursor is not None
        assert session.cursor.at == T0 + 2  # opens at the end
    finally:
        session.replayed.reader.close()  # type: ignore[union-attr]


def test_replication_and_usage_replay_as_recorded_with_their_sparklines(tmp_path: Path) -> None:
    """Each poll's replication rows and usage come back at their moment; a reading the
    monitor kept (the engine did not answer) is no new sample; an older file has none."""
    path = tmp_path / "instances.sqlite"
    profile = load_profile("local").profile
    recorder = Recorder(path, recording_meta(profile, "local", 1.0), profile)
    polls: list[OverviewSnapshot] = []
    usage = replica = None
    for step in range(4):
        at = T0 + step
        if step < 3:  # the fourth poll keeps the third's readings, as the monitor does
            usage = InstanceUsage("postgres", "pg-1", 10.0 + step, 2.0, 100 << 20, 1 << 30,
                                  taken_at=at)  # fmt: skip
            replica = InstanceReplication(
                "pg-2", "replica", "streaming", lag_seconds=0.5 * step, lag_bytes=4096 * step,
                link_up=True, upstream="pg-1:5432", view={"in_recovery": True},
            )  # fmt: skip
        assert usage is not None and replica is not None
        primary = InstanceReplication("pg-1", "primary", "primary", replicas=1)
        snapshot = dataclasses.replace(
            _snapshot(at, True),
            replication={"postgres": {"pg-1": primary, "pg-2": replica}},
            usage={"pg-1": usage},
            instances_error="usage: timeout" if step == 3 else "",
        )
        polls.append(snapshot)
        recorder.overview(snapshot)
    recorder.close(single_file=True)

    session = open_replay(path)
    try:
        assert session.cursor is not None
        for expected in (polls[1], polls[3]):
            session.cursor.seek(expected.taken_at)
            shown = asyncio.run(session.monitor.poll())
            assert shown.replication == expected.replication
            assert shown.usage == expected.usage
            assert shown.instances_error == expected.instances_error
        history = session.monitor.history
        at = polls[3].taken_at
        assert history.samples(instance_key("postgres", "pg-1", "cpu"), at) == [
            (T0, 10.0), (T0 + 1, 11.0), (T0 + 2, 12.0)
        ]  # fmt: skip
        lag = history.samples(instance_key("postgres", "pg-2", "lag_bytes"), at)
        assert [value for _, value in lag] == [0.0, 4096.0, 8192.0]
    finally:
        session.replayed.reader.close()  # type: ignore[union-attr]

    # A file written before instances were recorded: the same frames without them.
    with sqlite3.connect(path) as db:
        db.execute(
            "UPDATE frames SET body = json_remove(body, '$.replication', '$.usage', "
            "'$.instances_error')"
        )
    session = open_replay(path)
    try:
        shown = session.monitor.snapshot()
        assert (shown.replication, shown.usage, shown.instances_error) == ({}, {}, "")
        assert shown.services[0].report is not None and shown.services[0].report.up
    finally:
        session.replayed.reader.close()  # type: ignore[union-attr]


def test_retention_and_an_incident_window(tmp_path: Path) -> None:
    path = tmp_path / "rolling.sqlite"
    _recording(path, [(T0 + 60 * i, i % 7 != 3, 5.0) for i in range(120)])  # two hours
    incident = tmp_path / "incident.sqlite"
    size = copy_window(path, incident, T0 + 3600, T0 + 4200, {"incident_at": T0 + 3900})
    assert size == incident.stat().st_size
    reader = RecordingReader(incident)
    frames = reader.frames("overview", 0, T0 + 10_000)
    assert frames[0][0] == T0 + 3000 and frames[-1][0] == T0 + 4200  # +10 min for sparklines
    assert all(T0 + 3600 <= entry.at <= T0 + 4200 for _, entry in reader.timeline())
    assert reader.meta["incident_at"] == str(T0 + 3900)
    reader.close()
    with pytest.raises(RecordingError, match="exists"):
        copy_window(path, incident, T0, T0 + 60, {})

    from alfred_tui.recording.store import RecordingWriter

    writer = RecordingWriter(path, {})
    writer.trim(T0 + 3600)
    assert writer.db.execute("SELECT min(at) FROM frames").fetchone()[0] == T0 + 3600
    writer.close()


def test_timeline_command_filters_and_its_json_schema(tmp_path: Path, validate_schema) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "rec.sqlite"
    _recording(path, [(T0, True, 5.0), (T0 + 1, False, 0.0), (T0 + 2, True, 612.0)])
    result = run_cli("timeline", "--from", str(path), "--output", "json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    validate_schema(document, "timeline")
    ats = [entry["at"] for entry in document["entries"]]
    assert ats == sorted(ats, reverse=True)  # newest first
    only = run_cli("timeline", "--from", str(path), "--kind", "service", "-o", "json")
    kinds = {entry["kind"] for entry in json.loads(only.stdout)["entries"]}
    assert kinds == {"service"}
    recent = run_cli("timeline", "--from", str(path), "--since", "1m", "-o", "json")
    assert json.loads(recent.stdout)["entries"] == []  # all of it is from 2025
    table = run_cli("timeline", "--from", str(path))
    assert "postgres DOWN: connection refused" in table.stdout
    bad = run_cli("timeline", "--from", str(path), "--kind", "gossip")
    assert bad.returncode == 2 and bad.stderr.strip().startswith("Usage error: --kind 'gossip'")


def test_the_operator_journal_keeps_who_plan_outcome_and_masks_secrets(validate_schema) -> None:  # type: ignore[no-untyped-def]
    register_secret("journal-secret-4471")
    with operator_journal.journaled(
        "scale",
        profile="dev",
        backend="docker",
        plan=["Run 2 instances of redis", "password journal-secret-4471 stays out"],
        service="redis",
    ) as journal:
        journal.succeeded("Scaled redis to 2")
    with (
        pytest.raises(RuntimeError),
        operator_journal.journaled("restart", profile="dev", backend="docker", service="redis"),
    ):
        raise RuntimeError("engine said no to journal-secret-4471")
    text = operator_journal.journal_path().read_text()
    assert "journal-secret-4471" not in text
    lines = [json.loads(line) for line in text.splitlines()]
    assert len(lines) == 4  # a start and an end each
    for line in lines:
        validate_schema(line, "operator-journal")
    assert operator_journal.journal_path().stat().st_mode & 0o777 == 0o600
    scale, restart = operator_journal.read_actions()
    assert scale.outcome == "ok" and scale.detail == "Scaled redis to 2"
    assert scale.who == operator_journal.who() and "@" in scale.who and scale.origin == "cli"
    assert scale.plan[1] == "password ******** stays out"
    assert (
        restart.outcome == "failed" and restart.detail == "RuntimeError: engine said no to ********"
    )
