"""The Kubernetes backend against the API-server **stand-in** (tests/kube_standin).

There is no Kubernetes cluster on these machines: everything here runs the
official client, unchanged, against kmock-based stand-in on loopback whose
StatefulSet controller creates pods and marks them ready. What that proves
and what it does not is written down in docs/kubernetes.md.
"""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import pytest

from alfred_tui.backends.base import Progress
from alfred_tui.backends.capabilities import Capability, supports
from alfred_tui.backends.kubernetes import names
from alfred_tui.backends.kubernetes.backend import KubernetesBackend
from alfred_tui.config.loader import load_profile

NS = "alfred-platform"
PROD_ENV = {
    "DB_USER": "alfred_admin",
    "DB_PASSWORD": "prod-pass-9d1e7c",
    "DB_NAME": "alfred",
    "DB_JWT_SECRET": "prod-jwt-51f0aa",
    "DB_JWT_EXP": "3600",
}


def backend_for(profile: str = "dev", **options: Any) -> KubernetesBackend:
    loaded = load_profile(profile, environ=PROD_ENV)
    options.setdefault("wait_timeout", 20)
    options.setdefault("poll_interval", 0.05)
    return KubernetesBackend(loaded, **options)


@pytest.fixture
async def deployed(k8s_kubeconfig, k8s_standin):  # type: ignore[no-untyped-def]
    backend = backend_for()
    await backend.deploy()
    try:
        yield backend
    finally:
        await backend.close()


def pod_uids(cluster: Any, app: str) -> dict[str, str]:
    return {
        p["metadata"]["name"]: p["metadata"]["uid"]
        for p in cluster.objects("pods", NS)
        if p["metadata"]["labels"].get("app") == app
    }


# --- deploy ----------------------------------------------------------------------------


async def test_deploy_server_side_applies_everything_and_waits_for_ready(
    k8s_kubeconfig, k8s_standin
) -> None:  # type: ignore[no-untyped-def]
    backend = backend_for()
    reports: list[Progress] = []
    try:
        await backend.deploy(progress=reports.append)
        statuses = {s.service: s for s in await backend.status()}
    finally:
        await backend.close()
    sts = {s["metadata"]["name"] for s in k8s_standin.objects("statefulsets", NS, "apps")}
    assert sts == {"postgres-primary", "postgres-replica", "redis", "qdrant"}
    services = {s["metadata"]["name"] for s in k8s_standin.objects("services", NS)}
    assert {"db-postgres", "redis", "vector-db", "postgres-primary", "qdrant"} <= services
    policies = k8s_standin.objects("networkpolicies", NS, "networking.k8s.io")
    assert len(policies) == 3
    applies = [
        r
        for r in k8s_standin.requests()
        if r.method.value == "PATCH" and r.subresource is None and r.resource is not None
    ]
    assert applies, "deploy sent no PATCH"
    for request in applies:
        assert request.headers["Content-Type"].startswith("application/apply-patch+yaml")
        assert request.params["fieldManager"] == "alfred-tui"
        assert request.params["force"] == "true"
    assert reports[0].step.startswith("apply Namespace/")
    assert reports[-1].step == "ready"
    for kind in ("postgres", "redis", "qdrant"):
        status = statuses[kind]
        assert (status.desired, status.ready) == (1, 1), status
        assert [i.state for i in status.instances] == ["running"]
        assert status.instances[0].health == "healthy"
    assert statuses["postgres"].instances[0].role == "primary"
    assert statuses["postgres"].endpoints == (f"db-postgres.{NS}.svc:5432",)
    assert statuses["redis"].image == "redis:7-alpine"


async def test_deploy_is_idempotent(deployed, k8s_standin) -> None:  # type: ignore[no-untyped-def]
    before = {
        s["metadata"]["name"]: s["metadata"]
        for s in k8s_standin.objects("statefulsets", NS, "apps")
    }
    uids = pod_uids(k8s_standin, "redis")
    await deployed.deploy()
    after = {
        s["metadata"]["name"]: s["metadata"]
        for s in k8s_standin.objects("statefulsets", NS, "apps")
    }
    for name, meta in before.items():
        assert after[name]["generation"] == meta["generation"] == 1
        assert after[name]["uid"] == meta["uid"]
    assert pod_uids(k8s_standin, "redis") == uids


async def test_credentials_live_only_in_the_secret(deployed, k8s_standin) -> None:  # type: ignore[no-untyped-def]
    secret = k8s_standin.find("secrets", NS, names.SECRET_NAME)
    assert base64.b64decode(secret["data"]["db-password"]).decode() == "your-super-secret-password"
    primary = k8s_standin.find("statefulsets", NS, "postgres-primary", "apps")
    env = primary["spec"]["template"]["spec"]["containers"][0]["env"]
    password = next(e for e in env if e["name"] == "POSTGRES_PASSWORD")
    assert password == {
        "name": "POSTGRES_PASSWORD",
        "valueFrom": {"secretKeyRef": {"name": "database-credentials", "key": "db-password"}},
    }


def test_capabilities_and_target(k8s_kubeconfig, k8s_standin) -> None:  # type: ignore[no-untyped-def]
    backend = backend_for()
    assert supports(backend, "redis", Capability.SCALE)
    assert supports(backend, "qdrant", Capability.SNAPSHOTS)
    assert not supports(backend, "postgres", Capability.SNAPSHOTS)
    info = backend.target()
    assert info.where == f"stand-in/{NS}"
    assert info.details["server"] == k8s_standin.url
    assert info.details["kubeconfig"] == str(k8s_kubeconfig)


def test_namespace_and_context_options_win_over_the_profile(
    k8s_standin, tmp_path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    path = k8s_standin.kubeconfig(tmp_path / "kc", context="bastion")
    monkeypatch.setenv("KUBECONFIG", str(path))
    backend = backend_for(context="bastion", namespace="team-a")
    assert backend.target().where == "bastion/team-a"


# --- status ----------------------------------------------------------------------------


async def test_status_shows_restarts_crash_loops_and_warnings(deployed, k8s_standin) -> None:  # type: ignore[no-untyped-def]
    k8s_standin.call(k8s_standin.kubelet.crash_pod, NS, "redis-0", "OOMKilled")
    await asyncio.sleep(0.3)
    redis = next(s for s in await deployed.status() if s.service == "redis")
    assert redis.restarts == 1
    assert redis.instances[0].detail == "last exit: OOMKilled (137)"
    assert redis.instances[0].state == "running"
    k8s_standin.call(k8s_standin.kubelet.fail_pod, NS, "qdrant-0")
    await asyncio.sleep(0.2)  # the StatefulSet controller updates readyReplicas
    qdrant = next(s for s in await deployed.status() if s.service == "qdrant")
    instance = qdrant.instances[0]
    assert (instance.state, instance.health) == ("restarting", "unhealthy")
    assert instance.detail.startswith("CrashLoopBackOff")
    assert qdrant.ready == 0
    assert qdrant.note.startswith("BackOff: Back-off restarting failed container")


async def test_status_of_a_namespace_with_nothing_deployed(k8s_kubeconfig, k8s_standin) -> None:  # type: ignore[no-untyped-def]
    backend = backend_for()
    try:
        statuses = await backend.status()
    finally:
        await backend.close()
    assert [s.service for s in statuses] == ["postgres", "redis", "qdrant"]
    assert all(not s.deployed and s.desired == 0 for s in statuses)
    assert statuses[0].note == f"not deployed (no StatefulSet postgres-primary in namespace {NS})"


async def test_redis_roles_come_from_the_failover_configmap_or_show_unknown(  # type: ignore[no-untyped-def]
    deployed, k8s_standin, tmp_path, monkeypatch
) -> None:
    """redis-0 is the master until ``redis-roles`` says otherwise; an account that may not
    read ConfigMaps sees no roles rather than redis-0's, and its status still works."""
    from kube_standin.rbac import Rule, User

    await deployed.scale("redis", 3)

    async def roles(backend: Any) -> dict[str, str]:
        redis = next(s for s in await backend.status() if s.service == "redis")
        return {instance.name: instance.role for instance in redis.instances}

    assert await roles(deployed) == {
        "redis-0": "primary",
        "redis-1": "replica",
        "redis-2": "replica",
    }
    await deployed.write_redis_roles({"primary": "redis-1", "fenced": "redis-0"})
    assert await roles(deployed) == {"redis-0": "", "redis-1": "primary", "redis-2": "replica"}
    reader = User(
        "no-configmaps",
        (Rule(frozenset({"get", "list", "watch"}), frozenset({"pods", "statefulsets", "events"}),
              namespaces=frozenset({NS})),),
    )  # fmt: skip
    monkeypatch.setenv("KUBECONFIG", str(k8s_standin.kubeconfig(tmp_path / "r", user=reader)))
    limited = backend_for()
    try:
        assert await roles(limited) == {"redis-0": "", "redis-1": "", "redis-2": ""}
    finally:
        await limited.close()


# --- scale, resize, restart ---------------------------------------------------------------


async def test_scale_goes_through_the_scale_subresource(deployed, k8s_standin) -> None:  # type: ignore[no-untyped-def]
    await deployed.scale("redis", 3)
    redis = next(s for s in await deployed.status() if s.service == "redis")
    assert (redis.desired, redis.ready) == (3, 3)
    assert [i.name for i in redis.instances] == ["redis-0", "redis-1", "redis-2"]
    scales = [r for r in k8s_standin.requests() if r.subresource == "scale"]
    assert scales and all(r.name == "redis" and r.method.value == "PATCH" for r in scales)
    await deployed.scale("redis", 1)
    assert sorted(pod_uids(k8s_standin, "redis")) == ["redis-0"]


async def test_scale_postgres_counts_the_primary(deployed, k8s_standin) -> None:  # type: ignore[no-untyped-def]
    await deployed.scale("postgres", 3)
    postgres = next(s for s in await deployed.status() if s.service == "postgres")
    assert (postgres.desired, postgres.ready) == (3, 3)
    assert [(i.name, i.role) for i in postgres.instances] == [
        ("postgres-primary-0", "primary"),
        ("postgres-replica-0", "replica"),
        ("postgres-replica-1", "replica"),
    ]
    await deployed.scale("postgres", 1)
    assert sorted(pod_uids(k8s_standin, "db-postgres")) == ["postgres-primary-0"]


async def test_resize_patches_limits_and_requests_follow(k8s_kubeconfig, k8s_standin) -> None:  # type: ignore[no-untyped-def]
    backend = backend_for("prod")
    try:
        await backend.deploy()
        before = pod_uids(k8s_standin, "redis")
        await backend.resize("redis", memory=6 * 1024**3)
        redis = next(s for s in await backend.status() if s.service == "redis")
    finally:
        await backend.close()
    sts = k8s_standin.find("statefulsets", NS, "redis", "apps")
    resources = sts["spec"]["template"]["spec"]["containers"][0]["resources"]
    assert resources["limits"] == {"cpu": "1", "memory": "6Gi"}
    assert resources["requests"] == {"cpu": "500m", "memory": "2Gi"}  # 1G of 3G -> 2G of 6G
    assert redis.limits.memory == 6 * 1024**3 and redis.reservations.memory == 2 * 1024**3
    assert pod_uids(k8s_standin, "redis").keys() == before.keys()
    assert pod_uids(k8s_standin, "redis") != before  # a StatefulSet rolls its pods


async def test_restart_sets_the_rollout_annotation(deployed, k8s_standin) -> None:  # type: ignore[no-untyped-def]
    before = pod_uids(k8s_standin, "redis")
    await deployed.restart("redis")
    sts = k8s_standin.find("statefulsets", NS, "redis", "apps")
    annotations = sts["spec"]["template"]["metadata"]["annotations"]
    assert names.RESTARTED_AT in annotations
    after = pod_uids(k8s_standin, "redis")
    assert after.keys() == before.keys() and after != before


async def test_usage_errors_are_clear(deployed) -> None:  # type: ignore[no-untyped-def]
    from alfred_tui.errors import UsageError

    with pytest.raises(UsageError, match="replicas must be 0 or more"):
        await deployed.scale("redis", -1)
    with pytest.raises(UsageError, match="needs --cpus or --memory"):
        await deployed.resize("redis")


# --- teardown -----------------------------------------------------------------------------


async def test_teardown_keeps_volumes_unless_asked(deployed, k8s_standin) -> None:  # type: ignore[no-untyped-def]
    claims = {c["metadata"]["name"] for c in k8s_standin.objects("persistentvolumeclaims", NS)}
    assert claims == {
        "data-postgres-primary-0",
        "data-redis-0",
        "data-qdrant-0",
    }
    await deployed.teardown()
    assert k8s_standin.objects("statefulsets", NS, "apps") == []
    assert k8s_standin.objects("pods", NS) == []
    assert k8s_standin.objects("services", NS) == []
    assert k8s_standin.objects("secrets", NS) == []
    kept = {c["metadata"]["name"] for c in k8s_standin.objects("persistentvolumeclaims", NS)}
    assert kept == claims
    assert k8s_standin.find("namespaces", None, NS) is not None
    await deployed.deploy()  # the same claims are bound again
    await deployed.teardown(remove_volumes=True)
    assert k8s_standin.objects("persistentvolumeclaims", NS) == []


def test_an_init_container_that_keeps_failing_is_what_status_shows() -> None:
    """As kubectl shows it (Init:CrashLoopBackOff), not the main container's PodInitializing."""
    from alfred_tui.backends.kubernetes.status import cannot_start, instance_of

    pod = {
        "metadata": {"name": "postgres-replica-0"},
        "status": {
            "phase": "Pending",
            "initContainerStatuses": [
                {
                    "name": "clone-primary",
                    "restartCount": 3,
                    "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s"}},
                    "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}},
                }
            ],
            "containerStatuses": [
                {"name": "postgres", "restartCount": 0,
                 "state": {"waiting": {"reason": "PodInitializing"}}}
            ],
        },
    }  # fmt: skip
    instance = instance_of(pod, "postgres")
    assert (instance.state, instance.health) == ("restarting", "unhealthy")
    assert instance.detail == "Init:CrashLoopBackOff: back-off 40s"
    assert instance.restarts == 3
    assert cannot_start(pod) is None  # a crash loop may end: up keeps waiting
    pod["status"]["initContainerStatuses"][0]["state"] = {
        "waiting": {"reason": "ImagePullBackOff", "message": 'Back-off pulling image "x:1"'}
    }
    assert cannot_start(pod) == 'ImagePullBackOff: Back-off pulling image "x:1"'
