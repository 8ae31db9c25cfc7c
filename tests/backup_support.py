"""Helpers for the backup tests: data fingerprints, schema validation, CLI runs.

A *fingerprint* is the whole logical content of a database, read with its
own client, so "equal before and after" means every row, key, TTL and point
came back, not only the counts the product itself checks.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import referencing
import referencing.jsonschema

from alfred_tui.paths import assets_dir

PG_PASSWORD = "your-super-secret-password"  # the built-in local profile's (spec default)


# --- JSON schemas ----------------------------------------------------------------------


def _registry() -> referencing.Registry:
    resources = []
    for path in (assets_dir() / "schemas").glob("*.schema.json"):
        document = json.loads(path.read_text())
        resource = referencing.jsonschema.DRAFT202012.create_resource(document)
        resources.append((document["$id"], resource))
    return referencing.Registry().with_resources(resources)


REGISTRY = _registry()


def validate(document: Any, schema_file: str) -> None:
    """Validate ``document`` against ``assets/schemas/<schema_file>`` (with its $refs)."""
    schema = json.loads((assets_dir() / "schemas" / schema_file).read_text())
    validator = jsonschema.Draft202012Validator(
        schema, registry=REGISTRY, format_checker=jsonschema.FormatChecker()
    )
    validator.validate(document)


# --- the CLI ---------------------------------------------------------------------------


def alfred(*args: str, timeout: float = 300, env: dict[str, str] | None = None,
           input: str | None = None) -> subprocess.CompletedProcess[str]:  # fmt: skip
    """Run the installed ``alfred-tui`` in a subprocess, as an operator would."""
    executable = str(Path(sys.executable).parent / "alfred-tui")
    result = subprocess.run(
        [executable, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        input=input,
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result


def json_out(result: subprocess.CompletedProcess[str], schema_file: str) -> dict[str, Any]:
    """The command's stdout as JSON, validated against its schema."""
    document = json.loads(result.stdout)
    validate(document, schema_file)
    return document


def take(profile: Path, *services: str) -> list[dict[str, Any]]:
    """``alfred-tui backup SERVICES -o json``; the new catalog entries."""
    result = alfred("backup", *services, "--profile", str(profile), "--output", "json")
    assert result.returncode == 0, result.stderr
    return json_out(result, "backups.v1.schema.json")["backups"]


def restore(profile: Path, service: str, *args: str, **kwargs: Any) -> tuple[int, dict, str]:
    """``alfred-tui restore SERVICE ARGS --yes -o json``: exit code, document, stderr."""
    result = alfred(
        "restore", service, *args, "--profile", str(profile), "--output", "json", **kwargs
    )
    document = json_out(result, "restore.v1.schema.json") if result.stdout.strip() else {}
    return result.returncode, document, result.stderr


def kill_when(process: subprocess.Popen[str], ready: Any, timeout: float = 120) -> None:
    """SIGKILL ``process`` as soon as ``ready()`` is true (polled every 5 ms)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            process.send_signal(signal.SIGKILL)
            process.wait(10)
            return
        if process.poll() is not None:
            raise AssertionError(f"the process ended before the kill: {process.communicate()}")
        time.sleep(0.005)
    process.kill()
    raise AssertionError("the condition to kill never came")


# --- PostgreSQL ------------------------------------------------------------------------


def psql(port: int, sql: str, database: str = "postgres", password: str = PG_PASSWORD) -> str:
    """Run SQL with psql against the deployment on ``port`` (unaligned, tuples only)."""
    result = subprocess.run(
        ["psql", "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", str(port),
         "-U", "postgres", "-d", database, "-c", sql],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "PGPASSWORD": password},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def pg_fingerprint(port: int, password: str = PG_PASSWORD) -> dict[str, str]:
    """Every user table -> md5 of all its rows in primary-key order (with the row count)."""
    tables = psql(
        port,
        password=password,
        sql="SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n "
        "ON n.oid = c.relnamespace WHERE c.relkind = 'r' AND n.nspname NOT IN "
        "('pg_catalog', 'information_schema') ORDER BY 1",
    ).split()
    result = {}
    for table in tables:
        result[table] = psql(
            port,
            "SELECT count(*) || ':' || "
            f"coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') FROM {table} t",
            password=password,
        )
    return result


# --- Redis -----------------------------------------------------------------------------


def redis_fingerprint(
    port: int, databases: range = range(5), password: str | None = None
) -> dict[str, Any]:
    """Every key of DBs 0-4: type, full value, and whether it has a TTL (and roughly how long)."""
    import redis

    content: dict[str, Any] = {}
    for db in databases:
        client = redis.Redis(
            host="127.0.0.1", port=port, db=db, decode_responses=True, password=password
        )
        try:
            for key in sorted(client.scan_iter(count=1000)):
                kind = client.type(key)
                if kind == "string":
                    value: Any = client.get(key)
                elif kind == "hash":
                    value = sorted(client.hgetall(key).items())
                elif kind == "list":
                    value = client.lrange(key, 0, -1)
                elif kind == "set":
                    value = sorted(client.smembers(key))
                elif kind == "zset":
                    value = client.zrange(key, 0, -1, withscores=True)
                elif kind == "stream":
                    value = [(i, sorted(f.items())) for i, f in client.xrange(key)]
                else:
                    value = None
                ttl = client.pttl(key)
                content[f"{db}/{key}"] = (kind, value, "ttl" if ttl > 0 else "persistent")
        finally:
            client.close()
    return content


def digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def seed_redis(port: int, tag: str, keys_per_type: int = 50, password: str | None = None) -> None:
    """Keys of every type in DBs 0-4, some with TTLs (long enough to outlive the test)."""
    import redis

    for db in range(5):
        client = redis.Redis(host="127.0.0.1", port=port, db=db, password=password)
        try:
            pipe = client.pipeline(transaction=False)
            for i in range(keys_per_type):
                base = f"{tag}:{db}:{i}"
                pipe.set(f"{base}:s", f"value-{tag}-{i}" * 3)
                pipe.hset(f"{base}:h", mapping={"a": i, "b": f"{tag}-{i}", "c": "x" * i})
                pipe.rpush(f"{base}:l", *[f"{tag}-{j}" for j in range(5)])
                pipe.sadd(f"{base}:set", *[f"m{j}-{tag}" for j in range(4)])
                pipe.zadd(f"{base}:z", {f"z{j}": j * 1.5 + i for j in range(4)})
                pipe.xadd(f"{base}:x", {"event": tag, "n": i})
                if i % 5 == 0:
                    pipe.expire(f"{base}:s", 3600)
                    pipe.expire(f"{base}:h", 7200)
            pipe.execute()
        finally:
            client.close()


# --- Qdrant ----------------------------------------------------------------------------


def qdrant_fingerprint(client: Any) -> dict[str, Any]:
    """Every collection -> every point (id, vector, payload), in id order."""
    content = {}
    for collection in sorted(c.name for c in client.get_collections().collections):
        points, offset = [], None
        while True:
            batch, offset = client.scroll(
                collection, limit=256, offset=offset, with_vectors=True, with_payload=True
            )
            points.extend(
                (str(p.id), [round(v, 5) for v in p.vector], sorted(p.payload.items()))
                for p in batch
            )
            if offset is None:
                break
        content[collection] = sorted(points)
    return content


def seed_qdrant(client: Any, tag: str, collections: dict[str, int]) -> None:
    """Collections of ``count`` points each, with vectors and payloads that depend on ``tag``."""
    from qdrant_client import models

    for name, count in collections.items():
        if client.collection_exists(name):  # e.g. created by `up` with the profile's size
            size = client.get_collection(name).config.params.vectors.size
        else:
            size = 8
            client.create_collection(
                name,
                vectors_config=models.VectorParams(size=size, distance=models.Distance.COSINE),
            )
        client.upsert(
            name,
            [
                models.PointStruct(
                    id=i,
                    vector=[((i * 7 + j + len(tag)) % 11) / 11.0 + 0.01 for j in range(size)],
                    payload={"tag": tag, "i": i, "text": f"{name}-{tag}-{i}"},
                )
                for i in range(count)
            ],
            wait=True,
        )


def write_rest_standin_binary(folder: Path) -> Path:
    """A ``qdrant`` executable that runs the REST stand-in with the local backend's config.

    The local backend starts whatever ``qdrant`` is on PATH with ``--config-path``;
    this one reads that config (host, port, storage, API key) and runs the
    stand-in's ``main`` in its own process, so the stand-in is the backend's
    managed Qdrant server process: recognised, restarted and stopped by it.
    """
    tests = Path(__file__).resolve().parent
    folder.mkdir(parents=True, exist_ok=True)
    binary = folder / "qdrant"
    binary.write_text(
        f"""#!{sys.executable}
# Qdrant REST stand-in (tests/qdrant_standin) launched as the local backend's qdrant binary.
# It runs in this process (no exec, no chdir): the backend recognises its server by
# this script's path in the command line and by its working directory, and stops it.
import json, os, sys
if "--version" in sys.argv:
    print("qdrant 1.15.0-standin")
    raise SystemExit(0)
config = json.load(open(sys.argv[sys.argv.index("--config-path") + 1]))
service = config["service"]
if service.get("api_key"):
    os.environ["QDRANT__SERVICE__API_KEY"] = service["api_key"]
sys.path.insert(0, {str(tests)!r})
from qdrant_standin.__main__ import main
raise SystemExit(main(["--host", service["host"], "--port", str(service["http_port"]),
                       "--storage", config["storage"]["storage_path"]]))
"""
    )
    binary.chmod(0o755)
    return folder


def write_t1_then_t2(port: int, password: str = PG_PASSWORD) -> datetime:
    """PITR's story: 500 rows at t1, a moment, 300 rows at t2 and t1's first ten changed.

    Returns the moment between the two writes; recovery to it must give back
    ``t1|500|1`` from ``SELECT phase, count(*), min(n) FROM events GROUP BY phase``.
    """
    psql(port, "CREATE TABLE events (phase text, n int); "
               "INSERT INTO events SELECT 't1', i FROM generate_series(1, 500) i",
         password=password)  # fmt: skip
    time.sleep(1.1)
    between = datetime.now(UTC)
    time.sleep(1.1)
    psql(port, "INSERT INTO events SELECT 't2', i FROM generate_series(1, 300) i; "
               "UPDATE events SET n = -n WHERE phase = 't1' AND n <= 10",
         password=password)  # fmt: skip
    assert psql(port, "SELECT count(*) FROM events", password=password) == "800"
    return between


# --- a point-in-time recovery killed midway ------------------------------------------

_KILLED_RECOVERY = """
import asyncio, os, signal, sys
from alfred_tui.backends import create_backend
from alfred_tui.backup.catalog import Catalog
from alfred_tui.backup.pitr import Pitr
from alfred_tui.backup.pitr_settings import parse_time
from alfred_tui.config.loader import load_profile
from alfred_tui.safety import safety_root

profile, target, kill_at = sys.argv[1], sys.argv[2], int(sys.argv[3])

def progress(report):
    if report.current == kill_at and report.total is not None:
        os.kill(os.getpid(), signal.SIGKILL)

async def main():
    loaded = load_profile(profile)
    pitr = Pitr(create_backend(loaded, loaded.profile.backend), Catalog.for_profile(loaded.profile))
    plan = await pitr.plan_recovery(parse_time(target))
    await pitr.recover(plan, safety_root(loaded.profile), progress)

asyncio.run(main())
"""


def recover_killed_at(profile: Path, target: datetime, step: int) -> None:
    """Run ``pitr recover`` in a process that ``kill -9``s itself as step ``step`` begins.

    As an operator's kill, an OOM kill or a dropped SSH session would: no
    exception handler, no ``finally`` runs. Steps: 3 = save the data directory,
    4 = copy the base backup in, 5 = start PostgreSQL to replay WAL.
    """
    result = subprocess.run(
        [sys.executable, "-c", _KILLED_RECOVERY, str(profile), target.isoformat(), str(step)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == -signal.SIGKILL, (result.returncode, result.stderr)
