"""The UI's adapter layer without a terminal: history, backoff, actions, the monitor.

The monitor runs against the real PostgreSQL and Redis, and against a
"black hole" (a port that accepts connections and never answers) to show
that a hung service is reported as such while the others are not held up.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from servers import PgServer, RedisServer

from alfred_tui.backends.capabilities import NotSupported
from alfred_tui.control import deployment_actions
from alfred_tui.control.backoff import Backoff
from alfred_tui.control.deployment_actions import (
    ActionKind,
    ActionRequest,
    InvalidInput,
    ReadOnlyRefused,
)
from alfred_tui.control.history import MetricHistory, sparkline
from alfred_tui.control.monitor import OverviewSnapshot
from alfred_tui.control.session import open_session

# --- history and sparklines ---------------------------------------------------


def test_sparkline_is_a_fixed_time_axis_with_gaps_and_peaks() -> None:
    now = 1000.0
    samples = [(now - 590, 0.0), (now - 300, 10.0), (now - 299, 50.0), (now - 1, 100.0)]
    line = sparkline(samples, now, 600, 10)
    assert len(line) == 10
    assert line[0] == "▁" and line[-1] == "█"
    assert line[5] == "▅"  # two samples share a bucket: the peak (50, half-way) is kept
    assert line[1:5] == "    "  # no data there: blank, not zero
    assert sparkline(samples[:1], now, 600, 4) == "▁   "
    assert sparkline([], now, 600, 3) == "   "


def test_up_series_keep_their_dips() -> None:
    history = MetricHistory(window=600, refresh_seconds=2)
    for step in range(10):
        history.add("redis/redis_up", 1000 - 600 + step * 60 + 30, 1.0)
    history.add("redis/redis_up", 1000 - 10, 0.0)  # one failed poll in the last bucket
    assert history.sparkline("redis/redis_up", 1000, 10)[-1] == "▁"
    history.add("redis/redis_ops", 1000 - 500, 1.0)
    history.add("redis/redis_ops", 1000 - 10, 0.0)
    history.add("redis/redis_ops", 1000 - 5, 5.0)
    assert history.sparkline("redis/redis_ops", 1000, 10)[-1] == "█"


def test_history_is_bounded_and_read_by_time() -> None:
    history = MetricHistory(window=60, refresh_seconds=1)
    for second in range(1000):
        history.add("k", float(second), float(second))
    assert len(history.samples("k", 999.0)) == 60  # (939, 999]
    assert history.capacity == 90
    assert history.latest("k") == 999.0


def test_backoff_doubles_to_its_cap_and_resets() -> None:
    backoff = Backoff(base=2.0, cap=10.0, jitter=0.0)
    waits = [backoff.failed(now=0.0) for _ in range(5)]
    assert waits == [2.0, 4.0, 8.0, 10.0, 10.0]
    assert not backoff.due(5.0) and backoff.due(10.0)
    backoff.succeeded()
    assert backoff.due(0.0) and backoff.failures == 0


# --- action inputs and plans ------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "replicas: enter a whole number of instances"),
        ("two", "replicas: 'two' is not a whole number"),
        ("1.5", "replicas: '1.5' is not a whole number"),
        ("65", "replicas: 65 is out of range (0 to 64)"),
        ("-1", "replicas: -1 is out of range (0 to 64)"),
    ],
)
def test_replicas_must_be_a_whole_number_in_range(text: str, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        deployment_actions.parse_replicas(text)
    assert caught.value.message == message


def test_cpus_and_memory_take_units_and_name_the_field() -> None:
    assert deployment_actions.parse_cpus_input("500m") == 0.5
    assert deployment_actions.parse_memory_input("4G") == 4 * 1024**3
    assert deployment_actions.parse_memory_input("512Mi") == 512 * 1024**2
    assert (
        deployment_actions.parse_cpus_input("") is None
        and deployment_actions.parse_memory_input(" ") is None
    )
    for text, message in (
        ("6", "memory: add a unit (e.g. 6M or 6G)"),
        ("1K", "memory: 1.0 KiB is less than the minimum 6 MiB"),
        ("lots", "memory: 'lots' is not a size"),
    ):
        with pytest.raises(InvalidInput, match=message.replace("(", r"\(").replace(")", r"\)")):
            deployment_actions.parse_memory_input(text)
    with pytest.raises(InvalidInput, match="cpus: cpus must be greater than zero"):
        deployment_actions.parse_cpus_input("0")
    with pytest.raises(InvalidInput, match="enter cpus, memory or both"):
        deployment_actions.resize_request("redis", "", "")


def test_plans_say_exactly_what_happens(isolated_dirs: Path) -> None:
    session = open_session("local")
    keep = deployment_actions.plan(session, ActionRequest(ActionKind.TEARDOWN))
    assert keep.destructive and keep.lines == (
        "Stop and remove postgres, redis and qdrant on the local backend (profile local).",
        "Data volumes are kept: a later deploy finds the data again.",
    )
    delete = deployment_actions.plan(
        session, ActionRequest(ActionKind.TEARDOWN, remove_volumes=True)
    )
    safety = isolated_dirs / "data" / "local" / "safety"
    assert delete.lines[1] == (
        f"Then their data is DELETED; a safety copy is kept in {safety}/<time>/ first."
    )
    zero = deployment_actions.plan(session, ActionRequest(ActionKind.SCALE, "redis", replicas=0))
    assert zero.destructive and zero.confirm == "Scale to 0"
    restart = deployment_actions.plan(session, ActionRequest(ActionKind.RESTART, "redis"))
    assert not restart.destructive
    assert restart.lines[1] == "Open connections are dropped; clients must reconnect."


async def test_read_only_and_unsupported_actions_are_refused_before_the_backend(
    isolated_dirs: Path,
) -> None:
    readonly = open_session("local", readonly=True)
    with pytest.raises(ReadOnlyRefused, match="deploy refused: this session was opened"):
        await deployment_actions.execute(readonly, ActionRequest(ActionKind.DEPLOY))
    session = open_session("local")
    with pytest.raises(NotSupported, match="the local backend cannot scale for redis"):
        await deployment_actions.execute(
            session, ActionRequest(ActionKind.SCALE, "redis", replicas=2)
        )


# --- the monitor on real servers ----------------------------------------------------


@contextlib.contextmanager
def black_hole() -> Iterator[int]:
    """A port that accepts connections and never says anything (a hung server)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            with contextlib.suppress(OSError):
                held.append(server.accept()[0])

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        for connection in held:
            connection.close()
        server.close()


async def test_a_hung_service_times_out_alone(write_profile, pg: PgServer) -> None:  # type: ignore[no-untyped-def]
    with black_hole() as port:
        path = write_profile(
            "extends: local\nservices:\n"
            f'  postgres:\n    ports: ["127.0.0.1:{pg.port}:5432"]\n'
            f"    environment:\n      POSTGRES_PASSWORD: {pg.password}\n"
            f'  redis:\n    ports: ["127.0.0.1:{port}:6379"]\n'
            "  qdrant:\n    enabled: false\n",
            name="hung",
        )
        session = open_session(str(path))
        session.probe_timeout = 1.0
        partials: list[tuple[float, OverviewSnapshot]] = []
        started = time.monotonic()
        snapshot = await session.monitor.poll(
            lambda s: partials.append((time.monotonic() - started, s))
        )
        elapsed = time.monotonic() - started
        await session.close()
    assert snapshot.view("postgres").state == "OK"
    redis = snapshot.view("redis")
    assert redis.state == "DOWN"
    assert redis.report.reason == f"timeout after 1 s (127.0.0.1:{port})"
    assert elapsed < 3.0
    # PostgreSQL was on screen before Redis's timeout ran out.
    first_ok = next(t for t, s in partials if s.view("postgres").report is not None)
    assert first_ok < 0.9


async def test_connections_stay_open_and_a_restarted_server_is_reconnected(
    write_profile, pg: PgServer, redis: RedisServer
) -> None:  # type: ignore[no-untyped-def]
    path = write_profile(
        "extends: local\nservices:\n"
        f'  postgres:\n    ports: ["127.0.0.1:{pg.port}:5432"]\n'
        f"    environment:\n      POSTGRES_PASSWORD: {pg.password}\n"
        f'  redis:\n    ports: ["127.0.0.1:{redis.port}:6379"]\n'
        "  qdrant:\n    enabled: false\n",
        name="reuse",
    )
    session = open_session(str(path))
    monitor = session.monitor
    clients = "CLIENT LIST TYPE normal"
    try:
        for _ in range(5):
            snapshot = await monitor.poll()
            assert {v.kind: v.state for v in snapshot.services} == {
                "postgres": "OK",
                "redis": "OK",
            }
            await asyncio.sleep(0.05)
        ours = [
            line for line in redis.cli(*clients.split()).splitlines() if "name=alfred-tui" in line
        ]
        assert len(ours) == 1
        # Rates need two samples on the same connection: the second poll has them.
        rate = snapshot.view("postgres").report.reading("postgres_transaction_rate")
        assert rate is not None and rate.value is not None
    finally:
        await session.close()
    ours = [line for line in redis.cli(*clients.split()).splitlines() if "name=alfred-tui" in line]
    assert ours == []


async def test_an_embedded_store_that_is_not_there_is_not_created(isolated_dirs: Path) -> None:
    session = open_session("local")
    store = isolated_dirs / "data" / "local" / "qdrant"
    snapshot = await session.monitor.poll()
    await session.close()
    qdrant = snapshot.view("qdrant")
    assert qdrant.state == "DOWN"
    assert qdrant.report.reason == f"Not deployed: no embedded store at {store} (deploy it first)"
    assert not store.exists()
