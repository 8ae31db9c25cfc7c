"""Redis failover on the Kubernetes backend, on pods that really run (the kubelet stand-in).

One StatefulSet runs Redis, so the old master cannot be kept stopped while
the others run: the pods' start script reads the ConfigMap ``redis-roles``
that the failover writes (the master, the fenced pods). The test freezes the
master's server (SIGSTOP: it takes connections and never answers), fails
over from the command line as an operator would, and checks the databases
themselves: a write through the profile's endpoint, the other replica
following the new master, the old master back but serving nothing, ``up``
and a scale that would delete the new master refused, then the old master
re-cloned as a replica with a safety copy of its data.

The stand-in's DNS gives a pod the names of the Services that select it when
the pod starts (docs/kubernetes.md), so the in-cluster name ``redis`` does not
follow the repointed Service here; the profile's endpoint (alfred-tui's
port-forward) follows its selector, as on a cluster.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest
import redis
from conftest import run_cli
from kube_support import KubeDeployment, alfred, kube_deployment, port_forwards, redis_in, until

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(600)]


@pytest.fixture(scope="module")
def deployment(kube_cluster, tmp_path_factory) -> Any:  # type: ignore[no-untyped-def]
    """A namespace of its own with Redis only, three pods: redis-0 the master."""
    folder = tmp_path_factory.mktemp("kube-failover")
    with kube_deployment(kube_cluster, folder, "fo", deploy=False) as found:
        found.run(lambda backend: backend.deploy(services=["redis"]))
        scaled = alfred(found, run_cli, "scale", "redis", "3", "--yes")
        assert scaled.returncode == 0, scaled.stdout + scaled.stderr
        yield found


async def _role(backend: Any, pod: str) -> dict[str, str]:
    """``INFO replication`` of ``pod`` as a dict."""
    info = await redis_in(backend, pod, "INFO", "replication")
    return dict(line.split(":", 1) for line in info.splitlines() if ":" in line)


async def roles_of(backend: Any) -> dict[str, str]:
    """Each Redis pod's role as ``alfred-tui status`` shows it."""
    found = next(s for s in await backend.status() if s.service == "redis")
    return {instance.name: instance.role for instance in found.instances}


def test_redis_failover_fences_the_frozen_master_and_a_replica_takes_over(  # type: ignore[no-untyped-def]
    deployment: KubeDeployment, cli
) -> None:
    async def replicated(backend: Any) -> None:
        async def linked() -> bool:
            roles = [await _role(backend, pod) for pod in ("redis-1", "redis-2")]
            return all(r.get("master_link_status") == "up" for r in roles)

        await until(linked, 120, "redis-1 and redis-2 linked to redis-0")
        assert "OK" in await redis_in(backend, "redis-0", "SET", "fo:before", "written-on-0")
        assert (await redis_in(backend, "redis-0", "WAIT", "2", "10000")).strip() == "2"

    deployment.run(replicated)
    # redis-server stopped (SIGSTOP from the node): it takes connections and never answers.
    # (Not `docker pause`: this engine deadlocks killing a paused container, which the pod's
    # deletion does.)
    server = int(
        subprocess.run(
            ["docker", "inspect", "-f", "{{.State.Pid}}", deployment.container("redis-0", "redis")],
            capture_output=True, text=True, check=True, timeout=60,
        ).stdout
    )  # fmt: skip
    os.kill(server, signal.SIGSTOP)
    try:
        failed_over = alfred(deployment, cli, "failover", "redis", "--yes")
    finally:  # the fence killed it; if the failover failed, let it go on
        with contextlib.suppress(ProcessLookupError):
            os.kill(server, signal.SIGCONT)
    said = failed_over.stdout + failed_over.stderr
    assert failed_over.returncode == 0, said
    assert "redis-0 runs but its database does not answer" in said
    line = next(x for x in failed_over.stdout.splitlines() if x.startswith("recorded in "))
    record = json.loads(Path(line.removeprefix("recorded in ")).read_text().splitlines()[-1])
    fence = next(step for step in record["steps"] if step["step"] == "fence")
    assert "its pod deleted at once (it did not answer)" in fence["detail"]
    assert "list it as fenced in ConfigMap redis-roles" in said
    # Either replica may have received a byte more (the master's last PING): the most advanced.
    new = record["new_primary"]
    (other,) = {"redis-1", "redis-2"} - {new}
    assert f"redis failed over to {new}; {other} follow" in said

    password = deployment.secret("redis-password")
    with port_forwards(deployment, ("redis",)) as ports:
        client = redis.Redis(port=ports["redis"], password=password, socket_timeout=10)
        try:  # the profile's endpoint reaches the new master: it takes writes
            assert client.set("fo:after", "written-after-failover")
            assert client.info("replication")["role"] == "master"
            assert client.get("fo:before") == b"written-on-0"
        finally:
            client.close()

    async def after(backend: Any) -> None:
        assert (await _role(backend, new))["role"] == "master"

        async def follows() -> bool:
            role = await _role(backend, other)
            return role.get("master_host", "").startswith(f"{new}.") and (
                role.get("master_link_status") == "up"
            )

        await until(follows, 60, f"{other} replicating from {new}")
        assert (await redis_in(backend, other, "GET", "fo:after")).strip() == (
            "written-after-failover"
        )

        async def fenced() -> Any:  # made again by the StatefulSet, serving nothing
            redis_status = next(s for s in await backend.status() if s.service == "redis")
            old = next((i for i in redis_status.instances if i.name == "redis-0"), None)
            return old if old is not None and old.state == "running" else None

        old = await until(fenced, 120, "redis-0 back, fenced")
        assert old.role == "" and "fenced by a failover" in old.detail
        assert await roles_of(backend) == {"redis-0": "", new: "primary", other: "replica"}
        answer = await backend.exec(
            "redis", ["redis-cli", "SET", "fo:split", "x"], instance="redis-0"
        )
        assert b"OK" not in answer.stdout  # no second master: nothing listens there
        mark = await backend.exec(
            "redis", ["test", "-e", "/tmp/alfred-redis-fenced"], instance="redis-0"
        )
        assert mark.ok

    deployment.run(after)

    up = alfred(deployment, cli, "up", "redis", "--yes")
    assert up.returncode == 2 and f"redis failed over to pod {new}" in up.stderr, up.stderr
    scale = alfred(deployment, cli, "scale", "redis", "1", "--yes")
    assert scale.returncode == 2 and "would delete it" in scale.stderr, scale.stderr

    recloned = alfred(deployment, cli, "reclone", "redis", "redis-0", "--yes")
    said = recloned.stdout + recloned.stderr
    assert recloned.returncode == 0, said
    assert "take redis-0 off the fenced list in redis-roles" in said
    line = next(x for x in recloned.stdout.splitlines() if x.startswith("safety copy kept in"))
    copy = Path(line.removeprefix("safety copy kept in ").split(" (")[0]) / "data-redis-0.tar"
    assert copy.stat().st_mode & 0o777 == 0o600
    with tarfile.open(copy) as archive:  # the old master's own files, as they were
        assert any(name.endswith(("dump.rdb", "appendonly.aof", "appendonlydir")) for name in
                   archive.getnames()), archive.getnames()  # fmt: skip

    async def rejoined(backend: Any) -> None:
        async def replica() -> bool:
            role = await _role(backend, "redis-0")
            return role.get("role") == "slave" and role.get("master_link_status") == "up"

        await until(replica, 120, f"redis-0 replicating from {new}")
        assert (await redis_in(backend, "redis-0", "GET", "fo:after")).strip() == (
            "written-after-failover"
        )
        assert (await roles_of(backend))["redis-0"] == "replica"

    deployment.run(rejoined)
