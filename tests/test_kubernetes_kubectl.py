"""Cross-check with the real ``kubectl`` against the API-server **stand-in**.

``kubectl`` is an independent client: if it can apply the rendered manifests,
read them back, scale, fetch logs and delete, and our backend sees the same
state (and kubectl sees what our backend did), the stand-in speaks enough of
the real API for the backend's tests to mean something. It says nothing about
a real cluster's controllers, scheduler or admission (see docs/kubernetes.md).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from alfred_tui.backends.kubernetes import KubernetesBackend
from alfred_tui.config.loader import load_profile

NS = "alfred-platform"
KUBECTL = shutil.which("kubectl")
pytestmark = pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed")


def kubectl(*args: str) -> subprocess.CompletedProcess[str]:
    assert KUBECTL is not None
    return subprocess.run(
        [KUBECTL, *args], capture_output=True, text=True, timeout=120, env=dict(os.environ)
    )


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
        await backend._wait_rolled_out(["postgres", "redis", "qdrant"], lambda _: None)
        statuses = {s.service: s for s in await backend.status()}
        assert all(s.ready == s.desired == 1 for s in statuses.values())

        scaled = kubectl("scale", "statefulset/redis", "-n", NS, "--replicas=2")
        assert scaled.returncode == 0 and "statefulset.apps/redis scaled" in scaled.stdout
        await backend._wait_rolled_out(["redis"], lambda _: None)
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
