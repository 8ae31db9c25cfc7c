"""The Kubernetes backend end to end: alfred-tui's lifecycle commands, databases really running.

The cluster is the API-server stand-in with its Docker kubelet
(tests/kube_support.py): every pod is real containers, the official images
mapped to the locally built test images. Each test asserts on the databases
themselves, reached as an operator reaches them: psql through alfred-tui's
port-forward with the password from the Secret, redis-cli and psql in the
pods through exec, Qdrant's REST API. The tests run in order on one
deployment, as an operator's session would: up, scale out and in, resize,
restart, a killed process and an out-of-memory kill, a pod that cannot start,
down and up again, down with the volumes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import tarfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from backup_support import psql as pg_sql
from backup_support import write_t1_then_t2
from kube_support import KubeDeployment, alfred, kube_deployment, port_forwards, redis_in, until
from kubectl_support import kubectl as run_kubectl
from kubectl_support import needs_kubectl
from servers import pg_bindir

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(600)]


@pytest.fixture(scope="module")
def deployment(kube_cluster, tmp_path_factory) -> Any:  # type: ignore[no-untyped-def]
    """A namespace of its own, nothing deployed: the first test runs ``alfred-tui up``."""
    folder = tmp_path_factory.mktemp("kube-life")
    with kube_deployment(kube_cluster, folder, "life", deploy=False) as found:
        yield found


def kubectl(deployment: KubeDeployment, *args: str) -> subprocess.CompletedProcess[str]:
    """kubectl on the deployment's namespace (only some tests: ``needs_kubectl``)."""
    where = ("--kubeconfig", str(deployment.kubeconfig), "-n", deployment.namespace)
    return run_kubectl(*where, *args)


def psql(port: int, password: str, sql: str) -> subprocess.CompletedProcess[str]:
    """This machine's psql, to 127.0.0.1:port (alfred-tui's port-forward)."""
    return subprocess.run(
        [str(pg_bindir() / "psql"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres",
         "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-Atc", sql],
        capture_output=True, text=True, timeout=60,
        env={"PGPASSWORD": password, "PGCONNECT_TIMEOUT": "10"},
    )  # fmt: skip


async def sql_in(backend: Any, pod: str, sql: str) -> str:
    """``psql`` inside a pod (exec), as the pod's own superuser."""
    result = await backend.exec("postgres", ["psql", "-Atc", sql], instance=pod)
    assert result.ok, result.stderr.decode()
    return result.stdout.decode().strip()


def get_json(url: str) -> Any:
    """GET a JSON document (from a thread: the port-forward relays in the test's loop)."""
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def pod_uids(deployment: KubeDeployment, prefix: str) -> dict[str, str]:
    return {
        name: pod["metadata"]["uid"]
        for name, pod in deployment.pods().items()
        if name.startswith(prefix)
    }


# --- up -----------------------------------------------------------------------------------


def test_up_runs_every_database_reachable_through_the_port_forward(deployment, cli) -> None:  # type: ignore[no-untyped-def]
    up = alfred(deployment, cli, "up", "--yes")
    assert up.returncode == 0, up.stdout + up.stderr
    assert "created collection general-knowledge" in up.stderr
    password = deployment.secret("db-password")
    assert password == "e2e-pg-pass-7f3a9c"  # the profile's, through the Secret

    async def check(backend: Any) -> None:
        endpoint = await backend.endpoint("postgres")
        answer = await asyncio.to_thread(
            psql, endpoint.port, password, "SELECT current_user, inet_server_addr()"
        )
        assert answer.returncode == 0, answer.stderr
        user, address = answer.stdout.strip().split("|")
        assert user == "postgres"
        assert address == deployment.pods()["postgres-primary-0"]["status"]["podIP"]
        wrong = await asyncio.to_thread(psql, endpoint.port, "not-the-password", "SELECT 1")
        assert wrong.returncode != 0 and "password authentication failed" in wrong.stderr

        redis_endpoint = await backend.endpoint("redis")
        secret = deployment.secret("redis-password")
        client = aioredis.Redis(host="127.0.0.1", port=redis_endpoint.port, password=secret)
        anonymous = aioredis.Redis(host="127.0.0.1", port=redis_endpoint.port)
        try:
            assert await client.ping()
            assert (await client.info("replication"))["role"] == "master"
            with pytest.raises(Exception, match=r"(?i)auth"):
                await anonymous.ping()
        finally:
            await client.aclose()
            await anonymous.aclose()

        qdrant = await backend.endpoint("qdrant")
        listing = await asyncio.to_thread(get_json, f"http://127.0.0.1:{qdrant.port}/collections")
        names = {c["name"] for c in listing["result"]["collections"]}
        assert names == {
            "general-knowledge", "financial-knowledge", "legal-knowledge", "social-knowledge",
        }  # fmt: skip

    deployment.run(check)
    status = alfred(deployment, cli, "status", "--output", "json")
    assert status.returncode == 0, status.stderr
    services = {s["service"]: s for s in json.loads(status.stdout)["services"]}
    assert all((s["desired"], s["ready"]) == (1, 1) for s in services.values()), services
    # The start-up probes failed while the databases started; that is over once Ready.
    assert all(s["note"] is None for s in services.values()), services


# --- point-in-time recovery (PostgreSQL alone, as right after up) ---------------------------


def test_point_in_time_recovery_through_the_api_and_exec(deployment, cli) -> None:  # type: ignore[no-untyped-def]
    password = deployment.secret("db-password")
    enabled = alfred(deployment, cli, "pitr", "enable", "--yes")
    assert enabled.returncode == 0, enabled.stdout + enabled.stderr
    base = alfred(deployment, cli, "pitr", "base-backup")
    assert base.returncode == 0, base.stdout + base.stderr
    assert "pg_verifybackup ok" in base.stdout
    status = alfred(deployment, cli, "pitr", "status", "--output", "json")
    ready = json.loads(status.stdout)
    assert ready["ready"] is True, ready["problems"]
    assert ready["backend"] == "kubernetes"
    assert ready["archive"]["path"] == "/var/lib/postgresql/data/wal-archive"  # on the claim
    assert ready["archive"]["files"] >= 1  # read in the pod

    with port_forwards(deployment, ("postgres",)) as ports:
        between = write_t1_then_t2(ports["postgres"], password)
    before = pod_uids(deployment, "postgres-primary")
    result = alfred(deployment, cli, "pitr", "recover", "--to", between.isoformat(), "--yes")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "timeline 2" in result.stdout
    with port_forwards(deployment, ("postgres",)) as ports:
        rows = "SELECT phase, count(*), min(n) FROM events GROUP BY phase"
        assert pg_sql(ports["postgres"], rows, password=password) == "t1|500|1"
        assert pg_sql(ports["postgres"], "SELECT pg_is_in_recovery()", password=password) == "f"
        pg_sql(ports["postgres"], "DROP TABLE events", password=password)
    assert pod_uids(deployment, "postgres-primary") != before  # stopped and started again
    assert "postgres-pitr" not in deployment.pods()  # the maintenance pod is gone


# --- scale --------------------------------------------------------------------------------


def test_scale_postgres_3_two_replicas_stream_from_the_primary(deployment, cli) -> None:  # type: ignore[no-untyped-def]
    scaled = alfred(deployment, cli, "scale", "postgres", "3", "--yes")
    assert scaled.returncode == 0, scaled.stdout + scaled.stderr

    async def check(backend: Any) -> None:
        primary = "postgres-primary-0"

        async def streaming() -> bool:
            rows = await sql_in(
                backend, primary,
                "SELECT application_name, state FROM pg_stat_replication ORDER BY 1",
            )  # fmt: skip
            return rows.splitlines() == [
                "postgres-replica-0|streaming",
                "postgres-replica-1|streaming",
            ]

        await until(streaming, what="two replicas streaming")
        await sql_in(
            backend, primary,
            "CREATE TABLE e2e_replicated (note text); INSERT INTO e2e_replicated VALUES ('hi k8s')",
        )  # fmt: skip
        for replica in ("postgres-replica-0", "postgres-replica-1"):
            assert await sql_in(backend, replica, "SELECT pg_is_in_recovery()") == "t"

            async def replicated(replica: str = replica) -> bool:
                return await sql_in(backend, replica, "SELECT note FROM e2e_replicated") == "hi k8s"

            await until(replicated, what=f"the row on {replica}")

    deployment.run(check)


def test_scale_redis_2_the_replica_links_to_the_master(deployment, cli) -> None:  # type: ignore[no-untyped-def]
    scaled = alfred(deployment, cli, "scale", "redis", "2", "--yes")
    assert scaled.returncode == 0, scaled.stdout + scaled.stderr

    async def check(backend: Any) -> None:
        async def linked() -> bool:
            info = await redis_in(backend, "redis-1", "INFO", "replication")
            return "role:slave" in info and "master_link_status:up" in info

        await until(linked, what="redis-1 linked to its master")
        assert "OK" in await redis_in(backend, "redis-0", "SET", "e2e:k8s", "from-master")

        async def copied() -> bool:
            return (await redis_in(backend, "redis-1", "GET", "e2e:k8s")).strip() == "from-master"

        await until(copied, what="the key on redis-1")
        # The client Service `redis` goes to the master: a replica would answer READONLY.
        written = await redis_in(backend, "redis-1", "-h", "redis", "SET", "e2e:via-service", "1")
        assert written.strip() == "OK", written

    deployment.run(check)


def test_scale_down_removes_the_highest_ordinal_and_keeps_its_claim(deployment, cli) -> None:  # type: ignore[no-untyped-def]
    for service, count in (("postgres", "2"), ("redis", "1")):
        scaled = alfred(deployment, cli, "scale", service, count, "--yes")
        assert scaled.returncode == 0, scaled.stdout + scaled.stderr
    pods = set(deployment.pods())
    assert {"postgres-replica-0", "redis-0"} <= pods
    assert not {"postgres-replica-1", "redis-1"} & pods
    assert {"data-postgres-replica-1", "data-redis-1"} <= deployment.claims()


# --- resize, restart ----------------------------------------------------------------------


_LIMITS = (  # cgroup v2, else v1
    "cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes;"
    " cat /sys/fs/cgroup/cpu.max 2>/dev/null || echo"
    " $(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us) $(cat /sys/fs/cgroup/cpu/cpu.cfs_period_us)"
)


def test_resize_rolls_the_pod_with_the_new_limits_on_its_container(deployment, cli) -> None:  # type: ignore[no-untyped-def]
    before = pod_uids(deployment, "redis-")
    resized = alfred(
        deployment, cli, "resize", "redis", "--memory", "256M", "--cpus", "0.5", "--yes"
    )
    assert resized.returncode == 0, resized.stdout + resized.stderr
    assert pod_uids(deployment, "redis-").keys() == before.keys()
    assert pod_uids(deployment, "redis-") != before  # rolled: a new pod

    async def check(backend: Any) -> None:
        limits = await backend.exec("redis", ["sh", "-c", _LIMITS], instance="redis-0")
        memory, cpu = limits.stdout.decode().strip().splitlines()
        assert int(memory) == 256 * 1024**2
        quota, period = cpu.split()
        assert int(quota) / int(period) == 0.5
        # Stopped with SIGTERM and its grace period, Redis saved its data on the way out.
        assert (await redis_in(backend, "redis-0", "GET", "e2e:k8s")).strip() == "from-master"

    deployment.run(check)


def test_restart_replaces_every_pod_and_replication_resumes(deployment, cli) -> None:  # type: ignore[no-untyped-def]
    before = pod_uids(deployment, "postgres-")
    restarted = alfred(deployment, cli, "restart", "postgres", "--yes")
    assert restarted.returncode == 0, restarted.stdout + restarted.stderr
    after = pod_uids(deployment, "postgres-")
    assert after.keys() == before.keys() == {"postgres-primary-0", "postgres-replica-0"}
    assert all(after[name] != before[name] for name in after)

    async def check(backend: Any) -> None:
        assert await sql_in(backend, "postgres-primary-0", "SELECT note FROM e2e_replicated") == (
            "hi k8s"
        )

        async def streaming() -> bool:
            rows = await sql_in(
                backend, "postgres-primary-0", "SELECT state FROM pg_stat_replication"
            )
            return rows == "streaming"

        try:
            await until(streaming, what="the replica streaming again")
        except AssertionError as exc:  # say why: the standby's receiver and its last log lines
            receiver = await sql_in(
                backend, "postgres-replica-0",
                "SELECT pg_is_in_recovery(), status, sender_host, last_msg_receipt_time "
                "FROM pg_stat_wal_receiver RIGHT JOIN (SELECT 1) one ON true",
            )  # fmt: skip
            log = subprocess.run(
                ["docker", "logs", "--tail", "30",
                 deployment.container("postgres-replica-0", "postgres")],
                capture_output=True, text=True, timeout=30,
            )  # fmt: skip
            raise AssertionError(
                f"{exc}\nreplica: {receiver}\nreplica log: {(log.stdout + log.stderr)[-3000:]}"
            ) from None

    deployment.run(check)


def test_reclone_keeps_a_safety_copy_and_the_new_replica_streams(deployment, cli) -> None:  # type: ignore[no-untyped-def]
    claim = "data-postgres-replica-0"

    def claim_uid() -> str:
        found = deployment.cluster.find("persistentvolumeclaims", deployment.namespace, claim)
        return str(found["metadata"]["uid"])

    before = claim_uid()
    recloned = alfred(deployment, cli, "reclone", "postgres", "postgres-replica-0", "--yes")
    assert recloned.returncode == 0, recloned.stdout + recloned.stderr
    plan = recloned.stdout + recloned.stderr
    assert f"keep a safety copy of claim {claim}" in plan
    line = next(x for x in recloned.stdout.splitlines() if x.startswith("safety copy kept in"))
    safety = Path(line.removeprefix("safety copy kept in ").split(" (")[0])
    copy = safety / f"{claim}.tar"
    assert copy.stat().st_mode & 0o777 == 0o600
    with tarfile.open(copy) as archive:  # the standby's own files, as they were
        names = archive.getnames()
    assert {"./pgdata/PG_VERSION", "./pgdata/standby.signal"} <= set(names)
    assert claim_uid() != before  # a new, empty claim, filled from the primary
    assert not any(name.startswith("alfred-copy-") for name in deployment.pods())

    async def check(backend: Any) -> None:
        async def streaming() -> bool:
            rows = await sql_in(
                backend, "postgres-primary-0", "SELECT state FROM pg_stat_replication"
            )
            return rows == "streaming"

        await until(streaming, what="the re-cloned replica streaming")
        assert await sql_in(backend, "postgres-replica-0", "SELECT note FROM e2e_replicated") == (
            "hi k8s"
        )

    deployment.run(check)


# --- failures -------------------------------------------------------------------------------


async def watching(backend: Any, action: Callable[[], Any], kind: str, pod: str) -> Any:
    """Run ``action`` while the backend's event stream is open; the ``kind`` event of ``pod``."""
    seen: list[Any] = []
    stream = backend.events()

    async def consume() -> None:
        async for event in stream:
            seen.append(event)

    task = asyncio.create_task(consume())
    try:
        await asyncio.sleep(2)  # the watch lists first: what happens before is not news
        await asyncio.to_thread(action)

        async def arrived() -> Any:
            return next((e for e in seen if (e.kind, e.instance) == (kind, pod)), None)

        return await until(arrived, what=f"a {kind} event of {pod}")
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await stream.aclose()


@needs_kubectl
def test_a_killed_process_is_restarted_counted_and_its_previous_log_kept(deployment, cli) -> None:  # type: ignore[no-untyped-def]
    container = deployment.container("qdrant-0", "qdrant")

    def kill() -> None:
        subprocess.run(["docker", "kill", "--signal", "KILL", container], check=True, timeout=60)

    async def check(backend: Any) -> None:
        event = await watching(backend, kill, "restart", "qdrant-0")
        assert event.service == "qdrant" and "last exit: Error" in event.message

        async def restarted() -> Any:
            qdrant = next(s for s in await backend.status() if s.service == "qdrant")
            instance = qdrant.instances[0]
            return instance if instance.restarts == 1 and instance.health == "healthy" else None

        instance = await until(restarted, what="qdrant restarted and ready")
        assert instance.detail == "last exit: Error (137)"

    deployment.run(check)
    previous = kubectl(deployment, "logs", "qdrant-0", "--previous")
    assert previous.returncode == 0, previous.stderr
    assert "Qdrant stand-in" in previous.stdout


@needs_kubectl
def test_out_of_memory_shows_as_oomkilled(deployment, cli) -> None:  # type: ignore[no-untyped-def]
    hog = "local t = {} for i = 1, 8000000 do t[i] = string.rep('x', 64) .. i end return #t"

    async def check(backend: Any) -> None:
        def eat_memory() -> None:
            kubectl(deployment, "exec", "redis-0", "--", "redis-cli", "EVAL", hog, "0")

        event = await watching(backend, eat_memory, "oom", "redis-0")
        assert "OOMKilled" in event.message

        async def killed() -> Any:
            redis = next(s for s in await backend.status() if s.service == "redis")
            instance = redis.instances[0]
            return instance if instance.detail == "last exit: OOMKilled (137)" else None

        await until(killed, what="redis-0 OOMKilled")

    deployment.run(check)
    table = alfred(deployment, cli, "status")
    assert "OOMKilled" in table.stdout


@needs_kubectl
def test_a_pod_that_cannot_start_makes_check_critical_and_status_names_the_image(  # type: ignore[no-untyped-def]
    deployment, cli
) -> None:
    healthy = alfred(deployment, cli, "check", "--output", "json")
    assert healthy.returncode in (0, 1), healthy.stdout + healthy.stderr
    assert all(s["up"] for s in json.loads(healthy.stdout)["services"])

    broken = "registry.invalid/alfred/qdrant:9.9"
    changed = kubectl(deployment, "set", "image", "statefulset/qdrant", f"qdrant={broken}")
    assert changed.returncode == 0, changed.stderr

    async def check(backend: Any) -> None:
        async def stuck() -> Any:
            qdrant = next(s for s in await backend.status() if s.service == "qdrant")
            instance = qdrant.instances[0] if qdrant.instances else None
            waiting = instance and instance.detail.startswith("ImagePullBackOff")
            return instance if waiting else None

        instance = await until(stuck, timeout=120, what="qdrant-0 in ImagePullBackOff")
        assert instance.detail == f'ImagePullBackOff: Back-off pulling image "{broken}"'
        assert instance.state == "failed"

    deployment.run(check)
    down = alfred(deployment, cli, "check", "--output", "json")
    assert down.returncode == 2, down.stdout + down.stderr
    services = {s["service"]: s for s in json.loads(down.stdout)["services"]}
    assert services["qdrant"]["up"] is False
    assert services["postgres"]["up"] is True and services["redis"]["up"] is True
    status = alfred(deployment, cli, "status")
    assert "ImagePullBackOff" in status.stdout and broken in status.stdout.replace("\n", "")
    # up re-applies the profile's image, but a StatefulSet never replaces a pod that is not
    # ready: up says so at once, in one line, rather than waiting for nothing.
    up = alfred(deployment, cli, "up", "--yes", timeout=120)
    assert up.returncode == 2, up.stdout + up.stderr
    last = up.stderr.strip().splitlines()[-1]
    assert "qdrant-0" in last and "ImagePullBackOff" in last and broken in last, up.stderr
    deleted = kubectl(deployment, "delete", "pod", "qdrant-0")  # what the message says to do
    assert deleted.returncode == 0, deleted.stderr


# --- down and up again ------------------------------------------------------------------------


def test_down_keeps_the_claims_and_up_again_finds_the_data(deployment, cli) -> None:  # type: ignore[no-untyped-def]
    claims = deployment.claims()
    down = alfred(deployment, cli, "down", "--yes")
    assert down.returncode == 0, down.stdout + down.stderr
    assert deployment.pods() == {}
    assert deployment.claims() == claims
    up = alfred(deployment, cli, "up", "--yes")
    assert up.returncode == 0, up.stdout + up.stderr

    async def check(backend: Any) -> None:
        note = await sql_in(backend, "postgres-primary-0", "SELECT note FROM e2e_replicated")
        assert note == "hi k8s"
        assert (await redis_in(backend, "redis-0", "GET", "e2e:via-service")).strip() == "1"

    deployment.run(check)


def test_down_volumes_keeps_a_safety_copy_then_removes_the_claims(deployment, cli) -> None:  # type: ignore[no-untyped-def]
    volumes_before = docker_volumes(deployment)
    assert len(volumes_before) == len(deployment.claims())
    down = alfred(deployment, cli, "down", "--volumes", "--yes")
    assert down.returncode == 0, down.stdout + down.stderr
    line = next(x for x in down.stdout.splitlines() if x.startswith("safety copy kept in"))
    safety = Path(line.removeprefix("safety copy kept in ").split(" (")[0])
    copies = {p.name for p in safety.iterdir()}
    assert {"data-postgres-primary-0.tar", "data-redis-0.tar", "data-qdrant-0.tar"} <= copies
    with tarfile.open(safety / "data-postgres-primary-0.tar") as archive:
        assert "./pgdata/PG_VERSION" in archive.getnames()
    with tarfile.open(safety / "data-redis-0.tar") as archive:
        assert "./dump.rdb" in archive.getnames()
    assert deployment.claims() == set()
    deadline = time.monotonic() + 120  # the storage goes after the claim, as a PV does
    while docker_volumes(deployment) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert docker_volumes(deployment) == set()


def docker_volumes(deployment: KubeDeployment) -> set[str]:
    """The Docker volumes holding the namespace's claims."""
    listed = subprocess.run(
        ["docker", "volume", "ls", "-q", "--filter",
         f"label=io.kubernetes.pvc.namespace={deployment.namespace}"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return set(listed.stdout.split())
