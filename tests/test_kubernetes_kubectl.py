"""Cross-check with the real ``kubectl`` against the API-server **stand-in**.

``kubectl`` is an independent client: if it can apply the rendered manifests,
read them back, scale, fetch logs and delete, and our backend sees the same
state (and kubectl sees what our backend did), the stand-in speaks enough of
the real API for the backend's tests to mean something. It says nothing about
a real cluster's controllers, scheduler or admission (see docs/kubernetes.md).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from kubectl_support import apply, configmap, kubectl, namespace, needs_kubectl

from alfred_tui.backends.kubernetes.backend import KubernetesBackend
from alfred_tui.config.loader import load_profile

NS = "alfred-platform"
pytestmark = needs_kubectl


async def test_kubectl_and_the_backend_agree(k8s_kubeconfig, k8s_standin, cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    rendered = cli("render", "--target", "kubernetes", "--profile", "dev", "--secret", "references")
    assert rendered.returncode == 0, rendered.stderr
    manifests = Path(tmp_path / "alfred.yaml")
    manifests.write_text(rendered.stdout)
    count = len(list(yaml.safe_load_all(rendered.stdout)))

    applied = kubectl("apply", "--validate=false", "-f", str(manifests))
    assert applied.returncode == 0, applied.stderr
    assert len(applied.stdout.strip().splitlines()) == count
    assert "statefulset.apps/postgres-primary created" in applied.stdout

    got = kubectl("get", "statefulsets", "-n", NS, "-o", "json")
    assert got.returncode == 0, got.stderr
    names = {item["metadata"]["name"] for item in json.loads(got.stdout)["items"]}
    assert names == {"postgres-primary", "postgres-replica", "redis", "qdrant"}

    backend = KubernetesBackend(load_profile("dev"), wait_timeout=20, poll_interval=0.05)
    try:
        await backend.wait_rolled_out(["postgres", "redis", "qdrant"], lambda _: None)
        statuses = {s.service: s for s in await backend.status()}
        assert all(s.ready == s.desired == 1 for s in statuses.values())

        scaled = kubectl("scale", "statefulset/redis", "-n", NS, "--replicas=2")
        assert scaled.returncode == 0 and "statefulset.apps/redis scaled" in scaled.stdout
        await backend.wait_rolled_out(["redis"], lambda _: None)
        redis = next(s for s in await backend.status() if s.service == "redis")
        assert (redis.desired, redis.ready) == (2, 2)

        await backend.scale("redis", 3)
        replicas = kubectl("get", "sts", "redis", "-n", NS, "-o", "jsonpath={.spec.replicas}")
        assert replicas.stdout == "3"
        pods = kubectl("get", "pods", "-n", NS, "-l", "app=redis", "-o", "name")
        assert pods.stdout.split() == ["pod/redis-0", "pod/redis-1", "pod/redis-2"]

        table = kubectl("get", "pods", "-n", NS, "-l", "app=redis")
        assert table.returncode == 0 and "Running" in table.stdout

        logs = kubectl("logs", "-n", NS, "redis-2")
        assert logs.returncode == 0 and "Ready to accept connections" in logs.stdout
        labelled = kubectl("logs", "-n", NS, "-l", "app=redis", "--prefix")
        assert labelled.stdout.count("Ready to accept connections") == 3

        await backend.restart("qdrant")
        annotation = kubectl(
            "get", "sts", "qdrant", "-n", NS, "-o",
            "jsonpath={.spec.template.metadata.annotations.kubectl\\.kubernetes\\.io/restartedAt}",
        )  # fmt: skip
        assert annotation.returncode == 0 and annotation.stdout.endswith("Z")

        deleted = kubectl("delete", "-f", str(manifests), "--timeout=60s")
        assert deleted.returncode == 0, deleted.stderr
        statuses = await backend.status()
        assert all(not s.deployed for s in statuses)
    finally:
        await backend.close()


def _sts_manifest(replicas: int) -> str:
    """The redis StatefulSet as alfred-tui renders it, with another replica count."""
    from alfred_tui.backends.kubernetes.manifests import ManifestBuilder, to_yaml

    objects = ManifestBuilder(load_profile("dev").profile).build(secrets="omit")
    sts = next(
        o for o in objects if o["kind"] == "StatefulSet" and o["metadata"]["name"] == "redis"
    )
    sts["spec"]["replicas"] = replicas
    return to_yaml([sts])


async def test_server_side_apply_conflicts_with_another_manager(
    k8s_kubeconfig, k8s_standin, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    backend = KubernetesBackend(load_profile("dev"), wait_timeout=20, poll_interval=0.05)
    try:
        await backend.deploy(services=["redis"])
        manifest = tmp_path / "redis.yaml"
        manifest.write_text(_sts_manifest(2))
        refused = kubectl("apply", "--server-side", "--validate=false", "-f", str(manifest))
        assert refused.returncode != 0
        assert (
            'Apply failed with 1 conflict: conflict with "alfred-tui" using apps/v1: '
            ".spec.replicas" in refused.stderr
        ), refused.stderr
        forced = kubectl(
            "apply", "--server-side", "--force-conflicts", "--validate=false", "-f", str(manifest)
        )
        assert forced.returncode == 0, forced.stderr
        owners = json.loads(
            kubectl("get", "sts", "redis", "-n", NS, "-o", "json", "--show-managed-fields").stdout
        )["metadata"]["managedFields"]
        kubectl_fields = next(m for m in owners if m["manager"] == "kubectl")["fieldsV1"]
        assert "f:replicas" in kubectl_fields["f:spec"]
        alfred_fields = next(m for m in owners if m["manager"] == "alfred-tui")["fieldsV1"]
        assert "f:replicas" not in alfred_fields["f:spec"]  # taken over
        await backend.deploy(services=["redis"])  # alfred-tui applies forced: the profile wins
        sts = k8s_standin.find("statefulsets", NS, "redis", "apps")
        assert sts["spec"]["replicas"] == 1
    finally:
        await backend.close()


def test_namespace_terminates_as_on_a_cluster(k8s_kubeconfig, k8s_standin, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Terminating for the grace period (content still there), then emptied, then gone."""
    apply(namespace("doomed"), configmap("kept", "doomed", a="b"))
    deleted = kubectl("delete", "namespace", "doomed", "--wait=false")
    assert deleted.returncode == 0, deleted.stderr
    ns = k8s_standin.find("namespaces", None, "doomed")
    assert ns["status"]["phase"] == "Terminating" and ns["spec"]["finalizers"] == ["kubernetes"]
    assert k8s_standin.find("configmaps", "doomed", "kept") is not None  # not at once
    late = configmap("late", "doomed", a="b")
    refused = kubectl("apply", "--validate=false", "-f", "-", stdin=json.dumps(late))
    assert "because it is being terminated" in refused.stderr
    waited = kubectl("wait", "--for=delete", "namespace/doomed", "--timeout=30s")
    assert waited.returncode == 0, waited.stderr
    assert k8s_standin.find("configmaps", "doomed", "kept") is None


def test_finalizers_and_pvc_protection_hold_deleted_objects(k8s_kubeconfig, k8s_standin) -> None:  # type: ignore[no-untyped-def]
    apply(namespace("held"), configmap("guarded", "held", a="b"))
    patched = kubectl(
        "patch", "configmap", "guarded", "-n", "held", "--type=merge",
        "-p", '{"metadata":{"finalizers":["example.com/keep"]}}',
    )  # fmt: skip
    assert patched.returncode == 0, patched.stderr
    assert kubectl("delete", "configmap", "guarded", "-n", "held", "--wait=false").returncode == 0
    held = k8s_standin.find("configmaps", "held", "guarded")
    assert held is not None and held["metadata"]["deletionTimestamp"]
    kubectl(
        "patch", "configmap", "guarded", "-n", "held", "--type=merge",
        "-p", '{"metadata":{"finalizers":null}}',
    )  # fmt: skip
    assert k8s_standin.find("configmaps", "held", "guarded") is None

    claim = {
        "apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data", "namespace": "held"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }  # fmt: skip
    pod = {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "user", "namespace": "held"},
        "spec": {"containers": [{"name": "c", "image": "busybox"}],
                 "volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": "data"}}]},
    }  # fmt: skip
    apply(claim, pod)
    assert kubectl("delete", "pvc", "data", "-n", "held", "--wait=false").returncode == 0
    pvc = k8s_standin.find("persistentvolumeclaims", "held", "data")
    assert pvc["metadata"]["finalizers"] == ["kubernetes.io/pvc-protection"]  # in use: kept
    shown = kubectl("get", "pvc", "data", "-n", "held")
    assert "Terminating" in shown.stdout, shown.stdout
    assert kubectl("delete", "pod", "user", "-n", "held").returncode == 0
    gone = kubectl("wait", "--for=delete", "pvc/data", "-n", "held", "--timeout=30s")
    assert gone.returncode == 0, gone.stderr


def test_watch_bookmarks_and_410_after_compaction(k8s_kubeconfig, k8s_standin) -> None:  # type: ignore[no-untyped-def]
    from kubernetes import client, config, watch

    core = client.CoreV1Api(config.new_client_from_config(config_file=str(k8s_kubeconfig)))
    k8s_standin.call(setattr, k8s_standin.server, "bookmark_seconds", 0.2)
    apply(namespace("marks"))
    listing = core.list_namespaced_config_map("marks")
    version = listing.metadata.resource_version
    kinds = []
    for event in watch.Watch().stream(
        core.list_namespaced_config_map, "marks", resource_version=version,
        allow_watch_bookmarks=True, timeout_seconds=1,
    ):  # fmt: skip
        kinds.append(event["type"])
        if event["type"] == "BOOKMARK":
            assert int(event["raw_object"]["metadata"]["resourceVersion"]) >= int(version)
    assert kinds and set(kinds) == {"BOOKMARK"}
    apply(configmap("later", "marks", a="b"))
    k8s_standin.call(k8s_standin.server.compact)  # etcd compacted past the listed version
    with pytest.raises(client.ApiException) as gone:
        for _ in watch.Watch().stream(
            core.list_namespaced_config_map, "marks", resource_version=version, timeout_seconds=1
        ):
            pass
    assert gone.value.status == 410
