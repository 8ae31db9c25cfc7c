"""The stand-in's kubelet itself: what it does with a pod, as Kubernetes defines it.

Pods written for the purpose (kubectl applies them; the Redis test image
gives them a shell) check, inside the running containers, what the
product's manifests rely on and more: ``command``/``args`` with ``$(VAR)``,
``env`` from Secrets, ConfigMaps and the pod's fields, ``envFrom`` with a
prefix, ConfigMap and Secret volumes with their modes, ``subPath``,
``emptyDir`` shared with init containers that run in order,
``runAsUser``/``fsGroup``, memory limits, readiness from a probe; a missing
Secret key (``CreateContainerConfigError``, retried until it exists), an
init container that keeps failing (``Init:CrashLoopBackOff``), a container
the engine refuses (``CreateContainerError``, retried), a liveness
probe that restarts its container, and graceful deletion (SIGTERM, the grace
period, then SIGKILL).
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kubectl_support import apply, kubectl, needs_kubectl
from kubectl_support import namespace as kubectl_namespace

pytestmark = [
    pytest.mark.docker,
    pytest.mark.timeout(300),
    needs_kubectl,
]

IMAGE = "redis:7-alpine"  # mapped by the kubelet to the Redis test image (it has a shell)


class Cluster:
    """kubectl on one namespace of the stand-in cluster."""

    def __init__(self, kubeconfig: Path, namespace: str) -> None:
        self.kubeconfig, self.namespace = kubeconfig, namespace

    def run(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        where = ("--kubeconfig", str(self.kubeconfig), "-n", self.namespace)
        return kubectl(*where, *args, stdin=stdin)

    def apply(self, *objects: dict[str, Any]) -> None:
        for obj in objects:
            done = self.run("apply", "--validate=false", "-f", "-", stdin=json.dumps(obj))
            assert done.returncode == 0, done.stderr

    def pod(self, name: str) -> dict[str, Any]:
        got = self.run("get", "pod", name, "-o", "json")
        assert got.returncode == 0, got.stderr
        return json.loads(got.stdout)

    def sh(self, pod: str, script: str) -> str:
        done = self.run("exec", pod, "--", "sh", "-c", script)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def until(self, check: Callable[[], Any], timeout: float = 90, what: str = "") -> Any:
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            last = check()
            if last:
                return last
            time.sleep(0.5)
        raise AssertionError(f"{what} did not happen in {timeout} s: {last!r}")


@pytest.fixture(scope="module")
def cluster(kube_cluster: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    folder = tmp_path_factory.mktemp("kubelet")
    namespace = f"kubelet-{uuid.uuid4().hex[:6]}"
    found = Cluster(kube_cluster.kubeconfig(folder / "kubeconfig"), namespace)
    apply(kubectl_namespace(namespace), options=("--kubeconfig", str(found.kubeconfig)))
    yield found
    found.run("delete", "namespace", namespace, "--wait=false")


def ready(pod: dict[str, Any]) -> bool:
    return any(
        c["type"] == "Ready" and c["status"] == "True" for c in pod["status"].get("conditions", [])
    )


def test_a_pod_gets_what_its_spec_says(cluster: Cluster) -> None:
    cluster.apply(
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds"},
         "stringData": {"password": "s3cret", "token": "t0ken"}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"},
         "data": {"mode": "fast", "motd": "hello\n", "other": "x"}},
    )  # fmt: skip
    script = (
        'echo "greeting=$GREETING arg=$1"; '
        "echo ready-later; sleep 3; touch /tmp/ready; exec sleep 3600"
    )
    cluster.apply(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "features", "labels": {"tier": "gold"}},
            "spec": {
                "securityContext": {"runAsUser": 1000, "runAsGroup": 1000, "fsGroup": 2000},
                "initContainers": [
                    {"name": f"init-{n}", "image": IMAGE,
                     "command": ["sh", "-c", f"echo {n} >> /work/order"],
                     "volumeMounts": [{"name": "work", "mountPath": "/work"}]}
                    for n in ("a", "b")
                ],
                "containers": [
                    {
                        "name": "main",
                        "image": IMAGE,
                        "command": ["sh", "-c", script, "main"],
                        "args": ["$(WHO)-$(TIER)", "$$(NOT)"],
                        "env": [
                            {"name": "WHO", "value": "pod"},
                            {"name": "GREETING", "value": "hi $(WHO)"},
                            {"name": "PASSWORD", "valueFrom": {"secretKeyRef":
                                {"name": "creds", "key": "password"}}},
                            {"name": "MODE", "valueFrom": {"configMapKeyRef":
                                {"name": "settings", "key": "mode"}}},
                            {"name": "POD", "valueFrom": {"fieldRef":
                                {"fieldPath": "metadata.name"}}},
                            {"name": "TIER", "valueFrom": {"fieldRef":
                                {"fieldPath": "metadata.labels['tier']"}}},
                        ],
                        "envFrom": [{"prefix": "CFG_", "configMapRef": {"name": "settings"}}],
                        "volumeMounts": [
                            {"name": "work", "mountPath": "/work"},
                            {"name": "config", "mountPath": "/etc/config"},
                            {"name": "secret", "mountPath": "/etc/secret"},
                            {"name": "config", "mountPath": "/etc/motd", "subPath": "motd"},
                        ],
                        "resources": {"limits": {"memory": "96Mi", "cpu": "500m"}},
                        "readinessProbe": {"exec": {"command": ["test", "-f", "/tmp/ready"]},
                                           "periodSeconds": 1},
                    }
                ],
                "volumes": [
                    {"name": "work", "emptyDir": {}},
                    {"name": "config", "configMap": {"name": "settings", "defaultMode": 0o440,
                                                     "items": [{"key": "mode", "path": "mode"},
                                                               {"key": "motd", "path": "motd"}]}},
                    {"name": "secret", "secret": {"secretName": "creds", "defaultMode": 0o400}},
                ],
            },
        }
    )  # fmt: skip
    pod = cluster.until(lambda: (p := cluster.pod("features")) and ready(p) and p, what="Ready")
    assert pod["status"]["phase"] == "Running"
    inits = pod["status"]["initContainerStatuses"]
    assert [s["state"]["terminated"]["reason"] for s in inits] == ["Completed", "Completed"]
    env = cluster.sh("features", "env")
    assert "PASSWORD=s3cret" in env and "MODE=fast" in env and "POD=features" in env
    assert "CFG_mode=fast" in env and "CFG_other=x" in env
    logs = cluster.run("logs", "features").stdout
    assert "greeting=hi pod arg=pod-gold" in logs  # $(VAR) in env and args
    assert cluster.sh("features", "cat /work/order") == "a\nb\n"  # init containers, in order
    assert cluster.sh("features", "ls /etc/config").split() == ["mode", "motd"]  # items only
    assert cluster.sh("features", "stat -c %a /etc/config/mode /etc/secret/token") == "440\n400\n"
    assert cluster.sh("features", "cat /etc/motd") == "hello\n"  # subPath: one file
    assert cluster.sh("features", "id -u; id -G").split() == ["1000", "1000", "2000"]
    assert cluster.sh("features", "stat -c %g /work") == "2000\n"  # fsGroup owns the volume
    limit = cluster.sh(
        "features",
        "cat /sys/fs/cgroup/memory.max 2>/dev/null"
        " || cat /sys/fs/cgroup/memory/memory.limit_in_bytes",
    )
    assert int(limit) == 96 * 1024**2
    assert pod["status"]["qosClass"] == "Guaranteed"  # requests default to the limits


def test_a_missing_secret_key_is_a_config_error_until_it_exists(cluster: Cluster) -> None:
    cluster.apply(
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "partial"},
         "stringData": {"present": "1"}},
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "configless"},
         "spec": {"containers": [{"name": "main", "image": IMAGE,
                                  "command": ["sh", "-c", "exec sleep 3600"],
                                  "env": [{"name": "X", "valueFrom": {"secretKeyRef":
                                           {"name": "partial", "key": "absent"}}}]}]}},
    )  # fmt: skip

    def waiting() -> dict[str, Any] | None:
        statuses = cluster.pod("configless")["status"].get("containerStatuses") or [{}]
        return statuses[0].get("state", {}).get("waiting")

    state = cluster.until(
        lambda: (w := waiting()) and w["reason"] == "CreateContainerConfigError" and w,
        what="CreateContainerConfigError",
    )
    assert state["message"] == f"couldn't find key absent in Secret {cluster.namespace}/partial"
    patched = cluster.run(
        "patch", "secret", "partial", "--type=merge", "-p", '{"stringData":{"absent":"2"}}'
    )
    assert patched.returncode == 0, patched.stderr
    cluster.until(lambda: cluster.pod("configless")["status"]["phase"] == "Running", what="run")


def test_a_failing_init_container_backs_off(cluster: Cluster) -> None:
    cluster.apply(
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "stuck"},
         "spec": {"initContainers": [{"name": "fails", "image": IMAGE,
                                      "command": ["sh", "-c", "echo no; exit 3"]}],
                  "containers": [{"name": "main", "image": IMAGE, "command": ["sleep", "60"]}]}},
    )  # fmt: skip
    shown = cluster.until(
        lambda: (
            "Init:CrashLoopBackOff" in (out := cluster.run("get", "pod", "stuck").stdout) and out
        ),
        what="Init:CrashLoopBackOff",
    )
    assert "Init:CrashLoopBackOff" in shown
    status = cluster.pod("stuck")["status"]
    assert status["phase"] == "Pending"
    (init,) = status["initContainerStatuses"]
    assert init["restartCount"] >= 1
    assert init["lastState"]["terminated"]["exitCode"] == 3
    assert status["containerStatuses"][0]["state"]["waiting"]["reason"] == "PodInitializing"
    assert "no" in cluster.run("logs", "stuck", "-c", "fails").stdout


def test_a_container_the_engine_refuses_is_retried(cluster: Cluster) -> None:
    # Docker refuses a memory limit under 6 MB when the container is created: an engine
    # failure, as a loaded engine's timeout is. The pod says so and the kubelet keeps trying
    # (it used to give the pod up, Pending for good, and up waited its whole timeout).
    cluster.apply(
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "refused"},
         "spec": {"containers": [{"name": "main", "image": IMAGE, "command": ["sleep", "60"],
                                  "resources": {"limits": {"memory": "4Mi"}}}]}},
    )  # fmt: skip

    def failures() -> int:
        listed = cluster.run(
            "get", "events", "--field-selector", "involvedObject.name=refused", "-o", "json"
        )
        items = json.loads(listed.stdout)["items"]
        return sum(e.get("count") or 1 for e in items if e["reason"] == "Failed")

    cluster.until(lambda: failures() >= 2, timeout=60, what="the create tried twice")
    waiting = cluster.pod("refused")["status"]["containerStatuses"][0]["state"]["waiting"]
    assert waiting["reason"] == "CreateContainerError"
    assert "memory" in waiting["message"].lower(), waiting


def test_liveness_restarts_and_deletion_is_graceful_then_forced(cluster: Cluster) -> None:
    # Ignores SIGTERM: deletion must wait out the grace period, then SIGKILL.
    script = "trap '' TERM; touch /tmp/alive; sleep 4; rm /tmp/alive; while :; do sleep 1; done"
    liveness = {
        "exec": {"command": ["test", "-f", "/tmp/alive"]},
        "periodSeconds": 1,
        "failureThreshold": 2,
    }
    cluster.apply(
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "fragile"},
         "spec": {"terminationGracePeriodSeconds": 3,
                  "containers": [{"name": "main", "image": IMAGE, "command": ["sh", "-c", script],
                                  "livenessProbe": liveness}]}},
    )  # fmt: skip
    restarted = cluster.until(
        lambda: (
            (s := cluster.pod("fragile")["status"].get("containerStatuses"))
            and s[0]["restartCount"] >= 1
            and s[0]
        ),
        timeout=120,
        what="a restart after the liveness probe failed",
    )
    assert restarted["lastState"]["terminated"]["exitCode"] == 137  # SIGTERM ignored
    events = cluster.run("get", "events", "--field-selector", "involvedObject.name=fragile").stdout
    assert "Liveness probe failed" in events and "will be restarted" in events
    deleted = cluster.run("delete", "pod", "fragile", "--wait=false")
    assert deleted.returncode == 0, deleted.stderr
    # Still there, Terminating, while the container gets its grace period...
    assert "Terminating" in cluster.run("get", "pod", "fragile").stdout
    pod = cluster.pod("fragile")
    assert pod["metadata"]["deletionGracePeriodSeconds"] == 3
    # ...then SIGKILL, and the kubelet removes the pod.
    gone = cluster.run("wait", "--for=delete", "pod/fragile", "--timeout=60s")
    assert gone.returncode == 0, gone.stderr
