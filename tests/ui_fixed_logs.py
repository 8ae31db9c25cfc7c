"""Fixed log lines for the Logs pane's snapshots: the same picture every run.

:class:`FixedLogsBackend` is ``ui_fixed.FixedBackend`` (the frozen
Docker-like deployment) that can also show logs: its stream yields
:data:`RECORDS` - lines in PostgreSQL's, Redis's and Qdrant's real formats,
a small incident (a failed login, a duplicate key, a slow index build, a
timed-out search) - and then whatever the test pushes. It is fixed data for
looks, not a stand-in for an engine; the pane's behaviour is tested on the
real local backend (test_ui_logs.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from datetime import timedelta
from typing import Any

from ui_fixed import NOW_DT, FixedBackend, FixedSource, seed_history

from alfred_tui.app import AlfredApp
from alfred_tui.backends.base import EngineUnreachable, LogRecord
from alfred_tui.config.loader import load_profile
from alfred_tui.config.models import ServiceKind
from alfred_tui.control.session import Session

PG = "alfred-db-postgres-1"
REDIS_1 = "alfred-redis-1"
REDIS_2 = "alfred-redis-2"
QDRANT = "alfred-vector-db-1"

_SCRIPT: tuple[tuple[ServiceKind, str, str], ...] = (
    ("postgres", PG, "LOG:  checkpoint starting: time"),
    ("redis", REDIS_1, "* 100 changes in 300 seconds. Saving..."),
    ("redis", REDIS_1, "* Background saving started by pid 211"),
    (
        "qdrant",
        QDRANT,
        ' INFO actix_web::middleware::logger: "POST /collections/general-knowledge'
        '/points/search HTTP/1.1" 200 612 0.004211',
    ),
    ("postgres", PG, "LOG:  connection received: host=172.18.0.5 port=40312"),
    ("postgres", PG, 'FATAL:  password authentication failed for user "agent"'),
    ("postgres", PG, 'DETAIL:  Connection matched pg_hba.conf line 99: "host all all all md5"'),
    ("redis", REDIS_1, "* DB saved on disk"),
    ("redis", REDIS_1, "* Background saving terminated with success"),
    ("redis", REDIS_2, "* MASTER <-> REPLICA sync: receiving streamed RDB from master"),
    ("redis", REDIS_2, "* MASTER <-> REPLICA sync: Finished with success"),
    (
        "qdrant",
        QDRANT,
        " WARN segment::index::hnsw_index: building HNSW index for 1536-d vectors took 4.2 s",
    ),
    (
        "postgres",
        PG,
        "LOG:  checkpoint complete: wrote 412 buffers (2.5%); 0 WAL file(s) added, "
        "0 removed, 1 recycled; write=41.211 s, sync=0.004 s, total=41.230 s",
    ),
    (
        "postgres",
        PG,
        'ERROR:  duplicate key value violates unique constraint "processed_messages_pkey"',
    ),
    ("postgres", PG, "DETAIL:  Key (message_id)=(msg-8812) already exists."),
    (
        "postgres",
        PG,
        "STATEMENT:  INSERT INTO processed_messages (message_id, status) VALUES ($1, $2)",
    ),
    ("redis", REDIS_1, "# WARNING: 12 clients were evicted (maxmemory 2gb, allkeys-lru)"),
    (
        "qdrant",
        QDRANT,
        ' INFO actix_web::middleware::logger: "PUT /collections/legal-knowledge'
        '/points?wait=true HTTP/1.1" 200 92 0.012305',
    ),
    (
        "qdrant",
        QDRANT,
        " ERROR qdrant::tonic: search in collection legal-knowledge timed out after 30 s",
    ),
    (
        "postgres",
        PG,
        "LOG:  duration: 1243.552 ms  statement: SELECT * FROM tasks WHERE status ="
        " 'pending' ORDER BY created_at",
    ),
    ("redis", REDIS_1, "- Accepted 172.18.0.7:51244"),
    ("postgres", PG, "WARNING:  there is no transaction in progress"),
    ("redis", REDIS_2, "* Connecting to MASTER alfred-redis-1:6379"),
    (
        "qdrant",
        QDRANT,
        ' INFO actix_web::middleware::logger: "GET /collections HTTP/1.1" 200 318 0.000412',
    ),
    ("postgres", PG, "LOG:  checkpoint starting: time"),
)


def _line(service: ServiceKind, offset: timedelta, text: str) -> str:
    moment = NOW_DT - offset
    if service == "postgres":
        return f"{moment:%Y-%m-%d %H:%M:%S}.{moment.microsecond // 1000:03d} UTC [61] {text}"
    if service == "redis":
        return f"1:M {moment:%d %b %Y %H:%M:%S}.{moment.microsecond // 1000:03d} {text}"
    return f"{moment:%Y-%m-%dT%H:%M:%S.%f}Z {text}"


def records(count: int = 2, start: int = 0) -> list[LogRecord]:
    """The script ``count`` times over, 1.7 s apart, ending at the fixed NOW."""
    script = [item for _ in range(count) for item in _SCRIPT][start:]
    total = len(script)
    made = []
    for index, (service, instance, text) in enumerate(script):
        offset = timedelta(milliseconds=1700 * (total - 1 - index))
        made.append(
            LogRecord(service, instance, NOW_DT - offset, "stdout", _line(service, offset, text))
        )
    return made


class FixedLogsBackend(FixedBackend):
    """The frozen deployment, with logs (see the module docstring)."""

    def __init__(self, loaded: Any, lines: Iterable[LogRecord], failure: str = "") -> None:
        super().__init__(loaded)
        self.lines = list(lines)
        self.failure = failure
        self.followers: list[asyncio.Queue[LogRecord]] = []
        """One queue per followed stream: the Logs pane and the recorder each get every line."""

    def push(self, lines: Iterable[LogRecord]) -> None:
        """More lines for every followed stream, as an engine sends each follower all of them."""
        for line in lines:
            for queue in self.followers:
                queue.put_nowait(line)

    def logs(self, services=None, follow=False, since=None, tail=None) -> AsyncIterator[LogRecord]:  # type: ignore[no-untyped-def]
        return self._stream(follow)

    async def _stream(self, follow: bool) -> AsyncIterator[LogRecord]:
        if self.failure:
            raise EngineUnreachable(self.failure)
        more: asyncio.Queue[LogRecord] = asyncio.Queue()
        self.followers.append(more)
        try:
            for line in self.lines:
                yield line
            while follow:
                yield await more.get()
        finally:
            self.followers.remove(more)


def fixed_logs_app(
    lines: Iterable[LogRecord] | None = None,
    *,
    failure: str = "",
    readonly: bool = False,
    logs: bool = True,
) -> AlfredApp:
    """The real app on profile ``dev`` over the fixed deployment and these log lines."""
    loaded = load_profile("dev")
    backend: FixedBackend = (
        FixedLogsBackend(loaded, records() if lines is None else lines, failure)
        if logs
        else FixedBackend(loaded)
    )
    session = Session(
        loaded,
        backend,
        readonly=readonly,
        clock=lambda: NOW_DT.timestamp(),
        source_factory=lambda engine, _timeout: FixedSource(engine),
    )
    seed_history(session)
    return AlfredApp(session)
