"""How much the Kubernetes port-forward tunnel costs, against a direct connection.

Runs the Kubernetes API-server stand-in (tests/kube_standin) with its Docker
kubelet, deploys the e2e profile's PostgreSQL through the Kubernetes backend
(a real PostgreSQL in a pod), opens ``endpoint("postgres")`` (a loopback
listener that relays each connection over a WebSocket port-forward through
the API server to the pod) and times, in the same run:

- query round trips (``SELECT 1`` on one open connection), and
- connection set-up (connect, authenticate, close),

directly against the pod's IP (the anchor: this machine reaches Docker's
bridge) and through the tunnel, reported as ratios. The stand-in's API
server and kubelet relay in-process, so this measures the client-side cost
of the tunnel (the official client's WebSocket proxy thread and our relay)
plus the stand-in's relay, not a real API server's or kubelet's.

    .venv/bin/python benchmarks/k8s_tunnel.py [--queries 2000] [--connects 50]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from _harness import interleaved, load_average  # noqa: E402


async def _connect(host: str, port: int, password: str):  # type: ignore[no-untyped-def]
    import asyncpg

    return await asyncpg.connect(
        host=host, port=port, user="postgres", password=password, database="postgres"
    )


async def _connect_close(host: str, port: int, password: str) -> None:
    connection = await _connect(host, port, password)
    await connection.close()


async def _measure(args: argparse.Namespace) -> None:
    from kube_support import KubeDeployment, kube_cluster, write_profile

    with kube_cluster() as cluster, tempfile.TemporaryDirectory() as tmp:
        path = write_profile(Path(tmp), cluster, "bench")
        deployment = KubeDeployment(cluster, "bench", path, Path(tmp) / "kubeconfig-bench")
        backend = deployment.backend()
        try:
            await backend.deploy(services=["postgres"])
            password = deployment.secret("db-password")
            pod_ip = deployment.pods()["postgres-primary-0"]["status"]["podIP"]
            tunnel = await backend.endpoint("postgres")
            direct = await _connect(pod_ip, 5432, password)
            through = await _connect(tunnel.host, tunnel.port, password)
            try:
                # Interleaved: direct, tunnel, direct, tunnel... (load hits both alike).
                queries = await interleaved(
                    {
                        "direct": lambda: direct.fetchval("SELECT 1"),
                        "tunnel": lambda: through.fetchval("SELECT 1"),
                    },
                    args.queries,
                    warmup=10,
                )
                connects = await interleaved(
                    {
                        "direct": lambda: _connect_close(pod_ip, 5432, password),
                        "tunnel": lambda: _connect_close(tunnel.host, tunnel.port, password),
                    },
                    args.connects,
                )
            finally:
                await direct.close()
                await through.close()
        finally:
            await backend.close()
    print(f"load average {load_average()}")
    print(f"{'measurement':<22} {'n':>6} {'direct ms':>10} {'tunnel ms':>10} {'ratio':>7}")
    for label, samples in (("SELECT 1 round trip", queries), ("connect + close", connects)):
        d, t = statistics.median(samples["direct"]), statistics.median(samples["tunnel"])
        print(f"{label:<22} {len(samples['direct']):>6} {d:>10.3f} {t:>10.3f} {t / d:>6.1f}x")
    print("medians, interleaved; anchor = direct connection to the same pod, same run")
    print("command: .venv/bin/python benchmarks/k8s_tunnel.py " + " ".join(sys.argv[1:]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--connects", type=int, default=50)
    asyncio.run(_measure(parser.parse_args()))


if __name__ == "__main__":
    main()
