"""Profiles: built-ins, extends, interpolation, policy, and errors that name file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from alfred_tui.config.interpolate import InterpolationError, interpolate_value
from alfred_tui.config.loader import load_profile
from alfred_tui.config.sources import list_profiles
from alfred_tui.errors import PolicyViolation, ProfileError

PROD_ENV = {
    "DB_USER": "alfred",
    "DB_PASSWORD": "a-real-password-123",
    "DB_NAME": "alfred",
    "DB_JWT_SECRET": "a-real-jwt-secret-456",
    "DB_JWT_EXP": "3600",
}


def test_builtin_profiles_carry_the_spec_defaults() -> None:
    dev = load_profile("dev").profile
    assert dev.postgres.image == "supabase/postgres:15.1.0.117"
    assert dev.redis.image == "redis:7-alpine"
    assert dev.qdrant.image == "qdrant/qdrant:v1.7.4"
    assert [p.compose() for p in dev.qdrant.ports] == ["6333:6333", "6334:6334"]
    assert dev.postgres.command_option("wal_level") == "logical"
    assert dev.postgres.command_option("max_connections") == "1000"
    assert dev.postgres.healthcheck.test[:2] == ["CMD", "pg_isready"]
    assert dev.redis.healthcheck.interval == 10 and dev.redis.healthcheck.start_period == 5
    assert [(d.db, d.prefix) for d in dev.redis_databases] == [
        (0, "alfred:cache:"),
        (1, "alfred:session:"),
        (2, "alfred:ratelimit:"),
        (3, "alfred:queue:"),
        (4, None),
    ]
    assert [(c.name, c.size, c.distance) for c in dev.qdrant_collections] == [
        (name, 1536, "Cosine")
        for name in (
            "general-knowledge",
            "financial-knowledge",
            "legal-knowledge",
            "social-knowledge",
        )
    ]
    connections = dev.metrics["postgres_connections"]
    assert (connections.normal.min, connections.normal.max, connections.alert.above) == (
        0,
        500,
        800,
    )
    # The spec's 13, then replication's four (thresholds justified in docs/replication.md).
    assert len(dev.metrics) == 17
    lag = dev.metrics["postgres_replication_lag_seconds"]
    assert (lag.normal.max, lag.alert.above) == (10, 60)
    assert dev.metrics["redis_master_link_up"].alert.below == 1


def test_prod_extends_base_with_the_spec_overrides() -> None:
    prod = load_profile("prod", environ=PROD_ENV).profile
    assert prod.policy == "production"
    assert prod.postgres.image == "supabase/postgres:15.1.0.117"  # inherited from base
    assert prod.postgres.user == "alfred"
    assert prod.postgres.password.get_secret_value() == "a-real-password-123"
    assert [p.compose() for p in prod.redis.ports] == ["127.0.0.1:6379:6379"]
    limits = prod.postgres.resources.limits
    assert (limits.cpus, limits.memory) == (2.0, 4 * 1024**3)
    assert prod.redis.appendonly
    assert prod.redis.command_option("maxmemory-policy") == "allkeys-lru"


def test_local_profile_uses_loopback_ports_and_local_backend() -> None:
    local = load_profile("local").profile
    assert local.backend == "local"
    for _kind, service in local.services.enabled():
        assert all(port.is_loopback for port in service.ports)
    assert local.postgres.primary_port.host_port == 55432


def test_prod_with_default_password_is_refused_listing_each_violation() -> None:
    env = {**PROD_ENV, "DB_PASSWORD": "your-super-secret-password", "DB_JWT_SECRET": ""}
    with pytest.raises(PolicyViolation) as caught:
        load_profile("prod", environ=env)
    problems = caught.value.problems
    assert len(problems) == 2
    assert "POSTGRES_PASSWORD" in problems[0] and "default secret" in problems[0]
    assert "prod.yaml:" in problems[0]
    assert "JWT_SECRET" in problems[1] and "empty" in problems[1]
    assert "your-super-secret-password" not in caught.value.one_line()


def test_production_policy_lists_ports_limits_and_appendonly(write_profile) -> None:
    path = write_profile(
        """
        extends: prod
        services:
          redis:
            ports: ["6379:6379"]
            command: ["redis-server"]
          qdrant:
            resources: {limits: {cpus: 1, memory: null}}
        """
    )
    with pytest.raises(PolicyViolation) as caught:
        load_profile(str(path), environ=PROD_ENV)
    text = "\n".join(caught.value.problems)
    assert "services.redis.ports[0]: binds 0.0.0.0:6379" in text
    assert "services.redis.command: Redis runs without '--appendonly yes'" in text
    assert "services.qdrant.resources.limits: no memory limit" in text
    assert len(caught.value.problems) == 3


def test_missing_variable_names_file_line_and_field(write_profile) -> None:
    path = write_profile(
        """
        extends: local
        services:
          redis:
            password: ${REDIS_PASSWORD_THAT_IS_UNSET}
        """
    )
    with pytest.raises(ProfileError) as caught:
        load_profile(str(path), environ={})
    message = caught.value.problems[0]
    assert message.startswith(f"{path}:5: services.redis.password:")
    assert "REDIS_PASSWORD_THAT_IS_UNSET is not set" in message


def test_unknown_field_and_wrong_type_name_their_lines(write_profile) -> None:
    path = write_profile(
        """
        extends: local
        services:
          postgres:
            replicaz: 2
          redis:
            replicas: many
        """
    )
    with pytest.raises(ProfileError) as caught:
        load_profile(str(path))
    problems = caught.value.problems
    assert f"{path}:5: services.postgres.replicaz: unknown field" in problems
    assert any(p.startswith(f"{path}:7: services.redis.replicas:") for p in problems)


def test_malformed_yaml_names_the_line_where_the_construct_starts(write_profile) -> None:
    path = write_profile("name: broken\nservices:\n  redis: [unclosed\n  qdrant: {}\n")
    with pytest.raises(ProfileError) as caught:
        load_profile(str(path))
    problem = caught.value.problems[0]
    assert problem.startswith(f"{path}:3: YAML syntax error"), problem
    assert problem.endswith("(the parser gave up at line 4)"), problem


def test_profile_that_is_not_text_names_the_line(write_profile) -> None:
    path = write_profile("name: binary\ndescription: ok\n")
    path.write_bytes(path.read_bytes() + b"logo: \x89PNG\r\n\x1a\n")
    with pytest.raises(ProfileError) as caught:
        load_profile(str(path))
    assert caught.value.problems == [
        f"{path}:3: not UTF-8 text (byte 0x89); a profile is a YAML text file"
    ]


def test_user_profile_found_by_name_in_profile_path_and_xdg(tmp_path: Path, monkeypatch) -> None:
    folder = tmp_path / "more-profiles"
    folder.mkdir()
    (folder / "staging.yaml").write_text("extends: dev\ndescription: staging box\n")
    monkeypatch.setenv("ALFRED_TUI_PROFILE_PATH", str(folder))
    loaded = load_profile("staging")
    assert loaded.profile.name == "staging" and loaded.source.origin == "path"
    assert loaded.profile.postgres.image == "supabase/postgres:15.1.0.117"

    import alfred_tui.paths as paths

    user_dir = paths.config_dir() / "profiles"
    user_dir.mkdir(parents=True)
    # A user profile may shadow a built-in and still extend it.
    (user_dir / "dev.yaml").write_text("extends: dev\ndescription: my dev\n")
    shadow = load_profile("dev")
    assert shadow.source.origin == "user" and shadow.profile.description == "my dev"
    assert shadow.profile.backend == "docker"
    names = [(s.name, s.origin) for s in list_profiles()]
    assert ("dev", "user") in names and ("dev", "built-in") in names


def test_unknown_profile_name_says_where_it_looked() -> None:
    with pytest.raises(ProfileError) as caught:
        load_profile("nope")
    assert "no profile named 'nope'" in caught.value.message
    assert "known profiles: base, dev, local, prod" in caught.value.message


@pytest.mark.parametrize(
    ("text", "env", "expected"),
    [
        ("${A}", {"A": "x"}, "x"),
        ("$A-$B", {"A": "1", "B": "2"}, "1-2"),
        ("${A:-d}", {"A": ""}, "d"),
        ("${A-d}", {"A": ""}, ""),
        ("${A-d}", {}, "d"),
        ("${A:+alt}", {"A": "set"}, "alt"),
        ("${A:+alt}", {"A": ""}, ""),
        ("${A+alt}", {"A": ""}, "alt"),
        ("$${A}", {}, "${A}"),
        ("${A:-${B:-deep}}", {}, "deep"),
        ("pre-${A:-x}-post", {}, "pre-x-post"),
    ],
)
def test_interpolation_follows_compose_rules(text: str, env: dict[str, str], expected: str) -> None:
    assert interpolate_value(text, env) == expected


@pytest.mark.parametrize(
    ("text", "env", "message"),
    [
        ("${A}", {}, "A is not set"),
        ("${A:?need A}", {"A": ""}, "need A"),
        ("${A?}", {}, "required variable A"),
        ("${A", {}, "unterminated"),
        ("${1A}", {}, "invalid variable name"),
    ],
)
def test_interpolation_errors(text: str, env: dict[str, str], message: str) -> None:
    with pytest.raises(InterpolationError, match=message):
        interpolate_value(text, env)


def test_secrets_are_masked_in_repr_and_show(cli) -> None:
    profile = load_profile("dev").profile
    assert "your-super-secret-password" not in repr(profile)
    result = cli("profiles", "show", "dev")
    assert result.returncode == 0, result.stderr
    assert "your-super-secret-password" not in result.stdout
    assert "POSTGRES_PASSWORD: '********'" in result.stdout
    assert "- 5432:5432" in result.stdout


def test_profiles_list_shows_builtins_and_why_prod_does_not_resolve(cli) -> None:
    result = cli("profiles", "list", "--output", "json", env={"DB_USER": ""})
    assert result.returncode == 0, result.stderr
    import json

    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert {"base", "dev", "local", "prod"} <= set(rows)
    assert rows["dev"]["status"] == "ok" and rows["dev"]["backend"] == "docker"
    assert "DB_PASSWORD is not set" in rows["prod"]["status"]


def test_profile_error_on_cli_is_one_line_exit_2(cli, write_profile) -> None:
    path = write_profile("services: {redis: {replicas: -1}}\n")
    result = cli("profiles", "show", str(path))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert f"{path}:1: services.redis.replicas:" in result.stderr
