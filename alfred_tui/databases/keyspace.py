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
keys); :data:`~.keyspace_reads.WORKERS` databases are read at once, so
other clients wait at most that many such calls. Without ``EVAL``
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

Memory is ``MEMORY USAGE ... SAMPLES 0`` in an exact scan: every element
counted, so an exact figure is exact (Redis's default extrapolates from 5
elements and misread a group of big queues by 1%). The price is one call as
long as the biggest collection needs (about 0.4 ms per 1,000 hash fields;
the batch shrinks around it): ``benchmarks/keyspace.py`` measures it. In a
sampled database the biggest keys are re-measured at the end: collections of
up to :data:`FULL_READ_MAX_ELEMENTS` elements in full, bigger ones from
:data:`BIG_KEY_SAMPLES` elements so that no single call blocks Redis for more
than a millisecond or two (flagged as estimated).

Everything is ``async`` and cancellable (a cancelled analysis closes its
connections; Redis finishes at most the one short script in flight);
progress goes to a :data:`ProgressCallback` as keys read / keys expected.

The results are :mod:`.keyspace_model`'s; the reads (commands, scripts, the
biggest keys, queues, channels) :mod:`.keyspace_reads`' (where the constants
named above live); the scripts :mod:`.keyspace_scripts`'; the intervals
:mod:`.keyspace_stats`'.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Sequence
from typing import Any, Literal

from redis.exceptions import ResponseError

from alfred_tui.backends.base import Progress, ProgressCallback, no_progress
from alfred_tui.databases.keyspace_model import (
    DatabaseKeyspace,
    Engine,
    KeyGroup,
    KeyspaceRefused,
    KeyspaceReport,
    Mode,
    QueueLength,
)
from alfred_tui.databases.keyspace_reads import (
    TOP_CANDIDATES,
    TOP_KEYS,
    DbScan,
    KeyspaceReader,
    ScriptUnavailable,
    TopKeys,
    release,
    text_of,
)
from alfred_tui.databases.keyspace_scripts import (
    EXACT_SCAN,
    SAMPLE,
    TTL_BUCKETS,
    TYPES,
    group_of,
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
from alfred_tui.redact import redact

AUTO_SAMPLE_ABOVE = 200_000
"""Total keys above which ``mode="auto"`` samples."""
SMALL_DB_KEYS = 20_000
"""Databases this small are read exactly even when sampling."""
MIN_SAMPLE = 1_000
"""Fewest draws per sampled database (fewer give intervals too wide to use)."""
MAX_QUEUES = 1_000
TARGET_CALL_MS = 1.0
MIN_BATCH = 100
MAX_BATCH = 2_000
_FIRST_BATCH = 200
PIPELINE_BATCH = 300

Advance = Callable[[str, int], None]
"""Called with a step's name and how many keys it read since the last call (progress)."""


class KeyspaceAnalyzer(KeyspaceReader):
    """Reads one Redis server's keyspace as the profile's database map describes it.

    The reads themselves (commands, scripts, the biggest keys, queues and
    channels) are :class:`~alfred_tui.databases.keyspace_reads.KeyspaceReader`'s.
    """

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
        control = self.client(0)
        try:
            info = await control.sample()
        finally:
            await release(control)
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

        top = TopKeys(TOP_CANDIDATES)
        scans: dict[int, DbScan] = {}
        expiring = {db: bool(info.keyspace[db].expires) for db in info.keyspace}
        # Biggest first, so that the workers finish at about the same time.
        queue = sorted(chosen, key=lambda db: -(draws[db] if db in sampled else sizes[db]))

        async def worker() -> None:
            while queue:
                db = queue.pop(0)
                scan = DbScan(db, engine="lua" if self.use_scripts else "pipeline")
                scan.has_expires = expiring.get(db, False)
                scans[db] = scan
                client = self.client(db)
                try:
                    queue_keys = await self.queue_keys(client, db)
                    scan.queues = [QueueLength(db, text_of(k), t, n) for k, t, n in queue_keys]
                    if db in sampled:
                        await self.measure_certain(client, scan, queue_keys, top)
                        await self._sample(client, scan, draws[db], top, advance)
                    else:
                        await self._scan(client, scan, top, advance)
                finally:
                    await release(client)
                if db not in sampled and scan.read != sizes[db]:
                    scan.notes.append(
                        f"the keyspace changed during the scan: INFO said {sizes[db]:,} keys, "
                        f"the scan read {scan.read:,}"
                    )

        await _all_or_none([worker() for _ in range(max(1, min(self.workers, len(chosen))))])
        progress(Progress("measure the biggest keys", work, work))
        top_keys = await self.measure_top(top, sampled)
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
        pubsub = await self.pubsub(chosen, dbs is not None)
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

    async def _scan(
        self, client: RedisClient, scan: DbScan, top: TopKeys, advance: Advance
    ) -> None:
        cursor: Any = 0
        batch = _FIRST_BATCH
        step = f"db {scan.db}: scan"
        while True:
            call_started = time.perf_counter()
            if scan.engine == "lua":
                try:
                    reply = await self.script(
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
                    top.offer(scan.db, bytes(key), text_of(kind), int(pttl), int(memory), False)
                scan.read += read
            else:
                cursor, keys = await self.call(client, "SCAN", cursor, "COUNT", batch)
                rows = await self.describe_keys(client, keys, in_full=True)
                for key, kind, pttl, memory in rows:
                    scan.add_row(group_of(key, self.prefixes), kind, pttl, memory)
                    top.offer(scan.db, key, kind, pttl, memory, False)
                read = len(rows)
                server_ms = (time.perf_counter() - call_started) * 1000
            batch = _next_batch(scan.engine, batch, server_ms)
            advance(step, read)
            if int(cursor) == 0:
                return

    async def _sample(
        self, client: RedisClient, scan: DbScan, draws: int, top: TopKeys, advance: Advance
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
                    reply = await self.script(client, SAMPLE, size)
                except ScriptUnavailable as exc:
                    scan.engine = "pipeline"
                    scan.notes.append(f"scripts unavailable ({exc}): sampled with pipelines")
                    continue
                server_ms = int(reply[0]) / 1000
                rows = [
                    (bytes(key), text_of(kind), int(pttl), int(memory))
                    for key, kind, pttl, memory in reply[1]
                ]
            else:
                keys = await self.pipeline(client, [("RANDOMKEY",)] * size)
                drawn = [key for key in keys if isinstance(key, bytes)]
                rows = await self.describe_keys(client, drawn, in_full=False)
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

    def _database_figures(
        self, db: int, scan: DbScan, expires: int, keys: int, sampled: bool
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
                    name=text_of(name),
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


async def _all_or_none(coroutines: list[Any]) -> None:
    """Run ``coroutines`` together; if one fails or we are cancelled, cancel the rest."""
    tasks = [asyncio.ensure_future(coroutine) for coroutine in coroutines]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


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
