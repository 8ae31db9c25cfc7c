"""The local backend on real processes: PostgreSQL, Redis, embedded Qdrant.

One deployment serves the module (``local_deployment``); tests that need a
server stopped or a broken setup make their own. Nothing here is mocked:
servers are started, probed, signalled and read through their own files.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from localdeploy import LocalDeployment

from alfred_tui.backends.base import BackendError
from alfred_tui.backends.capabilities import (
    Capability,
    NotSupported,
    Resizable,
    Scalable,
    capabilities,
    require,
)
from alfred_tui.backends.local.backend import LocalBackend
from alfred_tui.backends.local.processes import is_alive, read_pid
from alfred_tui.backends.logfiles import parse_timestamp

pytestmark = pytest.mark.slow


async def _collect(stream, limit: int = 10_000) -> list:  # type: ignore[no-untyped-def]
    records = []
    async for record in stream:
        records.append(record)
        if len(records) >= limit:
            break
    return records


# --- deploy, idempotence, status -------------------------------------------------


async def test_up_is_idempotent_and_status_fills_every_field(
    local_deployment: LocalDeployment,
) -> None:
    backend = local_deployment.backend()
    pids = {k: read_pid(local_deployment.data_dir / k / f"{k}.pid") for k in ("postgres", "redis")}
    steps: list[str] = []
    await backend.deploy(progress=lambda report: steps.append(report.step))
    assert any("already running" in step for step in steps), steps
    after = {k: read_pid(local_deployment.data_dir / k / f"{k}.pid") for k in ("postgres", "redis")}
    assert after == pids  # nothing restarted

    statuses = {s.service: s for s in await backend.status()}
    now = datetime.now(UTC)
    postgres, redis, qdrant = statuses["postgres"], statuses["redis"], statuses["qdrant"]
    for status, port, version in (
        (postgres, local_deployment.postgres_port, "PostgreSQL 1"),
        (redis, local_deployment.redis_port, "Redis 7"),
    ):
        assert (status.desired, status.ready, status.deployed) == (1, 1, True)
        (instance,) = status.instances
        assert (instance.state, instance.health) == ("running", "healthy")
        assert instance.detail.startswith("pid ")
        assert status.image.startswith(version)
        assert status.endpoints == (f"127.0.0.1:{port}",)
        assert status.started_at is not None and 0 <= status.uptime_seconds(now) < 600
    assert postgres.instances[0].role == "primary"
    assert qdrant.embedded and qdrant.deployed and qdrant.ready == 1
    assert qdrant.image.startswith("embedded (qdrant-client ")
    assert qdrant.endpoints == (f"embedded:{local_deployment.data_dir / 'qdrant'}",)


async def test_capabilities_declare_what_local_cannot_do(
    local_deployment: LocalDeployment,
) -> None:
    backend = local_deployment.backend()
    for service in ("postgres", "redis"):
        offered = capabilities(backend, service)
        assert {Capability.LOGS, Capability.EXEC, Capability.FILES} <= offered
        assert Capability.SCALE not in offered and Capability.RESIZE not in offered
    embedded = capabilities(backend, "qdrant")
    for server_only in (
        Capability.SNAPSHOTS,
        Capability.METRICS,
        Capability.LOGS,
        Capability.EXEC,
        Capability.RESTART,
    ):
        assert server_only not in embedded
    with pytest.raises(NotSupported, match="the local backend cannot scale for redis"):
        await require(backend, "redis", Scalable).scale("redis", 2)
    with pytest.raises(NotSupported, match="cannot resize for postgres"):
        await require(backend, "postgres", Resizable).resize("postgres", cpus=1)
    with pytest.raises(NotSupported):
        backend.logs(["qdrant"])
    with pytest.raises(NotSupported):
        await backend.exec("qdrant", ["true"])


# --- usage ----------------------------------------------------------------------


async def test_usage_sums_each_servers_process_tree(local_deployment: LocalDeployment) -> None:
    """PostgreSQL is a postmaster and its workers: the reading covers them all, once each."""
    backend = local_deployment.backend()
    first = {u.service: u for u in await backend.usage()}
    assert set(first) == {"postgres", "redis"}  # embedded Qdrant runs in no process of its own
    assert all(u.pending and u.cpu_percent is None for u in first.values())  # a rate needs two
    burn = "select count(*) from generate_series(1, 3000000)"
    assert (await backend.exec("postgres", ["psql", "-XAtc", burn])).ok
    second = {u.service: u for u in await backend.usage()}
    postgres, redis = second["postgres"], second["redis"]
    assert postgres.cpu_percent is not None and postgres.cpu_percent > 0
    assert redis.cpu_percent is not None and redis.cpu_percent >= 0
    # The postmaster alone holds less than its tree (checkpointer, walwriter... share it).
    postmaster = read_pid(backend.runner("postgres").pid_file)
    assert postmaster is not None
    with open(f"/proc/{postmaster}/smaps_rollup") as rollup:
        alone = next(int(line.split()[1]) * 1024 for line in rollup if line.startswith("Pss:"))
    assert postgres.memory is not None and postgres.memory > alone
    assert redis.memory is not None and 0 < redis.memory < postgres.memory


# --- exec and files -------------------------------------------------------------


async def test_exec_runs_psql_and_redis_cli_against_the_instance(
    local_deployment: LocalDeployment,
) -> None:
    backend = local_deployment.backend()
    result = await backend.exec(
        "postgres", ["psql", "-XAtc", "select current_user, inet_server_port()"]
    )
    assert result.ok, result.stderr
    assert result.stdout.decode().strip() == f"postgres|{local_deployment.postgres_port}"

    script = b"create table if not exists exec_probe(v int); insert into exec_probe values (41);"
    fed = await backend.exec("postgres", ["psql", "-X", "-v", "ON_ERROR_STOP=1"], stdin=script)
    assert fed.ok, fed.stderr

    failed = await backend.exec(
        "postgres", ["psql", "-X", "-v", "ON_ERROR_STOP=1", "-c", "select nope"]
    )
    assert failed.exit_code != 0 and b"nope" in failed.stderr  # a result, not an exception

    assert (
        await backend.exec("redis", ["redis-cli", "SET", "exec:key", "v1"])
    ).stdout.strip() == b"OK"
    got = await backend.exec("redis", ["redis-cli", "GET", "exec:key"])
    assert got.stdout.strip() == b"v1"
    port = await backend.exec("redis", ["redis-cli", "CONFIG", "GET", "port"])
    assert port.stdout.split() == [b"port", str(local_deployment.redis_port).encode()]


async def test_pg_dump_and_pg_restore_round_trip_through_exec(
    local_deployment: LocalDeployment,
) -> None:
    """What backup/restore will do: a custom-format dump out, restored into another database."""
    backend = local_deployment.backend()
    setup = await backend.exec(
        "postgres",
        [
            "psql",
            "-X",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            "drop table if exists dumped; create table dumped(v text);"
            " insert into dumped values ('kept');",
        ],
    )
    assert setup.ok, setup.stderr
    dump = await backend.exec("postgres", ["pg_dump", "-F", "c", "-t", "dumped"])
    assert dump.ok and dump.stdout.startswith(b"PGDMP"), dump.stderr
    await backend.exec("postgres", ["psql", "-X", "-c", "drop database if exists restored"])
    assert (await backend.exec("postgres", ["createdb", "restored"])).ok
    restore = await backend.exec("postgres", ["pg_restore", "-d", "restored"], stdin=dump.stdout)
    assert restore.ok, restore.stderr
    check = await backend.exec(
        "postgres", ["psql", "-XAt", "-d", "restored", "-c", "select v from dumped"]
    )
    assert check.stdout.strip() == b"kept"


async def test_exec_times_out_and_kills(local_deployment: LocalDeployment) -> None:
    from alfred_tui.backends.base import OperationTimeout

    backend = local_deployment.backend()
    with pytest.raises(OperationTimeout, match="did not finish"):
        await backend.exec("postgres", ["psql", "-Xc", "select pg_sleep(30)"], timeout=0.5)


async def test_copy_from_and_to_stay_inside_the_service_folder(
    local_deployment: LocalDeployment, tmp_path: Path
) -> None:
    backend = local_deployment.backend()
    assert (await backend.exec("redis", ["redis-cli", "SAVE"])).ok
    directory = (await backend.exec("redis", ["redis-cli", "CONFIG", "GET", "dir"])).stdout.split()[
        1
    ]
    rdb = Path(directory.decode()) / "dump.rdb"
    copied = await backend.copy_from("redis", str(rdb), tmp_path / "out" / "dump.rdb")
    assert copied.read_bytes()[:5] == b"REDIS"

    source = tmp_path / "restore.rdb"
    source.write_bytes(copied.read_bytes())
    await backend.copy_to("redis", source, str(Path(directory.decode()) / "incoming.rdb"))
    placed = Path(directory.decode()) / "incoming.rdb"
    assert placed.read_bytes() == source.read_bytes()
    if os.geteuid() == 0:
        import pwd

        assert pwd.getpwuid(placed.stat().st_uid).pw_name == "redis"  # the server can read it
    with pytest.raises(BackendError, match="outside"):
        await backend.copy_from("redis", "/etc/shadow", tmp_path / "shadow")
    with pytest.raises(BackendError, match="outside"):
        await backend.copy_to("postgres", source, "../../../escape")


# --- logs -------------------------------------------------------------------------


async def test_logs_tail_merges_postgres_and_redis_by_time(
    local_deployment: LocalDeployment,
) -> None:
    backend = local_deployment.backend()
    records = await _collect(backend.logs(tail=20))
    services = {record.service for record in records}
    assert services == {"postgres", "redis"}
    assert [r.timestamp for r in records] == sorted(r.timestamp for r in records)
    assert any("ready to accept connections" in r.line for r in records if r.service == "postgres")
    assert any("Ready to accept connections" in r.line for r in records if r.service == "redis")
    assert {r.instance for r in records} == {"db-postgres", "redis"}
    per_source = {s: sum(r.service == s for r in records) for s in services}
    assert all(count <= 20 for count in per_source.values())

    since = datetime.now(UTC) + timedelta(hours=1)
    assert await _collect(backend.logs(since=since)) == []


async def test_logs_follow_sees_new_lines_from_both_servers(
    local_deployment: LocalDeployment,
) -> None:
    backend = local_deployment.backend()
    marker = f"alfred-follow-{os.getpid()}"
    seen: dict[str, str] = {}

    async def follow() -> None:
        async for record in backend.logs(follow=True, tail=0):
            if marker in record.line:
                seen["postgres"] = record.line
            if "Background saving started" in record.line:
                seen["redis"] = record.line
            if len(seen) == 2:
                return

    task = asyncio.create_task(follow())
    await asyncio.sleep(0.5)
    raised = await backend.exec(
        "postgres", ["psql", "-X", "-c", f"do $$ begin raise log '{marker}'; end $$"]
    )
    assert raised.ok, raised.stderr
    assert (await backend.exec("redis", ["redis-cli", "BGSAVE"])).ok
    await asyncio.wait_for(task, 15)
    assert set(seen) == {"postgres", "redis"}


def test_log_timestamps_of_each_server_format() -> None:
    pg = parse_timestamp("2025-05-13 10:00:00.123 UTC [42] LOG:  ready")
    assert pg == datetime(2025, 5, 13, 10, 0, 0, 123000, tzinfo=UTC)
    offset = parse_timestamp("2025-05-13 12:00:00.5 +02 [42] LOG:  x")
    assert offset == datetime(2025, 5, 13, 10, 0, 0, 500000, tzinfo=UTC)
    iso = parse_timestamp("2025-05-13T10:00:00.123456Z  INFO qdrant: started")
    assert iso == datetime(2025, 5, 13, 10, 0, 0, 123456, tzinfo=UTC)
    redis = parse_timestamp("42:M 13 May 2025 10:00:00.123 * Ready to accept connections tcp")
    assert redis == datetime(2025, 5, 13, 10, 0, 0, 123000).astimezone()  # Redis logs local time
    assert parse_timestamp("\tcontinuation of a statement") is None


async def test_follow_survives_truncation_and_keeps_partial_lines(tmp_path: Path) -> None:
    from alfred_tui.backends.logfiles import LogSource, stream_logs

    path = tmp_path / "server.log"
    path.write_text("2025-05-13T10:00:00Z first\n2025-05-13T10:00:01Z half")
    source = LogSource("redis", "redis", path)
    lines: list[str] = []

    async def follow() -> None:
        async for record in stream_logs([source], follow=True, poll_interval=0.05):
            lines.append(record.line)
            if len(lines) == 3:
                return

    task = asyncio.create_task(follow())
    await asyncio.sleep(0.2)
    assert lines == ["2025-05-13T10:00:00Z first"]  # the unfinished line is held back
    with path.open("a") as handle:
        handle.write(" done\n")
    await asyncio.sleep(0.2)
    path.write_text("2025-05-13T10:00:02Z after truncation\n")
    await asyncio.wait_for(task, 5)
    assert lines[1:] == ["2025-05-13T10:00:01Z half done", "2025-05-13T10:00:02Z after truncation"]


# --- restart and settings -------------------------------------------------------------


async def test_restart_and_changed_settings_restart_the_server(
    local_deployment: LocalDeployment,
) -> None:
    pid_file = local_deployment.data_dir / "redis" / "redis.pid"
    before = read_pid(pid_file)
    backend = local_deployment.backend()
    await backend.restart("redis")
    restarted = read_pid(pid_file)
    assert restarted != before and is_alive(restarted) and not is_alive(before)

    command = ["redis-server", "--appendonly", "yes", "--maxmemory", "64mb"]
    local_deployment.write_profile({"services": {"redis": {"command": command}}})
    try:
        changed = local_deployment.backend()
        steps: list[str] = []
        await changed.deploy(services=["redis"], progress=lambda r: steps.append(r.step))
        assert any("settings changed" in step for step in steps), steps
        maxmemory = await changed.exec("redis", ["redis-cli", "CONFIG", "GET", "maxmemory"])
        assert maxmemory.stdout.split()[1] == str(64 * 1024 * 1024).encode()
        assert read_pid(pid_file) != restarted
    finally:
        local_deployment.write_profile({})
        await local_deployment.backend().deploy(services=["redis"])


async def test_a_restart_never_shows_the_instance_gone(
    local_deployment: LocalDeployment,
) -> None:
    """Watchers (the recorder's timeline) see exited -> running, never a vanished instance."""
    pid_file = local_deployment.data_dir / "redis" / "redis.pid"
    backend = local_deployment.backend()

    async def restart_while_watching() -> list[tuple[str, ...]]:
        seen: list[tuple[str, ...]] = []
        restart = asyncio.ensure_future(backend.restart("redis"))
        while not restart.done():
            statuses = {s.service: s for s in await backend.status()}
            seen.append(tuple(instance.state for instance in statuses["redis"].instances))
            await asyncio.sleep(0.005)
        await restart
        return seen

    running = await restart_while_watching()
    os.kill(read_pid(pid_file), 9)  # a crashed server, restarted by the operator
    crashed = await restart_while_watching()
    for seen in (running, crashed):
        assert seen and all(len(states) == 1 for states in seen), seen
    assert crashed[0] == ("exited",), crashed
    (redis,) = [s for s in await backend.status() if s.service == "redis"]
    assert [instance.state for instance in redis.instances] == ["running"]


# --- stale pid files -------------------------------------------------------------------


async def test_stale_pid_files_do_not_fool_up_status_or_down(
    local_deployment: LocalDeployment,
) -> None:
    backend = local_deployment.backend()
    await backend.teardown()
    root = local_deployment.data_dir
    dead = subprocess.Popen(["true"])
    dead.wait()
    stranger = subprocess.Popen(["sleep", "300"])
    try:
        (root / "postgres" / "postgres.pid").write_text(f"{dead.pid}\n")
        (root / "redis" / "redis.pid").write_text(f"{stranger.pid}\n")
        # PostgreSQL's own lock file naming a live, unrelated process would block its start
        (root / "postgres" / "data" / "postmaster.pid").write_text(
            f"{stranger.pid}\n{root / 'postgres' / 'data'}\n"
        )
        statuses = {s.service: s for s in await backend.status()}
        for service in ("postgres", "redis"):
            assert statuses[service].ready == 0
            (instance,) = statuses[service].instances
            assert instance.state == "exited" and "not running" in instance.detail

        await backend.deploy()
        statuses = {s.service: s for s in await backend.status()}
        assert all(statuses[s].ready == 1 for s in ("postgres", "redis"))
        assert read_pid(root / "redis" / "redis.pid") != stranger.pid

        await backend.teardown()
        assert stranger.poll() is None  # never signalled: not ours
        assert all(s.ready == 0 for s in await backend.status() if s.service != "qdrant")
    finally:
        stranger.kill()
        stranger.wait()
        await local_deployment.backend().deploy()


async def test_up_adopts_a_running_server_whose_pid_file_was_lost(
    local_deployment: LocalDeployment,
) -> None:
    pid_file = local_deployment.data_dir / "redis" / "redis.pid"
    pid = read_pid(pid_file)
    pid_file.unlink()
    backend = local_deployment.backend()
    status = {s.service: s for s in await backend.status()}["redis"]
    assert status.ready == 1 and status.instances[0].detail.startswith(f"pid {pid}")
    assert read_pid(pid_file) == pid


# --- errors ---------------------------------------------------------------------------


async def test_port_in_use_is_one_clear_error_naming_the_port() -> None:
    with LocalDeployment(name="port-clash") as deployment, socket.socket() as squatter:
        squatter.bind(("127.0.0.1", deployment.redis_port))
        squatter.listen()
        with pytest.raises(BackendError) as caught:
            await deployment.backend().deploy(services=["redis"])
        message = caught.value.one_line()
        assert f"port {deployment.redis_port}" in message and "\n" not in message
        assert f"(pid {os.getpid()})" in message  # who holds it, from /proc
        assert "ALFRED_LOCAL_REDIS_PORT" in message


@pytest.mark.skipif(os.geteuid() != 0, reason="only root hands PostgreSQL to another user")
async def test_data_dir_postgres_cannot_enter_fails_with_what_to_do() -> None:
    private = Path(tempfile.mkdtemp(prefix="alfred-private-"))  # 0700, like pytest's tmp_path
    try:
        deployment = LocalDeployment(base=private, name="private")
        with pytest.raises(BackendError) as caught:
            await deployment.backend().deploy(services=["postgres"])
        message = caught.value.one_line()
        assert f"cannot enter {private}" in message and "ALFRED_TUI_DATA_DIR" in message
        assert not (private / "data" / "private" / "postgres" / "data").exists()
    finally:
        import shutil

        shutil.rmtree(private, ignore_errors=True)


async def test_teardown_with_volumes_moves_data_to_the_safety_dir() -> None:
    from alfred_tui.safety import new_safety_dir

    with LocalDeployment(name="volumes") as deployment:
        backend = deployment.backend()
        await backend.deploy(services=["redis"])
        assert (await backend.exec("redis", ["redis-cli", "SET", "kept", "yes"])).ok
        lines = await backend.describe_teardown(remove_volumes=True)
        assert any(line.startswith("stop redis (pid ") for line in lines)
        assert any(str(deployment.data_dir / "redis") in line for line in lines)
        safety = new_safety_dir(backend.profile)
        await backend.teardown(remove_volumes=True, safety_dir=safety)
        assert not (deployment.data_dir / "redis").exists()
        assert safety.parent == deployment.data_dir / "safety"
        kept = list((safety / "redis" / "data").iterdir())
        assert kept, "the data moved into the safety copy"


def test_local_backend_module_does_not_import_engine_sdks() -> None:
    code = (
        "import sys, alfred_tui.backends.local, alfred_tui.cli; "
        "heavy = {'textual', 'docker', 'kubernetes', 'qdrant_client'} & set(sys.modules); "
        "print(sorted(heavy))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_backend_factory_gives_the_local_backend(local_deployment: LocalDeployment) -> None:
    from alfred_tui.backends import create_backend

    backend = create_backend(local_deployment.loaded())
    assert isinstance(backend, LocalBackend)
    assert backend.target().where == str(local_deployment.data_dir)


# --- Qdrant as a server process --------------------------------------------------------

STANDIN_BIN = Path(__file__).parent / "standins" / "bin"


async def test_a_qdrant_binary_on_path_runs_as_a_server_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With ``qdrant`` on PATH (here the process stand-in) Qdrant is a managed server."""
    from servers import free_port

    monkeypatch.setenv("PATH", f"{STANDIN_BIN}{os.pathsep}{os.environ['PATH']}")
    http_port, grpc_port = free_port(), free_port()
    ports = [f"127.0.0.1:{http_port}:6333", f"127.0.0.1:{grpc_port}:6334"]
    overrides = {"services": {"qdrant": {"ports": ports, "api_key": "stand-in-key-123"}}}
    with LocalDeployment(name="qdrant-server", overrides=overrides) as deployment:
        backend = deployment.backend()
        assert not backend.qdrant_embedded()
        server_only = {Capability.SNAPSHOTS, Capability.METRICS, Capability.LOGS, Capability.EXEC}
        assert server_only <= capabilities(backend, "qdrant")
        endpoint = await backend.endpoint("qdrant")
        assert (endpoint.host, endpoint.port, endpoint.embedded) == ("127.0.0.1", http_port, False)

        await backend.deploy(services=["qdrant"])
        folder = deployment.data_dir / "qdrant-server"
        assert oct((folder / "config.yaml").stat().st_mode & 0o777) == "0o600"
        (status,) = [s for s in await backend.status() if s.service == "qdrant"]
        assert not status.embedded and status.ready == 1
        assert (status.instances[0].state, status.instances[0].health) == ("running", "healthy")
        assert status.image == "Qdrant 0.0.0-standin"
        assert status.endpoints == (f"127.0.0.1:{http_port}",)

        records = await _collect(backend.logs(["qdrant"], tail=10))
        assert any("process stand-in" in r.line for r in records)
        assert all(r.instance == "vector-db" for r in records)
        aimed = await backend.exec("qdrant", ["sh", "-c", 'echo "$QDRANT_URL"'])
        assert aimed.stdout.strip() == f"http://127.0.0.1:{http_port}".encode()

        await deployment.backend().deploy(services=["qdrant"])  # idempotent
        pid = read_pid(folder / "qdrant.pid")
        await backend.teardown()
        assert pid is not None and not is_alive(pid)
        tail = (folder / "qdrant.log").read_text()
        assert "SIGTERM: shutting down" in tail and "stand-in-key-123" not in tail


# --- credentials ------------------------------------------------------------------------


def _command_lines() -> str:
    return subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout


async def test_postgres_user_password_and_database_like_the_official_image() -> None:
    password = "s3cret 'with' quotes"
    environment = {
        "POSTGRES_USER": "alfred",
        "POSTGRES_PASSWORD": password,
        "POSTGRES_DB": "alfred_db",
    }
    overrides = {"services": {"postgres": {"environment": environment}}}
    with LocalDeployment(name="creds", overrides=overrides) as deployment:
        backend = deployment.backend()
        steps: list[str] = []
        await backend.deploy(services=["postgres"], progress=lambda r: steps.append(r.step))
        assert "created database alfred_db" in steps
        who = await backend.exec(
            "postgres", ["psql", "-XAtc", "select current_user, current_database()"]
        )
        assert who.stdout.strip() == b"alfred|alfred_db", who.stderr
        folder = deployment.data_dir / "postgres"
        assert not (folder / ".initdb-password").exists()  # the pwfile is gone after initdb
        for log in ("initdb.log", "postgres.log"):
            assert password not in (folder / log).read_text()
        assert password not in _command_lines()
        hba = (folder / "data" / "pg_hba.conf").read_text()
        assert "trust" not in "".join(line for line in hba.splitlines() if not line.startswith("#"))


async def test_redis_password_goes_through_the_config_file_only() -> None:
    password = 'p@ss "word" 42'
    with LocalDeployment(
        name="redis-auth", overrides={"services": {"redis": {"password": password}}}
    ) as deployment:
        backend = deployment.backend()
        await backend.deploy(services=["redis"])
        (status,) = [s for s in await backend.status() if s.service == "redis"]
        assert status.ready == 1  # the readiness probe authenticated
        pong = await backend.exec("redis", ["redis-cli", "PING"])  # REDISCLI_AUTH
        assert pong.stdout.strip() == b"PONG", pong.stderr
        config = deployment.data_dir / "redis" / "redis.conf"
        assert oct(config.stat().st_mode & 0o777) == "0o600"
        assert password not in _command_lines()
        anonymous = subprocess.run(
            ["redis-cli", "-p", str(deployment.redis_port), "PING"], capture_output=True, text=True
        )
        assert "NOAUTH" in anonymous.stdout
