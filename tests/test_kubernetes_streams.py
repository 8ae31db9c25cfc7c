"""Logs, exec, port-forward and watches of the Kubernetes backend, against the **stand-in**.

Exec and port-forward go through the official client's WebSocket code to the
stand-in, whose Docker kubelet runs the command in the pod's real container
and connects to the port inside the pod (the shared deployment of
tests/kube_support.py): ``pg_dump``, ``psql``, ``redis-cli`` and the
``check`` probes do real work on real databases. The merging of logs and the
watches are the client's and the API's behaviour: those run on the fake
kubelet's pods, whose log lines a test writes with the times it wants.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from typing import Any

import asyncpg
import pytest
import redis.asyncio as aioredis
from kube_standin.resources import find_type

from alfred_tui.backends.base import LogRecord, NotDeployed, OperationFailed
from alfred_tui.backends.kubernetes.backend import KubernetesBackend
from alfred_tui.config.loader import load_profile

NS = "alfred-platform"
PODS = find_type("", "v1", "pods")
STS = find_type("apps", "v1", "statefulsets")


@pytest.fixture
async def backend(k8s_kubeconfig, k8s_standin):  # type: ignore[no-untyped-def]
    """``dev`` deployed on the fake kubelet's pods (logs and watches: API behaviour only)."""
    instance = KubernetesBackend(
        load_profile("dev"),
        wait_timeout=20,
        poll_interval=0.05,
        watch_timeout=1,
        log_rescan_seconds=0.2,
    )
    await instance.deploy()
    try:
        yield instance
    finally:
        await instance.close()


@pytest.fixture
async def pods(kube_shared):  # type: ignore[no-untyped-def]
    """A backend on the shared deployment whose pods run as real containers."""
    instance = kube_shared.backend()
    try:
        yield instance
    finally:
        await instance.close()


def write_log(cluster: Any, pod: str, line: str, at: dt.datetime | None = None) -> None:
    cluster.call(cluster.kubelet.write_log, NS, pod, line, at)


# --- logs ------------------------------------------------------------------------------


async def test_logs_of_several_pods_are_merged_by_time(backend, k8s_standin) -> None:  # type: ignore[no-untyped-def]
    await backend.scale("redis", 2)
    base = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)
    for offset, pod, line in ((1, "redis-0", "a1"), (3, "redis-0", "a3")):
        write_log(k8s_standin, pod, line, base + dt.timedelta(milliseconds=offset))
    for offset, pod, line in ((2, "redis-1", "b2"), (4, "redis-1", "b4")):
        write_log(k8s_standin, pod, line, base + dt.timedelta(milliseconds=offset))
    records = [r async for r in backend.logs(["redis"], tail=2)]
    assert [(r.instance, r.line) for r in records] == [
        ("redis-0", "a1"),
        ("redis-1", "b2"),
        ("redis-0", "a3"),
        ("redis-1", "b4"),
    ]
    assert all(r.service == "redis" and r.stream == "stdout" for r in records)
    assert records[0].timestamp == base + dt.timedelta(milliseconds=1)
    everything = [r async for r in backend.logs()]
    assert {r.service for r in everything} == {"postgres", "redis", "qdrant"}
    stamps = [r.timestamp for r in everything]
    assert stamps == sorted(stamps)


async def test_logs_since(backend, k8s_standin) -> None:  # type: ignore[no-untyped-def]
    write_log(k8s_standin, "redis-0", "before")
    await asyncio.sleep(1.3)
    cut = dt.datetime.now(dt.UTC)
    write_log(k8s_standin, "redis-0", "after")
    lines = [r.line async for r in backend.logs(["redis"], since=cut)]
    assert lines == ["after"]


async def test_followed_logs_stream_new_lines_and_new_pods(backend, k8s_standin) -> None:  # type: ignore[no-untyped-def]
    seen: list[LogRecord] = []
    stream = backend.logs(["redis"], follow=True, tail=0)

    async def consume() -> None:
        async for record in stream:
            seen.append(record)

    task = asyncio.create_task(consume())
    try:
        await asyncio.sleep(0.5)
        await backend.scale("redis", 2)
        await asyncio.sleep(0.6)  # the follower notices redis-1 (rescan every 0.2 s)
        now = dt.datetime.now(dt.UTC)
        write_log(k8s_standin, "redis-1", "second", now + dt.timedelta(milliseconds=2))
        write_log(k8s_standin, "redis-0", "first", now + dt.timedelta(milliseconds=1))
        write_log(k8s_standin, "redis-0", "third", now + dt.timedelta(milliseconds=3))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not {"first", "second", "third"} <= {
            r.line for r in seen
        }:
            await asyncio.sleep(0.05)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await stream.aclose()
    tail = [(r.instance, r.line) for r in seen if r.line in ("first", "second", "third")]
    assert tail == [("redis-0", "first"), ("redis-1", "second"), ("redis-0", "third")]
    assert any(r.instance == "redis-1" and "Ready to accept" in r.line for r in seen)


# --- exec -------------------------------------------------------------------------------


async def test_exec_pg_dump_and_psql_with_stdin(pods) -> None:  # type: ignore[no-untyped-def]
    ddl = "DROP TABLE IF EXISTS k8s_exec_probe; CREATE TABLE k8s_exec_probe (id int);"
    made = await pods.exec("postgres", ["psql", "-v", "ON_ERROR_STOP=1", "-c", ddl])
    assert made.ok, made.stderr
    loaded = await pods.exec(
        "postgres",
        ["psql", "-v", "ON_ERROR_STOP=1"],
        stdin=b"INSERT INTO k8s_exec_probe VALUES (1), (42);\n",
    )
    assert loaded.ok, loaded.stderr
    dump = await pods.exec("postgres", ["pg_dump", "-t", "k8s_exec_probe"])
    assert dump.ok, dump.stderr
    assert b"CREATE TABLE public.k8s_exec_probe" in dump.stdout
    assert b"\n1\n42\n" in dump.stdout  # the rows, as COPY data
    total = await pods.exec("postgres", ["psql", "-Atc", "SELECT sum(id) FROM k8s_exec_probe"])
    assert total.stdout == b"43\n", total.stderr  # PG* come from the pod's own environment


async def test_exec_reports_exit_codes_stderr_and_binary_output(pods) -> None:  # type: ignore[no-untyped-def]
    failed = await pods.exec("postgres", ["sh", "-c", "echo oops >&2; exit 3"])
    assert (failed.exit_code, failed.stderr, failed.ok) == (3, b"oops\n", False)
    raw = await pods.exec("redis", ["sh", "-c", r"printf '\000\001\377'"])
    assert raw.stdout == b"\x00\x01\xff"
    with pytest.raises(OperationFailed) as caught:
        await pods.exec("redis", ["no-such-binary-x"])
    assert "executable file not found" in caught.value.one_line()
    assert "\n" not in caught.value.one_line()


async def test_exec_redis_cli(pods) -> None:  # type: ignore[no-untyped-def]
    set_result = await pods.exec("redis", ["redis-cli", "SET", "alfred:k8s:key", "v1"])
    assert set_result.stdout == b"OK\n"
    got = await pods.exec("redis", ["redis-cli", "GET", "alfred:k8s:key"])
    assert got.stdout == b"v1\n"
    blob = await pods.exec("redis", ["redis-cli", "-x", "SET", "alfred:k8s:blob"], stdin=b"payload")
    assert blob.ok, blob.stderr
    back = await pods.exec("redis", ["redis-cli", "--no-raw", "STRLEN", "alfred:k8s:blob"])
    assert back.stdout == b"(integer) 7\n"


async def test_exec_picks_an_instance(pods) -> None:  # type: ignore[no-untyped-def]
    result = await pods.exec("redis", ["sh", "-c", 'echo "$HOSTNAME"'], instance="redis-0")
    assert result.stdout == b"redis-0\n"
    with pytest.raises(NotDeployed, match="no pod redis-7 of redis"):
        await pods.exec("redis", ["true"], instance="redis-7")


# --- port-forward -----------------------------------------------------------------------


async def test_endpoint_port_forwards_to_the_databases(pods, kube_shared) -> None:  # type: ignore[no-untyped-def]
    endpoint = await pods.endpoint("postgres")
    assert endpoint.host == "127.0.0.1" and endpoint.port != 5432
    assert await pods.endpoint("postgres") == endpoint  # one tunnel per service
    password = kube_shared.secret("db-password")

    async def query() -> str:
        connection = await asyncpg.connect(
            host=endpoint.host, port=endpoint.port, user="postgres", password=password,
            database="postgres", timeout=20,
        )  # fmt: skip
        try:
            return str(await connection.fetchval("SELECT inet_server_addr()"))
        finally:
            await connection.close()

    pod_ip = kube_shared.pods()["postgres-primary-0"]["status"]["podIP"]
    assert await asyncio.gather(query(), query(), query()) == [pod_ip] * 3
    redis_endpoint = await pods.endpoint("redis")
    client = aioredis.Redis(
        host=redis_endpoint.host,
        port=redis_endpoint.port,
        password=kube_shared.secret("redis-password"),
    )
    try:
        assert await client.ping()
    finally:
        await client.aclose()
    status = next(s for s in await pods.status() if s.service == "postgres")
    assert status.endpoints[0] == f"{endpoint.address()} (port-forward)"

    await pods.restart("postgres")  # the pod is replaced; the tunnel finds the new one
    new_ip = kube_shared.pods()["postgres-primary-0"]["status"]["podIP"]
    assert await query() == new_ip

    await pods.close()
    with pytest.raises(OSError):
        await asyncio.wait_for(asyncio.open_connection(endpoint.host, endpoint.port), 2)


async def test_endpoint_without_pods_says_so(k8s_kubeconfig, k8s_standin) -> None:  # type: ignore[no-untyped-def]
    backend = KubernetesBackend(load_profile("dev"))
    try:
        with pytest.raises(NotDeployed) as caught:
            await backend.endpoint("redis")
    finally:
        await backend.close()
    assert caught.value.one_line() == (
        f"Not deployed: no running pod of redis (StatefulSet redis) in namespace {NS}; "
        "run alfred-tui up, or see alfred-tui status"
    )


def test_check_cli_probes_through_the_port_forward(kube_shared, cli) -> None:  # type: ignore[no-untyped-def]
    result = cli(
        "check", "--profile", str(kube_shared.profile_path), "--output", "json",
        "--timeout", "30",
    )  # fmt: skip
    assert result.returncode in (0, 1), result.stdout + result.stderr  # OK, or a metric warns
    report = json.loads(result.stdout)
    assert report["backend"] == "kubernetes"
    for service in report["services"]:
        assert service["up"] is True, service
        assert "127.0.0.1:" in service["address"]  # the loopback end of a port-forward


# --- events -------------------------------------------------------------------------------


async def wait_until_pod_exists(k8s_standin: Any, name: str) -> None:
    """Until the stand-in's StatefulSet controller has created pod ``name`` (2 s at most)."""

    def exists(server: Any) -> bool:
        return any(p["metadata"]["name"] == name for p in server.items(PODS, NS))

    for _ in range(100):
        if k8s_standin.inject(exists):
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"the stand-in did not create pod {name}")


async def test_events_follow_changes_and_survive_a_broken_watch(backend, k8s_standin) -> None:  # type: ignore[no-untyped-def]
    seen: list[Any] = []
    stream = backend.events()

    async def consume() -> None:
        async for event in stream:
            seen.append(event)

    async def wait_for(predicate: Any, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(predicate(e) for e in seen):
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"no such event in {[(e.kind, e.instance) for e in seen]}")

    task = asyncio.create_task(consume())
    try:
        await asyncio.sleep(0.5)
        await backend.scale("redis", 2)
        await wait_for(lambda e: e.kind == "created" and e.instance == "redis-1")
        await wait_for(lambda e: e.kind == "ready" and e.instance == "redis-1")
        await wait_for(lambda e: e.kind == "SuccessfulCreate" and e.service == "redis")

        def break_watches(server: Any) -> None:
            server.compact()  # the version the watch resumes from is gone: 410, list again
            server.fail_next("GET", "pods", 503, 3)  # down for ~1 + 2 + 4 s of backoff

        k8s_standin.inject(break_watches)
        await wait_for(lambda e: e.kind == "watch_error")
        error = next(e for e in seen if e.kind == "watch_error")
        assert "503" in error.message and "reconnecting" in error.message

        # A pod comes while the watch is down (another client scales: the backend's own
        # calls would use up the injected failures): the list after the outage reports it.
        def scale_to_3(server: Any) -> None:
            sts = server.get(STS, NS, "redis")
            sts["spec"]["replicas"] = 3
            server.store(STS, NS, "redis", sts)

        k8s_standin.inject(scale_to_3)
        await wait_until_pod_exists(k8s_standin, "redis-2")
        assert not any(e.kind == "watch_resumed" for e in seen)  # still in the outage
        await wait_for(lambda e: e.kind == "watch_resumed")
        await wait_for(lambda e: e.kind == "created" and e.instance == "redis-2")
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await stream.aclose()


def test_a_list_after_an_outage_reports_what_changed_meanwhile(backend) -> None:  # type: ignore[no-untyped-def]
    """The first list is the starting state; a later one is compared with it."""
    from alfred_tui.backends.kubernetes.watching import EventWatcher

    def pod(name: str, ready: bool, restarts: int = 0, reason: str = "") -> dict[str, Any]:
        last = {"terminated": {"reason": reason}} if reason else {}
        return {
            "metadata": {"name": name},
            "status": {
                "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
                "containerStatuses": [{"restartCount": restarts, "lastState": last}],
            },
        }

    watcher = EventWatcher(backend.api, backend.profile)
    watcher._reconcile([pod("redis-0", True), pod("redis-1", False), pod("redis-2", True)], True)
    assert watcher.queue.empty()  # the state it starts from is not news

    watcher._reconcile(
        [pod("redis-0", True, 1, "OOMKilled"), pod("redis-1", True), pod("redis-3", True)], False
    )
    events = []
    while not watcher.queue.empty():
        events.append(watcher.queue.get_nowait())
    assert [(e.kind, e.instance) for e in events] == [
        ("oom", "redis-0"),
        ("ready", "redis-1"),
        ("created", "redis-3"),
        ("ready", "redis-3"),
        ("deleted", "redis-2"),
    ]
    assert {e.service for e in events} == {"redis"}
