"""``python -m tests.kube_standin --docker --kubeconfig PATH``, as someone trying it by hand.

Run from the repository root, it prints ``ready``, writes a kubeconfig whose
current context is the stand-in, runs a pod as a real container, and on
Ctrl-C removes every container, volume and network it made.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from kubectl_support import kubectl as run_kubectl
from kubectl_support import needs_kubectl

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [
    pytest.mark.docker,
    pytest.mark.timeout(300),
    needs_kubectl,
]


def labelled(kind: str, instance: str) -> list[str]:
    """Docker objects of ``kind`` carrying the stand-in instance's label."""
    args = ["docker", kind, "ls", "-q", "--filter", f"label=org.alfred-tui.kube-standin={instance}"]
    if kind == "container":
        args = ["docker", "ps", "-aq", "--filter", args[-1]]
    return subprocess.run(args, capture_output=True, text=True, timeout=60).stdout.split()


def test_the_standalone_command_serves_runs_pods_and_cleans_up(docker_engine, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from kube_support import ensure_images

    ensure_images()
    kubeconfig = tmp_path / "kc"
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.kube_standin", "--docker", "--kubeconfig", str(kubeconfig)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready"

        def kubectl(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
            return run_kubectl("--kubeconfig", str(kubeconfig), *args, stdin=stdin)

        assert kubectl("config", "current-context").stdout.strip() == "stand-in"
        pod = {
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "hello"},
            "spec": {"containers": [{"name": "c", "image": "redis:7-alpine",
                                     "command": ["sh", "-c", "echo hello from a pod; sleep 600"]}]},
        }  # fmt: skip
        applied = kubectl("apply", "--validate=false", "-f", "-", stdin=json.dumps(pod))
        assert applied.returncode == 0, applied.stderr
        deadline = time.monotonic() + 120
        while "hello from a pod" not in kubectl("logs", "hello").stdout:
            assert time.monotonic() < deadline, kubectl("get", "pod", "hello", "-o", "yaml").stdout
            time.sleep(0.5)
        instance = json.loads(kubectl("get", "pod", "hello", "-o", "json").stdout)["status"]
        assert instance["phase"] == "Running"
        container = instance["containerStatuses"][0]["containerID"].removeprefix("docker://")
        labels = subprocess.run(
            ["docker", "inspect", "-f", "{{json .Config.Labels}}", container],
            capture_output=True, text=True, timeout=60, check=True,
        ).stdout  # fmt: skip
        ours = json.loads(labels)["org.alfred-tui.kube-standin"]
        assert labelled("container", ours) and labelled("network", ours)
    finally:
        process.send_signal(signal.SIGINT)  # Ctrl-C
        _, stderr = process.communicate(timeout=240)
    assert process.returncode == 0, stderr
    assert "stopped" in stderr
    assert labelled("container", ours) == [] and labelled("network", ours) == []
    assert labelled("volume", ours) == []
