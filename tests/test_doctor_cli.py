"""``alfred-tui doctor`` end to end: JSON against its schema, exit codes, errors in one line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from doctor_support import profile_text, write
from servers import PgServer, RedisServer, free_port, redis_server


def test_doctor_json_on_the_session_servers(cli, servers_profile: Path, validate_schema) -> None:
    result = cli("doctor", "--profile", str(servers_profile), "-o", "json")
    document = json.loads(result.stdout)
    validate_schema(document, "doctor")
    assert result.returncode == document["exit_code"], result.stderr
    names = [r["name"] for r in document["runbooks"]]
    assert names == [
        "postgres-connections",
        "postgres-slow-queries",
        "redis-memory",
        "redis-latency",
        "qdrant-slow-searches",
        "qdrant-memory",
        "postgres-replicas",
        "redis-replicas",
        "postgres-limits",
        "redis-limits",
        "qdrant-limits",
    ]
    replicas = document["runbooks"][6]
    assert (replicas["status"], replicas["detection"]["summary"]) == (
        "OK",
        "no replicas: nothing to watch",
    )
    limits = document["runbooks"][8]  # servers alfred-tui did not start: nothing measured
    assert limits["status"] == "OK", limits
    slow = document["runbooks"][1]
    assert slow["status"] == "OK"
    assert any("shared_preload_libraries" in note for note in slow["notes"])
    assert "enable-pg-stat-statements" in [r["id"] for r in slow["remedies"]]


def test_doctor_table_explains_a_slow_redis_and_exits_warning(cli, tmp_path: Path) -> None:
    with redis_server("--enable-debug-command", "yes") as server:
        server.cli("DEBUG", "SLEEP", "0.2")
        path = write(tmp_path, profile_text(redis=server))
        result = cli(
            "doctor",
            "--profile",
            str(path),
            "--runbook",
            "redis-latency",
            "--sample-seconds",
            "0.2",
        )
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "DOCTOR WARNING - redis-latency WARNING"
    assert "Why it matters" in result.stdout and "What you can do" in result.stdout
    assert "alfred-tui doctor latency-monitor --threshold-ms 100 --yes" in result.stdout
    assert "DEBUG SLEEP 0.2" in result.stdout


def test_doctor_on_servers_that_are_down_is_unknown(cli, tmp_path: Path, validate_schema) -> None:
    text = (
        "extends: local\nservices:\n"
        f"  postgres:\n    ports: ['127.0.0.1:{free_port()}:5432']\n"
        f"  redis:\n    ports: ['127.0.0.1:{free_port()}:6379']\n"
        "  qdrant: {enabled: false}\n"
    )
    path = write(tmp_path, text)
    result = cli("doctor", "--profile", str(path), "-o", "json", "--timeout", "1")
    assert result.returncode == 3, result.stderr
    document = json.loads(result.stdout)
    validate_schema(document, "doctor")
    # The limits runbooks judge the engine's instances, not the databases: none runs here.
    databases = [r for r in document["runbooks"] if not r["name"].endswith("-limits")]
    assert {r["status"] for r in databases} == {"UNKNOWN"}
    assert all("does not answer" in r["detection"]["summary"] for r in databases)
    limits = [r for r in document["runbooks"] if r["name"].endswith("-limits")]
    assert [r["detection"]["summary"] for r in limits] == ["no running instance to measure"] * 2
    assert "Traceback" not in result.stderr


def test_doctor_usage_errors_are_one_line(cli, servers_profile: Path) -> None:
    unknown = cli("doctor", "--profile", str(servers_profile), "--runbook", "nope")
    assert unknown.returncode == 3
    assert unknown.stderr.strip().startswith("Usage error: no runbook named 'nope'")
    assert "postgres-connections" in unknown.stderr
    missing = cli("doctor", "--profile", "/nonexistent/profile.yaml")
    assert missing.returncode == 3 and len(missing.stderr.strip().splitlines()) == 1
    both = cli(
        "doctor", "explain", "SELECT 1", "--query-id", "1", "--profile", str(servers_profile)
    )
    assert both.returncode == 2 and "not both" in both.stderr


def test_doctor_list_and_journal_json(
    cli, pg: PgServer, redis: RedisServer, tmp_path: Path, validate_schema
) -> None:
    listed = cli("doctor", "list", "-o", "json")
    assert listed.returncode == 0
    validate_schema(json.loads(listed.stdout), "runbooks")
    path = write(tmp_path, profile_text(pg, redis))
    empty = cli("doctor", "journal", "-o", "json")
    assert json.loads(empty.stdout)["entries"] == []
    before = redis.cli("CONFIG", "GET", "latency-monitor-threshold").splitlines()[1]
    try:
        done = cli(
            "doctor", "latency-monitor", "--threshold-ms", "250", "--yes", "--profile", str(path)
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("Done: Set latency-monitor-threshold")
    finally:
        redis.cli("CONFIG", "SET", "latency-monitor-threshold", before)
    journal = cli("doctor", "journal", "-o", "json")
    document = json.loads(journal.stdout)
    validate_schema(document, "journal")
    assert document["entries"][-1]["previous"] == {"latency-monitor-threshold": int(before)}


def test_headless_twins_import_no_heavy_sdk() -> None:
    code = (
        "import sys\n"
        "import alfred_tui.cli, alfred_tui.cli.doctor, alfred_tui.cli.activity, "
        "alfred_tui.cli.audit\n"
        "import alfred_tui.troubleshoot.registry, alfred_tui.troubleshoot.output\n"
        "import alfred_tui.audit.runner, alfred_tui.audit.output\n"
        "print([m for m in ('textual', 'docker', 'kubernetes', 'qdrant_client') "
        "if m in sys.modules])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
