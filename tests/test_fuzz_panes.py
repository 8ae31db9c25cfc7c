"""Property-based fuzzing of server data shown in panes: nothing from a server drives the terminal.

A server can hold any bytes: Redis keys and values with escape sequences and
invalid UTF-8, PostgreSQL queries carrying an OSC that would retitle the
window or write the clipboard, log lines with colour codes, control
characters, invalid UTF-8 and a megabyte on one line, Qdrant collection
names. Hypothesis generates such data; it is put into real servers (a real
Redis, the session's PostgreSQL, a log file the local backend reads, an
embedded Qdrant store) and printed by each pane's CLI twin (table and JSON);
the real app (Pilot) then shows the worst of it, every escape sequence of
:data:`fuzz_support.ESCAPES` plus invalid UTF-8, in each pane (an app run costs
seconds, so once per pane rather than per example). The property: the
command's stdout, and the whole screen as the compositor sends it to the
terminal, hold no control character (C0, DEL, C1) that came from a server,
and nothing crashes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
import redis
from conftest import ProfileWriter
from fuzz_support import (
    ESCAPES,
    MARKUP,
    control_characters,
    few,
    hostile_bytes,
    hostile_text,
    run_main,
)
from hypothesis import example, given
from hypothesis import strategies as st
from servers import PgServer, RedisServer, free_port, redis_server
from ui_helpers import fast_app, wait_for

from alfred_tui.app import AlfredApp

pytestmark = pytest.mark.timeout(600)


def screen_controls(app: AlfredApp) -> list[str]:
    """Control characters in what the compositor would send for the whole screen."""
    found: set[str] = set()
    for strip in app.screen._compositor.render_strips():
        for segment in strip:
            found.update(control_characters(segment.text))
    return sorted(found)


def assert_output_clean(text: str, what: str) -> None:
    found = control_characters(text.replace("\n", ""))
    assert not found, f"{what} printed control characters {found!r}"


async def shown(app: AlfredApp, pane: str, ready) -> None:  # type: ignore[no-untyped-def]
    """Switch to ``pane``, wait until ``ready(pane_screen)``, check the screen."""
    async with app.run_test(size=(160, 48)) as pilot:
        app.switch_mode(pane)
        await wait_for(pilot, lambda: pane in app._panes, what=pane)
        screen = app._panes[pane]
        await wait_for(pilot, lambda: ready(screen), what=f"{pane} data", timeout=30)
        await pilot.pause(0.3)
        assert not screen_controls(app), f"{pane}: {screen_controls(app)!r} reached the terminal"


# --- Redis: the Keyspace pane and `keyspace` ------------------------------------------


@pytest.fixture(scope="module")
def hostile_redis() -> Iterator[RedisServer]:
    with redis_server() as server:
        yield server


def redis_profile(write_profile: ProfileWriter, port: int) -> Path:
    return write_profile(
        "extends: local\n"
        "services:\n"
        f'  redis:\n    ports: ["127.0.0.1:{port}:6379"]\n'
        "  postgres:\n    enabled: false\n"
        "  qdrant:\n    enabled: false\n",
        name="redis-only",
    )


def load_redis(server: RedisServer, keys: list[bytes], values: list[bytes]) -> None:
    client = redis.Redis(port=server.port)
    client.flushall()
    pipe = client.pipeline(transaction=False)
    for index, key in enumerate(keys):
        value = values[index % len(values)]
        pipe.set(key, value)
        pipe.rpush(b"alfred:queue:" + key, value or b"x")
        pipe.hset(b"alfred:cache:" + key, key, value * 10)
    pipe.execute()
    client.close()


def subscribed(server: RedisServer, channel: str):  # type: ignore[no-untyped-def]
    subscriber = redis.Redis(port=server.port).pubsub()
    subscriber.subscribe(channel)
    subscriber.get_message(timeout=1)
    return subscriber


WORST_KEYS = [e.encode() for e in (*ESCAPES, *MARKUP)] + [b"\xff\xfe\xc3\x28", b"nul\x00:key"]


@few(5)
@given(
    keys=st.lists(hostile_bytes.filter(bool), min_size=1, max_size=8, unique=True),
    values=st.lists(hostile_bytes, min_size=1, max_size=3),
    channel=hostile_text.filter(bool),
)
@example(keys=WORST_KEYS, values=[b"\x1b]52;c;aGk=\x07"], channel="\x1b[2J")
def test_redis_keys_values_and_channels(
    write_profile: ProfileWriter,
    hostile_redis: RedisServer,
    keys: list[bytes],
    values: list[bytes],
    channel: str,
) -> None:
    load_redis(hostile_redis, keys, values)
    subscriber = subscribed(hostile_redis, channel)
    try:
        profile = redis_profile(write_profile, hostile_redis.port)
        for output in ("table", "json"):
            outcome = run_main(["keyspace", "--exact", "--profile", str(profile), "-o", output])
            assert outcome.code == 0, outcome.describe()
            assert_output_clean(outcome.stdout, f"keyspace -o {output}")
    finally:
        subscriber.close()


def test_keyspace_pane_shows_the_worst_keys(
    write_profile: ProfileWriter, hostile_redis: RedisServer
) -> None:
    load_redis(hostile_redis, WORST_KEYS, [b"\x1b]52;c;aGk=\x07", b"\x9b2J"])
    subscriber = subscribed(hostile_redis, "\x1b]0;owned\x07")
    try:
        profile = redis_profile(write_profile, hostile_redis.port)
        asyncio.run(shown(fast_app(profile), "keyspace", lambda pane: pane.view is not None))
    finally:
        subscriber.close()


# --- PostgreSQL: the Activity pane and `activity` -------------------------------------


def pg_profile(write_profile: ProfileWriter, pg: PgServer) -> Path:
    return write_profile(
        "extends: local\n"
        "services:\n"
        f'  postgres:\n    ports: ["127.0.0.1:{pg.port}:5432"]\n'
        f"    environment:\n      POSTGRES_PASSWORD: {pg.password}\n"
        f'  redis:\n    ports: ["127.0.0.1:{free_port()}:6379"]\n'
        "  qdrant:\n    enabled: false\n",
        name="pg",
    )


async def with_busy_session(pg: PgServer, query: str, name: str, then) -> None:  # type: ignore[no-untyped-def]
    """Run ``then()`` while a session named ``name`` runs a query carrying ``query``."""
    comment = query.replace("\x00", "").replace("*/", "* /")
    busy = await asyncpg.connect(pg.dsn(), server_settings={"application_name": name})
    running = asyncio.ensure_future(busy.execute(f"SELECT pg_sleep(60) /* {comment} */"))
    backend_pid = busy.get_server_pid()
    try:
        await asyncio.sleep(0.3)
        await then()
    finally:
        running.cancel()
        busy.terminate()
        # Closing the socket does not stop the server's pg_sleep: end the backend, so no
        # later test sees a minute-long transaction on the session's PostgreSQL.
        admin = await asyncpg.connect(pg.dsn())
        try:
            await admin.execute("SELECT pg_terminate_backend($1)", backend_pid)
        finally:
            await admin.close()


@few(5)
@given(
    query=hostile_text,
    name=st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=20),
)
@example(query="".join((*ESCAPES, *MARKUP)), name="[/x]\x1b[31m")
def test_postgres_queries_and_application_names(
    write_profile: ProfileWriter, pg: PgServer, query: str, name: str
) -> None:
    profile = pg_profile(write_profile, pg)

    async def print_it() -> None:
        for output in ("table", "json"):
            argv = ["activity", "--profile", str(profile), "-o", output]
            outcome = await asyncio.to_thread(run_main, argv)
            assert outcome.code == 0, outcome.describe()
            assert_output_clean(outcome.stdout, f"activity -o {output}")

    asyncio.run(with_busy_session(pg, query, name, print_it))


def test_activity_pane_shows_the_worst_query(write_profile: ProfileWriter, pg: PgServer) -> None:
    profile = pg_profile(write_profile, pg)

    async def show_it() -> None:
        await shown(fast_app(profile), "activity", lambda pane: pane.view is not None)

    asyncio.run(with_busy_session(pg, "".join((*ESCAPES, *MARKUP)), "[/x]\x1b]0;x\x07", show_it))


# --- log lines: the Logs pane and `logs` ------------------------------------------------


def logs_profile(write_profile: ProfileWriter) -> Path:
    return write_profile(
        "extends: local\n"
        "services:\n"
        f'  postgres:\n    ports: ["127.0.0.1:{free_port()}:5432"]\n'
        f'  redis:\n    ports: ["127.0.0.1:{free_port()}:6379"]\n'
        "  qdrant:\n    enabled: false\n",
        name="logs",
    )


def write_redis_log(profile: Path, lines: list[bytes], huge: bool) -> None:
    """The lines as the local backend's Redis log file (nothing needs to run)."""
    from alfred_tui.backends import create_backend
    from alfred_tui.config.loader import load_profile

    backend = create_backend(load_profile(str(profile)), "local")
    log_file = backend.runner("redis").log_file  # type: ignore[attr-defined]
    log_file.parent.mkdir(parents=True, exist_ok=True)
    body = [b"1:M 13 May 2025 10:00:0%d.000 * " % (i % 10) + line for i, line in enumerate(lines)]
    if huge:  # a megabyte on one line, coloured
        body.append(b"1:M 13 May 2025 10:00:09.000 * \x1b[31m" + b"x" * 1_000_000)
    log_file.write_bytes(b"\n".join(body) + b"\n")


WORST_LINES = [e.encode() for e in (*ESCAPES, *MARKUP)] + [b"\xff\xfe\xc3\x28", b"a\x00b"]


@few(5)
@given(lines=st.lists(hostile_bytes, min_size=1, max_size=6), huge=st.booleans())
@example(lines=WORST_LINES, huge=True)
def test_log_lines(write_profile: ProfileWriter, lines: list[bytes], huge: bool) -> None:
    profile = logs_profile(write_profile)
    write_redis_log(profile, lines, huge)
    for output in ("table", "json"):
        outcome = run_main(["logs", "redis", "--profile", str(profile), "-o", output])
        assert outcome.code == 0, outcome.describe()
        assert_output_clean(outcome.stdout, f"logs -o {output}")


def test_logs_pane_shows_the_worst_lines(write_profile: ProfileWriter) -> None:
    profile = logs_profile(write_profile)
    write_redis_log(profile, WORST_LINES, huge=True)
    ready = lambda pane: pane.buffer.total >= len(WORST_LINES)  # noqa: E731
    asyncio.run(shown(fast_app(profile), "logs", ready))


# --- Qdrant: the Collections pane and `collections` -----------------------------------


def qdrant_profile(write_profile: ProfileWriter) -> Path:
    return write_profile(
        "extends: local\n"
        "services:\n  postgres:\n    enabled: false\n  redis:\n    enabled: false\n",
        name="qdrant-only",
    )


def create_collections(profile: Path, names: list[str]) -> None:
    """Collections named ``names`` (with one point whose payload is the name) in the
    profile's embedded store."""
    from qdrant_client import QdrantClient, models

    from alfred_tui.backends import create_backend
    from alfred_tui.config.loader import load_profile

    backend = create_backend(load_profile(str(profile)), "local")
    client = QdrantClient(path=str(backend.embedded_qdrant().path))  # type: ignore[attr-defined]
    vectors = models.VectorParams(size=4, distance=models.Distance.COSINE)
    try:
        for name in names:
            try:
                client.create_collection(name, vectors_config=vectors)
            except Exception:  # a name Qdrant refuses is no data to show
                continue
            point = models.PointStruct(id=1, vector=[0.1] * 4, payload={"k": name})
            client.upsert(name, [point])
    finally:
        client.close()


WORST_NAMES = ["\x1b]0;owned\x07", "\x1b[2Jcollection", "\x9b31m", "tab\there", *MARKUP]


@few(4)
@given(names=st.lists(hostile_text.filter(lambda t: t.strip() and "/" not in t), max_size=3))
@example(names=WORST_NAMES)
def test_qdrant_collection_names(write_profile: ProfileWriter, names: list[str]) -> None:
    profile = qdrant_profile(write_profile)
    create_collections(profile, names)
    for output in ("table", "json"):
        outcome = run_main(["collections", "--profile", str(profile), "-o", output])
        assert outcome.code in (0, 2), outcome.describe()
        assert_output_clean(outcome.stdout, f"collections -o {output}")


def test_collections_pane_shows_the_worst_names(write_profile: ProfileWriter) -> None:
    profile = qdrant_profile(write_profile)
    create_collections(profile, WORST_NAMES)
    asyncio.run(shown(fast_app(profile), "collections", lambda pane: pane.view is not None))
