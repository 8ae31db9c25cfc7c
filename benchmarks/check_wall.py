"""Whole-process wall time of `alfred-tui check` against local PostgreSQL and Redis.

Compared, in the same run and interleaved, with the import floor
(`python -c 'import typer, asyncpg, redis, pydantic'`) and with the native
one-liners (`pg_isready` + `redis-cli ping`), and with the check's own
import floor: a process importing every module the check imports except
alfred_tui's own (found by running the check once with -X importtime), the
anchor of issue 16's target, check within 1.3x of it; and with that floor
run with the cyclic collector paused, as alfred-tui pauses it for its start,
so the gain of the pause is not mistaken for leaner code. Wall and CPU time
are both printed: a loaded machine inflates the first.

alfred_tui is byte-compiled first, as ``pip install`` does for a wheel: an
editable checkout under ``PYTHONDONTWRITEBYTECODE=1`` (set on these machines)
would otherwise compile every module from source on every run, about 40 ms
that no installed copy pays, while the floor's libraries are byte-compiled.

Run: .venv/bin/python benchmarks/check_wall.py [--runs 10]
"""

from __future__ import annotations

import argparse
import compileall
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import Candidate, load_average, measure, print_table
from servers import postgres_server, redis_server

#: Imports every module named in the file given on the command line, one a
#: line; one that only exists on another platform (an attempted import the
#: check survived) is skipped. It ends as the check does, with ``os._exit``
#: (no interpreter teardown), so only the imports are compared.
IMPORT_ALL = (
    "import importlib, os, sys\n"
    "for name in open(sys.argv[1]).read().split():\n"
    "    try:\n"
    "        importlib.import_module(name)\n"
    "    except Exception:\n"
    "        pass\n"
    "os._exit(0)\n"
)
#: The same with the collector paused first, as alfred-tui pauses it for its own
#: start (:mod:`alfred_tui.cli.collector`): the floor of imports without the
#: cyclic collector's walks over what they make, so the two ratios side by side
#: say how much of the gain is the pause and how much alfred-tui's own code.
IMPORT_ALL_PAUSED = "import gc\ngc.disable()\n" + IMPORT_ALL


def modules_imported_by(argv: list[str], env: dict[str, str]) -> list[str]:
    """Every module ``argv`` imports except alfred_tui's own, in import order.

    That is the check's own import floor: the standard library, typer,
    PyYAML, pydantic, redis.asyncio, asyncpg... exactly as far as the check
    goes into each, so the ratio is what alfred-tui's own code costs (its
    modules, building the profile models, the probes).
    """
    result = subprocess.run(
        argv,
        env={**os.environ, **env, "PYTHONPROFILEIMPORTTIME": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    names = [
        line.rsplit("|", 1)[1].strip()
        for line in result.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    ]
    return [n for n in dict.fromkeys(names[1:]) if n.split(".")[0] != "alfred_tui"]


def third_party(modules: list[str]) -> list[str]:
    """Top-level packages of ``modules`` outside the standard library."""
    tops = dict.fromkeys(name.split(".")[0] for name in modules)
    return [top for top in tops if top not in sys.stdlib_module_names and not top.startswith("_")]


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
        check_argv = [alfred, "check", "--profile", str(profile)]
        needed = modules_imported_by(check_argv, env)
        own_floor = Candidate(
            f"check's own import floor ({len(needed)} modules)",
            [sys.executable, "-c", IMPORT_ALL, str(Path(tmp) / "check-modules.txt")],
        )
        (Path(tmp) / "check-modules.txt").write_text("\n".join(needed) + "\n")
        paused_floor = Candidate(
            "the same, collector paused",
            [sys.executable, "-c", IMPORT_ALL_PAUSED, str(Path(tmp) / "check-modules.txt")],
        )
        check = Candidate("alfred-tui check", check_argv, env=env)
        check_json = Candidate(
            "alfred-tui check -o json",
            [alfred, "check", "--profile", str(profile), "-o", "json"],
            env=env,
        )
        native = Candidate(
            "pg_isready + redis-cli ping",
            f"pg_isready -q -h 127.0.0.1 -p {pg.port} && redis-cli -p {redis.port} ping",
        )
        candidates = [own_floor, paused_floor, floor, check, check_json, native]
        measure(candidates, args.runs)
        print_table("alfred-tui check, whole process", candidates, own_floor)
        ratio = statistics.median(check.samples) / statistics.median(own_floor.samples)
        cpu_ratio = statistics.median(check.cpu_samples) / statistics.median(own_floor.cpu_samples)
        verdict = "meets" if ratio <= 1.3 else "MISSES"
        print(
            f"\ncheck / its own import floor = {ratio:.2f} in wall time ({verdict} the 1.3x "
            f"target), {cpu_ratio:.2f} in CPU time; load average {load_average()}"
        )
        paused = statistics.median(check.samples) / statistics.median(paused_floor.samples)
        paused_cpu = statistics.median(check.cpu_samples) / statistics.median(
            paused_floor.cpu_samples
        )
        print(
            f"check / the same floor with the collector paused = {paused:.2f} in wall time, "
            f"{paused_cpu:.2f} in CPU time"
        )
        print("\nthird-party packages in the own floor: " + ", ".join(third_party(needed)))


if __name__ == "__main__":
    main()
