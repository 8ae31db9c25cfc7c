"""Kubernetes manifests and the Compose file rendered from every built-in profile.

Every object is validated strictly (unknown fields are errors) against the
official OpenAPI-derived schemas of Kubernetes 1.28 through 1.32 shipped by
kubernetes-validate, and the Compose file against the Compose Specification's
JSON schema shipped by check-jsonschema. The other tests pin down what the
spec asks of the objects: replication settings, Qdrant's cluster env,
credentials only through secretKeyRef, resources, probes, NetworkPolicies.
"""

from __future__ import annotations

import base64
import json
from importlib import resources
from typing import Any

import kubernetes_validate
import pytest
import yaml

from alfred_tui.backends.docker.compose_file import render_compose
from alfred_tui.backends.docker.compose_file import to_yaml as compose_yaml
from alfred_tui.backends.kubernetes import names
from alfred_tui.backends.kubernetes.manifests import ManifestBuilder, render_manifests, to_yaml
from alfred_tui.config.loader import load_profile

KUBERNETES_VERSIONS = ["1.28.0", "1.29.0", "1.30.0", "1.31.0", "1.32.0"]
BUILT_IN = ["base", "dev", "local", "prod"]
PROD_ENV = {
    "DB_USER": "alfred_admin",
    "DB_PASSWORD": "prod-pass-9d1e7c",
    "DB_NAME": "alfred",
    "DB_JWT_SECRET": "prod-jwt-51f0aa",
    "DB_JWT_EXP": "3600",
}
PROD_SECRETS = ("prod-pass-9d1e7c", "prod-jwt-51f0aa")


def _profile(name: str):  # type: ignore[no-untyped-def]
    return load_profile(name, environ=PROD_ENV).profile


def _by(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    for obj in objects:
        if obj["kind"] == kind and obj["metadata"]["name"] == name:
            return obj
    raise AssertionError(f"no {kind} {name} in {[o['metadata']['name'] for o in objects]}")


def _container(sts: dict[str, Any]) -> dict[str, Any]:
    return sts["spec"]["template"]["spec"]["containers"][0]


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("profile_name", BUILT_IN)
@pytest.mark.parametrize("secrets", ["values", "references", "omit"])
def test_every_manifest_validates_strictly(profile_name: str, version: str, secrets: str) -> None:
    objects = render_manifests(_profile(profile_name), secrets=secrets)  # type: ignore[arg-type]
    kinds = {obj["kind"] for obj in objects}
    assert {"Namespace", "ConfigMap", "Service", "StatefulSet", "NetworkPolicy"} <= kinds
    assert ("Secret" in kinds) == (secrets != "omit")
    for obj in objects:
        # raises ValidationError (unknown field, wrong type, missing field) on any problem
        validated = kubernetes_validate.validate(obj, version, strict=True)
        assert validated == version.rsplit(".", 1)[0]  # that version's schema, no fallback


def test_strict_validation_catches_an_unknown_field() -> None:
    """The validation above is not vacuous: a misspelt field fails it."""
    objects = render_manifests(_profile("dev"))
    sts = _by(objects, "StatefulSet", "redis")
    sts["spec"]["template"]["spec"]["containers"][0]["resource"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(sts, "1.30.0", strict=True)


def test_rendered_yaml_round_trips_to_the_same_objects() -> None:
    objects = render_manifests(_profile("prod"))
    assert list(yaml.safe_load_all(to_yaml(objects))) == objects


def test_postgres_primary_and_replicas_follow_the_spec() -> None:
    objects = render_manifests(_profile("prod"))
    primary = _by(objects, "StatefulSet", "postgres-primary")
    args = _container(primary)["args"]
    for setting in (
        "wal_level=logical",
        "max_wal_senders=10",
        "max_replication_slots=10",
        "wal_keep_size=512MB",
    ):
        assert setting in args
    assert primary["spec"]["serviceName"] == "postgres-primary"
    assert primary["spec"]["replicas"] == 1

    replica = _by(objects, "StatefulSet", "postgres-replica")
    replica_args = _container(replica)["args"]
    assert "hot_standby=on" in replica_args
    conninfo = next(arg for arg in replica_args if arg.startswith("primary_conninfo="))
    assert "host=postgres-primary" in conninfo and "password" not in conninfo
    assert "max_connections=1000" in replica_args  # a standby needs at least the primary's
    assert replica["spec"]["replicas"] == 0
    clone = replica["spec"]["template"]["spec"]["initContainers"][0]
    assert "pg_basebackup" in clone["command"][-1]
    assert "standby.signal" in clone["command"][-1]
    _by(objects, "Service", "postgres-primary")  # what primary_conninfo resolves


def test_postgres_replicas_count_includes_the_primary(write_profile) -> None:  # type: ignore[no-untyped-def]
    path = write_profile("extends: dev\nservices:\n  postgres:\n    replicas: 3\n")
    objects = render_manifests(load_profile(str(path)).profile)
    assert _by(objects, "StatefulSet", "postgres-primary")["spec"]["replicas"] == 1
    assert _by(objects, "StatefulSet", "postgres-replica")["spec"]["replicas"] == 2


def test_qdrant_runs_in_cluster_mode_with_the_spec_peer_url() -> None:
    objects = render_manifests(_profile("dev"), namespace="team-a")
    sts = _by(objects, "StatefulSet", "qdrant")
    env = {e["name"]: e.get("value") for e in _container(sts)["env"]}
    assert env["QDRANT_CLUSTER_ENABLED"] == "true"
    assert env["QDRANT__CLUSTER__ENABLED"] == "true"
    assert env["QDRANT_CLUSTER_URL"] == "http://qdrant-0.qdrant.team-a.svc.cluster.local:6335"
    assert sts["spec"]["serviceName"] == "qdrant"
    assert _by(objects, "Service", "qdrant")["spec"]["clusterIP"] == "None"
    assert {p["containerPort"] for p in _container(sts)["ports"]} == {6333, 6334, 6335}
    assert all(obj["metadata"].get("namespace", "team-a") == "team-a" for obj in objects)
    assert _by(objects, "Namespace", "team-a")


def test_credentials_reach_containers_only_through_secret_key_refs() -> None:
    profile = _profile("prod")
    objects = render_manifests(profile, secrets="values")
    secret = _by(objects, "Secret", names.SECRET_NAME)
    assert set(secret["data"]) == {"db-user", "db-password", "db-name", "db-jwt-secret"}
    assert base64.b64decode(secret["data"]["db-password"]).decode() == PROD_ENV["DB_PASSWORD"]
    secret_envs = {"POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB", "JWT_SECRET", "PGPASSWORD"}
    seen = set()
    for obj in objects:
        if obj["kind"] != "StatefulSet":
            continue
        pod = obj["spec"]["template"]["spec"]
        for container in pod["containers"] + pod.get("initContainers", []):
            for entry in container.get("env", []):
                if entry["name"] in secret_envs:
                    seen.add(entry["name"])
                    assert "value" not in entry, (obj["metadata"]["name"], entry)
                    ref = entry["valueFrom"]["secretKeyRef"]
                    assert ref["name"] == names.SECRET_NAME and ref["key"] in secret["data"]
    assert seen == secret_envs
    without_secret = [o for o in objects if o["kind"] != "Secret"]
    text = json.dumps(without_secret)
    for value in PROD_SECRETS:
        assert value not in text


@pytest.mark.parametrize("mode", ["references", "omit"])
def test_printable_modes_hold_no_secret_value(mode: str) -> None:
    text = to_yaml(render_manifests(_profile("prod"), secrets=mode))  # type: ignore[arg-type]
    for value in PROD_SECRETS:
        assert value not in text
        assert base64.b64encode(value.encode()).decode() not in text
    if mode == "references":
        assert "db-password: ${DB_PASSWORD}" in text


def test_redis_password_and_qdrant_api_key_stay_secret(write_profile) -> None:  # type: ignore[no-untyped-def]
    path = write_profile(
        """
        extends: dev
        services:
          redis:
            password: redis-pw-77aa
          qdrant:
            api_key: qdrant-key-88bb
        """
    )
    profile = load_profile(str(path)).profile
    objects = render_manifests(profile, secrets="references")
    text = to_yaml(objects)
    assert "redis-pw-77aa" not in text and "qdrant-key-88bb" not in text
    redis = _container(_by(objects, "StatefulSet", "redis"))
    assert "requirepass" in redis["command"][2] and "redis-pw-77aa" not in redis["command"][2]
    refs = {
        e["name"]: e["valueFrom"]["secretKeyRef"]["key"]
        for e in redis["env"]
        if "secretKeyRef" in e.get("valueFrom", {})
    }
    assert refs == {"REDIS_PASSWORD": "redis-password", "REDISCLI_AUTH": "redis-password"}
    qdrant = _container(_by(objects, "StatefulSet", "qdrant"))
    key_env = next(e for e in qdrant["env"] if e["name"] == "QDRANT__SERVICE__API_KEY")
    assert key_env["valueFrom"]["secretKeyRef"]["key"] == "qdrant-api-key"
    for obj in objects:
        kubernetes_validate.validate(obj, "1.32.0", strict=True)
    compose = compose_yaml(render_compose(profile))
    assert "redis-pw-77aa" not in compose and "qdrant-key-88bb" not in compose
    assert "${REDIS_PASSWORD:?" in compose and "${QDRANT_API_KEY:?" in compose


def test_resources_are_requests_from_reservations_and_limits() -> None:
    objects = render_manifests(_profile("prod"))
    postgres = _container(_by(objects, "StatefulSet", "postgres-primary"))["resources"]
    assert postgres == {
        "requests": {"cpu": "1", "memory": "2Gi"},
        "limits": {"cpu": "2", "memory": "4Gi"},
    }
    redis = _container(_by(objects, "StatefulSet", "redis"))["resources"]
    assert redis["requests"] == {"cpu": "500m", "memory": "1Gi"}
    assert redis["limits"] == {"cpu": "1", "memory": "3Gi"}
    dev_redis = _container(_by(render_manifests(_profile("dev")), "StatefulSet", "redis"))
    assert "resources" not in dev_redis


def test_storage_comes_from_volume_claim_templates(write_profile) -> None:  # type: ignore[no-untyped-def]
    path = write_profile(
        "extends: dev\nservices:\n  redis:\n    storage: {size: 25Gi, storage_class: fast-ssd}\n"
    )
    objects = render_manifests(load_profile(str(path)).profile)
    redis = _by(objects, "StatefulSet", "redis")
    (claim,) = redis["spec"]["volumeClaimTemplates"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "25Gi"
    assert claim["spec"]["storageClassName"] == "fast-ssd"
    assert _container(redis)["volumeMounts"][0] == {"name": "data", "mountPath": "/data"}
    assert redis["spec"]["persistentVolumeClaimRetentionPolicy"]["whenDeleted"] == "Retain"
    postgres = _by(objects, "StatefulSet", "postgres-primary")
    claim = postgres["spec"]["volumeClaimTemplates"][0]
    assert claim["spec"]["resources"]["requests"]["storage"] == "10Gi"
    assert "storageClassName" not in claim["spec"]


def test_probes_are_the_spec_health_checks() -> None:
    objects = render_manifests(_profile("prod"))
    postgres = _container(_by(objects, "StatefulSet", "postgres-primary"))
    assert "pg_isready" in postgres["livenessProbe"]["exec"]["command"][-1]
    assert postgres["readinessProbe"]["periodSeconds"] == 5
    assert postgres["readinessProbe"]["failureThreshold"] == 10
    redis = _container(_by(objects, "StatefulSet", "redis"))
    assert "redis-cli -p 6379 ping" in redis["readinessProbe"]["exec"]["command"][-1]
    assert redis["livenessProbe"]["periodSeconds"] == 10
    qdrant = _container(_by(objects, "StatefulSet", "qdrant"))
    assert qdrant["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert qdrant["startupProbe"]["failureThreshold"] * 10 >= 300


def test_network_policies_admit_only_the_platform() -> None:
    objects = render_manifests(_profile("prod"))
    expected = {"postgres": [5432], "redis": [6379], "qdrant": [6333, 6334]}
    for kind, ports in expected.items():
        policy = _by(objects, "NetworkPolicy", names.network_policy(kind))  # type: ignore[arg-type]
        spec = policy["spec"]
        assert spec["policyTypes"] == ["Ingress"]
        platform = spec["ingress"][0]
        assert platform["from"] == [{"podSelector": {"matchLabels": {"app": "alfred-platform"}}}]
        assert [p["port"] for p in platform["ports"]] == ports
        for rule in spec["ingress"][1:]:  # only the database's own peers besides the platform
            assert (
                rule["from"][0]["podSelector"]["matchLabels"] == spec["podSelector"]["matchLabels"]
            )
    assert _by(objects, "NetworkPolicy", "postgres-network-policy")["spec"]["podSelector"] == {
        "matchLabels": {"app": "db-postgres"}
    }


def test_labels_and_selectors_are_consistent() -> None:
    objects = render_manifests(_profile("prod"))
    statefulsets = [o for o in objects if o["kind"] == "StatefulSet"]
    for obj in objects:
        assert obj["metadata"]["labels"][names.MANAGED_BY] == "alfred-tui"
        assert obj["metadata"]["labels"]["app.kubernetes.io/part-of"] == "alfred-platform"
    for sts in statefulsets:
        selector = sts["spec"]["selector"]["matchLabels"]
        template = sts["spec"]["template"]["metadata"]["labels"]
        assert selector.items() <= template.items()
        assert template["app"] in ("db-postgres", "redis", "vector-db")
    for service in (o for o in objects if o["kind"] == "Service"):
        selector = dict(service["spec"]["selector"])
        pod = selector.pop(names.POD_NAME_LABEL, None)  # set on each pod by the controller
        matches = [
            s
            for s in statefulsets
            if selector.items() <= s["spec"]["template"]["metadata"]["labels"].items()
            and (pod is None or pod.startswith(f"{s['metadata']['name']}-"))
        ]
        assert matches, service["metadata"]["name"]
    redis = _by(objects, "Service", "redis")["spec"]["selector"]
    assert redis[names.POD_NAME_LABEL] == "redis-0"  # writes go to the master only
    for name in ("db-postgres", "db-postgres-replicas", "redis", "vector-db"):
        assert _by(objects, "Service", name)["spec"]["type"] == "ClusterIP"


def test_only_chosen_services_are_built() -> None:
    objects = ManifestBuilder(_profile("dev")).build(services=["redis"])
    assert {o["metadata"]["name"] for o in objects if o["kind"] == "StatefulSet"} == {"redis"}


# --- Compose ---------------------------------------------------------------------------


def _compose_schema() -> dict[str, Any]:
    vendor = resources.files("check_jsonschema.builtin_schemas.vendor")
    return json.loads((vendor / "compose-spec.json").read_text())


@pytest.mark.parametrize("profile_name", BUILT_IN)
def test_compose_file_validates_against_the_compose_spec(profile_name: str) -> None:
    import jsonschema

    schema = _compose_schema()
    document = yaml.safe_load(compose_yaml(render_compose(_profile(profile_name))))
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]
    assert errors == []
    assert set(document["services"]) == {"db-postgres", "redis", "vector-db"}


def test_compose_schema_check_is_not_vacuous() -> None:
    import jsonschema

    schema = _compose_schema()
    document = render_compose(_profile("dev"))
    document["services"]["redis"]["healthcheck"]["retires"] = 3
    assert list(jsonschema.validators.validator_for(schema)(schema).iter_errors(document))


def test_compose_file_has_the_platform_shape() -> None:
    document = render_compose(_profile("prod"))
    postgres = document["services"]["db-postgres"]
    assert postgres["volumes"] == ["db-postgres-data:/var/lib/postgresql/data"]
    assert postgres["deploy"]["resources"] == {
        "limits": {"cpus": "2", "memory": "4G"},
        "reservations": {"cpus": "1", "memory": "2G"},
    }
    assert postgres["environment"]["POSTGRES_PASSWORD"].startswith("${DB_PASSWORD:?")
    assert postgres["environment"]["JWT_SECRET"].startswith("${DB_JWT_SECRET:?")
    assert postgres["ports"] == ["127.0.0.1:5432:5432"]
    assert postgres["healthcheck"]["test"][:2] == ["CMD", "pg_isready"]
    assert document["services"]["redis"]["deploy"]["resources"]["limits"]["cpus"] == "1"
    assert set(document["volumes"]) == {"db-postgres-data", "redis-data", "vector-db-data"}
    assert document["networks"] == {"alfred-network": {"name": "alfred-network"}}
    text = compose_yaml(document)
    for value in PROD_SECRETS:
        assert value not in text


# --- the CLI ---------------------------------------------------------------------------


def test_render_kubernetes_cli_prints_valid_yaml_and_no_secret(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("render", "--target", "kubernetes", "--profile", "prod", env=PROD_ENV)
    assert result.returncode == 0, result.stderr
    documents = list(yaml.safe_load_all(result.stdout))
    assert "Secret" not in {d["kind"] for d in documents}
    for document in documents:
        kubernetes_validate.validate(document, "1.31.0", strict=True)
    assert "kubectl create secret generic database-credentials" in result.stderr
    for value in PROD_SECRETS:
        assert value not in result.stdout + result.stderr


def test_render_cli_secret_references_and_namespace(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli(
        "render", "-t", "kubernetes", "-p", "prod", "--secret", "references",
        "--namespace", "ops", env=PROD_ENV,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    documents = list(yaml.safe_load_all(result.stdout))
    secret = next(d for d in documents if d["kind"] == "Secret")
    assert secret["stringData"]["db-password"] == "${DB_PASSWORD}"
    assert {d["metadata"].get("namespace", "ops") for d in documents} == {"ops"}


def test_render_compose_cli(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("render", "--target", "compose", "--profile", "prod", env=PROD_ENV)
    assert result.returncode == 0, result.stderr
    document = yaml.safe_load(result.stdout)
    assert document["services"]["db-postgres"]["image"] == "supabase/postgres:15.1.0.117"
    for value in PROD_SECRETS:
        assert value not in result.stdout


def test_render_cli_errors_are_one_line_per_problem(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("render", "--target", "kubernetes", "--profile", "prod")
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert lines and all(line.startswith("Profile error: profiles/prod.yaml:") for line in lines)
    assert "Traceback" not in result.stderr
    bad = cli("render", "--target", "helm")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
