"""``python -m tests.kube_standin [--docker] --kubeconfig PATH``: the stand-in, by hand.

Run from the repository root with the test dependencies installed (``make
venv``). It serves the Kubernetes API stand-in on loopback, writes a
kubeconfig whose current context points at it, prints ``ready`` on stdout
when it serves, and runs until Ctrl-C (or SIGTERM). With ``--docker`` its
kubelet runs every pod as real containers on the local Docker engine (the
test images stand in for the official ones; they are built first, which
takes minutes once and a second afterwards); on exit it removes every
container, volume and network it made. Without ``--docker`` pods turn Ready
without running anything (API behaviour only).

Then, for instance::

    kubectl --kubeconfig /tmp/kc get pods -A
    KUBECONFIG=/tmp/kc alfred-tui up --profile dev --backend kubernetes
    KUBECONFIG=/tmp/kc alfred-tui --profile dev --backend kubernetes
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import threading
from pathlib import Path

from . import StandInCluster
from .images import MIRROR, build_test_images, prefix


def main(argv: list[str] | None = None) -> int:
    """Serve until interrupted; exit 0 after cleaning up, 2 on bad input or no engine."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.kube_standin",
        description="The alfred-tui Kubernetes API-server stand-in (tests/kube_standin).",
    )
    parser.add_argument("--kubeconfig", required=True, type=Path, help="kubeconfig to write")
    parser.add_argument(
        "--docker", action="store_true", help="run pods as containers on the local Docker engine"
    )
    parser.add_argument("--port", type=int, default=None, help="port on 127.0.0.1 (default: any)")
    parser.add_argument("--context", default="stand-in", help="context name in the kubeconfig")
    args = parser.parse_args(argv)
    if args.kubeconfig.is_dir():
        print(f"error: --kubeconfig {args.kubeconfig} is a folder", file=sys.stderr)
        return 2
    if args.docker:
        names = sorted({build_name for _, build_name in MIRROR.values()})
        try:  # built once (minutes), then cached by content (a second)
            build_test_images(names)
        except subprocess.CalledProcessError:
            print("error: the test images could not be built (see above)", file=sys.stderr)
            return 2
    cluster = StandInCluster(docker=args.docker, port=args.port)
    stop = threading.Event()
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda *_: stop.set())
    cluster.start()
    try:
        cluster.kubeconfig(args.kubeconfig, context=args.context)
        kind = (
            f"kubelet on Docker (instance {cluster.instance}, test images {prefix()}/*)"
            if args.docker
            else "no kubelet (pods turn Ready, nothing runs)"
        )
        print(
            f"kube stand-in at {cluster.url}, {kind}; kubeconfig {args.kubeconfig} "
            f"(context {args.context}); Ctrl-C stops it",
            file=sys.stderr,
        )
        print("ready", flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        print("stopping: removing what it made...", file=sys.stderr, flush=True)
        cluster.stop()
    print("stopped", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
