"""How long the Docker backend takes to answer "what is running", against the docker CLI.

Deploys the Docker test profile (scripts/build-test-images.sh images) under a
throwaway Compose project, then times, in the same run:

* anchor: ``docker ps -a --filter label=...`` + ``docker inspect`` of those
  containers: what an operator types to learn the same (state, health,
  restarts, limits);
* ``DockerBackend.status()`` in a warm process (what the UI's poll costs);
* ``alfred-tui status --backend docker -o json``, a cold CLI process;
* ``DockerBackend.logs(tail=50)`` for every service, merged.

Prints a table (median and p95 in ms, ratio to the anchor) and the command
that made it. Removes everything it deployed.

    .venv/bin/python benchmarks/docker_status.py [--runs 20] [--replicas 1]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from _harness import interleaved, load_average  # noqa: E402
from docker_support import DockerStack, docker_stack  # noqa: E402


def _anchor(stack: DockerStack) -> None:
    label = f"label=com.docker.compose.project={stack.project}"
    ids = subprocess.run(
        ["docker", "ps", "-aq", "--filter", label], capture_output=True, text=True, check=True
    ).stdout.split()
    subprocess.run(["docker", "inspect", *ids], capture_output=True, check=True)


def _cli(stack: DockerStack) -> None:
    executable = Path(sys.executable).parent / "alfred-tui"
    subprocess.run(
        [str(executable), "status", "--profile", str(stack.profile_path), "--backend", "docker",
         "-o", "json"],
        capture_output=True, check=True, env=os.environ.copy(),
    )  # fmt: skip


async def _measure(stack: DockerStack, runs: int, replicas: int) -> dict[str, list[float]]:
    async with stack.backend() as backend:
        if replicas > 1:
            await backend.scale("redis", replicas)
        await backend.status()  # connect once: the UI keeps its client

        async def logs() -> None:
            async for _ in backend.logs(tail=50):
                pass

        samplers = {
            "docker ps + docker inspect (anchor)": lambda: asyncio.to_thread(_anchor, stack),
            "DockerBackend.status() warm": backend.status,
            "alfred-tui status -o json (cold)": lambda: asyncio.to_thread(_cli, stack),
            "DockerBackend.logs(tail=50) all": logs,
        }
        # Interleaved (anchor, status, cli, logs, anchor, ...): load hits them alike.
        return await interleaved(samplers, runs, every={"alfred-tui status -o json (cold)": 4})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--replicas", type=int, default=1, help="Redis instances while timing.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder, docker_stack(Path(folder)) as stack:
        results = asyncio.run(_measure(stack, args.runs, args.replicas))
        containers = len(stack.services) + args.replicas - 1
    anchor = statistics.median(next(iter(results.values())))
    print(f"interleaved rounds: {args.runs}; load average {load_average()}")
    print(f"{'what':40} {'runs':>5} {'median ms':>10} {'p95 ms':>8} {'x anchor':>9}")
    for name, samples in results.items():
        ordered = sorted(samples)
        p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
        median = statistics.median(samples)
        print(f"{name:40} {len(samples):5} {median:10.1f} {p95:8.1f} {median / anchor:9.2f}")
    print(f"\n{containers} containers ({', '.join(stack.services)}); engine: docker info says "
          + subprocess.run(["docker", "info", "--format", "{{.ServerVersion}} {{.Driver}}"],
                           capture_output=True, text=True).stdout.strip())  # fmt: skip
    print(f"made by: {' '.join([Path(sys.executable).name, *sys.argv])}")


if __name__ == "__main__":
    main()
