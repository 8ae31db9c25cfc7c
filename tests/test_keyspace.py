"""The keyspace analysis against real Redis servers holding known data."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import jsonschema
import pytest
import redis
import redis.asyncio as aioredis
from conftest import ProfileWriter, run_cli
from servers import RedisServer, free_port, redis_server

from alfred_tui.config.loader import load_profile
from alfred_tui.databases import keyspace as keyspace_module
from alfred_tui.databases.keyspace import KeyspaceAnalyzer
from alfred_tui.databases.keyspace_model import KeyspaceReport
from alfred_tui.databases.keyspace_reads import FULL_READ_MAX_ELEMENTS
from alfred_tui.databases.redis import RedisTarget
from alfred_tui.paths import assets_dir

MAP = load_profile("local").profile.redis_databases
BINARY_KEY = b"\xff\xfe:bin:1"


def load_known_data(server: RedisServer) -> None:
    """The spec's layout, small and known: every figure below follows from it."""
    db0 = redis.Redis(port=server.port, db=0)
    pipe = db0.pipeline(transaction=False)
    for i in range(3000):
        ttl = [None, 30 * 60, 5 * 3600, 3 * 86400][i % 4]
        pipe.set(f"alfred:cache:item:{i}", "v" * (20 + i % 200), ex=ttl)
    for i in range(500):
        pipe.hset(f"alfred:cache:profile:{i}", mapping={f"f{j}": "x" * 10 for j in range(5)})
    pipe.hset("alfred:cache:bighash", mapping={f"field:{j}": "y" * 20 for j in range(20_000)})
    pipe.rpush("alfred:cache:biglist", *[f"item-{j}" * 3 for j in range(5_000)])
    for i in range(200):
        pipe.set(f"celery:task:{i}", "t")
    for i in range(50):
        pipe.set(f"session:{i}", "s", ex=600)
    for i in range(10):
        pipe.set(f"plainkey{i}", "p")
    for i in range(5):
        pipe.set(f"alfred:session:stray{i}", "s")  # belongs in db 1
    pipe.set(BINARY_KEY, "b")
    pipe.execute()
    db1 = redis.Redis(port=server.port, db=1)
    pipe = db1.pipeline(transaction=False)
    for i in range(1000):
        pipe.hset(f"alfred:session:{i}", mapping={"user": str(i), "token": "z" * 32})
        pipe.expire(f"alfred:session:{i}", 2 * 3600)
    pipe.execute()
    db2 = redis.Redis(port=server.port, db=2)
    pipe = db2.pipeline(transaction=False)
    for i in range(2000):
        pipe.incr(f"alfred:ratelimit:{i}")
        pipe.expire(f"alfred:ratelimit:{i}", 60)
    pipe.execute()
    db3 = redis.Redis(port=server.port, db=3)
    db3.rpush("alfred:queue:tasks", *[f"task-{i}" for i in range(500)])
    db3.rpush("alfred:queue:high", *[f"urgent-{i}" for i in range(10)])
    db3.zadd("alfred:queue:delayed", {f"job-{i}": i for i in range(30)})
    for i in range(20):
        db3.xadd("alfred:queue:events", {"n": str(i)})
    db3.set("alfred:queue:lock", "1")  # a string under the prefix: not a queue
    for client in (db0, db1, db2, db3):
        client.close()


@pytest.fixture(scope="module")
def known() -> Iterator[RedisServer]:
    """A Redis with :func:`load_known_data` and live pub/sub subscribers."""
    with redis_server() as server:
        load_known_data(server)
        subscribers = [redis.Redis(port=server.port) for _ in range(3)]
        channels = [subscriber.pubsub() for subscriber in subscribers]
        channels[0].subscribe("alfred:events", "alfred:agents")
        channels[1].subscribe("alfred:events")
        channels[2].psubscribe("alfred:*")
        for channel in channels:
            channel.get_message(timeout=1)
        try:
            yield server
        finally:
            for channel in channels:
                channel.close()


@pytest.fixture(scope="module")
def no_scripts() -> Iterator[RedisServer]:
    """A Redis that cannot run Lua (EVAL and EVALSHA renamed away), with the same data."""
    with redis_server("--rename-command", "EVAL", "", "--rename-command", "EVALSHA", "") as server:
        load_known_data(server)
        yield server


def analyzer(server: RedisServer, **options) -> KeyspaceAnalyzer:  # type: ignore[no-untyped-def]
    return KeyspaceAnalyzer(RedisTarget(server.host, server.port), MAP, **options)


def memory_of(server: RedisServer, db: int, *samples: str) -> dict[bytes, int]:
    client = redis.Redis(port=server.port, db=db)
    try:
        keys = list(client.scan_iter(count=1000))
        pipe = client.pipeline(transaction=False)
        for key in keys:
            pipe.execute_command("MEMORY", "USAGE", key, *samples)
        return dict(zip(keys, pipe.execute(), strict=True))
    finally:
        client.close()


def group_figures(report: KeyspaceReport) -> dict:  # type: ignore[type-arg]
    """Every figure of every group, for comparing two analyses."""
    return {
        (database.db, group.name): (
            group.keys.value,
            group.memory.value,
            {kind: estimate.value for kind, estimate in group.types.items()},
            {bucket: estimate.value for bucket, estimate in group.ttl.items()},
        )
        for database in report.databases
        for group in database.groups
    }


async def test_exact_figures_match_the_loaded_data(known: RedisServer) -> None:
    steps: list[tuple[int | None, int | None]] = []
    report = await analyzer(known).analyze(
        mode="exact", progress=lambda p: steps.append((p.current, p.total))
    )
    assert report.mode == "exact" and report.sample_pct is None
    assert [d.db for d in report.databases] == [0, 1, 2, 3, 4]
    db0 = report.database(0)
    assert db0.engine == "lua" and db0.mode == "exact" and not db0.notes
    assert db0.keys == db0.scanned == 3000 + 500 + 2 + 200 + 50 + 10 + 5 + 1
    groups = {g.name: g for g in db0.groups}
    assert {name: g.keys.value for name, g in groups.items()} == {
        "alfred:cache:*": 3502,
        "celery:task:*": 200,
        "session:*": 50,
        "(no prefix)": 10,
        "alfred:session:*": 5,
        "\\xff\\xfe:bin:*": 1,
    }
    cache = groups["alfred:cache:*"]
    assert cache.declared and not cache.misplaced and cache.expected_db == 0
    assert {k: v.value for k, v in cache.types.items() if v.value} == {
        "string": 3000,
        "hash": 501,
        "list": 1,
    }
    assert {k: v.value for k, v in cache.ttl.items()} == {
        "none": 750 + 500 + 2,
        "lt_1h": 750,
        "lt_1d": 750,
        "longer": 750,
    }
    assert all(v.is_exact for v in (cache.keys, cache.memory, *cache.ttl.values()))
    stray = groups["alfred:session:*"]
    assert stray.misplaced and stray.expected_db == 1
    assert groups["session:*"].ttl["lt_1h"].value == 50 and not groups["session:*"].declared

    db1, db2 = report.database(1), report.database(2)
    assert db1.keys == 1000 and db1.expires == 1000
    assert {g.name: g.ttl["lt_1d"].value for g in db1.groups} == {"alfred:session:*": 1000}
    assert {g.name: g.types["hash"].value for g in db1.groups} == {"alfred:session:*": 1000}
    assert db1.avg_ttl_seconds is not None and 7100 < db1.avg_ttl_seconds.value <= 7200
    assert db2.avg_ttl_seconds is not None and 50 < db2.avg_ttl_seconds.value <= 60
    # Exact means exact: the sum of MEMORY USAGE ... SAMPLES 0 (every element counted)
    # over the keys, big collections included (Redis's default extrapolates from 5).
    in_full = memory_of(known, 0, "SAMPLES", "0")
    assert db2.memory.value == sum(memory_of(known, 2, "SAMPLES", "0").values())
    assert db0.memory.value == sum(in_full.values())
    assert db0.memory.value == sum(g.memory.value for g in db0.groups)

    top = {(k.db, k.key): k for k in report.top_keys}
    assert report.top_keys[0].key in ("alfred:cache:bighash", "alfred:cache:biglist")
    bighash, biglist = top[(0, "alfred:cache:bighash")], top[(0, "alfred:cache:biglist")]
    assert bighash.elements == 20_000 > FULL_READ_MAX_ELEMENTS and bighash.memory_exact
    assert bighash.memory == in_full[b"alfred:cache:bighash"]
    assert biglist.elements == 5_000 and biglist.memory_exact
    assert biglist.memory == in_full[b"alfred:cache:biglist"]
    assert len(report.top_keys) == 20
    assert [k.memory for k in report.top_keys] == sorted(
        (k.memory for k in report.top_keys), reverse=True
    )

    assert [(q.key, q.type, q.length) for q in report.queues] == [
        ("alfred:queue:tasks", "list", 500),
        ("alfred:queue:delayed", "zset", 30),
        ("alfred:queue:events", "stream", 20),
        ("alfred:queue:high", "list", 10),
    ]
    assert report.queues_total == 4
    assert report.pubsub is not None and report.pubsub.db == 4
    assert [(c.name, c.subscribers) for c in report.pubsub.channels] == [
        ("alfred:events", 2),
        ("alfred:agents", 1),
    ]
    assert report.pubsub.patterns == 1

    currents = [current for current, _ in steps]
    assert currents == sorted(currents)
    assert steps[-1] == (db0.keys + 1000 + 2000 + 5, db0.keys + 1000 + 2000 + 5)


async def test_pipelines_give_the_same_exact_answer_as_the_script(known: RedisServer) -> None:
    scripted = await analyzer(known).analyze(mode="exact")
    piped = await analyzer(known, use_scripts=False).analyze(mode="exact")
    assert {d.engine for d in piped.databases} == {"pipeline"}
    assert group_figures(piped) == group_figures(scripted)
    # Keys of equal size are interchangeable in the list; their sizes are not.
    assert [k.memory for k in piped.top_keys] == [k.memory for k in scripted.top_keys]
    assert [k.key for k in piped.top_keys[:2]] == [k.key for k in scripted.top_keys[:2]]


async def test_two_databases_at_once_give_what_one_at_a_time_gives(known: RedisServer) -> None:
    together = await analyzer(known, workers=2).analyze(mode="exact")
    alone = await analyzer(known, workers=1).analyze(mode="exact")
    assert [d.db for d in together.databases] == [d.db for d in alone.databases]
    assert group_figures(together) == group_figures(alone)
    assert [(k.db, k.memory) for k in together.top_keys] == [
        (k.db, k.memory) for k in alone.top_keys
    ]
    assert [q.key for q in together.queues] == [q.key for q in alone.queues]


async def test_without_eval_the_analysis_falls_back_to_pipelines(
    known: RedisServer, no_scripts: RedisServer
) -> None:
    with pytest.raises(redis.ResponseError, match="unknown command"):
        redis.Redis(port=no_scripts.port).eval("return 1", 0)
    fallback = await analyzer(no_scripts).analyze(mode="exact")
    database = fallback.database(0)
    assert database.engine == "pipeline"
    assert "scripts unavailable" in database.notes[0]
    scripted = await analyzer(known).analyze(mode="exact")
    assert group_figures(fallback) == group_figures(scripted)  # same data, same answer
    sampled = await analyzer(no_scripts).analyze(mode="sample", sample_pct=50)
    assert sampled.database(0).engine == "pipeline"


@pytest.fixture(scope="module")
def big() -> Iterator[RedisServer]:
    """60,000 keys in one database (5, not in the profile) and 2,000 in database 2."""
    with redis_server() as server:
        client = redis.Redis(port=server.port, db=5)
        pipe = client.pipeline(transaction=False)
        for i in range(30_000):
            pipe.set(f"alfred:cache:a:{i}", "v" * (10 + i % 300), ex=[None, 1800, 7200][i % 3])
        for i in range(20_000):
            pipe.hset(f"x:y:{i}", mapping={"a": "1" * (i % 50), "b": "2"})
        for i in range(10_000):
            pipe.set(f"k{i}", "z" * (i % 100), ex=200_000)
        pipe.execute()
        small = redis.Redis(port=server.port, db=2)
        small.mset({f"alfred:ratelimit:{i}": i for i in range(2000)})
        queues = redis.Redis(port=server.port, db=3)
        pipe = queues.pipeline(transaction=False)
        for i in range(30_000):
            pipe.hset(f"alfred:queue:job:{i}", mapping={"state": "queued", "body": "b" * 40})
        for q in range(20):  # few keys, most of the memory: what a sample would miss
            pipe.rpush(f"alfred:queue:agent-{q}", *[f"job-{q}-{j}" * 4 for j in range(3000)])
        pipe.execute()
        for connection in (client, small, queues):
            connection.close()
        yield server


async def test_sampled_estimates_lie_within_their_bounds(big: RedisServer) -> None:
    exact = await analyzer(big).analyze(mode="exact")
    careful = await analyzer(big, confidence=0.999999).analyze(mode="sample", sample_pct=5)
    assert careful.mode == "mixed" and careful.sample_pct == 5
    database = careful.database(5)
    assert database.mode == "sampled" and database.scanned == 3000 and not database.in_profile
    assert careful.database(2).mode == "exact"  # small databases are read in full
    # The queue lists are measured one by one, not sampled: the memory is right.
    queues = careful.database(3)
    assert queues.mode == "sampled" and queues.scanned == 1501  # 5% of 30,020
    exact_queues = exact.database(3)
    assert queues.memory.contains(exact_queues.memory.value)
    lists = sum(q.length for q in careful.queues)
    assert lists == 20 * 3000 and careful.queues_total == 20
    queue_group = queues.groups[0]
    assert queue_group.types["list"].value == queue_group.types["list"].low == 20
    assert queue_group.keys.contains(30_020)
    truth = {g.name: g for g in exact.database(5).groups}
    estimates = {g.name: g for g in database.groups}
    assert set(estimates) == set(truth) == {"alfred:cache:*", "x:y:*", "(no prefix)"}
    for name, group in estimates.items():
        assert not group.keys.is_exact and group.sampled > 0
        assert group.keys.contains(truth[name].keys.value), name
        assert group.memory.contains(truth[name].memory.value), name
        for kind, estimate in group.types.items():
            assert estimate.contains(truth[name].types[kind].value), (name, kind)
        for bucket, estimate in group.ttl.items():
            assert estimate.contains(truth[name].ttl[bucket].value), (name, bucket)
    assert database.memory.contains(exact.database(5).memory.value)
    exact_ttl = exact.database(5).avg_ttl_seconds
    assert database.avg_ttl_seconds is not None and exact_ttl is not None
    assert database.avg_ttl_seconds.contains(exact_ttl.value)
    # Every figure of one sample must be inside at 99.9999% (z = 4.9: with
    # ~40 correlated figures, a miss somewhere about once in 10^5 samples),
    # and the interval is still informative: +-9% from 3,000 draws (+-3.6% at 95%).
    cache = estimates["alfred:cache:*"]
    assert cache.keys.margin < 0.10 * truth["alfred:cache:*"].keys.value

    # At 95%, each figure's interval must hold the truth in about 95% of
    # independent samples. One sample cannot show that: its ~40 figures move
    # together (a group drawn too often has its keys, its type count and its
    # TTL buckets all high, the other groups low), so a single unlucky draw
    # can push a dozen of them out at once (seen: 31 of 39 inside, about one
    # sample in a hundred). Twenty samples can: each figure must be inside in
    # at least 12 of them (a calibrated interval misses 9 of 20 with odds
    # below 1 in 10^6 per figure), and all together in at least 85% (expected
    # 95%).
    runs = 20
    misses: dict[tuple[str, str], int] = {}
    usual = None
    for _ in range(runs):
        usual = await analyzer(big).analyze(dbs=[5], mode="sample", sample_pct=5)
        for group in usual.database(5).groups:
            exact_group = truth[group.name]
            figures = [("keys", group.keys, exact_group.keys)]
            figures += [("memory", group.memory, exact_group.memory)]
            figures += [(kind, e, exact_group.types[kind]) for kind, e in group.types.items()]
            figures += [(bucket, e, exact_group.ttl[bucket]) for bucket, e in group.ttl.items()]
            for figure, estimate, exact_value in figures:
                assert estimate.low <= estimate.value <= estimate.high
                missed = not estimate.contains(exact_value.value)
                key = (group.name, figure)
                misses[key] = misses.get(key, 0) + missed
    assert usual is not None and len(misses) == 39
    assert max(misses.values()) <= 8, misses
    assert sum(misses.values()) <= 0.15 * runs * len(misses), misses
    usual_cache = next(g for g in usual.database(5).groups if g.name == "alfred:cache:*")
    assert usual_cache.keys.margin < 0.04 * truth["alfred:cache:*"].keys.value


async def test_auto_mode_samples_above_the_threshold(
    big: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert (await analyzer(big).analyze()).mode == "exact"  # 92,020 keys: below 200,000
    monkeypatch.setattr(keyspace_module, "AUTO_SAMPLE_ABOVE", 50_000)
    report = await analyzer(big).analyze()
    assert report.database(5).mode == "sampled" and report.database(5).scanned == 1000


async def test_cancelling_stops_the_scan_and_closes_connections(big: RedisServer) -> None:
    seen: list[int] = []
    started = asyncio.Event()

    def progress(step) -> None:  # type: ignore[no-untyped-def]
        seen.append(step.current or 0)
        started.set()

    task = asyncio.create_task(analyzer(big).analyze(mode="exact", progress=progress))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert seen[-1] <= 2 * 2_000  # stopped within a call or two, not at the end
    control = aioredis.Redis(port=big.port)
    try:
        await asyncio.sleep(0.1)
        clients = await control.client_list()
        assert not [c for c in clients if c.get("name") == "alfred-tui"]
        assert await control.ping()
    finally:
        await control.aclose()


async def test_one_database_only(known: RedisServer) -> None:
    report = await analyzer(known).analyze(dbs=[3])
    assert [d.db for d in report.databases] == [3]
    assert report.pubsub is None and report.queues_total == 4
    assert {g.name for g in report.database(3).groups} == {"alfred:queue:*"}


# --- the CLI ------------------------------------------------------------------


def redis_profile(write_profile: ProfileWriter, server: RedisServer) -> str:
    return str(
        write_profile(
            f"""
            extends: local
            services:
              redis:
                ports: ["127.0.0.1:{server.port}:6379"]
            """,
            name=f"redis-{server.port}",
        )
    )


def test_cli_json_matches_its_schema(known: RedisServer, write_profile: ProfileWriter) -> None:
    profile = redis_profile(write_profile, known)
    result = run_cli("keyspace", "--profile", profile, "--output", "json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    schema = json.loads((assets_dir() / "schemas" / "keyspace.v1.schema.json").read_text())
    jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    ).validate(document)
    assert document["mode"] == "exact"
    cache = next(g for g in document["databases"][0]["groups"] if g["name"] == "alfred:cache:*")
    assert cache["keys"] == {"value": 3502, "low": 3502, "high": 3502, "exact": True}
    assert document["pubsub"]["channels"][0] == {"name": "alfred:events", "subscribers": 2}

    sampled = run_cli("keyspace", "--profile", profile, "--sample", "10", "--db", "0", "-o", "json")
    document = json.loads(sampled.stdout)
    jsonschema.validate(document, schema)
    assert document["pubsub"] is None
    assert document["sample_pct"] is None and document["mode"] == "exact"  # db 0 is small
    assert "all were read in full" in document["notes"][0]

    table = run_cli("keyspace", "--profile", profile, "--db", "0", "--db", "3")
    assert table.returncode == 0
    assert "alfred:cache:*" in table.stdout and "alfred:queue:tasks" in table.stdout
    assert "(profile: db 1)" in table.stdout  # the stray session keys


def test_cli_bad_input_and_unreachable_server(write_profile: ProfileWriter) -> None:
    down = write_profile(
        f"""
        extends: local
        services:
          redis:
            ports: ["127.0.0.1:{free_port()}:6379"]
        """,
        name="down",
    )
    both = run_cli("keyspace", "--profile", str(down), "--exact", "--sample", "5")
    assert both.returncode == 2
    assert both.stderr.strip() == "Usage error: --exact and --sample exclude each other; give one"
    result = run_cli("keyspace", "--profile", str(down), "--timeout", "2")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        "Database unreachable: Redis: connection refused"
    )


def test_cli_refused_command_is_one_line(write_profile: ProfileWriter) -> None:
    with redis_server("--rename-command", "SCAN", "") as server:
        redis.Redis(port=server.port).set("a:b:c", "1")
        result = run_cli("keyspace", "--profile", redis_profile(write_profile, server))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"Redis refused: Redis at 127.0.0.1:{server.port} refused: ")
    assert "SCAN" in lines[0] or "scan" in lines[0]
