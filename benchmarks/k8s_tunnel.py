"""How much the Kubernetes port-forward tunnel costs, against a direct connection.

Runs a real PostgreSQL (tests/servers.py) and the Kubernetes API-server
stand-in (tests/kube_standin), deploys the ``dev`` profile through the
Kubernetes backend, opens ``endpoint("postgres")`` (a loopback listener that
relays each connection over a WebSocket port-forward through the API server)
and times, in the same run:

- query round trips (``SELECT 1`` on one open connection), and
- connection set-up (connect, authenticate, close),

directly against PostgreSQL (the anchor) and through the tunnel, reported
as ratios. The stand-in relays in-process, so this measures the client-side
cost of the tunnel (the official client's WebSocket proxy thread and our
relay), not a real API server's or kubelet's.

    .venv/bin/python benchmarks/k8s_tunnel.py [--queries 2000] [--connects 50]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))


async def _round_trips(host: str, port: int, password: str, count: int) -> list[float]:
    import asyncpg

    connection = await asyncpg.connect(
        host=host, port=port, user="postgres", password=password, database="postgres"
    )
    try:
        times = []
        for _ in range(count):
            started = time.perf_counter()
            await connection.fetchval("SELECT 1")
            times.append(time.perf_counter() - started)
        return times
    finally:
        await connection.close()


async def _connects(host: str, port: int, password: str, count: int) -> list[float]:
    import asyncpg

    times = []
    for _ in range(count):
        started = time.perf_counter()
        connection = await asyncpg.connect(
            host=host, port=port, user="postgres", password=password, database="postgres"
        )
        await connection.close()
        times.append(time.perf_counter() - started)
    return times


async def _measure(args: argparse.Namespace) -> None:
    from kube_standin import StandInCluster
    from servers import postgres_server

    from alfred_tui.backends.kubernetes import KubernetesBackend
    from alfred_tui.config.loader import load_profile

    with postgres_server() as pg, StandInCluster() as cluster, tempfile.TemporaryDirectory() as tmp:
        os.environ["KUBECONFIG"] = str(cluster.kubeconfig(Path(tmp) / "kubeconfig"))
        profile = Path(tmp) / "bench.yaml"
        profile.write_text(
            textwrap.dedent(
                f"""
                extends: dev
                services:
                  postgres:
                    environment: {{POSTGRES_PASSWORD: {pg.password}}}
                """
            )
        )
        cluster.call(cluster.server.connect_backend, "db-postgres", 5432, "127.0.0.1", pg.port)
        backend = KubernetesBackend(load_profile(str(profile)), poll_interval=0.05)
        try:
            await backend.deploy(services=["postgres"])
            tunnel = await backend.endpoint("postgres")
            rows = []
            for label, runner, count in (
                ("SELECT 1 round trip", _round_trips, args.queries),
                ("connect + close", _connects, args.connects),
            ):
                direct = await runner("127.0.0.1", pg.port, pg.password, count)
                through = await runner(tunnel.host, tunnel.port, pg.password, count)
                d, t = statistics.median(direct), statistics.median(through)
                rows.append((label, count, d * 1000, t * 1000, t / d))
        finally:
            await backend.close()
    print(f"{'measurement':<22} {'n':>6} {'direct ms':>10} {'tunnel ms':>10} {'ratio':>7}")
    for label, count, direct_ms, tunnel_ms, ratio in rows:
        print(f"{label:<22} {count:>6} {direct_ms:>10.3f} {tunnel_ms:>10.3f} {ratio:>6.1f}x")
    print("medians; anchor = direct connection to the same PostgreSQL in the same run")
    print("command: .venv/bin/python benchmarks/k8s_tunnel.py " + " ".join(sys.argv[1:]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--connects", type=int, default=50)
    asyncio.run(_measure(parser.parse_args()))


if __name__ == "__main__":
    main()
