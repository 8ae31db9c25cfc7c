"""Whole-process wall time of `alfred-tui check` against local PostgreSQL and Redis.

Compared, in the same run and interleaved, with the import floor
(`python -c 'import typer, asyncpg, redis, pydantic'`) and with the native
one-liners (`pg_isready` + `redis-cli ping`). Target: check within 1.5x of
the import floor.

alfred_tui is byte-compiled first, as ``pip install`` does for a wheel: an
editable checkout under ``PYTHONDONTWRITEBYTECODE=1`` (set on these machines)
would otherwise compile every module from source on every run, about 40 ms
that no installed copy pays, while the floor's libraries are byte-compiled.

Run: .venv/bin/python benchmarks/check_wall.py [--runs 10]
"""

from __future__ import annotations

import argparse
import compileall
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import Candidate, measure, print_table
from servers import postgres_server, redis_server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    package = Path(__file__).resolve().parent.parent / "alfred_tui"
    compileall.compile_dir(str(package), quiet=1)
    bindir = Path(sys.executable).parent
    alfred = shutil.which("alfred-tui", path=str(bindir)) or "alfred-tui"
    with postgres_server() as pg, redis_server() as redis, tempfile.TemporaryDirectory() as tmp:
        profile = Path(tmp) / "bench.yaml"
        profile.write_text(
            "extends: local\n"
            "services:\n"
            f"  postgres:\n    ports: ['127.0.0.1:{pg.port}:5432']\n"
            f"    environment: {{POSTGRES_PASSWORD: {pg.password}}}\n"
            f"  redis:\n    ports: ['127.0.0.1:{redis.port}:6379']\n"
            "  qdrant: {enabled: false}\n"
        )
        env = {"ALFRED_TUI_STATE_DIR": tmp, "ALFRED_TUI_DATA_DIR": tmp}
        floor = Candidate(
            "import floor", [sys.executable, "-c", "import typer, asyncpg, redis, pydantic"]
        )
        check = Candidate("alfred-tui check", [alfred, "check", "--profile", str(profile)], env=env)
        check_json = Candidate(
            "alfred-tui check -o json",
            [alfred, "check", "--profile", str(profile), "-o", "json"],
            env=env,
        )
        native = Candidate(
            "pg_isready + redis-cli ping",
            f"pg_isready -q -h 127.0.0.1 -p {pg.port} && redis-cli -p {redis.port} ping",
        )
        candidates = [floor, check, check_json, native]
        measure(candidates, args.runs)
        print_table("alfred-tui check, whole process", candidates, floor)
        ratio = statistics.median(check.samples) / statistics.median(floor.samples)
        verdict = "meets" if ratio <= 1.5 else "MISSES"
        print(f"\ncheck / import floor = {ratio:.2f} ({verdict} the 1.5x target)")


if __name__ == "__main__":
    main()
