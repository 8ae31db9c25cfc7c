"""The security audit: a deliberately weak setup has every planted weakness found, a clean one none.

Live checks run against real servers configured to match: a PostgreSQL with
``trust`` lines in pg_hba.conf and ssl off against one with a certificate
and scram only; a Redis with protected mode off and no password against one
with ``requirepass``. Kubernetes checks read manifest files written here.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from servers import PgServer, RedisServer, free_port, postgres_server, redis_server

REDIS_PASSWORD = "r3dis-audit-password-91f2"
JWT_SECRET = "a-long-random-jwt-secret-for-tests-7d1e"


@pytest.fixture(scope="module")
def weak_pg() -> Iterator[PgServer]:
    """ssl off, and pg_hba.conf with a trust line for a network and one for the socket."""
    with postgres_server() as server:
        with open(server.data_dir / "pg_hba.conf", "a") as hba:
            hba.write("host all all 10.0.0.0/8 trust\nlocal all all trust\n")
        yield server


@pytest.fixture(scope="module")
def clean_pg() -> Iterator[PgServer]:
    """ssl on with a self-signed certificate; scram everywhere (initdb --auth)."""
    folder = Path(tempfile.mkdtemp(prefix="alfred-pg-tls-"))
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-keyout",
            str(folder / "server.key"),
            "-out",
            str(folder / "server.crt"),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    (folder / "server.key").chmod(0o600)
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        for path in (folder, folder / "server.key", folder / "server.crt"):
            os.chown(path, owner.pw_uid, owner.pw_gid)
    settings = {
        "ssl": "on",
        "ssl_cert_file": str(folder / "server.crt"),
        "ssl_key_file": str(folder / "server.key"),
    }
    try:
        with postgres_server(settings) as server:
            yield server
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def weak_redis() -> Iterator[RedisServer]:
    with redis_server("--protected-mode", "no") as server:
        yield server


@pytest.fixture(scope="module")
def clean_redis() -> Iterator[RedisServer]:
    with redis_server("--requirepass", REDIS_PASSWORD) as server:
        yield server


def weak_profile(pg: PgServer, redis: RedisServer) -> str:
    return textwrap.dedent(
        f"""\
        extends: local
        policy: production
        services:
          postgres:
            image: supabase/postgres:latest
            ports: ["0.0.0.0:{pg.port}:5432"]
            environment:
              POSTGRES_PASSWORD: {pg.password}
              JWT_SECRET: your-super-secret-jwt-token
              SERVICE_API_TOKEN: ""
              POSTGRES_HOST_AUTH_METHOD: trust
          redis:
            ports: ["0.0.0.0:{redis.port}:6379"]
            command: [redis-server, --appendonly, "yes", --protected-mode, "no"]
          qdrant:
            image: qdrant/qdrant
        """
    )


def clean_profile(pg: PgServer, redis: RedisServer) -> str:
    return textwrap.dedent(
        f"""\
        extends: local
        policy: production
        services:
          postgres:
            ports: ["127.0.0.1:{pg.port}:5432"]
            environment:
              POSTGRES_PASSWORD: {pg.password}
              JWT_SECRET: {JWT_SECRET}
            command: [postgres, -c, ssl=on, -c, ssl_cert_file=/certs/server.crt,
                      -c, ssl_key_file=/certs/server.key]
            resources: {{limits: {{cpus: 2, memory: 4G}}}}
          redis:
            ports: ["127.0.0.1:{redis.port}:6379"]
            password: {REDIS_PASSWORD}
            command: [redis-server, --appendonly, "yes"]
            resources: {{limits: {{cpus: 1, memory: 3G}}}}
          qdrant:
            api_key: a-qdrant-api-key-for-tests-5b2c
            resources: {{limits: {{cpus: 2, memory: 4G}}}}
        """
    )


WEAK_MANIFESTS = """\
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: postgres-primary, namespace: alfred-platform}
spec:
  selector: {matchLabels: {app: db-postgres}}
  template:
    metadata: {labels: {app: db-postgres}}
    spec:
      containers:
        - name: postgres
          image: supabase/postgres:15.1.0.117
          ports: [{containerPort: 5432}]
          env:
            - {name: POSTGRES_USER, value: postgres}
            - {name: POSTGRES_PASSWORD, value: hunter2-in-plain-sight}
---
apiVersion: v1
kind: Secret
metadata: {name: database-credentials, namespace: alfred-platform}
type: Opaque
data:
  db-user: cG9zdGdyZXM=
  db-password: eW91ci1zdXBlci1zZWNyZXQtcGFzc3dvcmQ=
---
apiVersion: v1
kind: ConfigMap
metadata: {name: agent-settings, namespace: alfred-platform}
data:
  DB_PASSWORD: not-here-please
"""

CLEAN_MANIFESTS = """\
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: postgres-primary, namespace: alfred-platform}
spec:
  selector: {matchLabels: {app: db-postgres}}
  template:
    metadata: {labels: {app: db-postgres}}
    spec:
      containers:
        - name: postgres
          image: supabase/postgres:15.1.0.117
          ports: [{containerPort: 5432}]
          env:
            - {name: POSTGRES_USER, value: postgres}
            - name: POSTGRES_PASSWORD
              valueFrom: {secretKeyRef: {name: database-credentials, key: db-password}}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: postgres-network-policy, namespace: alfred-platform}
spec:
  podSelector: {matchLabels: {app: db-postgres}}
  ingress:
    - from: [{podSelector: {matchLabels: {app: alfred-platform}}}]
      ports: [{protocol: TCP, port: 5432}]
---
apiVersion: v1
kind: Secret
metadata: {name: database-credentials, namespace: alfred-platform}
type: Opaque
stringData: {db-password: "k3J9-long-random-value-from-a-vault"}
"""


def _audit(cli, profile: Path, *extra: str) -> tuple[int, dict, str]:  # type: ignore[no-untyped-def]
    result = cli("audit", "--profile", str(profile), "-o", "json", *extra)
    assert "Traceback" not in result.stderr
    return result.returncode, json.loads(result.stdout), result.stderr


def test_weak_setup_has_every_planted_weakness_found(
    cli, tmp_path: Path, weak_pg: PgServer, weak_redis: RedisServer, validate_schema
) -> None:
    profile = tmp_path / "weak.yaml"
    profile.write_text(weak_profile(weak_pg, weak_redis))
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    (manifests / "database.yaml").write_text(WEAK_MANIFESTS)

    code, report, stderr = _audit(cli, profile, "--manifests", str(manifests))
    validate_schema(report, "audit")
    assert code == 2, stderr
    assert report["status"] == "CRITICAL" and report["policy"] == "production"
    found = {(f["check"], f["source"], f["title"]) for f in report["findings"]}
    titles = "\n".join(f"{c} [{s}] {t}" for c, s, t in sorted(found))

    def has(check: str, source: str, *words: str) -> bool:
        return any(c == check and s == source and all(w in t for w in words) for c, s, t in found)

    planted = {
        "JWT_SECRET left at the spec's default": has("default-secret", "profile", "JWT_SECRET"),
        "empty SERVICE_API_TOKEN": has("empty-secret", "profile", "SERVICE_API_TOKEN"),
        "postgres port on 0.0.0.0": has("public-port", "profile", "postgres.ports[0]"),
        "redis port on 0.0.0.0": has("public-port", "profile", "redis.ports[0]"),
        "postgres image :latest": has("unpinned-image", "profile", "supabase/postgres:latest"),
        "qdrant image without tag": has("unpinned-image", "profile", "'qdrant/qdrant'"),
        "qdrant without api key": has("qdrant-api-key", "profile"),
        "redis without password (live)": has("redis-auth", "live", "without a password"),
        "redis protected-mode off (live)": has("redis-protected-mode", "live"),
        "postgres ssl off (live)": has("postgres-ssl", "live"),
        "POSTGRES_HOST_AUTH_METHOD trust": has("postgres-trust", "profile", "HOST_AUTH_METHOD"),
        "pg_hba host trust line (live)": has("postgres-trust", "live", "host", "10.0.0.0"),
        "pg_hba local trust line (live)": has("postgres-trust", "live", "local"),
        "no NetworkPolicy": has("k8s-network-policy", "manifests", "postgres-primary"),
        "password as plain env": has("k8s-plain-env", "manifests", "POSTGRES_PASSWORD"),
        "password in a ConfigMap": has("k8s-plain-env", "manifests", "ConfigMap"),
        "Secret with the spec's default": has("default-secret", "manifests", "db-password"),
    }
    missed = [name for name, ok in planted.items() if not ok]
    assert not missed, f"missed {missed}; found:\n{titles}"
    assert len(report["findings"]) == len(planted), titles

    by_title = {f["title"]: f for f in report["findings"]}
    jwt = next(f for f in report["findings"] if "JWT_SECRET" in f["title"])
    assert jwt["severity"] == "CRITICAL"
    assert jwt["where"].endswith("weak.yaml:9")
    assert "JWT_SECRET: ${DB_JWT_SECRET}" in jwt["fix_yaml"]
    local_trust = next(f for t, f in by_title.items() if "trusts local" in t)
    assert local_trust["severity"] == "WARNING"
    redis_auth = next(f for f in report["findings"] if f["check"] == "redis-auth")
    assert redis_auth["severity"] == "CRITICAL"  # no password and a public port
    assert "password: ${REDIS_PASSWORD}" in redis_auth["fix_yaml"]
    policy = next(f for f in report["findings"] if f["check"] == "k8s-network-policy")
    assert "kind: NetworkPolicy" in policy["fix_yaml"] and "port: 5432" in policy["fix_yaml"]
    # never a secret's value, not even a weak one
    text = json.dumps(report)
    assert "hunter2-in-plain-sight" not in text and weak_pg.password not in text
    assert "not-here-please" not in text

    table = cli("audit", "--profile", str(profile), "--manifests", str(manifests))
    assert table.returncode == 2
    assert table.stdout.startswith("AUDIT CRITICAL - ")
    assert "Why:" in table.stdout and "Fix:" in table.stdout and "Where:" in table.stdout


def test_clean_setup_has_no_finding(
    cli, tmp_path: Path, clean_pg: PgServer, clean_redis: RedisServer, validate_schema
) -> None:
    profile = tmp_path / "clean.yaml"
    profile.write_text(clean_profile(clean_pg, clean_redis))
    manifests = tmp_path / "clean-manifests.yaml"
    manifests.write_text(CLEAN_MANIFESTS)
    code, report, stderr = _audit(cli, profile, "--manifests", str(manifests))
    validate_schema(report, "audit")
    assert report["findings"] == [], json.dumps(report["findings"], indent=1)
    assert code == 0, stderr
    statuses = {c["id"]: (c["status"], c["source"]) for c in report["checks"]}
    assert statuses["redis-auth"] == ("passed", "live")
    assert statuses["postgres-ssl"] == ("passed", "live")
    assert statuses["postgres-trust"] == ("passed", "live")
    assert statuses["k8s-network-policy"] == ("passed", "manifests")
    assert {status for status, _ in statuses.values()} == {"passed"}


def test_unreachable_servers_leave_live_checks_unknown(cli, tmp_path: Path) -> None:
    text = textwrap.dedent(
        f"""\
        extends: local
        services:
          postgres:
            ports: ["127.0.0.1:{free_port()}:5432"]
            environment: {{POSTGRES_PASSWORD: a-long-password-123, JWT_SECRET: {JWT_SECRET}}}
            command: [postgres, -c, ssl=on]
          redis:
            ports: ["127.0.0.1:{free_port()}:6379"]
            password: {REDIS_PASSWORD}
          qdrant:
            api_key: a-qdrant-api-key-for-tests-5b2c
        """
    )
    profile = tmp_path / "down.yaml"
    profile.write_text(text)
    code, report, _ = _audit(cli, profile, "--timeout", "1")
    assert code == 3 and report["status"] == "UNKNOWN"
    unknown = {c["id"] for c in report["checks"] if c["status"] == "unknown"}
    assert unknown == {"redis-auth", "postgres-ssl", "postgres-trust"}
    offline_code, offline, _ = _audit(cli, profile, "--no-live")
    assert offline_code == 0 and offline["findings"] == []


def _renderer_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("alfred_tui.backends.kubernetes") is not None


def test_kubernetes_profile_without_manifests_renders_them_or_is_pending(
    cli, tmp_path: Path
) -> None:
    profile = tmp_path / "k8s.yaml"
    profile.write_text("extends: dev\nbackend: kubernetes\n")
    code, report, _ = _audit(cli, profile, "--no-live")
    assert code == 2  # dev's public ports and defaults, under a Kubernetes backend
    k8s = [c for c in report["checks"] if c["source"] == "manifests"]
    assert len(k8s) == 3
    if _renderer_available():
        assert {c["status"] for c in k8s} <= {"passed", "failed"}
    else:
        assert {c["status"] for c in k8s} == {"pending"}
        assert "--manifests" in k8s[0]["note"]


def test_rendered_manifests_keep_credentials_in_secrets_behind_network_policies() -> None:
    """What the Kubernetes renderer makes passes the audit's checks."""
    from alfred_tui.audit.manifest_checks import check_network_policies, check_plain_env
    from alfred_tui.audit.runner import rendered_manifests
    from alfred_tui.config.loader import load_profile

    environ = {
        "DB_USER": "alfred",
        "DB_PASSWORD": "x" * 24,
        "DB_NAME": "alfred",
        "DB_JWT_SECRET": "y" * 24,
        "DB_JWT_EXP": "3600",
    }
    loaded = load_profile("prod", environ=environ, enforce_policy=False)
    objects = rendered_manifests(loaded)
    assert objects
    assert check_network_policies(loaded, objects).findings == ()
    assert check_plain_env(loaded, objects).findings == ()


def test_bad_manifest_file_names_file_and_line(cli, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: Secret\nmetadata: {name: x\n")
    result = cli("audit", "--profile", "dev", "--no-live", "--manifests", str(bad))
    assert result.returncode == 3
    assert f"{bad}:" in result.stderr and "not valid YAML" in result.stderr
