"""Replication as the probes read it, on real servers: a PostgreSQL standby, a Redis replica.

Each pair runs on this machine (``replication_support``); a frozen replica is
its processes stopped with SIGSTOP, which is what ``docker pause`` does to a
container (the Docker tests pause real containers). ``check`` runs as the
user runs it, with thresholds made small so that a few seconds of silence
are enough to judge.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest
from replication_support import postgres_standby, redis_pair, wait_until
from servers import PgServer, postgres_server

from alfred_tui.paths import assets_dir

SCHEMA = json.loads((assets_dir() / "schemas" / "check.v1.schema.json").read_text())

pytestmark = pytest.mark.timeout(180)


def _pids_of_cluster(server: PgServer) -> list[int]:
    """The postmaster of ``server`` and every process it started."""
    postmaster = int((server.data_dir / "postmaster.pid").read_text().split()[0])
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if int(fields[1]) == postmaster:
                    children.append(int(entry.name))
    return [postmaster, *children]


@contextlib.contextmanager
def frozen(pids: list[int]) -> Iterator[None]:
    """SIGSTOP ``pids`` (as ``docker pause`` freezes a container), SIGCONT them after."""
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)


def _profile(write_profile, pg: PgServer, redis_port: int, metrics: str = "") -> Path:  # type: ignore[no-untyped-def]
    return write_profile(
        f"""
        extends: local
        services:
          postgres:
            ports: ["127.0.0.1:{pg.port}:5432"]
            environment:
              POSTGRES_PASSWORD: {pg.password}
          redis:
            ports: ["127.0.0.1:{redis_port}:6379"]
        {metrics}
        """,
        name="replication",
    )


def _check(cli, profile: Path, *services: str) -> tuple[int, dict]:  # type: ignore[no-untyped-def]
    args = [arg for service in services for arg in ("-s", service)]
    result = cli("check", "--profile", str(profile), "--output", "json", *args)
    assert "Traceback" not in result.stderr
    document = json.loads(result.stdout)
    jsonschema.validate(document, SCHEMA)
    return result.returncode, document


def _metric(document: dict, service: str, name: str) -> dict:
    entry = next(s for s in document["services"] if s["service"] == service)
    return next(m for m in entry["metrics"] if m["name"] == name)


@pytest.fixture(scope="module")
def pg_pair() -> Iterator[tuple[PgServer, PgServer]]:
    """A primary with one streaming standby, for the module."""
    with postgres_server() as primary, postgres_standby(primary, "standby-1") as standby:
        primary.psql("create table heartbeat(v int)")
        yield primary, standby


def test_streaming_standby_shows_lag_near_zero_on_both_ends(
    cli, write_profile, pg_pair, redis
) -> None:
    primary, standby = pg_pair
    code, document = _check(cli, _profile(write_profile, primary, redis.port), "postgres")
    assert code == 0, document
    details = document["services"][0]["details"]["replication"]
    assert details["role"] == "primary"
    [row] = details["standbys"]
    assert (row["name"], row["state"], row["sync_state"]) == ("standby-1", "streaming", "async")
    assert row["lag_bytes"] == 0 and row["lag_seconds"] == 0
    seconds = _metric(document, "postgres", "postgres_replication_lag_seconds")
    assert (seconds["value"], seconds["status"]) == (0, "OK")
    assert "standby-1" in seconds["note"]
    # The standby's own view, through a profile whose endpoint is the standby.
    code, document = _check(cli, _profile(write_profile, standby, redis.port), "postgres")
    assert code == 0, document
    own = document["services"][0]["details"]["replication"]
    assert own["role"] == "replica" and own["receiver"]["status"] == "streaming"
    assert own["not_streaming"] is None and own["replay_delay_seconds"] == 0


def test_frozen_standby_lag_grows_to_critical_then_recovers(
    cli, write_profile, pg_pair, redis
) -> None:
    primary, standby = pg_pair
    tight = """
        metrics:
          postgres_replication_lag_seconds: {normal: {max: 1}, alert: {above: 3}}
          postgres_replication_lag_bytes: {normal: {max: 1024}, alert: {above: 1073741824}}
    """
    profile = _profile(write_profile, primary, redis.port, tight)
    with frozen(_pids_of_cluster(standby)):

        def lagging() -> tuple[int, dict] | None:
            primary.psql("insert into heartbeat select generate_series(1, 200)")
            code, document = _check(cli, profile, "postgres")
            seconds = _metric(document, "postgres", "postgres_replication_lag_seconds")
            return (code, document) if seconds["status"] == "CRITICAL" else None

        code, document = wait_until(lagging, timeout=60, interval=0.5)
        assert code == 2
        seconds = _metric(document, "postgres", "postgres_replication_lag_seconds")
        assert seconds["value"] > 3
        assert "standby-1" in seconds["note"] and "silent" in seconds["note"]
        lag_bytes = _metric(document, "postgres", "postgres_replication_lag_bytes")
        assert lag_bytes["value"] > 1024 and lag_bytes["status"] == "WARNING"
        table = cli("check", "--profile", str(profile), "-s", "postgres")
        assert table.returncode == 2
        assert "postgres_replication_lag_seconds" in table.stdout
    # Thawed, the standby catches up and the lag returns to 0.

    def caught_up() -> bool:
        code, document = _check(cli, profile, "postgres")
        return (
            code == 0
            and _metric(document, "postgres", "postgres_replication_lag_bytes")["value"] == 0
        )

    wait_until(caught_up, timeout=60, interval=0.5)


def test_abandoned_slot_shows_the_wal_it_retains(cli, write_profile, pg_pair, redis) -> None:
    primary, _ = pg_pair
    primary.psql("select pg_create_physical_replication_slot('abandoned', true)")
    try:
        primary.psql("insert into heartbeat select generate_series(1, 20000)")
        primary.psql("select pg_switch_wal()")
        _, document = _check(cli, _profile(write_profile, primary, redis.port), "postgres")
        slots = document["services"][0]["details"]["replication"]["slots"]
        [slot] = [s for s in slots if s["name"] == "abandoned"]
        assert slot["active"] is False and slot["type"] == "physical"
        assert slot["retained_bytes"] > 0
    finally:
        primary.psql("select pg_drop_replication_slot('abandoned')")


def test_prometheus_has_the_replication_metrics(cli, write_profile, pg_pair, redis) -> None:
    primary, _ = pg_pair
    profile = _profile(write_profile, primary, redis.port)
    result = cli("check", "--profile", str(profile), "-s", "postgres", "-o", "prometheus")
    assert result.returncode == 0, result.stderr
    assert 'postgres_replication_lag_seconds{profile="replication",service="postgres"} 0' in (
        result.stdout
    )
    assert (
        'postgres_standby_lag_bytes{profile="replication",service="postgres",standby="standby-1"} 0'
        in result.stdout
    )


def test_redis_replica_frozen_lags_in_bytes_and_its_link_goes_down(cli, write_profile, pg) -> None:
    tight = """
        metrics:
          redis_replication_lag_bytes: {normal: {max: 10240}, alert: {above: 67108864}}
    """
    with redis_pair() as pair:
        profile = _profile(write_profile, pg, pair.master.port, tight)
        code, document = _check(cli, profile, "redis")
        assert code == 0, document
        assert _metric(document, "redis", "redis_master_link_up")["value"] == 1
        assert _metric(document, "redis", "redis_replication_lag_bytes")["value"] == 0
        [link] = document["services"][0]["details"]["replication"]["replicas"]
        assert link["state"] == "online"
        with frozen([pair.replica.process.pid]):
            pair.master.cli("SET", "big", "x" * 100_000)

            def lagging() -> dict | None:
                _, document = _check(cli, profile, "redis")
                lag = _metric(document, "redis", "redis_replication_lag_bytes")
                return document if lag["status"] == "WARNING" else None

            document = wait_until(lagging, timeout=30, interval=0.5)
            assert _metric(document, "redis", "redis_replication_lag_bytes")["value"] > 100_000

            def link_down() -> dict | None:
                code, document = _check(cli, profile, "redis")
                link = _metric(document, "redis", "redis_master_link_up")
                return document if (code, link["value"]) == (2, 0) else None

            document = wait_until(link_down, timeout=40, interval=1)
            assert "not following" in _metric(document, "redis", "redis_master_link_up")["note"]
        wait_until(lambda: _check(cli, profile, "redis")[0] == 0, timeout=30, interval=0.5)
        # The replica's own view: its link to the master is up.
        replica_profile = _profile(write_profile, pg, pair.replica.port)
        _, document = _check(cli, replica_profile, "redis")
        link = _metric(document, "redis", "redis_master_link_up")
        assert (link["value"], link["status"]) == (1, "OK")
        assert document["services"][0]["details"]["replication"]["role"] == "replica"
