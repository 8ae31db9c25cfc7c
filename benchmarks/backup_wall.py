"""What alfred-tui's checked backups and verified restores cost over the bare tools.

Deploys a throwaway local profile (free ports, its own 0755 folder), fills
PostgreSQL (``--rows`` rows in three tables) and Redis (``--keys`` keys of
every type in five DBs), then times, interleaved, each against the by-hand
command an operator would type as the anchor of its table:

- PostgreSQL backup: ``pg_dump -F c`` vs ``alfred-tui backup postgres`` (the same
  dump, plus exact row counts in its snapshot, SHA-256, ``pg_restore --list``);
- PostgreSQL restore: ``pg_restore -c --if-exists --single-transaction`` vs
  ``alfred-tui restore postgres ID --yes`` (plus pre-flight, safety copy,
  verification of every table's rows);
- Redis backup: ``redis-cli --rdb`` vs ``alfred-tui backup redis`` (BGSAVE,
  copy, redis-check-rdb, counts from the file).

Run::

    .venv/bin/python benchmarks/backup_wall.py [--runs 5] [--rows 200000] [--keys 20000]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import Candidate, load_average, measure, print_table

BIN = Path(sys.executable).parent
PASSWORD = "your-super-secret-password"  # the built-in local profile's


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pg_bin(name: str) -> str:
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    return str(found[-1]) if found else (shutil.which(name) or name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--keys", type=int, default=20_000)
    options = parser.parse_args()

    base = Path(tempfile.mkdtemp(prefix="alfred-bench-backup-"))
    base.chmod(0o755)
    pg_port, redis_port = free_port(), free_port()
    profile = base / "bench.yaml"
    profile.write_text(
        f"extends: local\nname: bench\nlocal:\n  data_dir: {base / 'data'}\n"
        f"services:\n  postgres:\n    ports: ['127.0.0.1:{pg_port}:5432']\n"
        f"  redis:\n    ports: ['127.0.0.1:{redis_port}:6379']\n"
    )
    cli = [str(BIN / "alfred-tui")]
    target = ["--profile", str(profile)]
    pg_env = {"PGPASSWORD": PASSWORD, "PGHOST": "127.0.0.1", "PGPORT": str(pg_port),
              "PGUSER": "postgres", "PGDATABASE": "postgres"}  # fmt: skip
    try:
        subprocess.run([*cli, "up", "--yes", *target], check=True, capture_output=True)
        third = options.rows // 3
        subprocess.run(
            [pg_bin("psql"), "-q", "-c",
             f"CREATE TABLE a AS SELECT i, md5(i::text) h FROM generate_series(1,{third}) i;"
             f"CREATE TABLE b AS SELECT i, now() t, i * 2 n FROM generate_series(1,{third}) i;"
             f"CREATE TABLE c AS SELECT i, repeat('x', 50) s FROM generate_series(1,{third}) i;"],
            check=True, env={**os.environ, **pg_env},
        )  # fmt: skip
        script = "".join(
            f"for i in range({options.keys // 30}):\n"
            f" r=redis.Redis(port={redis_port}, db={db}); p=r.pipeline(False)\n"
            " p.set(f's{i}','v'*40); p.hset(f'h{i}', mapping={'a':i,'b':'x'});"
            " p.rpush(f'l{i}',1,2,3); p.sadd(f'S{i}','a','b'); p.zadd(f'z{i}',{'m':i});"
            " p.xadd(f'x{i}',{'e':i}); p.execute()\n"
            for db in range(5)
        )
        subprocess.run([sys.executable, "-c", "import redis\n" + script], check=True)

        taken = subprocess.run(
            [*cli, "backup", "postgres", *target, "-o", "json"], check=True, capture_output=True
        )
        backup_id = json.loads(taken.stdout)["backups"][0]["id"]
        dump = base / "by-hand.dump"
        rdb = base / "by-hand.rdb"

        pg_dump = Candidate(
            "pg_dump -F c (anchor)", [pg_bin("pg_dump"), "-F", "c", "-f", str(dump)], env=pg_env
        )
        backup_pg = Candidate("alfred-tui backup postgres", [*cli, "backup", "postgres", *target])
        measure([pg_dump, backup_pg], options.runs)

        pg_restore = Candidate(
            "pg_restore -c --if-exists --single-transaction (anchor)",
            [pg_bin("pg_restore"), "-c", "--if-exists", "--single-transaction", "-d", "postgres",
             str(dump)],
            env=pg_env,
        )  # fmt: skip
        restore_pg = Candidate(
            "alfred-tui restore postgres ID --yes",
            [*cli, "restore", "postgres", backup_id, "--yes", *target],
        )
        measure([pg_restore, restore_pg], options.runs)

        # redis-cli --rdb asks for a replica's full sync; Redis then waits
        # repl-diskless-sync-delay (5 s by default) for more replicas before sending.
        # The anchor is the by-hand backup done right: no such wait.
        subprocess.run(
            ["redis-cli", "-p", str(redis_port), "CONFIG", "SET", "repl-diskless-sync-delay", "0"],
            check=True,
            capture_output=True,
        )
        redis_rdb = Candidate(
            "redis-cli --rdb, repl-diskless-sync-delay 0 (anchor)",
            ["redis-cli", "-p", str(redis_port), "--rdb", str(rdb)],
        )
        backup_redis = Candidate("alfred-tui backup redis", [*cli, "backup", "redis", *target])
        measure([redis_rdb, backup_redis], options.runs)

        print(f"load average at the end: {load_average()}")
        print(
            f"data: PostgreSQL {options.rows:,} rows in 3 tables "
            f"(dump {dump.stat().st_size / 1e6:.1f} MB); Redis {options.keys:,} keys "
            f"in 5 DBs (RDB {rdb.stat().st_size / 1e6:.1f} MB); {os.cpu_count()} CPUs"
        )
        print_table("PostgreSQL backup", [pg_dump, backup_pg], pg_dump)
        print_table("PostgreSQL restore", [pg_restore, restore_pg], pg_restore)
        print_table("Redis backup", [redis_rdb, backup_redis], redis_rdb)
    finally:
        subprocess.run([*cli, "down", "--yes", *target], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
