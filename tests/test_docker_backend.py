"""The Docker backend on a real Docker engine, with the locally built test images.

One Compose project per module (``docker_stack``): the test profile deployed
once, every test leaving it as it found it (scaled back, resized back). The
engine and the images come from scripts/run-tests.sh; without an engine the
module is skipped with the reason.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import tarfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from conftest import run_cli
from docker_support import TEST_PROFILE, DockerStack, docker_cli

from alfred_tui.backends.base import EngineUnreachable
from alfred_tui.backends.docker.logs import parse_timestamp

pytestmark = [pytest.mark.docker, pytest.mark.slow]

SERVICE_NAMES = {"postgres": "db-postgres", "redis": "redis", "qdrant": "vector-db"}


async def _exec_text(backend, service, argv, instance=None) -> str:  # type: ignore[no-untyped-def]
    result = await backend.exec(service, argv, instance=instance, timeout=60)
    assert result.ok, result.stderr.decode()
    return result.stdout.decode().strip()


async def _poll(predicate, timeout: float = 60.0, interval: float = 0.5):  # type: ignore[no-untyped-def]
    """Await ``predicate()`` until it returns something truthy; that value."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = await predicate()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s (last: {last!r})")


def _status_of(statuses, kind):  # type: ignore[no-untyped-def]
    return next(s for s in statuses if s.service == kind)


# --- deploy, check, labels -------------------------------------------------------------


async def test_deploy_leaves_every_service_healthy_and_check_passes(
    docker_stack: DockerStack,
) -> None:
    async with docker_stack.backend() as backend:
        statuses = await backend.status()
    for status in statuses:
        assert status.service in docker_stack.services
        assert status.desired == status.ready == 1, status
        (instance,) = status.instances
        assert (instance.state, instance.health) == ("running", "healthy"), instance
        assert instance.name == docker_stack.container(SERVICE_NAMES[status.service])
        port = docker_stack.ports[status.service]
        assert status.endpoints[0] == f"127.0.0.1:{port}"
    if "qdrant" in docker_stack.services:
        # The spec's deployment step 3: create the collections (an empty Qdrant is a WARNING).
        url = f"http://127.0.0.1:{docker_stack.ports['qdrant']}/collections/general-knowledge"
        reply = httpx.put(url, json={"vectors": {"size": 4, "distance": "Cosine"}}, timeout=30)
        assert reply.status_code == 200, reply.text
    result = run_cli(
        "check", "--profile", str(docker_stack.profile_path), "--backend", "docker",
        "--output", "json",
    )  # fmt: skip
    report = json.loads(result.stdout)
    assert result.returncode == 0, (result.stdout, result.stderr)
    assert {s["service"] for s in report["services"]} == set(docker_stack.services)
    assert report["backend"] == "docker"


def test_docker_ps_sees_compose_labels(docker_stack: DockerStack) -> None:
    label = f"label=com.docker.compose.project={docker_stack.project}"
    listing = docker_cli(
        "ps", "--filter", label, "--format",
        '{{.Names}}|{{.Label "com.docker.compose.service"}}|'
        '{{.Label "com.docker.compose.container-number"}}|{{.Label "com.docker.compose.oneoff"}}|'
        '{{.Label "com.docker.compose.project.config_files"}}',
        check=True,
    ).stdout.split()  # fmt: skip
    rows = {line.split("|")[0]: line.split("|")[1:] for line in listing}
    for kind in docker_stack.services:
        name = docker_stack.container(SERVICE_NAMES[kind])
        assert rows[name][:3] == [SERVICE_NAMES[kind], "1", "False"]
        assert rows[name][3] == str(docker_stack.profile_path.resolve())
    volumes = docker_cli(
        "volume", "ls", "--filter", label, "--format",
        '{{.Name}}|{{.Label "com.docker.compose.volume"}}', check=True,
    ).stdout.split()  # fmt: skip
    assert f"{docker_stack.project}_db-postgres-data|db-postgres-data" in volumes
    assert f"{docker_stack.project}_redis-data|redis-data" in volumes
    networks = docker_cli("network", "ls", "--filter", label, "--format", "{{.Name}}").stdout
    assert f"{docker_stack.project}_alfred-network" in networks.split()


def test_ports_bind_where_the_profile_says(docker_stack: DockerStack) -> None:
    name = docker_stack.container("db-postgres")
    ports = json.loads(docker_stack.inspect(name, "{{json .HostConfig.PortBindings}}"))
    assert ports == {
        "5432/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(docker_stack.ports["postgres"])}]
    }
    health = json.loads(docker_stack.inspect(name, "{{json .Config.Healthcheck}}"))
    assert health["Test"][:2] == ["CMD", "pg_isready"]
    assert health["Retries"] == 10
    policy = docker_stack.inspect(name, "{{.HostConfig.RestartPolicy.Name}}")
    assert policy == "unless-stopped"


async def test_deploy_again_changes_nothing(docker_stack: DockerStack) -> None:
    before = {
        kind: docker_stack.inspect(docker_stack.container(SERVICE_NAMES[kind]), "{{.Id}}")
        for kind in docker_stack.services
    }
    async with docker_stack.backend() as backend:
        await backend.deploy()
    after = {
        kind: docker_stack.inspect(docker_stack.container(SERVICE_NAMES[kind]), "{{.Id}}")
        for kind in docker_stack.services
    }
    assert before == after


# --- scale, resize, restart ------------------------------------------------------------


async def test_scale_redis_one_two_one(docker_stack: DockerStack) -> None:
    replica = docker_stack.container("redis", 2)
    async with docker_stack.backend() as backend:
        await backend.scale("redis", 2)
        status = _status_of(await backend.status(), "redis")
        assert (status.desired, status.ready) == (2, 2)
        assert [i.role for i in status.instances] == ["primary", "replica"]
        assert len(status.endpoints) == 2  # the replica on an ephemeral loopback port
        await _exec_text(backend, "redis", ["redis-cli", "SET", "scale-test", "written-on-1"])

        async def replicated() -> bool:
            value = await _exec_text(backend, "redis", ["redis-cli", "GET", "scale-test"], replica)
            return value == "written-on-1"

        await _poll(replicated, 30)
        await backend.scale("redis", 1)
        status = _status_of(await backend.status(), "redis")
    assert (status.desired, status.ready) == (1, 1)
    names = docker_cli("ps", "-a", "--format", "{{.Names}}", check=True).stdout.split()
    assert replica not in names
    assert docker_stack.container("redis", 1) in names


async def test_postgres_read_replica_streams_from_the_primary(docker_stack: DockerStack) -> None:
    replica = docker_stack.container("db-postgres", 2)
    async with docker_stack.backend() as backend:
        await backend.scale("postgres", 2)
        try:
            status = _status_of(await backend.status(), "postgres")
            assert (status.desired, status.ready) == (2, 2)
            assert [i.role for i in status.instances] == ["primary", "replica"]
            in_recovery = await _exec_text(
                backend, "postgres", ["psql", "-Atc", "select pg_is_in_recovery()"], replica
            )
            assert in_recovery == "t"
            # Written on the primary after the replica started: it must stream across.
            marker = f"row-{time.time_ns()}"
            await _exec_text(
                backend, "postgres",
                ["psql", "-Atc", "create table if not exists replica_probe(v text); "
                 f"insert into replica_probe values ('{marker}')"],
            )  # fmt: skip

            async def arrived() -> bool:
                result = await backend.exec(
                    "postgres",
                    ["psql", "-Atc", f"select count(*) from replica_probe where v = '{marker}'"],
                    instance=replica,
                )
                return result.ok and result.stdout.decode().strip() == "1"

            await _poll(arrived, 30)
            receiver = await _exec_text(
                backend, "postgres", ["psql", "-Atc", "select status from pg_stat_wal_receiver"],
                replica,
            )  # fmt: skip
            assert receiver == "streaming"
        finally:
            await backend.scale("postgres", 1)
    # The replication password is in no command line and no environment of the replica.
    config = docker_cli("inspect", docker_stack.container("db-postgres"), check=True).stdout
    assert "hot_standby" not in config  # the primary is untouched


async def test_resize_postgres_memory_live(docker_stack: DockerStack) -> None:
    name = docker_stack.container("db-postgres")
    started = docker_stack.inspect(name, "{{.State.StartedAt}}")
    memory = 768 * 1024 * 1024
    async with docker_stack.backend() as backend:
        await backend.resize("postgres", cpus=1.5, memory=memory)
        status = _status_of(await backend.status(), "postgres")
        assert status.limits.memory == memory
        assert status.limits.cpus == pytest.approx(1.5)
    values = docker_stack.inspect(
        name,
        "{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{.State.StartedAt}} {{.RestartCount}}",
    ).split()
    assert values == [str(memory), "1500000000", started, "0"]
    cgroup = docker_cli("exec", name, "cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes")
    if cgroup.returncode == 0:  # cgroup v1: the kernel's own word
        assert cgroup.stdout.strip() == str(memory)


async def test_a_status_poll_inspects_only_the_containers_whose_entry_changed(
    docker_stack: DockerStack,
) -> None:
    # The SDK's containers.list() inspects every container on every call: at fifty
    # containers that was most of the Overview's CPU. A container is inspected again
    # when its list entry (state, status text, names) changes, and a restart changes it.
    name = docker_stack.container("redis")
    async with docker_stack.backend() as backend:
        await backend.status()
        client = await backend.client()
        inspected: list[str] = []
        inspect = client.api.inspect_container

        def counting(container: str) -> dict:  # type: ignore[type-arg]
            inspected.append(container)
            return inspect(container)

        client.api.inspect_container = counting  # the engine's SDK, observed, not replaced
        before = {ident: kept[0] for ident, kept in backend._inspected.items()}
        await backend.status()
        after = {ident: kept[0] for ident, kept in backend._inspected.items()}
        changed = {ident for ident, key in after.items() if before.get(ident) != key}
        assert set(inspected) == changed
        assert len(after) >= len(docker_stack.services)

        redis_id = docker_stack.inspect(name, "{{.Id}}")
        docker_cli("restart", "-t", "1", name, check=True)
        inspected.clear()
        status = _status_of(await backend.status(), "redis")
        assert redis_id in inspected
        started = docker_stack.inspect(name, "{{.State.StartedAt}}")
        instance = status.instances[0]
        assert instance.state == "running"
        assert instance.started_at == parse_timestamp(started)  # the restart's, not the old one


async def test_killed_container_comes_back_and_restarts_are_counted(
    docker_stack: DockerStack,
) -> None:
    name = docker_stack.container("redis")
    async with docker_stack.backend() as backend:
        events: list = []

        async def watch() -> None:
            async for event in backend.events():
                events.append(event)

        watcher = asyncio.create_task(watch())
        await asyncio.sleep(0.5)
        before = _status_of(await backend.status(), "redis").restarts
        pid = int(docker_stack.inspect(name, "{{.State.Pid}}"))
        os.kill(pid, signal.SIGKILL)  # a crash (as the OOM killer would), not `docker stop`

        async def back_again():  # type: ignore[no-untyped-def]
            status = _status_of(await backend.status(), "redis")
            instance = status.instances[0]
            ok = instance.restarts > before and instance.state == "running"
            return status if ok and instance.health == "healthy" else None

        status = await _poll(back_again, 60)
        watcher.cancel()
    instance = status.instances[0]
    assert status.restarts == before + 1
    assert "exit 137 (killed)" in instance.detail
    kinds = [(e.service, e.instance, e.kind) for e in events]
    assert ("redis", name, "die") in kinds
    assert ("redis", name, "start") in kinds
    assert docker_stack.inspect(name, "{{.RestartCount}}") == str(before + 1)


async def test_restart_restarts_and_waits_until_healthy(docker_stack: DockerStack) -> None:
    name = docker_stack.container("redis")
    started = docker_stack.inspect(name, "{{.State.StartedAt}}")
    async with docker_stack.backend() as backend:
        await backend.restart("redis")
        status = _status_of(await backend.status(), "redis")
    assert status.ready == 1
    assert docker_stack.inspect(name, "{{.State.StartedAt}}") != started


# --- logs, exec, files ---------------------------------------------------------------------


async def test_logs_follow_lines_from_every_service(docker_stack: DockerStack) -> None:
    seen: dict[str, list] = {}
    since = datetime.now(UTC)
    async with docker_stack.backend() as backend:

        async def follow() -> None:
            async for record in backend.logs(follow=True, since=since):
                seen.setdefault(record.service, []).append(record)
                if set(seen) == set(docker_stack.services):
                    return

        task = asyncio.create_task(follow())
        await asyncio.sleep(1.0)
        await backend.exec("postgres", ["psql", "-c", "CHECKPOINT"])  # logs "checkpoint starting"
        await backend.exec("redis", ["redis-cli", "BGSAVE"])  # logs "Background saving started"
        if "qdrant" in docker_stack.services:  # the stand-in logs each request
            httpx.get(f"http://127.0.0.1:{docker_stack.ports['qdrant']}/collections", timeout=10)
        await asyncio.wait_for(task, 60)
    assert set(seen) == set(docker_stack.services)
    for service, records in seen.items():
        assert all(r.instance == docker_stack.container(SERVICE_NAMES[service]) for r in records)
        assert all(r.timestamp >= since.replace(microsecond=0) for r in records)
    assert any("checkpoint" in r.line for r in seen["postgres"])
    assert any("saving" in r.line.lower() for r in seen["redis"])


async def test_logs_without_follow_are_merged_in_time_order(docker_stack: DockerStack) -> None:
    async with docker_stack.backend() as backend:
        records = [record async for record in backend.logs(tail=20)]
    assert {r.service for r in records} == set(docker_stack.services)
    stamps = [r.timestamp for r in records]
    assert stamps == sorted(stamps)
    assert {"stdout", "stderr"} & {r.stream for r in records}


async def test_exec_separates_streams_and_feeds_stdin(docker_stack: DockerStack) -> None:
    async with docker_stack.backend() as backend:
        result = await backend.exec(
            "postgres", ["psql", "-v", "ON_ERROR_STOP=1"], stdin=b"select 6*7;\n"
        )
        assert result.ok and "42" in result.stdout.decode()
        failed = await backend.exec("postgres", ["psql", "-c", "select nonsense_column"])
        assert failed.exit_code != 0
        assert b"nonsense_column" in failed.stderr and failed.stdout == b""
        pong = await _exec_text(backend, "redis", ["redis-cli", "PING"])
    assert pong == "PONG"


async def test_copy_files_in_and_out(docker_stack: DockerStack, tmp_path: Path) -> None:
    source = tmp_path / "in.txt"
    source.write_text("hello from the host\n")
    async with docker_stack.backend() as backend:
        await backend.copy_to("redis", source, "/data/alfred-copy.txt")
        owner = await _exec_text(backend, "redis", ["stat", "-c", "%U", "/data/alfred-copy.txt"])
        assert owner == "redis"  # the user the server runs as, so it can read the file
        await _exec_text(backend, "redis", ["redis-cli", "SAVE"])
        copied = await backend.copy_from("redis", "/data/dump.rdb", tmp_path / "dump.rdb")
    assert copied.read_bytes().startswith(b"REDIS")


# --- teardown ------------------------------------------------------------------------------


async def test_teardown_keeps_volumes_and_redeploy_finds_the_data(
    docker_stack: DockerStack,
) -> None:
    marker = f"kept-{time.time_ns()}"
    label = f"label=com.docker.compose.project={docker_stack.project}"
    async with docker_stack.backend() as backend:
        await _exec_text(
            backend, "postgres",
            ["psql", "-Atc", "create table if not exists kept(v text); "
             f"insert into kept values ('{marker}')"],
        )  # fmt: skip
        await backend.teardown()
    assert docker_cli("ps", "-aq", "--filter", label).stdout.split() == []
    volumes = docker_cli("volume", "ls", "-q", "--filter", label).stdout.split()
    assert f"{docker_stack.project}_db-postgres-data" in volumes
    async with docker_stack.backend() as backend:
        await backend.deploy()
        found = await _exec_text(
            backend, "postgres", ["psql", "-Atc", f"select count(*) from kept where v = '{marker}'"]
        )
    assert found == "1"


def test_teardown_with_volumes_keeps_a_safety_copy(docker_engine: None, tmp_path: Path) -> None:
    from docker_support import docker_stack as deployed_stack

    with deployed_stack(tmp_path, services=["postgres"]) as stack:
        label = f"label=com.docker.compose.project={stack.project}"
        safety = tmp_path / "safety"

        async def down() -> tuple[list[str], list[Path]]:
            async with stack.backend() as backend:
                lines = await backend.describe_teardown(remove_volumes=True)
                await backend.teardown(remove_volumes=True, safety_dir=safety)
                return lines, list(backend.safety_copies)

        dangling_before = set(docker_cli("volume", "ls", "-qf", "dangling=true").stdout.split())
        lines, copies = asyncio.run(down())
        dangling_after = set(docker_cli("volume", "ls", "-qf", "dangling=true").stdout.split())
        assert dangling_after <= dangling_before  # the copy's throwaway container left nothing
        assert any(f"{stack.project}_db-postgres-data" in line for line in lines)
        assert docker_cli("volume", "ls", "-q", "--filter", label).stdout.split() == []
        copy = safety / f"{stack.project}_db-postgres-data.tar"
        assert copies == [copy]
        with tarfile.open(copy) as archive:
            names = archive.getnames()
        assert any(name.endswith("PG_VERSION") for name in names)


# --- adopting what the platform's Compose file made -----------------------------------------


def test_containers_made_by_compose_are_found_and_managed(
    docker_engine: None, tmp_path: Path
) -> None:
    from docker_support import docker_stack as deployed_stack

    with deployed_stack(tmp_path, services=["redis"], deploy=False) as stack:
        network = f"{stack.project}_default"
        docker_cli("network", "create", "--label", f"com.docker.compose.project={stack.project}",
                   network, check=True)  # fmt: skip
        # What `docker compose up` would have made from the platform's file.
        name = f"{stack.project}-redis-1"
        docker_cli(
            "run", "-d", "--name", name, "--network", network, "--network-alias", "redis",
            "--label", f"com.docker.compose.project={stack.project}",
            "--label", "com.docker.compose.service=redis",
            "--label", "com.docker.compose.container-number=1",
            "--label", "com.docker.compose.oneoff=False",
            "-p", f"127.0.0.1:{stack.ports['redis']}:6379",
            "alfred-tui-test/redis:7", check=True,
        )  # fmt: skip
        container_id = stack.inspect(name, "{{.Id}}")

        async def manage():  # type: ignore[no-untyped-def]
            async with stack.backend() as backend:
                found = _status_of(await backend.status(), "redis")
                await backend.deploy(services=["redis"])  # adopted, not recreated
                pong = await _exec_text(backend, "redis", ["redis-cli", "PING"])
                await backend.scale("redis", 2)
                return found, pong, _status_of(await backend.status(), "redis")

        found, pong, scaled = asyncio.run(manage())
        assert found.instances[0].name == name
        assert "docker compose" in found.note
        assert stack.inspect(name, "{{.Id}}") == container_id
        assert pong == "PONG"
        assert (scaled.desired, scaled.ready) == (2, 2)
        assert stack.inspect(f"{stack.project}-redis-2", "{{.Config.Cmd}}").endswith(
            "--replicaof redis 6379]"
        )


# --- the engine not there --------------------------------------------------------------------


async def test_unreachable_engine_is_one_clear_error(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from alfred_tui.backends.docker.backend import DockerBackend
    from alfred_tui.config.loader import load_profile

    dead = f"unix://{tmp_path}/no-engine.sock"
    monkeypatch.setenv("DOCKER_HOST", dead)
    async with DockerBackend(load_profile(str(TEST_PROFILE))) as backend:
        with pytest.raises(EngineUnreachable) as caught:
            await backend.status()
    line = caught.value.one_line()
    assert "\n" not in line
    assert dead in line and "DOCKER_HOST" in line


def test_cli_with_engine_stopped_prints_one_line_and_exits_2(tmp_path: Path) -> None:
    dead = f"unix://{tmp_path}/no-engine.sock"
    result = run_cli(
        "status", "--profile", str(TEST_PROFILE), "--backend", "docker",
        env={"DOCKER_HOST": dead}, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Engine unreachable:") and dead in lines[0]
    assert "DOCKER_HOST" in lines[0] and "Traceback" not in result.stderr


def test_stopped_engine_socket_is_named(tmp_path: Path) -> None:
    """DOCKER_HOST at a socket file nobody serves (an engine that stopped)."""
    import socket

    path = tmp_path / "stopped.sock"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.close()  # the file stays, nothing listens: what a dead dockerd leaves behind
    result = subprocess.run(
        ["docker", "-H", f"unix://{path}", "info"], capture_output=True, text=True, timeout=30
    )
    assert result.returncode != 0
    cli = run_cli(
        "status", "--profile", str(TEST_PROFILE), "--backend", "docker",
        env={"DOCKER_HOST": f"unix://{path}"}, timeout=60,
    )  # fmt: skip
    assert cli.returncode == 2
    assert "connection refused" in cli.stderr and f"unix://{path}" in cli.stderr
