"""Redis keyspace analysis: what is in each database, by key group, and how big.

For each database (the profile's map, 0-4 in the spec, plus any other that
holds keys): keys, expires, average TTL and memory; per key group (the
profile's prefixes, ``alfred:cache:*``..., other keys by their first two
``:`` segments): key count, memory, type mix and TTL distribution. Then the
biggest keys, the lengths of the queue lists (the database whose prefix is a
queue prefix, 3 in the spec) and the pub/sub channels with their subscribers
(the database without a prefix, 4 in the spec; channels are server-wide).

Two ways to read a database:

*Exact* scans every key with a Lua script (:mod:`keyspace_scripts`) that
does one ``SCAN`` step and sums per group inside Redis. Each call is sized to
about :data:`TARGET_CALL_MS` of server time (the batch grows or shrinks with
the measured call time, between :data:`MIN_BATCH` and :data:`MAX_BATCH`
keys), so other clients wait at most that long behind it. Without ``EVAL``
the same figures come from ``SCAN`` plus pipelined ``TYPE``/``PTTL``/``MEMORY
USAGE``.

*Sampled* (the default above :data:`AUTO_SAMPLE_ABOVE` keys) draws keys with
``RANDOMKEY`` and scales up, giving each figure a confidence interval (see
:mod:`keyspace_stats`). ``RANDOMKEY`` rather than ``SCAN`` from random
cursors because its draws are independent and (near) uniform over keys, so
textbook intervals hold; a SCAN from a random cursor returns a run of
neighbouring buckets (a cluster sample) whose inclusion probabilities depend
on bucket occupancy and on whether the table is rehashing, which no simple
interval accounts for. Databases of at most :data:`SMALL_DB_KEYS` keys are
read exactly even then: reading them costs little and their figures are
then exact. In a sampled database the keys under the queue prefix (big
collections a small sample would miss, understating memory behind a falsely
narrow interval) are measured one by one as a certainty stratum; the sample
estimates the rest.

The biggest keys are re-measured at the end: collections of up to
:data:`FULL_READ_MAX_ELEMENTS` elements in full (``MEMORY USAGE ... SAMPLES
0``; Redis's default extrapolates from 5 elements), bigger ones from
:data:`BIG_KEY_SAMPLES` elements so that no single call blocks Redis for more
than a millisecond or two.

Everything is ``async`` and cancellable (a cancelled analysis closes its
connections; Redis finishes at most the one short script in flight);
progress goes to a :data:`ProgressCallback` as keys read / keys expected.
"""

from __future__ import annotations

import asyncio
import hashlib
import heapq
import itertools
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from redis.exceptions import NoScriptError, ResponseError

from alfred_tui.backends.base import Progress, ProgressCallback, no_progress
from alfred_tui.databases.failures import DatabaseUnavailable, describe_failure
from alfred_tui.databases.keyspace_scripts import (
    EXACT_SCAN,
    OTHER_GROUP,
    SAMPLE,
    TTL_BUCKETS,
    TYPES,
    group_of,
    groups_by_head,
    ttl_bucket,
    type_index,
)
from alfred_tui.databases.keyspace_stats import (
    Estimate,
    GroupTally,
    sample_mean,
    scaled_mean,
    scaled_proportion,
    z_score,
)
from alfred_tui.databases.redis import RedisClient
from alfred_tui.errors import AlfredError
from alfred_tui.redact import redact

if TYPE_CHECKING:
    from alfred_tui.config.models import RedisDatabase
    from alfred_tui.databases.redis import RedisTarget

AUTO_SAMPLE_ABOVE = 200_000
"""Total keys above which ``mode="auto"`` samples."""
SMALL_DB_KEYS = 20_000
"""Databases this small are read exactly even when sampling."""
MIN_SAMPLE = 1_000
"""Fewest draws per sampled database (fewer give intervals too wide to use)."""
TOP_KEYS = 20
_TOP_CANDIDATES = 2 * TOP_KEYS
"""Candidates kept while scanning; re-measuring in full may reorder them."""
MAX_GROUPS = 200
"""Groups kept per database; keys of further groups count as ``(other)``."""
MAX_QUEUES = 1_000
QUEUE_TYPES = ("list", "zset", "stream")
"""Types a queue key can have (a job queue, a delayed queue, a stream)."""
MAX_CHANNELS = 1_000
FULL_READ_MAX_ELEMENTS = 10_000
BIG_KEY_SAMPLES = 1_000
TARGET_CALL_MS = 1.0
MIN_BATCH = 100
MAX_BATCH = 2_000
_FIRST_BATCH = 200
WORKERS = 1
"""Databases read at once, each on its own connection. More than one keeps Redis
busy while a reply travels back, which pays when Redis is far away (a
port-forward, another host); on one busy machine it measured no gain, and a
command of another client may then wait behind several script calls."""
PIPELINE_BATCH = 300

Mode = Literal["auto", "exact", "sample"]
Engine = Literal["lua", "pipeline"]

_LENGTH_COMMANDS = {
    "string": "STRLEN",
    "hash": "HLEN",
    "list": "LLEN",
    "set": "SCARD",
    "zset": "ZCARD",
    "stream": "XLEN",
}


class KeyspaceRefused(AlfredError):
    """Redis refused a command the analysis needs (ACL rules, a renamed command)."""

    title = "Redis refused"


class ScriptUnavailable(Exception):
    """Redis refused to run our script (EVAL renamed, ACL, proxy); use pipelines."""


# --- results ----------------------------------------------------------------


@dataclass(frozen=True)
class KeyGroup:
    """Keys of one group in one database."""

    name: str
    """``alfred:cache:*``, ``celery:task:*``, ``(no prefix)`` or ``(other)``."""
    declared: bool
    """A prefix of the profile's database map."""
    expected_db: int | None
    """Where the profile puts this prefix (None for undeclared groups)."""
    misplaced: bool
    """Declared for another database than the one it was found in."""
    keys: Estimate
    memory: Estimate
    types: dict[str, Estimate]
    ttl: dict[str, Estimate]
    """By bucket: ``none``, ``lt_1h``, ``lt_1d``, ``longer``."""
    sampled: int
    """Draws that fell in this group (0 when read exactly)."""


@dataclass(frozen=True)
class DatabaseKeyspace:
    """One database's figures."""

    db: int
    purpose: str
    prefix: str | None
    in_profile: bool
    mode: Literal["exact", "sampled"]
    engine: Engine
    keys: int
    """``INFO keyspace`` when the analysis started (exact)."""
    expires: int
    """Keys with a TTL, from ``INFO keyspace`` (exact)."""
    scanned: int
    """Keys read (exact) or draws (sampled)."""
    avg_ttl_seconds: Estimate | None
    """Over keys with a TTL; None when none has one."""
    memory: Estimate
    """Sum of ``MEMORY USAGE`` over the keys."""
    groups: tuple[KeyGroup, ...]
    """Largest memory first."""
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class BigKey:
    """One of the biggest keys."""

    db: int
    key: str
    group: str
    type: str
    memory: int
    memory_exact: bool
    """Measured in full (False: from :data:`BIG_KEY_SAMPLES` elements)."""
    elements: int | None
    """Length: bytes of a string, fields, items or members of a collection."""
    ttl_seconds: float | None
    from_sample: bool
    """Found by sampling: among the biggest drawn, maybe not the biggest there are."""


@dataclass(frozen=True)
class QueueLength:
    """A queue key and its length."""

    db: int
    key: str
    type: str
    length: int


@dataclass(frozen=True)
class Channel:
    """A pub/sub channel with at least one subscriber."""

    name: str
    subscribers: int


@dataclass(frozen=True)
class PubSubInfo:
    """Pub/sub activity (server-wide; shown with the profile's pub/sub database)."""

    db: int | None
    channels: tuple[Channel, ...]
    """Most subscribed first, at most :data:`MAX_CHANNELS`."""
    channels_total: int
    patterns: int
    """Pattern subscriptions (``PSUBSCRIBE``), server-wide."""


@dataclass(frozen=True)
class KeyspaceReport:
    """The whole analysis."""

    address: str
    redis_version: str
    used_memory: int
    mode: Literal["exact", "sampled", "mixed"]
    confidence: float
    sample_pct: float | None
    databases: tuple[DatabaseKeyspace, ...]
    top_keys: tuple[BigKey, ...]
    queues: tuple[QueueLength, ...]
    queues_total: int
    pubsub: PubSubInfo | None
    duration_ms: float
    notes: tuple[str, ...] = ()

    def database(self, db: int) -> DatabaseKeyspace:
        """The figures of database ``db`` (KeyError if it was not analysed)."""
        for item in self.databases:
            if item.db == db:
                return item
        raise KeyError(db)


# --- working state ----------------------------------------------------------


@dataclass
class _DbScan:
    """What one database's read accumulates."""

    db: int
    groups: dict[bytes, GroupTally] = field(default_factory=dict)
    read: int = 0
    engine: Engine = "lua"
    has_expires: bool = True
    """False when INFO counted no expiring key: the script then skips PTTL."""
    notes: list[str] = field(default_factory=list)
    queues: list[QueueLength] = field(default_factory=list)
    certain: dict[bytes, GroupTally] = field(default_factory=dict)
    """Sampled databases: the queue keys, measured one by one (the certainty stratum)."""
    certain_keys: set[bytes] = field(default_factory=set)

    def group(self, name: bytes) -> GroupTally:
        tally = self.groups.get(name)
        if tally is None:
            if len(self.groups) >= MAX_GROUPS and name != OTHER_GROUP:
                return self.group(OTHER_GROUP)
            tally = self.groups[name] = GroupTally()
        return tally

    def add_row(self, group: bytes, kind: str, pttl: int, memory: int) -> None:
        self.group(group).add(type_index(kind), ttl_bucket(pttl), pttl, memory)
        self.read += 1


@dataclass(order=True)
class _Candidate:
    memory: int
    order: int
    db: int = field(compare=False)
    key: bytes = field(compare=False)
    kind: str = field(compare=False)
    pttl: int = field(compare=False)
    from_sample: bool = field(compare=False)


class _TopKeys:
    """The biggest keys seen so far (a min-heap of fixed size)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.heap: list[_Candidate] = []
        self._order = itertools.count()

    @property
    def threshold(self) -> int:
        """Keys at or below this many bytes cannot enter (0 until full)."""
        return self.heap[0].memory if len(self.heap) >= self.size else 0

    def offer(
        self, db: int, key: bytes, kind: str, pttl: int, memory: int, from_sample: bool
    ) -> None:
        if memory <= self.threshold:
            return
        item = _Candidate(memory, next(self._order), db, key, kind, pttl, from_sample)
        if len(self.heap) < self.size:
            heapq.heappush(self.heap, item)
        else:
            heapq.heapreplace(self.heap, item)


def _text(value: bytes | str) -> str:
    return value if isinstance(value, str) else value.decode("utf-8", "backslashreplace")


def _glob_escape(prefix: str) -> str:
    return "".join("\\" + char if char in "*?[]\\" else char for char in prefix)


# --- the analysis -----------------------------------------------------------


class KeyspaceAnalyzer:
    """Reads one Redis server's keyspace as the profile's database map describes it."""

    def __init__(
        self,
        target: RedisTarget,
        database_map: Sequence[RedisDatabase] = (),
        *,
        timeout: float = 5.0,
        confidence: float = 0.95,
        use_scripts: bool = True,
        workers: int = WORKERS,
    ) -> None:
        self.target = target
        self.database_map = {entry.db: entry for entry in database_map}
        self.timeout = timeout
        self.confidence = confidence
        self.use_scripts = use_scripts
        self.workers = workers
        """Databases read at the same time, each on its own connection."""
        declared = sorted(
            ((entry.prefix.encode(), entry.db) for entry in database_map if entry.prefix),
            key=lambda item: -len(item[0]),
        )
        self.prefixes = [prefix for prefix, _ in declared]
        self.by_head = groups_by_head(self.prefixes)
        self.expected_db = {prefix + b"*": db for prefix, db in declared}
        self._sha = {
            script: hashlib.sha1(script.encode()).hexdigest() for script in (EXACT_SCAN, SAMPLE)
        }

    # connection helpers

    def _client(self, db: int) -> RedisClient:
        return RedisClient(
            self.target, db=db, connect_timeout=self.timeout, query_timeout=self.timeout
        )

    async def _call(self, client: RedisClient, *args: Any) -> Any:
        """One command; a Redis error reply is raised as is, anything else as unavailable."""
        try:
            async with asyncio.timeout(self.timeout):  # no inner task: a cancel lands here
                reply = await client.client().execute_command(*args)
            _honour_cancel()
            return reply
        except ResponseError:
            raise
        except Exception as exc:
            await client.close()
            raise DatabaseUnavailable(
                describe_failure(
                    exc, host=self.target.host, port=self.target.port, timeout=self.timeout
                )
            ) from None

    async def _pipeline(self, client: RedisClient, commands: Sequence[tuple[Any, ...]]) -> list:  # type: ignore[type-arg]
        """Commands in one round trip; error replies come back as exceptions in the list."""
        if not commands:
            return []
        pipe = client.client().pipeline(transaction=False)
        for command in commands:
            pipe.execute_command(*command)
        try:
            async with asyncio.timeout(self.timeout * 2):
                replies = await pipe.execute(raise_on_error=False)
            _honour_cancel()
            return replies
        except Exception as exc:
            await client.close()
            raise DatabaseUnavailable(
                describe_failure(
                    exc, host=self.target.host, port=self.target.port, timeout=self.timeout
                )
            ) from None

    async def _script(self, client: RedisClient, script: str, *args: Any) -> Any:
        """Run a script by its SHA, loading it once; :class:`ScriptUnavailable` if refused."""
        try:
            return await self._call(client, "EVALSHA", self._sha[script], 0, *args)
        except NoScriptError:
            pass  # first call on this server (or after SCRIPT FLUSH): EVAL caches it
        except ResponseError as exc:
            message = str(exc)
            if "unknown command" not in message.lower():  # else EVALSHA alone may be renamed
                raise ScriptUnavailable(redact(message.splitlines()[0])) from None
        try:
            return await self._call(client, "EVAL", script, 0, *args)
        except ResponseError as exc:
            raise ScriptUnavailable(redact(str(exc).splitlines()[0])) from None

    # the whole analysis

    async def analyze(
        self,
        dbs: Sequence[int] | None = None,
        mode: Mode = "auto",
        sample_pct: float = 1.0,
        progress: ProgressCallback = no_progress,
    ) -> KeyspaceReport:
        """Read the databases ``dbs`` (the profile's and every non-empty one by default).

        Raises :class:`DatabaseUnavailable` when Redis cannot be reached and
        :class:`KeyspaceRefused` when it refuses a command (ACL, renamed).
        """
        if not 0 < sample_pct <= 100:
            raise ValueError("sample_pct must be in (0, 100]")
        try:
            return await self._analyze(dbs, mode, sample_pct, progress)
        except ResponseError as exc:
            raise KeyspaceRefused(
                f"Redis at {self.target.address} refused: {redact(str(exc).splitlines()[0])}"
            ) from None

    async def _analyze(
        self,
        dbs: Sequence[int] | None,
        mode: Mode,
        sample_pct: float,
        progress: ProgressCallback,
    ) -> KeyspaceReport:
        started = time.perf_counter()
        control = self._client(0)
        try:
            info = await control.sample()
        finally:
            await _release(control)
        chosen = sorted(set(dbs)) if dbs else sorted(set(self.database_map) | set(info.keyspace))
        sizes = {db: info.keyspace[db].keys if db in info.keyspace else 0 for db in chosen}
        sampling = mode == "sample" or (mode == "auto" and sum(sizes.values()) > AUTO_SAMPLE_ABOVE)
        draws = {
            db: min(size, max(MIN_SAMPLE, math.ceil(size * sample_pct / 100)))
            for db, size in sizes.items()
        }
        sampled = {
            db
            for db in chosen
            if sampling and sizes[db] > SMALL_DB_KEYS and draws[db] < sizes[db] * 0.5
        }
        work = sum(draws[db] if db in sampled else sizes[db] for db in chosen)
        done = [0]

        def advance(step: str, count: int) -> None:
            done[0] += count
            progress(Progress(step, min(done[0], work), work))

        top = _TopKeys(_TOP_CANDIDATES)
        scans: dict[int, _DbScan] = {}
        expiring = {db: bool(info.keyspace[db].expires) for db in info.keyspace}
        # Biggest first, so that the workers finish at about the same time.
        queue = sorted(chosen, key=lambda db: -(draws[db] if db in sampled else sizes[db]))

        async def worker() -> None:
            while queue:
                db = queue.pop(0)
                scan = _DbScan(db, engine="lua" if self.use_scripts else "pipeline")
                scan.has_expires = expiring.get(db, False)
                scans[db] = scan
                client = self._client(db)
                try:
                    queue_keys = await self._queue_keys(client, db)
                    scan.queues = [QueueLength(db, _text(k), t, n) for k, t, n in queue_keys]
                    if db in sampled:
                        await self._measure_certain(client, scan, queue_keys, top)
                        await self._sample(client, scan, draws[db], top, advance)
                    else:
                        await self._scan(client, scan, top, advance)
                finally:
                    await _release(client)
                if db not in sampled and scan.read != sizes[db]:
                    scan.notes.append(
                        f"the keyspace changed during the scan: INFO said {sizes[db]:,} keys, "
                        f"the scan read {scan.read:,}"
                    )

        await _all_or_none([worker() for _ in range(max(1, min(self.workers, len(chosen))))])
        progress(Progress("measure the biggest keys", work, work))
        top_keys = await self._measure_top(top, scans, sampled)
        databases = tuple(
            self._database_figures(
                db,
                scans[db],
                info.keyspace[db].expires if db in info.keyspace else 0,
                sizes[db],
                db in sampled,
            )
            for db in chosen
        )
        progress(Progress("pub/sub channels", work, work))
        queues = sorted(
            (queue for scan in scans.values() for queue in scan.queues),
            key=lambda queue: (-queue.length, queue.db, queue.key),
        )
        pubsub = await self._pubsub(chosen, dbs is not None)
        notes = []
        if mode == "sample" and not sampled:
            notes.append(
                f"no database is big enough to sample (more than {SMALL_DB_KEYS:,} keys and "
                f"{sample_pct:g}% under half of them): all were read in full"
            )
        report_mode: Literal["exact", "sampled", "mixed"] = (
            "exact" if not sampled else "sampled" if sampled == set(chosen) else "mixed"
        )
        return KeyspaceReport(
            address=self.target.address,
            redis_version=info.version,
            used_memory=info.used_memory,
            mode=report_mode,
            confidence=self.confidence,
            sample_pct=sample_pct if sampled else None,
            databases=databases,
            top_keys=top_keys,
            queues=tuple(queues[:MAX_QUEUES]),
            queues_total=len(queues),
            pubsub=pubsub,
            duration_ms=(time.perf_counter() - started) * 1000,
            notes=tuple(notes),
        )

    # reading one database

    async def _scan(self, client: RedisClient, scan: _DbScan, top: _TopKeys, advance) -> None:  # type: ignore[no-untyped-def]
        cursor: Any = 0
        batch = _FIRST_BATCH
        step = f"db {scan.db}: scan"
        while True:
            call_started = time.perf_counter()
            if scan.engine == "lua":
                try:
                    reply = await self._script(
                        client,
                        EXACT_SCAN,
                        cursor,
                        batch,
                        top.threshold,
                        TOP_KEYS,
                        int(scan.has_expires),
                        int(self.by_head),
                        *self.prefixes,
                    )
                except ScriptUnavailable as exc:
                    scan.engine = "pipeline"
                    scan.notes.append(f"scripts unavailable ({exc}): read with pipelines")
                    continue
                cursor, read, server_ms = reply[0], int(reply[1]), int(reply[4]) / 1000
                for row in reply[2]:
                    tally = GroupTally(
                        count=int(row[1]),
                        memory=int(row[2]),
                        ttl_count=int(row[3]),
                        ttl_sum_ms=int(row[4]),
                        types=[int(value) for value in row[5:12]],
                        buckets=[int(value) for value in row[12:16]],
                    )
                    scan.group(bytes(row[0])).merge(tally)
                for key, memory, kind, pttl in reply[3]:
                    top.offer(scan.db, bytes(key), _text(kind), int(pttl), int(memory), False)
                scan.read += read
            else:
                cursor, keys = await self._call(client, "SCAN", cursor, "COUNT", batch)
                rows = await self._describe(client, keys)
                for key, kind, pttl, memory in rows:
                    scan.add_row(group_of(key, self.prefixes), kind, pttl, memory)
                    top.offer(scan.db, key, kind, pttl, memory, False)
                read = len(rows)
                server_ms = (time.perf_counter() - call_started) * 1000
            batch = _next_batch(scan.engine, batch, server_ms)
            advance(step, read)
            if int(cursor) == 0:
                return

    async def _sample(  # type: ignore[no-untyped-def]
        self, client: RedisClient, scan: _DbScan, draws: int, top: _TopKeys, advance
    ) -> None:
        """``draws`` uniform draws among the keys outside the certainty stratum.

        A draw that lands on a key of the stratum is dropped and drawn again
        (rejection keeps the others uniform), up to three times the draws asked.
        """
        remaining = draws
        attempts = 3 * draws
        batch = _FIRST_BATCH
        step = f"db {scan.db}: sample"
        while remaining > 0 and attempts > 0:
            size = min(batch, remaining)
            call_started = time.perf_counter()
            rows: list[tuple[bytes, str, int, int]] = []
            if scan.engine == "lua":
                try:
                    reply = await self._script(client, SAMPLE, size)
                except ScriptUnavailable as exc:
                    scan.engine = "pipeline"
                    scan.notes.append(f"scripts unavailable ({exc}): sampled with pipelines")
                    continue
                server_ms = int(reply[0]) / 1000
                rows = [
                    (bytes(key), _text(kind), int(pttl), int(memory))
                    for key, kind, pttl, memory in reply[1]
                ]
            else:
                keys = await self._pipeline(client, [("RANDOMKEY",)] * size)
                rows = await self._describe(client, [key for key in keys if isinstance(key, bytes)])
                server_ms = (time.perf_counter() - call_started) * 1000
            if not rows:
                scan.notes.append("the database emptied while it was sampled")
                return
            attempts -= size
            kept = 0
            for key, kind, pttl, memory in rows:
                if key in scan.certain_keys:
                    continue
                kept += 1
                scan.add_row(group_of(key, self.prefixes), kind, pttl, memory)
                top.offer(scan.db, key, kind, pttl, memory, True)
            remaining -= kept
            batch = _next_batch(scan.engine, batch, server_ms)
            advance(step, kept)

    async def _describe(
        self, client: RedisClient, keys: Sequence[bytes]
    ) -> list[tuple[bytes, str, int, int]]:
        """Type, PTTL and memory of each key, pipelined; keys gone meanwhile are dropped."""
        commands: list[tuple[Any, ...]] = []
        for key in keys:
            commands += [("TYPE", key), ("PTTL", key), ("MEMORY", "USAGE", key)]
        replies = await self._pipeline(client, commands)
        rows = []
        for index, key in enumerate(keys):
            kind, pttl, memory = replies[3 * index : 3 * index + 3]
            if isinstance(memory, ResponseError) and "unknown" in str(memory).lower():
                raise DatabaseUnavailable(f"MEMORY USAGE refused: {redact(str(memory))}")
            if not isinstance(kind, bytes | str) or _text(kind) == "none":
                continue
            if not isinstance(pttl, int) or pttl == -2 or not isinstance(memory, int):
                continue
            rows.append((bytes(key), _text(kind), pttl, memory))
        return rows

    # the figures

    def _database_figures(
        self, db: int, scan: _DbScan, expires: int, keys: int, sampled: bool
    ) -> DatabaseKeyspace:
        """The database's figures: exact sums, or a sample's estimates plus the certain keys."""
        entry = self.database_map.get(db)
        z = z_score(self.confidence)
        n = scan.read
        population = max(0, keys - len(scan.certain_keys))
        empty = GroupTally()

        def count(hits: int, certain: int) -> Estimate:
            if not sampled:
                return Estimate.exact(hits)
            return scaled_proportion(hits, n, population, z).plus(certain)

        def memory_of(tally: GroupTally, certain: GroupTally) -> Estimate:
            if not sampled:
                return Estimate.exact(tally.memory)
            estimate = scaled_mean(tally.memory, tally.memory_sq, n, population, z)
            return estimate.plus(certain.memory)

        groups = []
        for name in [*scan.groups, *(g for g in scan.certain if g not in scan.groups)]:
            tally, certain = scan.groups.get(name, empty), scan.certain.get(name, empty)
            expected = self.expected_db.get(name)
            groups.append(
                KeyGroup(
                    name=_text(name),
                    declared=expected is not None,
                    expected_db=expected,
                    misplaced=expected is not None and expected != db,
                    keys=count(tally.count, certain.count),
                    memory=memory_of(tally, certain),
                    types={
                        kind: count(tally.types[i], certain.types[i])
                        for i, kind in enumerate(TYPES)
                    },
                    ttl={
                        bucket: count(tally.buckets[i], certain.buckets[i])
                        for i, bucket in enumerate(TTL_BUCKETS)
                    },
                    sampled=tally.count if sampled else 0,
                )
            )
        groups.sort(key=lambda group: (-group.memory.value, group.name))
        total = GroupTally()
        for tally in scan.groups.values():
            total.merge(tally)
        certain_total = GroupTally()
        for tally in scan.certain.values():
            certain_total.merge(tally)
        memory = memory_of(total, certain_total)
        return DatabaseKeyspace(
            db=db,
            purpose=entry.purpose if entry else "",
            prefix=entry.prefix if entry else None,
            in_profile=entry is not None,
            mode="sampled" if sampled else "exact",
            engine=scan.engine,
            keys=keys,
            expires=expires,
            scanned=n,
            avg_ttl_seconds=self._average_ttl(total, certain_total, n, population, sampled, z),
            memory=memory,
            groups=tuple(groups),
            notes=tuple(scan.notes),
        )

    @staticmethod
    def _average_ttl(
        total: GroupTally, certain: GroupTally, n: int, population: int, sampled: bool, z: float
    ) -> Estimate | None:
        """Mean TTL in seconds over keys that have one; sampled keys weighted by their share."""
        if not sampled:
            return (
                Estimate.exact(total.ttl_sum_ms / 1000 / total.ttl_count)
                if total.ttl_count
                else None
            )
        mean = sample_mean(total.ttl_sum_ms / 1000, total.ttl_sum_sq / 1e6, total.ttl_count, z)
        if not certain.ttl_count:
            return mean
        certain_mean = certain.ttl_sum_ms / 1000 / certain.ttl_count
        if mean is None:
            return Estimate.exact(certain_mean)
        weight = population * total.ttl_count / max(1, n)
        share = weight / (weight + certain.ttl_count)
        return Estimate(
            share * mean.value + (1 - share) * certain_mean,
            share * mean.low + (1 - share) * certain_mean,
            share * mean.high + (1 - share) * certain_mean,
        )

    async def _measure_top(
        self, top: _TopKeys, scans: dict[int, _DbScan], sampled: set[int]
    ) -> tuple[BigKey, ...]:
        """Re-measure the candidates (in full where that is cheap) and keep the biggest."""
        measured: list[BigKey] = []
        by_db: dict[int, list[_Candidate]] = {}
        seen: set[tuple[int, bytes]] = set()
        for candidate in sorted(top.heap, reverse=True):
            if (candidate.db, candidate.key) not in seen:  # SCAN may return a key twice
                seen.add((candidate.db, candidate.key))
                by_db.setdefault(candidate.db, []).append(candidate)
        for db, candidates in by_db.items():
            client = self._client(db)
            try:
                lengths = await self._pipeline(
                    client,
                    [(_LENGTH_COMMANDS.get(c.kind, "EXISTS"), c.key) for c in candidates],
                )
                memories = await self._memory_in_full(
                    client,
                    [
                        (c.key, 1 if c.kind == "string" else n if isinstance(n, int) else 1)
                        for c, n in zip(candidates, lengths, strict=True)
                    ],
                )
            finally:
                await _release(client)
            for candidate, length, memory in zip(candidates, lengths, memories, strict=True):
                if not isinstance(memory, int):
                    continue  # deleted meanwhile
                is_collection = candidate.kind in _LENGTH_COMMANDS
                elements = length if is_collection and isinstance(length, int) else None
                exact = candidate.kind == "string" or (
                    elements is not None and elements <= FULL_READ_MAX_ELEMENTS
                )
                group = group_of(candidate.key, self.prefixes)
                if db not in sampled and group in scans[db].groups:
                    # Fold the better measurement into the exact totals.
                    scans[db].groups[group].memory += memory - candidate.memory
                measured.append(
                    BigKey(
                        db=db,
                        key=_text(candidate.key),
                        group=_text(group),
                        type=candidate.kind,
                        memory=memory,
                        memory_exact=exact,
                        elements=elements,
                        ttl_seconds=candidate.pttl / 1000 if candidate.pttl >= 0 else None,
                        from_sample=candidate.from_sample,
                    )
                )
        measured.sort(key=lambda item: (-item.memory, item.db, item.key))
        return tuple(measured[:TOP_KEYS])

    async def _queue_keys(self, client: RedisClient, db: int) -> list[tuple[bytes, str, int]]:
        """The lists, sorted sets and streams under ``db``'s queue prefix: key, type, length.

        ``SCAN ... TYPE`` lets Redis skip the other keys under the prefix (job
        payloads, locks) without a ``TYPE`` call each.
        """
        entry = self.database_map.get(db)
        if entry is None or not entry.prefix or "queue" not in entry.prefix:
            return []
        found: list[tuple[bytes, str, int]] = []
        pattern = _glob_escape(entry.prefix) + "*"
        for kind in QUEUE_TYPES:
            cursor: Any = 0
            while True:
                cursor, keys = await self._call(
                    client, "SCAN", cursor, "MATCH", pattern, "COUNT", 1000, "TYPE", kind
                )
                lengths = await self._pipeline(
                    client, [(_LENGTH_COMMANDS[kind], key) for key in keys]
                )
                found.extend(
                    (bytes(key), kind, length)
                    for key, length in zip(keys, lengths, strict=True)
                    if isinstance(length, int)
                )
                if int(cursor) == 0:
                    break
        return found

    async def _memory_in_full(
        self, client: RedisClient, keys: Sequence[tuple[bytes, int]]
    ) -> list[Any]:
        """``MEMORY USAGE`` of each (key, elements): in full up to the limit, else sampled.

        Redis runs a pipeline's commands back to back, so the commands are sent
        in groups of at most :data:`FULL_READ_MAX_ELEMENTS` elements read in
        all (about a millisecond of server time), never one long burst.
        """
        replies: list[Any] = []
        group: list[tuple[Any, ...]] = []
        budget = 0
        for key, elements in keys:
            full = elements <= FULL_READ_MAX_ELEMENTS
            cost = elements if full else BIG_KEY_SAMPLES
            if group and budget + cost > FULL_READ_MAX_ELEMENTS:
                replies += await self._pipeline(client, group)
                group, budget = [], 0
            group.append(("MEMORY", "USAGE", key, "SAMPLES", 0 if full else BIG_KEY_SAMPLES))
            budget += cost
        replies += await self._pipeline(client, group)
        return replies

    async def _measure_certain(
        self,
        client: RedisClient,
        scan: _DbScan,
        queue_keys: list[tuple[bytes, str, int]],
        top: _TopKeys,
    ) -> None:
        """Measure the queue keys of a sampled database one by one, in full where cheap.

        Queues are the few big collections of the spec's layout: a 1% sample
        would usually miss them and understate memory with a falsely narrow
        interval. Taken out of the sample (a certainty stratum), they are
        counted exactly and the sample estimates only the rest.
        """
        queues = queue_keys
        if not queues:
            return
        ttls = await self._pipeline(client, [("PTTL", key) for key, _kind, _length in queues])
        memories = await self._memory_in_full(
            client, [(key, length) for key, _kind, length in queues]
        )
        for (key, kind, _length), pttl, memory in zip(queues, ttls, memories, strict=True):
            if not isinstance(pttl, int) or pttl == -2 or not isinstance(memory, int):
                continue
            group = group_of(key, self.prefixes)
            tally = scan.certain.setdefault(group, GroupTally())
            tally.add(type_index(kind), ttl_bucket(pttl), pttl, memory)
            scan.certain_keys.add(key)
            top.offer(scan.db, key, kind, pttl, memory, False)

    async def _pubsub(self, chosen: Sequence[int], explicit: bool) -> PubSubInfo | None:
        """Channels with subscribers, shown with the profile's pub/sub database."""
        pubsub_db = next((db for db, entry in self.database_map.items() if not entry.prefix), None)
        if explicit and pubsub_db not in chosen:
            return None
        client = self._client(0)
        try:
            names = [bytes(name) for name in await self._call(client, "PUBSUB", "CHANNELS")]
            counts: list[Channel] = []
            for start in range(0, len(names), 200):
                reply = await self._call(client, "PUBSUB", "NUMSUB", *names[start : start + 200])
                counts.extend(
                    Channel(_text(reply[i]), int(reply[i + 1])) for i in range(0, len(reply), 2)
                )
            patterns = int(await self._call(client, "PUBSUB", "NUMPAT"))
        finally:
            await _release(client)
        counts.sort(key=lambda channel: (-channel.subscribers, channel.name))
        return PubSubInfo(pubsub_db, tuple(counts[:MAX_CHANNELS]), len(counts), patterns)


def _honour_cancel() -> None:
    """Raise the cancellation a library swallowed.

    redis-py sends through ``asyncio.wait_for``, which on Python 3.11 returns
    normally when a cancel lands just as the send completes, leaving the task
    marked as cancelling but running on (fixed in 3.12). Checked after every
    call, so a cancelled analysis stops within one call.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


async def _all_or_none(coroutines: list[Any]) -> None:
    """Run ``coroutines`` together; if one fails or we are cancelled, cancel the rest."""
    tasks = [asyncio.ensure_future(coroutine) for coroutine in coroutines]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _release(client: RedisClient) -> None:
    """Close ``client`` even when the analysis is being cancelled.

    A cancellation that lands while the connection closes would otherwise
    leave the socket open (and Redis counting a client) until it is collected.
    """
    await asyncio.shield(client.close())


def _next_batch(engine: Engine, batch: int, elapsed_ms: float) -> int:
    """The next batch size, steering each script call toward :data:`TARGET_CALL_MS`.

    ``elapsed_ms`` is the script's own server time, as it reports it.

    Pipelines keep :data:`PIPELINE_BATCH`: Redis serves other clients between
    the commands of a pipeline, so their size does not block anyone.
    """
    if engine == "pipeline":
        return PIPELINE_BATCH
    if elapsed_ms <= 0:
        return min(MAX_BATCH, batch * 2)
    factor = min(2.0, max(0.5, TARGET_CALL_MS / elapsed_ms))
    return int(min(MAX_BATCH, max(MIN_BATCH, batch * factor)))
