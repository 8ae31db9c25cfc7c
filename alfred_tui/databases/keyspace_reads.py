"""How the keyspace analysis reads Redis: commands under a timeout, scripts, pipelines, big keys.

The connection-level half of :class:`~alfred_tui.databases.keyspace.KeyspaceAnalyzer`
(which adds the scan and the sampling on top): one command, a pipeline or
our Lua script with the library's errors turned into ours; the per-database
working state; and what is measured key by key (the biggest keys again, in
full where that is cheap; the queue lengths; the pub/sub channels).
"""

from __future__ import annotations

import asyncio
import hashlib
import heapq
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from redis.exceptions import NoScriptError, ResponseError

from alfred_tui.databases.failures import DatabaseUnavailable, describe_failure
from alfred_tui.databases.keyspace_model import (
    MAX_CHANNELS,
    BigKey,
    Channel,
    Engine,
    PubSubInfo,
    QueueLength,
)
from alfred_tui.databases.keyspace_scripts import (
    EXACT_SCAN,
    OTHER_GROUP,
    SAMPLE,
    group_of,
    groups_by_head,
    ttl_bucket,
    type_index,
)
from alfred_tui.databases.keyspace_stats import GroupTally
from alfred_tui.databases.redis import RedisClient
from alfred_tui.redact import redact

if TYPE_CHECKING:
    from alfred_tui.config.models import RedisDatabase
    from alfred_tui.databases.redis import RedisTarget

TOP_KEYS = 20
TOP_CANDIDATES = 2 * TOP_KEYS
"""Candidates kept while scanning; re-measuring in full may reorder them."""
MAX_GROUPS = 200
"""Groups kept per database; keys of further groups count as ``(other)``."""
QUEUE_TYPES = ("list", "zset", "stream")
"""Types a queue key can have (a job queue, a delayed queue, a stream)."""
FULL_READ_MAX_ELEMENTS = 10_000
BIG_KEY_SAMPLES = 1_000
WORKERS = 2
"""Databases read at once, each on its own connection. With one, Redis waits
idle while each reply travels back and the client reads it: about 0.7 ms a
call here, as long as the call itself. Two keep Redis busy through that
(1M keys, quiet: 61% of the Lua server-side limit with one, 83% with two),
and another client waits behind at most two 1 ms calls (PING p99 2.5 ms with
one, 3.8 ms with two). Beside two busy processes on a 2-core host, where
client, Redis and the load share the CPUs, two gain nothing (49%, 50%) and
the p99 goes from 6.8 to 9.0 ms; against a Redis on another host or behind
a port-forward the second connection hides the network's round trip too.
(``benchmarks/keyspace.py``, 2026-12-08.)"""

LENGTH_COMMANDS = {
    "string": "STRLEN",
    "hash": "HLEN",
    "list": "LLEN",
    "set": "SCARD",
    "zset": "ZCARD",
    "stream": "XLEN",
}


class ScriptUnavailable(Exception):
    """Redis refused to run our script (EVAL renamed, ACL, proxy); use pipelines."""


# --- working state -------------------------------------------------------------


@dataclass
class DbScan:
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
class Candidate:
    memory: int
    order: int
    db: int = field(compare=False)
    key: bytes = field(compare=False)
    kind: str = field(compare=False)
    pttl: int = field(compare=False)
    from_sample: bool = field(compare=False)


class TopKeys:
    """The biggest keys seen so far (a min-heap of fixed size)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.heap: list[Candidate] = []
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
        item = Candidate(memory, next(self._order), db, key, kind, pttl, from_sample)
        if len(self.heap) < self.size:
            heapq.heappush(self.heap, item)
        else:
            heapq.heapreplace(self.heap, item)


def text_of(value: bytes | str) -> str:
    return value if isinstance(value, str) else value.decode("utf-8", "backslashreplace")


def glob_escape(prefix: str) -> str:
    return "".join("\\" + char if char in "*?[]\\" else char for char in prefix)


class KeyspaceReader:
    """One server's keyspace, read command by command under the analysis's timeout."""

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
        self.sha = {
            script: hashlib.sha1(script.encode()).hexdigest() for script in (EXACT_SCAN, SAMPLE)
        }

    # connection helpers

    def client(self, db: int) -> RedisClient:
        return RedisClient(
            self.target, db=db, connect_timeout=self.timeout, query_timeout=self.timeout
        )

    async def call(self, client: RedisClient, *args: Any) -> Any:
        """One command; a Redis error reply is raised as is, anything else as unavailable."""
        try:
            async with asyncio.timeout(self.timeout):  # no inner task: a cancel lands here
                reply = await client.client().execute_command(*args)
            honour_cancel()
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

    async def pipeline(self, client: RedisClient, commands: Sequence[tuple[Any, ...]]) -> list[Any]:
        """Commands in one round trip; error replies come back as exceptions in the list."""
        if not commands:
            return []
        pipe = client.client().pipeline(transaction=False)
        for command in commands:
            pipe.execute_command(*command)
        try:
            async with asyncio.timeout(self.timeout * 2):
                replies = await pipe.execute(raise_on_error=False)
            honour_cancel()
            return replies
        except Exception as exc:
            await client.close()
            raise DatabaseUnavailable(
                describe_failure(
                    exc, host=self.target.host, port=self.target.port, timeout=self.timeout
                )
            ) from None

    async def script(self, client: RedisClient, script: str, *args: Any) -> Any:
        """Run a script by its SHA, loading it once; :class:`ScriptUnavailable` if refused."""
        try:
            return await self.call(client, "EVALSHA", self.sha[script], 0, *args)
        except NoScriptError:
            pass  # first call on this server (or after SCRIPT FLUSH): EVAL caches it
        except ResponseError as exc:
            message = str(exc)
            if "unknown command" not in message.lower():  # else EVALSHA alone may be renamed
                raise ScriptUnavailable(redact(message.splitlines()[0])) from None
        try:
            return await self.call(client, "EVAL", script, 0, *args)
        except ResponseError as exc:
            raise ScriptUnavailable(redact(str(exc).splitlines()[0])) from None

    # the whole analysis

    async def describe_keys(
        self, client: RedisClient, keys: Sequence[bytes], *, in_full: bool
    ) -> list[tuple[bytes, str, int, int]]:
        """Type, PTTL and memory of each key, pipelined; keys gone meanwhile are dropped.

        ``in_full``: memory with ``SAMPLES 0`` (every element counted), as an exact
        scan needs; a sample's draws keep Redis's default (their bound is the sample's).
        """
        memory_usage: tuple[Any, ...] = ("SAMPLES", 0) if in_full else ()
        commands: list[tuple[Any, ...]] = []
        for key in keys:
            commands += [("TYPE", key), ("PTTL", key), ("MEMORY", "USAGE", key, *memory_usage)]
        replies = await self.pipeline(client, commands)
        rows = []
        for index, key in enumerate(keys):
            kind, pttl, memory = replies[3 * index : 3 * index + 3]
            if isinstance(memory, ResponseError) and "unknown" in str(memory).lower():
                raise DatabaseUnavailable(f"MEMORY USAGE refused: {redact(str(memory))}")
            if not isinstance(kind, bytes | str) or text_of(kind) == "none":
                continue
            if not isinstance(pttl, int) or pttl == -2 or not isinstance(memory, int):
                continue
            rows.append((bytes(key), text_of(kind), pttl, memory))
        return rows

    # the figures

    async def measure_top(self, top: TopKeys, sampled: set[int]) -> tuple[BigKey, ...]:
        """Re-measure the candidates (in full where that is cheap) and keep the biggest."""
        measured: list[BigKey] = []
        by_db: dict[int, list[Candidate]] = {}
        seen: set[tuple[int, bytes]] = set()
        for candidate in sorted(top.heap, reverse=True):
            if (candidate.db, candidate.key) not in seen:  # SCAN may return a key twice
                seen.add((candidate.db, candidate.key))
                by_db.setdefault(candidate.db, []).append(candidate)
        for db, candidates in by_db.items():
            client = self.client(db)
            try:
                lengths = await self.pipeline(
                    client,
                    [(LENGTH_COMMANDS.get(c.kind, "EXISTS"), c.key) for c in candidates],
                )
                if db in sampled:
                    memories = await self.memory_in_full(
                        client,
                        [
                            (c.key, 1 if c.kind == "string" else n if isinstance(n, int) else 1)
                            for c, n in zip(candidates, lengths, strict=True)
                        ],
                    )
                else:  # the exact scan measured every element already (SAMPLES 0)
                    memories = [c.memory for c in candidates]
            finally:
                await release(client)
            for candidate, length, memory in zip(candidates, lengths, memories, strict=True):
                if not isinstance(memory, int) or not isinstance(length, int) or not length:
                    continue  # deleted meanwhile
                is_collection = candidate.kind in LENGTH_COMMANDS
                elements = length if is_collection else None
                exact = (
                    db not in sampled
                    or candidate.kind == "string"
                    or (elements is not None and elements <= FULL_READ_MAX_ELEMENTS)
                )
                group = group_of(candidate.key, self.prefixes)
                measured.append(
                    BigKey(
                        db=db,
                        key=text_of(candidate.key),
                        group=text_of(group),
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

    async def queue_keys(self, client: RedisClient, db: int) -> list[tuple[bytes, str, int]]:
        """The lists, sorted sets and streams under ``db``'s queue prefix: key, type, length.

        ``SCAN ... TYPE`` lets Redis skip the other keys under the prefix (job
        payloads, locks) without a ``TYPE`` call each.
        """
        entry = self.database_map.get(db)
        if entry is None or not entry.prefix or "queue" not in entry.prefix:
            return []
        found: list[tuple[bytes, str, int]] = []
        pattern = glob_escape(entry.prefix) + "*"
        for kind in QUEUE_TYPES:
            cursor: Any = 0
            while True:
                cursor, keys = await self.call(
                    client, "SCAN", cursor, "MATCH", pattern, "COUNT", 1000, "TYPE", kind
                )
                lengths = await self.pipeline(
                    client, [(LENGTH_COMMANDS[kind], key) for key in keys]
                )
                found.extend(
                    (bytes(key), kind, length)
                    for key, length in zip(keys, lengths, strict=True)
                    if isinstance(length, int)
                )
                if int(cursor) == 0:
                    break
        return found

    async def memory_in_full(
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
                replies += await self.pipeline(client, group)
                group, budget = [], 0
            group.append(("MEMORY", "USAGE", key, "SAMPLES", 0 if full else BIG_KEY_SAMPLES))
            budget += cost
        replies += await self.pipeline(client, group)
        return replies

    async def measure_certain(
        self,
        client: RedisClient,
        scan: DbScan,
        queue_keys: list[tuple[bytes, str, int]],
        top: TopKeys,
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
        ttls = await self.pipeline(client, [("PTTL", key) for key, _kind, _length in queues])
        memories = await self.memory_in_full(
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

    async def pubsub(self, chosen: Sequence[int], explicit: bool) -> PubSubInfo | None:
        """Channels with subscribers, shown with the profile's pub/sub database."""
        pubsub_db = next((db for db, entry in self.database_map.items() if not entry.prefix), None)
        if explicit and pubsub_db not in chosen:
            return None
        client = self.client(0)
        try:
            names = [bytes(name) for name in await self.call(client, "PUBSUB", "CHANNELS")]
            counts: list[Channel] = []
            for start in range(0, len(names), 200):
                reply = await self.call(client, "PUBSUB", "NUMSUB", *names[start : start + 200])
                counts.extend(
                    Channel(text_of(reply[i]), int(reply[i + 1])) for i in range(0, len(reply), 2)
                )
            patterns = int(await self.call(client, "PUBSUB", "NUMPAT"))
        finally:
            await release(client)
        counts.sort(key=lambda channel: (-channel.subscribers, channel.name))
        return PubSubInfo(pubsub_db, tuple(counts[:MAX_CHANNELS]), len(counts), patterns)


def honour_cancel() -> None:
    """Raise the cancellation a library swallowed.

    redis-py sends through ``asyncio.wait_for``, which on Python 3.11 returns
    normally when a cancel lands just as the send completes, leaving the task
    marked as cancelling but running on (fixed in 3.12). Checked after every
    call, so a cancelled analysis stops within one call.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


async def release(client: RedisClient) -> None:
    """Close ``client`` even when the analysis is being cancelled.

    A cancellation that lands while the connection closes would otherwise
    leave the socket open (and Redis counting a client) until it is collected.
    """
    await asyncio.shield(client.close())
