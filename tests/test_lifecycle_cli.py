"""The lifecycle commands as an operator runs them: the real ``alfred-tui`` in a subprocess.

Local backend on real PostgreSQL and Redis processes (Qdrant embedded).
Every JSON output is validated against its schema in ``assets/schemas``.
"""

from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import jsonschema
import pytest
from localdeploy import LocalDeployment

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
Cli = Callable[..., subprocess.CompletedProcess[str]]


def _schema(name: str) -> dict:
    return json.loads((ROOT / "assets" / "schemas" / name).read_text())


def _validate(document: dict, schema_file: str) -> None:
    schema = _schema(schema_file)
    jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    ).validate(document)


def _status(cli: Cli, deployment: LocalDeployment) -> dict:
    result = cli("status", "--profile", str(deployment.profile_path), "--output", "json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    _validate(document, "status.v1.schema.json")
    return {service["service"]: service for service in document["services"]}


# --- the whole cycle ------------------------------------------------------------


def test_up_check_down_twice_in_a_row(cli: Cli) -> None:
    with LocalDeployment(name="cycle") as deployment:
        profile = str(deployment.profile_path)
        for round_number in (1, 2):
            up = cli("up", "--yes", "--profile", profile)
            assert up.returncode == 0, up.stderr
            assert "[postgres]" in up.stderr and "[redis]" in up.stderr  # progress on stderr
            assert "healthy" in up.stdout  # the resulting status on stdout
            # up creates the profile's Qdrant collections (the spec's deployment step 3)
            # once; the second round finds them kept with the rest of the data.
            created = "created collection general-knowledge" in up.stderr
            assert created == (round_number == 1), up.stderr
            check = cli("check", "--profile", profile)
            assert check.returncode == 0, check.stdout + check.stderr
            assert check.stdout.startswith("ALFRED OK")
            services = _status(cli, deployment)
            assert all(s["ready"] == 1 for s in services.values()), services

            down = cli("down", "--yes", "--profile", profile)
            assert down.returncode == 0, down.stderr
            assert "stopped" in down.stdout
            services = _status(cli, deployment)
            assert all(s["ready"] == 0 and not s["instances"] for s in services.values())
            check = cli("check", "--profile", profile, "--service", "postgres")
            assert check.returncode == 2  # CRITICAL: it really is down


# --- one deployment for the rest ---------------------------------------------------


def test_status_json_validates_and_carries_capabilities(
    cli: Cli, local_deployment: LocalDeployment
) -> None:
    services = _status(cli, local_deployment)
    assert set(services) == {"postgres", "redis", "qdrant"}
    postgres = services["postgres"]
    assert postgres["instances"][0]["state"] == "running"
    assert postgres["instances"][0]["health"] == "healthy"
    assert postgres["endpoints"] == [f"127.0.0.1:{local_deployment.postgres_port}"]
    assert postgres["uptime_seconds"] > 0 and postgres["image"].startswith("PostgreSQL ")
    assert "scale" not in postgres["capabilities"] and "exec" in postgres["capabilities"]
    qdrant = services["qdrant"]
    assert qdrant["embedded"] and qdrant["image"].startswith("embedded")
    assert "snapshots" not in qdrant["capabilities"] and "metrics" not in qdrant["capabilities"]


def test_status_table_fits_a_terminal(cli: Cli, local_deployment: LocalDeployment) -> None:
    result = cli("status", "--profile", str(local_deployment.profile_path), env={"COLUMNS": "80"})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines)
    row = next(line for line in lines if line.startswith("postgres"))
    assert "healthy" in row and f"127.0.0.1:{local_deployment.postgres_port}" in row


def test_logs_tail_since_and_json(cli: Cli, local_deployment: LocalDeployment) -> None:
    profile = str(local_deployment.profile_path)
    tail = cli("logs", "--profile", profile, "--tail", "5")
    assert tail.returncode == 0, tail.stderr
    assert "db-postgres | " in tail.stdout and "redis | " in tail.stdout

    recent = cli("logs", "postgres", "--profile", profile, "--since", "1h", "-t")
    assert recent.returncode == 0 and "ready to accept connections" in recent.stdout
    assert all(line.startswith("20") for line in recent.stdout.splitlines())  # timestamps
    assert "redis | " not in recent.stdout

    as_json = cli("logs", "redis", "--profile", profile, "-n", "3", "--output", "json")
    assert as_json.returncode == 0, as_json.stderr
    records = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert len(records) == 3
    for record in records:
        _validate(record, "log-record.v1.schema.json")
        assert record["instance"] == "redis"

    bad = cli("logs", "--profile", profile, "--since", "yesterday-ish")
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
    embedded = cli("logs", "qdrant", "--profile", profile)
    assert embedded.returncode == 2
    assert embedded.stderr.strip() == "Not supported: the local backend cannot show logs for qdrant"


def test_logs_follow_prints_new_lines_as_they_come(local_deployment: LocalDeployment) -> None:
    executable = Path(sys.executable).parent / "alfred-tui"
    follower = subprocess.Popen(
        [
            str(executable),
            "logs",
            "redis",
            "-f",
            "--tail",
            "0",
            "--profile",
            str(local_deployment.profile_path),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # The follower starts at the end of the file: a line written before it got
        # there is rightly not shown. So save again each second until one is seen
        # (a slow start on a loaded machine then costs time, not the test).
        deadline = time.monotonic() + 30
        seen = ""
        next_save = time.monotonic() + 1.0
        while time.monotonic() < deadline and "Background saving started" not in seen:
            if time.monotonic() >= next_save:
                subprocess.run(
                    ["redis-cli", "-p", str(local_deployment.redis_port), "BGSAVE"],
                    check=True,
                    capture_output=True,
                    timeout=10,
                )
                next_save = time.monotonic() + 1.0
            ready, _, _ = select.select([follower.stdout], [], [], 0.2)
            if ready:
                seen += follower.stdout.readline()  # type: ignore[union-attr]
        assert "Background saving started" in seen, seen
        assert seen.startswith("redis | ")
    finally:
        follower.terminate()
        follower.wait(10)


def test_scale_and_resize_are_refused_with_one_line(
    cli: Cli, local_deployment: LocalDeployment
) -> None:
    profile = str(local_deployment.profile_path)
    scale = cli("scale", "redis", "2", "--profile", profile)
    assert scale.returncode == 2
    assert scale.stderr.strip() == "Not supported: the local backend cannot scale for redis"
    zero = cli("scale", "redis", "0", "--profile", profile)  # refused before asking anything
    assert zero.returncode == 2 and "cannot scale" in zero.stderr
    resize = cli("resize", "postgres", "--memory", "1G", "--profile", profile)
    assert resize.returncode == 2
    assert resize.stderr.strip() == "Not supported: the local backend cannot resize for postgres"
    nothing = cli("resize", "postgres", "--profile", profile)
    assert nothing.returncode == 2 and "--cpus, --memory" in nothing.stderr


def test_restart_brings_the_server_back(cli: Cli, local_deployment: LocalDeployment) -> None:
    profile = str(local_deployment.profile_path)
    before = _status(cli, local_deployment)["redis"]["instances"][0]["detail"]
    result = cli("restart", "redis", "--yes", "--profile", profile)
    assert result.returncode == 0, result.stderr
    assert "stop redis" in result.stderr and "start redis" in result.stderr
    after = _status(cli, local_deployment)["redis"]
    assert after["ready"] == 1 and after["instances"][0]["detail"] != before


def test_changes_need_yes_and_are_refused_when_readonly(
    cli: Cli, local_deployment: LocalDeployment
) -> None:
    profile = str(local_deployment.profile_path)
    before = _status(cli, local_deployment)["redis"]["instances"][0]["detail"]
    for args in (("restart", "redis"), ("up",), ("down",)):
        asked = cli(*args, "--profile", profile, input="y\n")  # a pipe, not a terminal
        assert asked.returncode == 2, asked.stderr
        assert f"{' '.join(args)} on profile" in asked.stderr  # the plan came first
        assert asked.stderr.strip().splitlines()[-1].startswith("Confirmation needed:")
        refused = cli("--readonly", *args, "--yes", "--profile", profile)
        assert refused.returncode == 2
        assert refused.stderr.strip() == (
            f"Refused: read-only mode (--readonly): {' '.join(args)} is disabled"
        )
    assert _status(cli, local_deployment)["redis"]["instances"][0]["detail"] == before


def test_down_volumes_refuses_without_yes_when_stdin_is_not_a_terminal(
    cli: Cli, local_deployment: LocalDeployment
) -> None:
    result = cli("down", "--volumes", "--profile", str(local_deployment.profile_path), input="y\n")
    assert result.returncode == 2
    assert "remove db-postgres's data" in result.stderr  # it said exactly what it would do
    assert result.stderr.strip().splitlines()[-1].startswith("Confirmation needed:")
    assert "--yes" in result.stderr
    services = _status(cli, local_deployment)
    assert services["postgres"]["ready"] == 1 and services["redis"]["ready"] == 1
    assert not (local_deployment.data_dir / "safety").exists()


# --- destructive and failing paths on their own deployments ----------------------------


def test_down_volumes_with_yes_keeps_a_safety_copy(cli: Cli) -> None:
    with LocalDeployment(name="wipe") as deployment:
        profile = str(deployment.profile_path)
        assert cli("up", "redis", "--yes", "--profile", profile).returncode == 0
        subprocess.run(
            ["redis-cli", "-p", str(deployment.redis_port), "SET", "precious", "1"],
            check=True,
            capture_output=True,
        )
        result = cli("down", "--volumes", "--yes", "--profile", profile)
        assert result.returncode == 0, result.stderr
        line = next(x for x in result.stdout.splitlines() if x.startswith("safety copy kept in "))
        safety = Path(line.removeprefix("safety copy kept in ").split(" (")[0])
        assert safety.parent == deployment.data_dir / "safety"
        assert (safety / "redis" / "redis.conf").exists()
        assert (safety / "redis" / "data" / "appendonlydir").is_dir()
        assert not (deployment.data_dir / "redis").exists()
        # a fresh up starts empty; the old data stays in the safety copy
        assert cli("up", "redis", "--yes", "--profile", profile).returncode == 0
        fresh = subprocess.run(
            ["redis-cli", "-p", str(deployment.redis_port), "EXISTS", "precious"],
            check=True,
            capture_output=True,
            text=True,
        )
        assert fresh.stdout.strip() == "0"


def test_up_on_a_taken_port_is_one_line_naming_it(cli: Cli) -> None:
    with LocalDeployment(name="clash") as deployment, socket.socket() as squatter:
        squatter.bind(("127.0.0.1", deployment.postgres_port))
        squatter.listen()
        result = cli("up", "postgres", "--yes", "--profile", str(deployment.profile_path))
        assert result.returncode == 2
        last = result.stderr.strip().splitlines()[-1]
        assert last.startswith(f"Port in use: port {deployment.postgres_port} on 127.0.0.1")
        assert "Traceback" not in result.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="only root hands PostgreSQL to another user")
def test_up_in_a_folder_postgres_cannot_enter_says_what_to_do(cli: Cli, tmp_path: Path) -> None:
    deployment = LocalDeployment(base=tmp_path, name="hidden")  # pytest's tmp_path is 0700
    result = cli("up", "postgres", "--yes", "--profile", str(deployment.profile_path))
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("Data dir not reachable: PostgreSQL runs as the 'postgres' user")
    assert "ALFRED_TUI_DATA_DIR" in last
