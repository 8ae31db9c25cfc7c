"""``python -m qdrant_standin``: run the Qdrant stand-in server.

Options default to Qdrant's own environment variables where Qdrant has one
(``QDRANT__SERVICE__HTTP_PORT``, ``QDRANT__SERVICE__API_KEY``,
``QDRANT__STORAGE__STORAGE_PATH`` ...), so it starts the way a Qdrant
container is configured. It binds to 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import signal
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

from . import DEFAULT_QDRANT_VERSION, STANDIN_TITLE
from .api import Context, Settings, new_instance_id
from .server import StandinServer
from .snapshots import Snapshots
from .stats import RequestRecorder
from .storage import Storage

log = logging.getLogger("qdrant")

_LEVEL_NAMES = {"WARNING": "WARN", "CRITICAL": "ERROR"}


class QdrantFormatter(logging.Formatter):
    """Qdrant's log line: ``2024-01-01T12:00:00.123456Z  INFO target: message``."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        level = _LEVEL_NAMES.get(record.levelname, record.levelname)
        text = f"{stamp} {level:>5} {record.name}: {record.getMessage()}"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


def parse_args(argv: list[str] | None = None) -> Settings:
    """Command line and Qdrant environment variables -> :class:`Settings`."""
    env = os.environ.get
    parser = argparse.ArgumentParser(
        prog="python -m qdrant_standin",
        description=f"{STANDIN_TITLE}: Qdrant's REST subset over qdrant-edge storage.",
    )
    parser.add_argument("--host", default=env("QDRANT__SERVICE__HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(env("QDRANT__SERVICE__HTTP_PORT", "6333")))
    parser.add_argument(
        "--storage",
        type=Path,
        default=Path(env("QDRANT__STORAGE__STORAGE_PATH", "./storage")),
        help="Storage folder (collections).",
    )
    parser.add_argument(
        "--snapshots",
        type=Path,
        default=env("QDRANT__STORAGE__SNAPSHOTS_PATH"),
        help="Snapshots folder [default: STORAGE/snapshots].",
    )
    parser.add_argument(
        "--api-key",
        default=env("QDRANT__SERVICE__API_KEY"),
        help="Require this key (api-key header or Bearer token); prefer the env variable.",
    )
    parser.add_argument("--read-only-api-key", default=env("QDRANT__SERVICE__READ_ONLY_API_KEY"))
    parser.add_argument(
        "--disable-metrics",
        action="store_true",
        help="Answer 404 on /metrics (to exercise clients that fall back to /telemetry).",
    )
    parser.add_argument("--qdrant-version", default=DEFAULT_QDRANT_VERSION)
    parser.add_argument(
        "--optimizer-delay",
        type=float,
        default=0.2,
        help="Seconds after the last write before the optimizer looks at a collection.",
    )
    parser.add_argument(
        "--storage-snapshot",
        type=Path,
        help="Recover every collection of this full snapshot at start-up (as Qdrant's flag).",
    )
    parser.add_argument("--force-snapshot", action="store_true")
    parser.add_argument("--log-level", default=env("QDRANT__LOG_LEVEL", "INFO"))
    args = parser.parse_args(argv)
    storage = args.storage.resolve()
    return Settings(
        host=args.host,
        port=args.port,
        storage=storage,
        snapshots=Path(args.snapshots).resolve() if args.snapshots else storage / "snapshots",
        api_key=args.api_key or None,
        read_only_api_key=args.read_only_api_key or None,
        metrics=not args.disable_metrics,
        version=args.qdrant_version,
        optimizer_delay=args.optimizer_delay,
        storage_snapshot=args.storage_snapshot,
        force_snapshot=args.force_snapshot,
        log_level=args.log_level.upper(),
    )


def _identity(storage: Path) -> tuple[int, str]:
    """This storage's peer id (in snapshot names) and telemetry id, kept across restarts."""
    path = storage / "standin-identity.json"
    if path.is_file():
        data = json.loads(path.read_text())
        return int(data["peer_id"]), str(data["instance_id"])
    data = {"peer_id": random.getrandbits(52), "instance_id": new_instance_id()}
    path.write_text(json.dumps(data))
    return data["peer_id"], data["instance_id"]


def main(argv: list[str] | None = None) -> int:
    """Load the storage, serve until SIGTERM/SIGINT, flush and exit 0."""
    settings = parse_args(argv)
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(QdrantFormatter())
    logging.basicConfig(level=settings.log_level, handlers=[handler], force=True)
    log.warning("This is the alfred-tui Qdrant stand-in, not Qdrant (see tests/qdrant_standin)")
    settings.storage.mkdir(parents=True, exist_ok=True)
    peer_id, instance_id = _identity(settings.storage)
    storage = Storage(settings.storage, optimizer_delay=settings.optimizer_delay)
    assert settings.snapshots is not None
    snapshots = Snapshots(storage, settings.snapshots, peer_id)
    storage.load_all()
    if settings.storage_snapshot is not None:
        restored = snapshots.restore_full(settings.storage_snapshot, settings.force_snapshot)
        log.info("Recovered collections from %s: %s", settings.storage_snapshot, restored)
    context = Context(settings, storage, snapshots, RequestRecorder(), instance_id)
    try:
        server = StandinServer((settings.host, settings.port), context)
    except OSError as exc:
        log.error("Cannot listen on %s:%d: %s", settings.host, settings.port, exc)
        storage.close()
        return 1

    def stop(signum: int, _frame: object) -> None:
        log.info("Received %s, shutting down", signal.Signals(signum).name)
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("Qdrant HTTP listening on %d", server.server_address[1])
    if settings.api_key:
        log.info("API key authentication is on (health endpoints stay open)")
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        storage.close()
    log.info("Stopped")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
