"""`alfred-tui check` end to end, as a script user runs it, against real servers."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import jsonschema
import pytest
from localdeploy import create_embedded_collections, embedded_qdrant_path
from prometheus_client.parser import text_string_to_metric_families
from servers import redis_server

from alfred_tui.paths import assets_dir

SCHEMA = json.loads((assets_dir() / "schemas" / "check.v1.schema.json").read_text())


SPEC_COLLECTIONS = [
    "general-knowledge",
    "financial-knowledge",
    "legal-knowledge",
    "social-knowledge",
]


def check_json(cli, *args: str) -> tuple[int, dict, str]:
    result = cli("check", "--output", "json", *args)
    assert "Traceback" not in result.stderr
    document = json.loads(result.stdout)
    jsonschema.validate(document, SCHEMA)
    return result.returncode, document, result.stderr


def metric(document: dict, service: str, name: str) -> dict:
    entry = next(s for s in document["services"] if s["service"] == service)
    return next(m for m in entry["metrics"] if m["name"] == name)


def test_all_services_ok_exits_0_and_json_matches_schema(cli, servers_profile: Path) -> None:
    create_embedded_collections(embedded_qdrant_path("servers"), SPEC_COLLECTIONS)
    code, document, stderr = check_json(cli, "--profile", str(servers_profile))
    assert code == 0, (document, stderr)
    assert document["status"] == "OK"
    assert [s["service"] for s in document["services"]] == ["postgres", "redis", "qdrant"]
    assert all(s["up"] for s in document["services"])
    qdrant = next(s for s in document["services"] if s["service"] == "qdrant")
    assert qdrant["address"].startswith("embedded:")
    assert qdrant["details"]["missing_collections"] == []
    assert metric(document, "qdrant", "qdrant_collections_count")["value"] == 4
    # Embedded mode does not expose request figures: unknown, never zero, verdict unaffected.
    duration = metric(document, "qdrant", "qdrant_request_duration_seconds")
    assert duration["value"] is None and duration["status"] is None
    assert "embedded" in duration["note"]


def test_table_output_starts_with_a_nagios_line(cli, servers_profile: Path) -> None:
    result = cli("check", "--profile", str(servers_profile), "-s", "postgres", "-s", "redis")
    assert result.returncode == 0, result.stderr
    first = result.stdout.splitlines()[0]
    assert first == "ALFRED OK - postgres OK, redis OK"
    assert "postgres_connections" in result.stdout and "redis_memory_used_bytes" in result.stdout


def test_redis_stopped_between_two_runs_is_critical_connection_refused(
    cli, write_profile, pg
) -> None:
    with redis_server() as own_redis:
        path = write_profile(
            f"""
            extends: local
            services:
              postgres:
                ports: ["127.0.0.1:{pg.port}:5432"]
                environment: {{POSTGRES_PASSWORD: {pg.password}}}
              redis:
                ports: ["127.0.0.1:{own_redis.port}:6379"]
              qdrant: {{enabled: false}}
            """
        )
        code, document, _ = check_json(cli, "--profile", str(path))
        assert code == 0
        own_redis.stop()
        code, document, _ = check_json(cli, "--profile", str(path))
    assert code == 2
    redis = next(s for s in document["services"] if s["service"] == "redis")
    assert redis["status"] == "CRITICAL" and not redis["up"]
    assert redis["reason"].startswith("connection refused")
    assert metric(document, "redis", "redis_up")["value"] == 0
    postgres = next(s for s in document["services"] if s["service"] == "postgres")
    assert postgres["status"] == "OK"
    table = cli("check", "--profile", str(path))
    assert table.returncode == 2
    assert table.stdout.splitlines()[0].startswith("ALFRED CRITICAL - postgres OK, redis CRITICAL")
    assert "connection refused" in table.stdout


def test_wrong_postgres_password_is_authentication_failed(cli, write_profile, pg) -> None:
    path = write_profile(
        f"""
        extends: local
        services:
          postgres:
            ports: ["127.0.0.1:{pg.port}:5432"]
            environment: {{POSTGRES_PASSWORD: not-the-password}}
        """
    )
    code, document, _ = check_json(cli, "--profile", str(path), "--service", "postgres")
    assert code == 2
    reason = document["services"][0]["reason"]
    assert reason.startswith("authentication failed"), reason
    assert "not-the-password" not in json.dumps(document)


async def _hold(pg, sql: list[str], ready: threading.Event, release: threading.Event) -> None:
    connection = await asyncpg.connect(pg.dsn())
    try:
        for statement in sql:
            await connection.execute(statement)
        ready.set()
        while not release.is_set():
            await asyncio.sleep(0.05)
    finally:
        await connection.close()


@pytest.fixture
def held_session(pg) -> Iterator:
    """Run SQL in another session and keep it open (and its transaction) until the test ends."""
    release = threading.Event()
    threads: list[threading.Thread] = []

    def start(*sql: str) -> None:
        ready = threading.Event()
        thread = threading.Thread(
            target=lambda: asyncio.run(_hold(pg, list(sql), ready, release)), daemon=True
        )
        thread.start()
        threads.append(thread)
        assert ready.wait(30), "the other session did not start"

    yield start
    release.set()
    for thread in threads:
        thread.join(10)


def test_locks_held_by_another_session_show(cli, servers_profile, pg, held_session) -> None:
    pg.psql("CREATE TABLE IF NOT EXISTS lock_target (id int)")
    _, before, _ = check_json(cli, "--profile", str(servers_profile), "-s", "postgres")
    held_session("BEGIN", "LOCK TABLE lock_target IN ACCESS EXCLUSIVE MODE")
    _, during, _ = check_json(cli, "--profile", str(servers_profile), "-s", "postgres")
    locks_before = metric(before, "postgres", "postgres_locks")["value"]
    locks_during = metric(during, "postgres", "postgres_locks")["value"]
    assert locks_during >= locks_before + 2  # the table lock and the transaction's own id


def test_long_open_transaction_shows_its_duration(cli, servers_profile, held_session) -> None:
    held_session("BEGIN", "SELECT txid_current()")
    time.sleep(2.5)
    code, document, _ = check_json(cli, "--profile", str(servers_profile), "-s", "postgres")
    duration = metric(document, "postgres", "postgres_transaction_duration_seconds")
    assert duration["value"] >= 2.5
    assert duration["status"] == "CRITICAL"  # the spec's alert threshold is 2 s
    assert code == 2


def test_transaction_rate_comes_from_the_previous_run(cli, servers_profile, pg) -> None:
    _, first, _ = check_json(cli, "--profile", str(servers_profile), "-s", "postgres")
    assert metric(first, "postgres", "postgres_transaction_rate")["value"] is None
    for _ in range(50):
        pg.psql("SELECT 1")
    time.sleep(1.1)  # PostgreSQL publishes statistics at most once a second
    _, second, _ = check_json(cli, "--profile", str(servers_profile), "-s", "postgres")
    rate = metric(second, "postgres", "postgres_transaction_rate")
    assert rate["value"] is not None and rate["value"] > 0


def test_thresholds_from_a_user_profile_change_verdict_and_exit_code(
    cli, write_profile, servers_profile
) -> None:
    warning = write_profile(
        f"""
        extends: {servers_profile}
        metrics:
          postgres_connections: {{normal: {{max: 0}}}}
        """,
        name="strict",
    )
    code, document, _ = check_json(cli, "--profile", str(warning), "-s", "postgres")
    assert code == 1 and document["status"] == "WARNING"
    assert metric(document, "postgres", "postgres_connections")["status"] == "WARNING"
    critical = write_profile(
        f"""
        extends: {servers_profile}
        metrics:
          redis_connected_clients: {{alert: {{above: 0}}}}
        """,
        name="stricter",
    )
    code, document, _ = check_json(cli, "--profile", str(critical), "-s", "redis")
    assert (
        code == 2 and metric(document, "redis", "redis_connected_clients")["status"] == "CRITICAL"
    )


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never says a word."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                connection, _ = server.accept()
                held.append(connection)
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(2)
    for connection in held:
        connection.close()
    server.close()


def test_timeout_against_a_silent_port_stops_at_the_deadline(
    cli, write_profile, silent_port
) -> None:
    path = write_profile(
        f"""
        extends: local
        services:
          postgres: {{ports: ["127.0.0.1:{silent_port}:5432"]}}
          redis: {{ports: ["127.0.0.1:{silent_port}:6379"]}}
          qdrant: {{enabled: false}}
        """
    )
    # The deadline is judged by the check's own clock (duration_ms below), not by the
    # wall clock around the process: interpreter start-up on a loaded machine is not
    # the check's doing, and speed is for benchmarks. A check that ignored its
    # deadline against a port that never answers would hang until this timeout.
    result = cli("check", "--profile", str(path), "--timeout", "1", "--output", "json", timeout=60)
    assert result.returncode == 2
    document = json.loads(result.stdout)
    for service in document["services"]:
        assert service["reason"].startswith("timeout after 1 s"), service["reason"]
        assert service["duration_ms"] < 1100  # the in-process deadline itself


def test_malformed_yaml_is_unknown_for_check_and_names_the_line(cli, write_profile) -> None:
    path = write_profile("extends: local\nservices:\n  redis: {replicas: 1\n")
    result = cli("check", "--profile", str(path))
    assert result.returncode == 3  # Nagios: a plugin's own usage error is UNKNOWN
    assert f"{path}:" in result.stderr and "YAML syntax error" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    other = cli("profiles", "show", str(path))
    assert other.returncode == 2 and f"{path}:" in other.stderr


def test_prod_with_default_password_is_refused(cli) -> None:
    env = {
        "DB_USER": "alfred",
        "DB_PASSWORD": "your-super-secret-password",
        "DB_NAME": "alfred",
        "DB_JWT_SECRET": "a-real-jwt-secret",
        "DB_JWT_EXP": "3600",
    }
    result = cli("check", "--profile", "prod", env=env)
    assert result.returncode == 3
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("Policy violation: ")
    assert "POSTGRES_PASSWORD: is the spec's default secret" in lines[0]
    assert "your-super-secret-password" not in result.stderr


def test_bad_option_is_unknown_for_check(cli) -> None:
    result = cli("check", "--output", "yaml")
    assert result.returncode == 3
    assert "Traceback" not in result.stderr


def test_prometheus_output_parses(cli, servers_profile: Path) -> None:
    create_embedded_collections(embedded_qdrant_path("servers"), SPEC_COLLECTIONS[:1])
    result = cli("check", "--profile", str(servers_profile), "--output", "prometheus")
    assert result.returncode == 0, result.stderr
    families = {f.name: f for f in text_string_to_metric_families(result.stdout)}
    for name in (
        "postgres_up",
        "postgres_connections",
        "postgres_locks",
        "redis_up",
        "redis_connected_clients",
        "redis_memory_used_bytes",
        "qdrant_up",
        "qdrant_collections_count",
        "alfred_check_status",
    ):
        assert name in families, name
    # Metrics the target does not expose are absent, never a fake zero.
    assert "qdrant_request_duration_seconds" not in families
    statuses = {s.labels["service"]: s.value for s in families["alfred_check_status"].samples}
    assert statuses == {"postgres": 0, "redis": 0, "qdrant": 0, "all": 0}
    size = families["postgres_database_size_bytes"].samples[0].value
    assert size > 1_000_000  # exact, not rounded by %g


def test_unknown_service_for_profile_is_unknown(cli, write_profile) -> None:
    path = write_profile("extends: local\nservices:\n  qdrant: {enabled: false}\n")
    result = cli("check", "--profile", str(path), "--service", "qdrant")
    assert result.returncode == 3
    assert "has no enabled qdrant" in result.stderr
