"""Read-only commands and file copies of the Kubernetes backend, on pods that really run.

``status`` (table and JSON, validated against its schema) and ``logs`` run as
a user runs them, in a subprocess, on the shared deployment of
tests/kube_support.py (the stand-in with its Docker kubelet); files go in and
out of a pod with ``cat`` through exec. The changing commands (up, scale,
resize, restart, down) are in test_kubernetes_e2e.py.
"""

from __future__ import annotations

import json
from typing import Any

import jsonschema

from alfred_tui import paths


def test_status_and_logs_commands(kube_shared: Any, cli: Any) -> None:
    profile = ("--profile", str(kube_shared.profile_path))
    status = cli("status", *profile, "--output", "json")
    assert status.returncode == 0, status.stderr
    document = json.loads(status.stdout)
    schema = json.loads((paths.assets_dir() / "schemas" / "status.v1.schema.json").read_text())
    jsonschema.validate(document, schema)
    assert document["backend"] == "kubernetes"
    assert document["target"] == f"stand-in/{kube_shared.namespace}"
    assert {s["service"] for s in document["services"]} == {"postgres", "redis", "qdrant"}
    table = cli("status", *profile)
    assert table.returncode == 0 and "redis" in table.stdout

    logs = cli("logs", "redis", "--tail", "5", *profile)
    assert logs.returncode == 0, logs.stderr
    assert "Ready to accept connections" in logs.stdout  # the container's own line
    assert "redis-0" in logs.stdout


async def test_copy_to_and_from_an_instance(kube_shared: Any, tmp_path: Any) -> None:
    backend = kube_shared.backend()
    source = tmp_path / "dump.rdb"
    source.write_bytes(b"REDIS0011\x00\xff binary" * 1000)
    try:
        await backend.copy_to("redis", source, "/data/copy-probe.rdb")
        owner = await backend.exec("redis", ["stat", "-c", "%U", "/data/copy-probe.rdb"])
        assert owner.stdout == b"redis\n"  # owned like the data folder
        back = await backend.copy_from("redis", "/data/copy-probe.rdb", tmp_path / "out" / "x")
        assert back.read_bytes() == source.read_bytes()
        await backend.exec("redis", ["rm", "/data/copy-probe.rdb"])
    finally:
        await backend.close()
