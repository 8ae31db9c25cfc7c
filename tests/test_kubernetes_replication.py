"""Usage and failover on the Kubernetes backend, against the API-server **stand-in**.

There is no cluster and no metrics server here. Usage is read from
metrics.k8s.io as the backend would on a cluster: the stand-in does not serve
that API (as a cluster without a metrics server does not), and a test adds
the PodMetrics list a metrics server returns. Failover runs the real
procedure with real PostgreSQL servers behind the pods' port-forwards: each
pod of the stand-in reaches a server of its own on this machine (a primary
and two standbys made by ``pg_basebackup``), so promotion, the Service
selectors, the fenced StatefulSet and the endpoint following the new primary
are real; what only a cluster shows (the other standbys re-resolving the
``postgres-primary`` Service to the new pod) is reported, honestly, as "not
following" here.
"""

from __future__ import annotations

import kmock
import pytest
from replication_support import postgres_standby
from servers import postgres_server

from alfred_tui.backends.base import OperationFailed
from alfred_tui.backends.capabilities import Capability, supports
from alfred_tui.backends.kubernetes.backend import KubernetesBackend
from alfred_tui.backends.kubernetes.names import FAILED_OVER, POD_NAME_LABEL
from alfred_tui.backends.kubernetes.usage import NO_METRICS_SERVER
from alfred_tui.config.loader import load_profile
from alfred_tui.control.failover import execute_failover, plan_failover

NS = "alfred-platform"
METRICS = kmock.resource("metrics.k8s.io", "v1beta1", "pods")


def backend_for(profile: str = "dev") -> KubernetesBackend:
    return KubernetesBackend(load_profile(profile), wait_timeout=20, poll_interval=0.05)


async def test_usage_without_a_metrics_server_says_so(k8s_kubeconfig, k8s_standin) -> None:  # type: ignore[no-untyped-def]
    backend = backend_for()
    try:
        await backend.deploy()
        usage = await backend.usage()
    finally:
        await backend.close()
    assert {u.instance for u in usage} == {"postgres-primary-0", "redis-0", "qdrant-0"}
    for entry in usage:
        assert entry.cpu_percent is None and entry.memory is None  # never a fake zero
        assert entry.note == NO_METRICS_SERVER


@pytest.fixture
def prod_like(write_profile):  # type: ignore[no-untyped-def]
    """``dev`` with the spec's production limits for Redis (1 CPU, 3 GiB)."""
    return write_profile(
        """
        extends: dev
        services:
          redis:
            resources:
              limits: {cpus: "1", memory: 3G}
        """,
        name="prod-like",
    )


async def test_usage_from_metrics_k8s_io_against_the_pods_limits(  # type: ignore[no-untyped-def]
    k8s_kubeconfig, k8s_standin, prod_like
) -> None:
    items = [
        {
            "metadata": {"name": "postgres-primary-0", "namespace": NS},
            "timestamp": "2025-05-13T12:00:00Z",
            "window": "15s",
            "containers": [{"name": "postgres", "usage": {"cpu": "250m", "memory": "900Mi"}}],
        },
        {
            "metadata": {"name": "redis-0", "namespace": NS},
            "timestamp": "2025-05-13T12:00:00Z",
            "window": "15s",
            "containers": [{"name": "redis", "usage": {"cpu": "1500000n", "memory": "3Gi"}}],
        },
    ]
    k8s_standin.inject(
        lambda s: (
            s["list", METRICS]
            << {"kind": "PodMetricsList", "apiVersion": "metrics.k8s.io/v1beta1", "items": items}
        )
    )
    backend = backend_for(str(prod_like))
    try:
        await backend.deploy()
        usage = {u.instance: u for u in await backend.usage()}
    finally:
        await backend.close()
    postgres, redis = usage["postgres-primary-0"], usage["redis-0"]
    assert postgres.cpu_percent == pytest.approx(25.0)
    assert postgres.memory == 900 * 1024**2
    assert redis.cpu_percent == pytest.approx(0.15)
    assert redis.memory == 3 * 1024**3
    assert redis.memory_limit == 3 * 1024**3 and (redis.memory_of_limit or 0) > 0.9  # ⚑
    assert usage["qdrant-0"].note.startswith("the metrics server has no reading")


async def test_postgres_failover_points_the_services_at_the_promoted_pod(  # type: ignore[no-untyped-def]
    k8s_kubeconfig, k8s_standin, write_profile
) -> None:
    with (
        postgres_server() as primary,
        postgres_standby(primary, "postgres-replica-0") as first,
        postgres_standby(primary, "postgres-replica-1") as second,
    ):
        profile = write_profile(
            f"""
            extends: dev
            services:
              postgres:
                environment:
                  POSTGRES_PASSWORD: {primary.password}
            """,
            name="k8s-failover",
        )
        for pod, real in (
            ("postgres-primary-0", primary),
            ("postgres-replica-0", first),
            ("postgres-replica-1", second),
        ):
            k8s_standin.call(k8s_standin.kubelet.relay, pod, 5432, "127.0.0.1", real.port)
        primary.psql("create table ledger(v text); insert into ledger values ('before')")
        backend = backend_for(str(profile))
        try:
            await backend.deploy()
            await backend.scale("postgres", 3)
            assert supports(backend, "postgres", Capability.FAILOVER)
            assert supports(
                backend, "redis", Capability.FAILOVER
            )  # tests/test_kubernetes_failover_e2e.py
            assert not supports(backend, "qdrant", Capability.FAILOVER)
            primary.stop()  # the primary's database is gone; its pod still "runs"
            plan = await plan_failover(backend, "postgres")
            assert plan.old_primary == "postgres-primary-0"
            assert "does not answer" in plan.why
            assert plan.new_primary.instance in ("postgres-replica-0", "postgres-replica-1")
            outcome = await execute_failover(backend, plan, follow_timeout=3)
            new = plan.new_primary.instance
            # The endpoint reaches the promoted standby, which takes writes.
            endpoint = await backend.endpoint("postgres")
            promoted = first if new == "postgres-replica-0" else second
            promoted.psql("insert into ledger values ('after')")
            assert promoted.psql("select count(*) from ledger") == "2"
            assert promoted.psql("select pg_is_in_recovery()") == "f"
            assert endpoint.host == "127.0.0.1"
            # The Services select the new pod by name; the old primary's StatefulSet is at 0.
            for name in ("db-postgres", "postgres-primary"):
                service = k8s_standin.find("services", NS, name)
                assert service["spec"]["selector"][POD_NAME_LABEL] == new
                assert FAILED_OVER in service["metadata"]["annotations"]
            sts = k8s_standin.find("statefulsets", NS, "postgres-primary", "apps")
            assert sts["spec"]["replicas"] == 0
            assert await backend.fenced_instances("postgres") == ["postgres-primary-0"]
            assert [s["step"] for s in outcome.steps][:4] == [
                "fence", "promote", "make_primary", "writable"
            ]  # fmt: skip
            # The other standby streams from 127.0.0.1:<old port> here, not a Service name:
            # it cannot follow on the stand-in, and the outcome says so.
            assert list(outcome.not_following) == list(plan.others)
            # up would start the fenced primary again: refused, naming why.
            with pytest.raises(OperationFailed, match="failed over to pod"):
                await backend.deploy()
            # so would a scale (it sets StatefulSet postgres-primary too)
            with pytest.raises(OperationFailed, match="would start the fenced old primary"):
                await backend.scale("postgres", 3)
            with pytest.raises(OperationFailed, match="only pods of StatefulSet"):
                await backend.reclone_plan("postgres", "postgres-primary-0")
            claim = k8s_standin.find("persistentvolumeclaims", NS, f"data-{plan.others[0]}")
            before = claim["metadata"]["uid"]
            await backend.reclone("postgres", plan.others[0])
            claim = k8s_standin.find("persistentvolumeclaims", NS, f"data-{plan.others[0]}")
            assert claim["metadata"]["uid"] != before
        finally:
            await backend.close()
