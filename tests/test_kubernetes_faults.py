"""Failures of the Kubernetes API, against the **stand-in**: one-line errors, retries with backoff.

The API answers 500, 403, slowly, not at all, or rejects a manifest; there is
no kubeconfig, or a wrong context. Each must reach the user as one line that
names what failed and where, never a traceback, and transient failures of a
status read are retried with backoff before giving up.
"""

from __future__ import annotations

import json
import socket
import time
from typing import Any

import kmock
import pytest

from alfred_tui.backends.base import EngineUnreachable, Forbidden, OperationFailed, OperationTimeout
from alfred_tui.backends.kubernetes.access import RetryPolicy
from alfred_tui.backends.kubernetes.backend import KubernetesBackend
from alfred_tui.backends.kubernetes.errors import (
    KubeconfigInvalid,
    KubeconfigMissing,
    ManifestRejected,
)
from alfred_tui.config.loader import load_profile

NS = "alfred-platform"
STS = kmock.resource("apps", "v1", "statefulsets")
PODS = kmock.resource("", "v1", "pods")


def status_body(code: int, reason: str, message: str, **details: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": reason, "code": code,
    }  # fmt: skip
    if details:
        body["details"] = details
    return body


def backend(**options: Any) -> KubernetesBackend:
    options.setdefault("retry", RetryPolicy(attempts=3, first_delay=0.05))
    return KubernetesBackend(load_profile("dev"), wait_timeout=10, poll_interval=0.05, **options)


def requests_for(cluster: Any, plural: str) -> list[Any]:
    return [r for r in cluster.requests() if r.resource is not None and r.resource.plural == plural]


async def test_status_retries_a_flaky_api_with_backoff(k8s_kubeconfig, k8s_standin) -> None:  # type: ignore[no-untyped-def]
    k8s_standin.call(k8s_standin.server.fail_next, "GET", "statefulsets", 500, 2)
    target = backend()
    try:
        statuses = await target.status()
    finally:
        await target.close()
    assert len(statuses) == 3
    assert len(requests_for(k8s_standin, "statefulsets")) == 3
    sleeps = target._retry.sleeps  # type: ignore[union-attr]
    assert len(sleeps) == 2 and sleeps[1] > sleeps[0] * 1.2  # exponential backoff


async def test_persistent_500_is_one_line_naming_the_server(k8s_kubeconfig, k8s_standin) -> None:  # type: ignore[no-untyped-def]
    k8s_standin.inject(
        lambda s: (
            s["get", STS] << 500 << status_body(500, "InternalError", "etcdserver: leader changed")
        )
    )
    target = backend()
    try:
        with pytest.raises(OperationFailed) as caught:
            await target.status()
    finally:
        await target.close()
    line = caught.value.one_line()
    assert line == (
        f"API server error: the API server at {k8s_standin.url} answered 500 to list "
        f"statefulsets.apps in namespace {NS}: etcdserver: leader changed; it may be "
        "overloaded or restarting"
    )
    assert len(requests_for(k8s_standin, "statefulsets")) == 3  # tried 3 times


async def test_forbidden_names_verb_resource_and_namespace(k8s_kubeconfig, k8s_standin) -> None:  # type: ignore[no-untyped-def]
    message = (
        'pods is forbidden: User "bastion" cannot list resource "pods" in API group "" '
        f'in the namespace "{NS}"'
    )
    k8s_standin.inject(lambda s: s["get", PODS] << 403 << status_body(403, "Forbidden", message))
    target = backend()
    try:
        with pytest.raises(Forbidden) as caught:
            await target.status()
    finally:
        await target.close()
    line = caught.value.one_line()
    assert line.startswith(f"Forbidden: cannot list pods in namespace {NS} (context 'stand-in'): ")
    assert f"kubectl auth can-i list pods -n {NS}" in line
    assert len(requests_for(k8s_standin, "pods")) == 1  # a refusal is not retried


async def test_a_slow_api_times_out_with_one_line(k8s_kubeconfig, k8s_standin) -> None:  # type: ignore[no-untyped-def]
    k8s_standin.server.delays[("GET", "statefulsets")] = 3.0
    target = backend(request_timeout=0.4, retry=RetryPolicy(attempts=2, first_delay=0.05))
    started = time.monotonic()
    try:
        with pytest.raises(OperationTimeout) as caught:
            await target.status()
    finally:
        await target.close()
    assert time.monotonic() - started < 3.0
    assert caught.value.one_line() == (
        f"Timed out: the Kubernetes API at {k8s_standin.url} did not answer list "
        f"statefulsets.apps in namespace {NS} within 0.4 s; check the cluster and your network"
    )


async def test_unreachable_api_names_the_url(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    path = tmp_path / "kubeconfig"
    path.write_text(
        json.dumps(
            {
                "apiVersion": "v1", "kind": "Config", "current-context": "gone",
                "clusters": [{"name": "c", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
                "users": [{"name": "u", "user": {}}],
                "contexts": [{"name": "gone", "context": {"cluster": "c", "user": "u"}}],
            }
        )
    )  # fmt: skip
    monkeypatch.setenv("KUBECONFIG", str(path))
    target = backend(retry=RetryPolicy(attempts=2, first_delay=0.05))
    try:
        with pytest.raises(EngineUnreachable) as caught:
            await target.status()
    finally:
        await target.close()
    line = caught.value.one_line()
    assert line.startswith(f"Engine unreachable: the Kubernetes API at http://127.0.0.1:{port} ")
    assert "context 'gone'" in line and "\n" not in line


def test_no_kubeconfig_says_where_it_looked(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    missing = tmp_path / "nowhere" / "config"
    monkeypatch.setenv("KUBECONFIG", str(missing))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with pytest.raises(KubeconfigMissing) as caught:
        _ = backend().api
    assert caught.value.one_line() == (
        f"No kubeconfig: no kubeconfig found (looked in {missing}, from $KUBECONFIG) and not "
        "running in a pod; set KUBECONFIG or kubernetes.kubeconfig in the profile"
    )
    monkeypatch.delenv("KUBECONFIG")
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(KubeconfigMissing, match=f"looked in {tmp_path}/.kube/config"):
        _ = backend().api


def test_unknown_context_lists_the_known_ones(k8s_kubeconfig) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(KubeconfigInvalid) as caught:
        _ = backend(context="prod-eu").api
    assert caught.value.one_line() == (
        f"Kubeconfig error: context 'prod-eu' is not in {k8s_kubeconfig} (contexts: stand-in)"
    )


async def test_a_rejected_manifest_names_the_field(
    k8s_kubeconfig, k8s_standin, write_profile
) -> None:  # type: ignore[no-untyped-def]
    path = write_profile("extends: dev\nservices:\n  redis:\n    image: ''\n")
    target = KubernetesBackend(load_profile(str(path)), wait_timeout=5)
    try:
        with pytest.raises(ManifestRejected) as caught:
            await target.deploy(services=["redis"])
    finally:
        await target.close()
    line = caught.value.one_line()
    assert line.startswith("Manifest rejected: the API server rejected statefulsets.apps redis: ")
    assert "spec.template.spec.containers[0].image: Invalid value: Required value" in line


async def test_server_text_echoing_a_secret_is_redacted(k8s_kubeconfig, k8s_standin) -> None:  # type: ignore[no-untyped-def]
    echo = "Secret database-credentials: data.db-password: your-super-secret-password is weak"
    k8s_standin.inject(
        lambda s: s["patch", kmock.resource("", "v1", "secrets")] << 422 << status_body(
            422, "Invalid", echo, causes=[{"field": "data.db-password", "message": echo}]
        )
    )  # fmt: skip
    target = backend()
    try:
        with pytest.raises(ManifestRejected) as caught:
            await target.deploy()
    finally:
        await target.close()
    assert "your-super-secret-password" not in caught.value.one_line()
    assert "********" in caught.value.one_line()


# --- through the CLI: one line, no traceback -------------------------------------------------


def test_check_cli_with_a_forbidden_api(k8s_kubeconfig, k8s_standin, cli) -> None:  # type: ignore[no-untyped-def]
    k8s_standin.inject(lambda s: s["get", PODS] << 403 << status_body(403, "Forbidden", "no"))
    result = cli("check", "--profile", "dev", "--backend", "kubernetes", "--service", "redis",
                 "--output", "json", "--timeout", "20")  # fmt: skip
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    (service,) = json.loads(result.stdout)["services"]
    assert service["up"] is False
    assert service["reason"].startswith(f"Forbidden: cannot list pods in namespace {NS}")
    assert "\n" not in service["reason"]


def test_check_cli_with_no_api_server(tmp_path, monkeypatch, cli) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    result = cli("check", "--profile", "dev", "--backend", "kubernetes", "--service", "postgres")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr + result.stdout
    assert "No kubeconfig: no kubeconfig found (looked in" in result.stdout + result.stderr


# --- RBAC: an account that may only look ------------------------------------------------------


@pytest.fixture
def viewer_kubeconfig(k8s_standin, tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    """A kubeconfig for a user bound to Kubernetes' ``view`` role in the namespace only."""
    from kube_standin.rbac import viewer

    admin = KubernetesBackend(load_profile("dev"), wait_timeout=10, poll_interval=0.05)
    monkeypatch.setenv("KUBECONFIG", str(k8s_standin.kubeconfig(tmp_path / "admin")))
    import asyncio

    async def deploy() -> None:
        try:
            await admin.deploy()
        finally:
            await admin.close()

    asyncio.run(deploy())
    path = k8s_standin.kubeconfig(tmp_path / "viewer", user=viewer("ops-viewer", [NS]))
    monkeypatch.setenv("KUBECONFIG", str(path))
    return path


def test_the_standin_answers_rbac_as_the_api_does(viewer_kubeconfig) -> None:  # type: ignore[no-untyped-def]

    from kubectl_support import KUBECTL
    from kubectl_support import kubectl as run

    if KUBECTL is None:
        pytest.skip("kubectl is not installed")

    assert run("auth", "can-i", "list", "pods", "-n", NS).stdout.strip() == "yes"
    assert run("auth", "can-i", "patch", "statefulsets", "-n", NS).stdout.strip() == "no"
    assert run("auth", "can-i", "get", "secrets", "-n", NS).stdout.strip() == "no"
    assert run("auth", "can-i", "list", "pods", "-n", "other").stdout.strip() == "no"
    got = run("get", "pods", "-n", NS, "-o", "name")
    assert got.returncode == 0 and "pod/redis-0" in got.stdout
    refused = run("scale", "statefulset/redis", "-n", NS, "--replicas=2")
    assert refused.returncode != 0
    assert (
        'statefulsets.apps "redis" is forbidden: User "ops-viewer" cannot patch resource '
        '"statefulsets/scale" in API group "apps" in the namespace "alfred-platform"'
    ) in refused.stderr


async def test_a_read_only_account_reads_and_changes_nothing(viewer_kubeconfig, cli) -> None:  # type: ignore[no-untyped-def]
    target = backend()
    try:
        problem = await target.write_access_problem()
        statuses = await target.status()
    finally:
        await target.close()
    assert problem is not None and problem.startswith(
        f"your account (context 'stand-in') cannot patch statefulsets.apps in namespace {NS}"
    )
    assert all(s.ready == 1 for s in statuses)  # reading works
    scaled = cli("scale", "redis", "2", "--profile", "dev", "--backend", "kubernetes", "--yes")
    assert scaled.returncode == 2
    assert "Traceback" not in scaled.stderr
    assert (
        scaled.stderr.strip()
        .splitlines()[-1]
        .startswith(f"Forbidden: cannot patch statefulsets.apps/scale in namespace {NS}")
    )


def test_an_unknown_token_is_401_in_one_line(k8s_standin, tmp_path, monkeypatch, cli) -> None:  # type: ignore[no-untyped-def]
    path = k8s_standin.kubeconfig(tmp_path / "kc")
    path.write_text(path.read_text().replace("stand-in-token", "a-revoked-token"))
    monkeypatch.setenv("KUBECONFIG", str(path))
    result = cli("status", "--profile", "dev", "--backend", "kubernetes")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
