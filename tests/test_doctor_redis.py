"""Redis runbooks on real servers: filled past maxmemory, evicting, slow commands."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from doctor_support import context_for, profile_text, write
from servers import RedisServer, free_port, redis_server

from alfred_tui.database_actions import ReadOnlyRefused, read_journal
from alfred_tui.databases.redis_inspect import set_memory
from alfred_tui.metrics import Verdict
from alfred_tui.troubleshoot.redis_latency import RedisLatency
from alfred_tui.troubleshoot.redis_memory import RedisMemory


async def _fill(server: RedisServer, prefix: str = "alfred:cache:item:", db: int = 0) -> int:
    """Write 1 KiB values until Redis refuses (noeviction) or 4000 keys; return keys written."""
    client = aioredis.Redis(host=server.host, port=server.port, db=db)
    written = 0
    try:
        for index in range(4000):
            try:
                await client.set(f"{prefix}{index}", "x" * 1024)
            except aioredis.ResponseError as exc:
                assert "maxmemory" in str(exc)
                break
            written += 1
    finally:
        await client.aclose()
    return written


@contextlib.asynccontextmanager
async def _writer(server: RedisServer, prefix: str) -> AsyncIterator[None]:
    """Keep writing new keys in the background (a busy agent), ignoring OOM refusals."""
    client = aioredis.Redis(host=server.host, port=server.port)
    stop = asyncio.Event()

    async def loop() -> None:
        index = 0
        while not stop.is_set():
            with contextlib.suppress(aioredis.ResponseError):
                await client.set(f"{prefix}{index}", "y" * 1024)
            index += 1
            await asyncio.sleep(0.005)

    task = asyncio.create_task(loop())
    try:
        yield
    finally:
        stop.set()
        await task
        await client.aclose()


async def test_full_redis_with_noeviction_is_critical_and_maxmemory_can_be_raised(
    tmp_path, cli, validate_schema
) -> None:
    with redis_server("--maxmemory", "2mb", "--maxmemory-policy", "noeviction") as server:
        assert await _fill(server) < 4000  # Redis refused writes: it is full
        path = write(tmp_path, profile_text(redis=server))
        async with context_for(path, sample_seconds=0.5) as ctx:
            async with _writer(server, "alfred:session:new:"):
                report = await RedisMemory().run(ctx)
            assert report.verdict == Verdict.CRITICAL
            evidence = {e.label: e for e in report.detection.evidence}
            assert evidence["used of maxmemory"].verdict == Verdict.CRITICAL
            assert "policy noeviction" in evidence["used of maxmemory"].value
            assert evidence["refused writes"].verdict == Verdict.CRITICAL
            prefixes = report.table("Biggest prefixes")
            assert prefixes.rows[0][:2] == (0, "alfred:cache:")
            keys = report.table("Keys per database")
            assert keys.rows[0][1] == "General cache"
            policy = report.remedy("change-policy")
            assert policy.parameters == {"policy": "allkeys-lru"}
            assert "--maxmemory-policy" in policy.profile_yaml
            assert "allkeys-lru" in policy.profile_yaml
            assert "task queues" in policy.what_it_does
            raise_it = report.remedy("raise-maxmemory")
            assert raise_it.parameters == {"maxmemory": 256 * 1024 * 1024}
            assert raise_it.command == "alfred-tui doctor redis-memory --maxmemory 256mb --yes"
            assert (
                "--maxmemory\n" in raise_it.profile_yaml or "- --maxmemory" in raise_it.profile_yaml
            )

            client = await ctx.redis()
            with pytest.raises(ReadOnlyRefused):
                await set_memory(client, maxmemory=1, policy=None, confirm=True, readonly=True)
            plan = await set_memory(
                client, maxmemory=64 * 1024 * 1024, policy=None, confirm=False, readonly=False
            )
            assert not plan.applied and plan.previous["maxmemory"] == 2 * 1024 * 1024
            assert server.cli("CONFIG", "GET", "maxmemory").splitlines()[1] == str(2 * 1024**2)

        result = await asyncio.to_thread(
            cli,
            "doctor",
            "redis-memory",
            "--maxmemory",
            "64mb",
            "--policy",
            "allkeys-lru",
            "--yes",
            "--profile",
            str(path),
            "-o",
            "json",
        )
        assert result.returncode == 0, result.stderr
        outcome = json.loads(result.stdout)
        validate_schema(outcome, "action")
        assert outcome["previous"] == {"maxmemory": 2097152, "maxmemory-policy": "noeviction"}
        assert "allkeys-lru" in outcome["profile_yaml"] and "64mb" in outcome["profile_yaml"]
        assert server.cli("CONFIG", "GET", "maxmemory").splitlines()[1] == str(64 * 1024**2)
        assert server.cli("CONFIG", "GET", "maxmemory-policy").splitlines()[1] == "allkeys-lru"
        assert read_journal()[-1]["previous"]["maxmemory-policy"] == "noeviction"
        async with context_for(path, sample_seconds=0.3) as ctx:
            assert (await RedisMemory().detect(ctx)).verdict in (Verdict.OK, Verdict.WARNING)
            report = await RedisMemory().run(ctx)
        used = {e.label: e for e in report.detection.evidence}["used of maxmemory"]
        assert used.verdict == Verdict.OK


async def test_evicting_redis_warns_with_evictions_per_second(tmp_path) -> None:
    with redis_server("--maxmemory", "2mb", "--maxmemory-policy", "allkeys-lru") as server:
        await _fill(server)
        path = write(tmp_path, profile_text(redis=server))
        async with context_for(path, sample_seconds=0.5) as ctx, _writer(server, "alfred:cache:x:"):
            detection = await RedisMemory().detect(ctx)
        assert detection.verdict == Verdict.WARNING
        evicted = {e.label: e for e in detection.evidence}["evicted keys"]
        assert evicted.verdict == Verdict.WARNING
        assert float(evicted.value.removesuffix("/s")) > 0


async def test_slow_commands_warn_then_go_critical_and_the_monitor_explains(
    tmp_path, cli, validate_schema
) -> None:
    with redis_server("--enable-debug-command", "yes") as server:
        client = aioredis.Redis(host=server.host, port=server.port)
        await client.hset(
            "alfred:queue:backlog", mapping={f"task-{i}": "x" * 64 for i in range(20000)}
        )
        await client.execute_command("DEBUG", "SLEEP", "0.3")
        path = write(tmp_path, profile_text(redis=server))
        async with context_for(path, sample_seconds=0.3) as ctx:
            report = await RedisLatency().run(ctx)
        assert report.verdict == Verdict.WARNING
        assert "DEBUG SLEEP 0.3" in report.detection.summary
        slowlog = report.table("Slow log")
        assert slowlog.rows[0][3] == "DEBUG SLEEP 0.3"
        big = report.table("Biggest keys")
        assert big.rows[0][1] == "alfred:queue:backlog" and big.rows[0][4] == 20000
        assert report.remedy("split-big-keys") is not None
        assert "DEBUG" in report.remedy("change-slow-commands").what_it_does
        monitor = report.remedy("enable-latency-monitor")
        assert monitor.parameters == {"threshold_ms": 100}
        assert "--latency-monitor-threshold" in monitor.profile_yaml

        result = await asyncio.to_thread(
            cli,
            "doctor",
            "latency-monitor",
            "--threshold-ms",
            "100",
            "--yes",
            "--profile",
            str(path),
            "-o",
            "json",
        )
        assert result.returncode == 0, result.stderr
        validate_schema(json.loads(result.stdout), "action")
        assert server.cli("CONFIG", "GET", "latency-monitor-threshold").splitlines()[1] == "100"

        await client.execute_command("DEBUG", "SLEEP", "1.1")
        await client.aclose()
        async with context_for(path, sample_seconds=0.3) as ctx:
            report = await RedisLatency().run(ctx)
        assert report.verdict == Verdict.CRITICAL
        spikes = report.table("Latency spikes")
        assert spikes.rows and spikes.rows[0][0] == "command" and spikes.rows[0][2] >= 1000
        assert report.table("LATENCY DOCTOR") is not None
        assert report.remedy("enable-latency-monitor") is None


async def test_a_redis_that_is_down_is_unknown_not_an_error(tmp_path) -> None:
    port = free_port()
    path = write(
        tmp_path, f"extends: local\nservices:\n  redis:\n    ports: ['127.0.0.1:{port}:6379']\n"
    )
    async with context_for(path, timeout=1.0) as ctx:
        report = await RedisLatency().run(ctx)
    assert report.verdict == Verdict.UNKNOWN
    assert "does not answer" in report.detection.summary
    # redis-py retries a refused connection with backoff, so the foundation's client may
    # report the refusal as a timeout; either way the reason names the address
    assert f"127.0.0.1:{port}" in report.detection.summary
    assert report.duration_ms < 10_000 and not report.remedies


async def test_a_report_remedy_is_applied_by_name_as_the_pane_does(tmp_path) -> None:
    from alfred_tui.database_actions import ActionRefused
    from alfred_tui.troubleshoot.remedies import perform

    with redis_server("--maxmemory", "2mb", "--maxmemory-policy", "noeviction") as server:
        await _fill(server)
        path = write(tmp_path, profile_text(redis=server))
        async with context_for(path, sample_seconds=0.2) as ctx:
            report = await RedisMemory().run(ctx)
            remedy = report.remedy("change-policy")
            plan = await perform(ctx, remedy.action, remedy.parameters, confirm=False)
            assert not plan.applied and plan.steps == ("CONFIG SET maxmemory-policy allkeys-lru",)
            assert server.cli("CONFIG", "GET", "maxmemory-policy").splitlines()[1] == "noeviction"
            done = await perform(ctx, remedy.action, remedy.parameters, confirm=True)
            assert done.applied and done.previous["maxmemory-policy"] == "noeviction"
            assert server.cli("CONFIG", "GET", "maxmemory-policy").splitlines()[1] == "allkeys-lru"
            assert "- --maxmemory-policy\n" in done.profile_yaml
            with pytest.raises(ActionRefused, match="not something alfred-tui can apply"):
                await perform(ctx, "drop-everything", {}, confirm=True)
        async with context_for(path, readonly=True) as ctx:
            with pytest.raises(ReadOnlyRefused):
                await perform(ctx, "redis-memory", {"policy": "noeviction"}, confirm=False)


async def test_a_server_that_drifted_from_its_profile_is_put_back(tmp_path) -> None:
    from alfred_tui.troubleshoot.remedies import perform

    with redis_server("--maxmemory", "2mb", "--maxmemory-policy", "noeviction") as server:
        extra = (
            "    command: [redis-server, --appendonly, 'yes', --maxmemory, 64mb,\n"
            "              --maxmemory-policy, allkeys-lru]\n"
        )
        path = write(tmp_path, profile_text(redis=server) + extra)
        async with context_for(path, sample_seconds=0.2) as ctx:
            report = await RedisMemory().run(ctx)
            drift = {e.label: e for e in report.detection.evidence}["differs from the profile"]
            assert drift.verdict == Verdict.WARNING
            assert "maxmemory 2.0 MiB (profile: 64.0 MiB)" in drift.value
            assert "maxmemory-policy noeviction (profile: allkeys-lru)" in drift.value
            remedy = report.remedies[0]
            assert remedy.id == "apply-profile-settings"
            assert remedy.parameters == {"maxmemory": 64 * 1024**2, "policy": "allkeys-lru"}
            assert remedy.command == (
                "alfred-tui doctor redis-memory --maxmemory 64mb --policy allkeys-lru --yes"
            )
            await perform(ctx, remedy.action, remedy.parameters, confirm=True)
            after = await RedisMemory().run(ctx)
        assert "differs from the profile" not in {e.label for e in after.detection.evidence}
        assert after.verdict == Verdict.OK
