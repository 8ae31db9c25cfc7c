"""What a profile's service becomes in Docker: names, labels, ports, resources (no engine)."""

from __future__ import annotations

from pathlib import Path

import pytest

from alfred_tui.backends.docker import spec
from alfred_tui.backends.docker.exec import aim_tool
from alfred_tui.backends.docker.scaling import resize_update
from alfred_tui.config.loader import load_profile


@pytest.fixture
def prod(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    for name, value in {
        "DB_USER": "alfred", "DB_PASSWORD": "a-real-secret-1", "DB_NAME": "alfred",
        "DB_JWT_SECRET": "a-real-jwt-secret", "DB_JWT_EXP": "3600",
    }.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    return load_profile("prod")


def test_compose_names_and_labels(prod) -> None:  # type: ignore[no-untyped-def]
    path = Path("/srv/alfred/prod.yaml")
    plan = spec.plan_container(
        prod.profile, "postgres", prod.profile.postgres, 1, project="alfred", profile_path=path,
        role="primary",
    )  # fmt: skip
    assert plan.name == "alfred-db-postgres-1"
    assert plan.network == "alfred_alfred-network"
    assert plan.aliases == ("db-postgres", "alfred-db-postgres-1")
    assert plan.binds == {
        "alfred_db-postgres-data": {"bind": "/var/lib/postgresql/data", "mode": "rw"}
    }
    assert plan.volumes == {"alfred_db-postgres-data": "db-postgres-data"}
    labels = plan.labels
    assert labels[spec.PROJECT] == "alfred" and labels[spec.SERVICE] == "db-postgres"
    assert labels[spec.NUMBER] == "1" and labels[spec.ONEOFF] == "False"
    assert labels[spec.CONFIG_FILES] == str(path) and labels[spec.WORKING_DIR] == "/srv/alfred"
    assert plan.restart_policy == {"Name": "unless-stopped", "MaximumRetryCount": 0}
    assert plan.healthcheck["interval"] == 5_000_000_000 and plan.healthcheck["retries"] == 10


def test_production_publishes_on_loopback_with_limits_and_reservations(prod) -> None:  # type: ignore[no-untyped-def]
    plan = spec.plan_container(
        prod.profile, "redis", prod.profile.redis, 1, project="alfred", profile_path=None
    )
    assert [(p.host_ip, p.host_port, p.container_port) for p in plan.ports] == [
        ("127.0.0.1", 6379, 6379)
    ]
    assert plan.resources.host_config() == {
        "nano_cpus": 1_000_000_000,
        "mem_limit": 3 * 1024**3,
        "mem_reservation": 1024**3,
        "cpu_shares": 512,  # 0.5 CPU reserved, as a weight (Docker has no CPU reservation)
    }
    assert plan.command[:3] == ["redis-server", "--appendonly", "yes"]


def test_replicas_get_ephemeral_ports_own_volumes_and_no_service_alias(prod) -> None:  # type: ignore[no-untyped-def]
    plan = spec.plan_container(
        prod.profile, "redis", prod.profile.redis, 2, project="alfred", profile_path=None,
        role="replica", extra_args=("--replicaof", "redis", "6379"),
    )  # fmt: skip
    assert plan.name == "alfred-redis-2"
    assert [(p.host_ip, p.host_port) for p in plan.ports] == [("127.0.0.1", None)]
    assert plan.volumes == {"alfred_redis-data-2": "redis-data-2"}
    assert "redis" not in plan.aliases
    assert plan.command[-3:] == ["--replicaof", "redis", "6379"]


def test_config_hash_changes_with_the_configuration(prod) -> None:  # type: ignore[no-untyped-def]
    def digest(**changes):  # type: ignore[no-untyped-def]
        service = prod.profile.postgres.model_copy(update=changes)
        plan = spec.plan_container(prod.profile, "postgres", service, 1, project="alfred",
                                   profile_path=None)  # fmt: skip
        return plan.labels[spec.CONFIG_HASH]

    assert digest() == digest()
    assert digest() != digest(image="postgres:16")


def test_resize_scales_reservations_with_limits() -> None:
    host = {"NanoCpus": 2_000_000_000, "CpuShares": 1024, "Memory": 4 * 1024**3,
            "MemoryReservation": 2 * 1024**3}  # fmt: skip
    update = resize_update(host, cpus=4, memory=8 * 1024**3)
    assert update == {
        "NanoCpus": 4_000_000_000,
        "CpuShares": 2048,
        "Memory": 8 * 1024**3,
        "MemorySwap": 16 * 1024**3,
        "MemoryReservation": 4 * 1024**3,
    }
    assert resize_update({}, cpus=None, memory=512 * 1024**2) == {
        "Memory": 512 * 1024**2, "MemorySwap": 1024**3,
    }  # fmt: skip


def test_project_names_follow_compose_rules() -> None:
    assert spec.project_name("Alfred.Platform") == "alfredplatform"
    with pytest.raises(ValueError):
        spec.project_name("--")


def test_database_tools_are_aimed_without_secrets_on_the_command_line(prod) -> None:  # type: ignore[no-untyped-def]
    argv, env = aim_tool("postgres", prod.profile.postgres, ["pg_dump", "-F", "c"])
    assert argv == ["pg_dump", "-F", "c"]
    assert env["PGPASSWORD"] == "a-real-secret-1" and env["PGUSER"] == "alfred"
    assert (env["PGHOST"], env["PGPORT"], env["PGDATABASE"]) == ("127.0.0.1", "5432", "alfred")
    argv, env = aim_tool("redis", prod.profile.redis, ["redis-cli", "PING"])
    assert argv == ["redis-cli", "-h", "127.0.0.1", "-p", "6379", "PING"] and env == {}
    assert aim_tool("redis", prod.profile.redis, ["sh", "-c", "id"]) == (["sh", "-c", "id"], {})
