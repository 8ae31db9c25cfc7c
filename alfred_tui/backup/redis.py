"""Redis: BGSAVE, wait for it, copy the RDB out; restore by putting it back while Redis is stopped.

Backup: ``BGSAVE``, then wait until ``rdb_saves`` moves on and no save is in
progress, then copy ``<dir>/<dbfilename>`` out with the backend's file copy
(or ``cat`` through exec). If another save replaced the file while it was
being copied, the whole capture is repeated. The key counts come from the
copied file (see :mod:`.rdb`), not from the live server.

Restore: Redis reads its files only when it starts. It is first told to stop
writing them (``CONFIG SET save ""``, and ``appendonly no`` when AOF is on, both
in memory only), so that neither a save nor its shutdown can overwrite what
comes next; the RDB is put in place with the backend's file copy, and Redis is
restarted through the backend (which also works where an engine's restart
policy would bring a stopped container straight back). With AOF on, Redis
would replay the AOF and ignore the RDB; the backup therefore also becomes the
new AOF base (Redis 7's multi-part AOF: a fresh manifest naming the RDB as
``base`` and an empty ``incr`` file; the old files are listed as history,
which Redis deletes when it starts). Redis 6 and older read an AOF that starts
with an RDB preamble, so there the RDB replaces ``appendonly.aof``. At start
Redis runs with the profile's settings again, persistence included.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import redis.asyncio as aioredis

from alfred_tui.backends.base import Progress, ProgressCallback, no_progress
from alfred_tui.backends.capabilities import (
    Capability,
    Executable,
    FileCopying,
    Restartable,
    require,
    supports,
)
from alfred_tui.backup.engine import (
    BackupError,
    Capture,
    Engine,
    EngineContext,
    FileReport,
    RestoreError,
    Unreachable,
)
from alfred_tui.backup.manifest import Count, Manifest
from alfred_tui.backup.process import run_tool
from alfred_tui.backup.rdb import RdbError, database_sizes, max_rdb_version, rdb_version
from alfred_tui.config.models import RedisService
from alfred_tui.databases.failures import describe_failure
from alfred_tui.databases.redis import RedisTarget
from alfred_tui.redact import redact

if TYPE_CHECKING:
    from alfred_tui.backup.catalog import CatalogEntry

RDB_FILE = "dump.rdb"
TIMEOUT = 10.0
SAVE_TIMEOUT = 3600.0
START_TIMEOUT = 600.0
CAPTURE_ATTEMPTS = 3


def parse_keyspace(info: dict[str, Any]) -> dict[int, tuple[int, int]]:
    """``INFO keyspace`` as {db: (keys, keys with a TTL)}."""
    result = {}
    for key, value in info.items():
        if key.startswith("db") and key[2:].isdigit() and isinstance(value, dict):
            result[int(key[2:])] = (int(value.get("keys", 0)), int(value.get("expires", 0)))
    return result


def counts_from(sizes: dict[int, tuple[int, int]]) -> list[Count]:
    """Manifest counts: keys without a TTL exactly, keys with a TTL as an upper bound."""
    counts: list[Count] = []
    for db in sorted(sizes):
        keys, volatile = sizes[db]
        if keys == 0:
            continue
        counts.append(Count(kind="keys", name=f"db{db}", count=keys - volatile))
        if volatile:
            counts.append(Count(kind="volatile_keys", name=f"db{db}", count=volatile, minimum=0))
    return counts


def parse_aof_manifest(text: str) -> list[dict[str, str]]:
    """Redis 7's AOF manifest: one dict per ``file NAME seq N type T`` line."""
    entries = []
    for line in text.splitlines():
        tokens = line.split()
        if len(tokens) >= 2 and len(tokens) % 2 == 0:
            entries.append(dict(zip(tokens[::2], tokens[1::2], strict=True)))
    return entries


def new_aof_manifest(old: list[dict[str, str]], prefix: str) -> tuple[str, str, str]:
    """A manifest making the restored RDB the base: (text, base file name, incr file name)."""
    base_seq = 1 + max((int(e["seq"]) for e in old if e.get("type") == "b"), default=0)
    incr_seq = 1 + max((int(e["seq"]) for e in old if e.get("type") == "i"), default=0)
    base = f"{prefix}.{base_seq}.base.rdb"
    incr = f"{prefix}.{incr_seq}.incr.aof"
    lines = [f"file {base} seq {base_seq} type b"]
    lines += [f"file {e['file']} seq {e['seq']} type h" for e in old if "file" in e]
    lines.append(f"file {incr} seq {incr_seq} type i")
    return "\n".join(lines) + "\n", base, incr


class RedisEngine(Engine):
    """Backup and restore of Redis through its RDB file."""

    replaces_everything = True

    def __init__(self, context: EngineContext) -> None:
        super().__init__(context)
        assert isinstance(context.spec, RedisService)
        self.target = RedisTarget.from_profile(context.spec, context.endpoint)
        self._client: aioredis.Redis | None = None

    def client(self) -> aioredis.Redis:
        if self._client is None:
            password = self.target.password
            self._client = aioredis.Redis(
                host=self.target.host,
                port=self.target.port,
                password=password.get_secret_value() if password else None,
                socket_connect_timeout=TIMEOUT,
                socket_timeout=TIMEOUT,
                client_name="alfred-tui-backup",
                decode_responses=False,
            )
        return self._client

    async def call(self, *args: Any) -> Any:
        """One command with a timeout; failures become one line naming the address."""
        try:
            return await asyncio.wait_for(self.client().execute_command(*args), TIMEOUT * 2)
        except Exception as exc:
            if type(exc).__name__ == "ResponseError":
                raise BackupError(f"Redis at {self.target.address}: {redact(str(exc))}") from None
            await self._drop()
            reason = describe_failure(
                exc, host=self.target.host, port=self.target.port, timeout=TIMEOUT
            )
            raise Unreachable(f"Redis: {reason}") from None

    async def info(self, section: str) -> dict[str, Any]:
        try:
            return await asyncio.wait_for(self.client().info(section), TIMEOUT * 2)
        except Exception as exc:
            await self._drop()
            reason = describe_failure(
                exc, host=self.target.host, port=self.target.port, timeout=TIMEOUT
            )
            raise Unreachable(f"Redis: {reason}") from None

    async def config(self, name: str) -> str:
        reply = await self.call("CONFIG", "GET", name)
        if isinstance(reply, dict):
            value = reply.get(name.encode()) or reply.get(name)
        else:
            value = reply[1] if len(reply) > 1 else b""
        return value.decode() if isinstance(value, bytes) else str(value or "")

    async def _drop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.aclose(), 1)

    async def close(self) -> None:
        await self._drop()

    async def server_version(self) -> str:
        return str((await self.info("server")).get("redis_version", ""))

    async def count(self) -> list[Count]:
        return counts_from(parse_keyspace(await self.info("keyspace")))

    # --- capture ----------------------------------------------------------------------

    async def _wait_for_save(self, saves_before: int | None, started: float) -> dict[str, Any]:
        """Wait until no save runs and (when Redis counts saves) ours has finished."""
        deadline = time.monotonic() + SAVE_TIMEOUT
        while time.monotonic() < deadline:
            info = await self.info("persistence")
            busy = int(info.get("rdb_bgsave_in_progress", 0))
            saves = info.get("rdb_saves")
            finished = (
                saves is not None and saves_before is not None and int(saves) > saves_before
            ) or (saves is None and int(info.get("rdb_last_save_time", 0)) >= int(started))
            if not busy and finished:
                if info.get("rdb_last_bgsave_status") != "ok":
                    raise BackupError(
                        f"Redis at {self.target.address}: BGSAVE failed "
                        "(rdb_last_bgsave_status: err); see the Redis log (disk full? permissions?)"
                    )
                return info
            await asyncio.sleep(0.1)
        raise BackupError(
            f"Redis at {self.target.address}: BGSAVE did not finish in {SAVE_TIMEOUT:g} s"
        )

    async def _bgsave(self) -> dict[str, Any]:
        """Start a BGSAVE (waiting out one already running) and wait until it is written."""
        info = await self.info("persistence")
        while int(info.get("rdb_bgsave_in_progress", 0)):
            await asyncio.sleep(0.1)
            info = await self.info("persistence")
        saves_before = int(info["rdb_saves"]) if "rdb_saves" in info else None
        started = time.time()
        try:
            await self.call("BGSAVE")
        except BackupError as exc:
            if "already in progress" not in exc.message:
                raise
            return await self._bgsave()
        return await self._wait_for_save(saves_before, started)

    async def _copy_out(self, path: str, destination: Path, progress: ProgressCallback) -> None:
        backend = self.backend
        step = f"copy {path}"
        progress(Progress(step, 0, None, "bytes", "redis"))
        if supports(backend, "redis", Capability.FILES):
            await require(backend, "redis", FileCopying).copy_from("redis", path, destination)
        elif supports(backend, "redis", Capability.EXEC):
            runner = require(backend, "redis", Executable)
            result = await runner.exec("redis", ["cat", path], timeout=SAVE_TIMEOUT)
            if not result.ok:
                stderr = redact(result.stderr.decode("utf-8", "replace"))
                raise BackupError(f"cannot read {path} in the Redis instance: {stderr}")
            destination.write_bytes(result.stdout)
        else:
            raise BackupError(
                f"the {backend.name} backend can neither copy files out of Redis nor exec in it; "
                "the RDB file cannot be fetched"
            )
        size = destination.stat().st_size
        progress(Progress(step, size, size, "bytes", "redis"))

    async def capture(self, staging: Path, progress: ProgressCallback = no_progress) -> Capture:
        server = await self.info("server")
        directory = await self.config("dir")
        filename = await self.config("dbfilename")
        path = f"{directory.rstrip('/')}/{filename}"
        destination = staging / RDB_FILE
        for _attempt in range(CAPTURE_ATTEMPTS):
            progress(Progress("BGSAVE", None, None, "steps", "redis"))
            saved = await self._bgsave()
            await self._copy_out(path, destination, progress)
            after = await self.info("persistence")
            if after.get("rdb_saves") == saved.get("rdb_saves") and not int(
                after.get("rdb_bgsave_in_progress", 0)
            ):
                break  # no other save replaced the file while it was copied
        else:
            raise BackupError(
                f"Redis at {self.target.address} saved again during every copy of {path}; "
                "retry when saves are less frequent"
            )
        report = await self.check_files(staging, None, {})
        if report.problems:
            problems = "; ".join(report.problems)
            raise BackupError(f"the RDB copied from {path} is unreadable: {problems}")
        sizes = report.facts.get("databases", {})
        persistence = await self.info("persistence")
        return Capture(
            files=[RDB_FILE],
            contents=counts_from({int(db): tuple(v) for db, v in sizes.items()}),
            server_version=str(server.get("redis_version", "")),
            method="BGSAVE + copy of the RDB",
            details={
                "rdb_path": path,
                "rdb_version": report.facts.get("rdb_version"),
                "aof_enabled": bool(int(persistence.get("aof_enabled", 0))),
                "counts_from": "the RDB file (RESIZEDB records)",
            },
            report=report,
        )

    # --- reading an RDB back ----------------------------------------------------------

    async def check_files(
        self, folder: Path, manifest: Manifest | None, details: dict[str, Any]
    ) -> FileReport:
        path = folder / RDB_FILE
        problems: list[str] = []
        facts: dict[str, Any] = {}
        try:
            facts["rdb_version"] = rdb_version(path)
        except (RdbError, OSError) as exc:
            return FileReport("RDB header", [str(exc)])
        checker = shutil.which("redis-check-rdb")
        if checker is None:
            missing = "redis-check-rdb is not installed here (apt-get install redis-tools)"
            return FileReport("RDB header", [missing], facts)
        result = await run_tool([checker, str(path)], timeout=SAVE_TIMEOUT)
        output = result.stdout.decode("utf-8", "replace") + result.stderr
        if not result.ok or "RDB looks OK" not in output:
            lines = [line for line in output.splitlines() if line.strip()]
            detail = " | ".join(lines[-3:]) or f"exit status {result.exit_code}"
            problems.append(f"redis-check-rdb rejects it: {detail}")
            return FileReport("redis-check-rdb", problems, facts)
        try:
            sizes = database_sizes(path, output)
            facts["databases"] = {str(s.db): [s.keys, s.volatile] for s in sizes}
        except (RdbError, OSError, IndexError) as exc:
            problems.append(f"cannot read the key counts: {exc}")
        return FileReport("redis-check-rdb", problems, facts)

    def compatibility(self, manifest: Manifest, facts: dict[str, Any], server: str) -> list[str]:
        version = facts.get("rdb_version") or manifest.details.get("rdb_version")
        newest = max_rdb_version(server)
        if version is not None and newest is not None and int(version) > newest:
            return [
                f"the RDB is format version {version} (Redis {manifest.server_version}); "
                f"Redis {server} reads up to version {newest}"
            ]
        return []

    # --- restore ----------------------------------------------------------------------

    def missing_for_restore(self) -> list[str]:
        return self._need(Capability.RESTART, Capability.FILES)

    async def _layout(self) -> dict[str, Any]:
        """Where the running server keeps its files, and whether AOF is on."""
        layout: dict[str, Any] = {
            "dir": await self.config("dir"),
            "dbfilename": await self.config("dbfilename"),
            "appendonly": (await self.config("appendonly")).lower() == "yes",
            "version": await self.server_version(),
        }
        major = int(layout["version"].split(".")[0] or 0)
        layout["multipart_aof"] = major >= 7
        if layout["appendonly"]:
            layout["appendfilename"] = await self.config("appendfilename")
            if layout["multipart_aof"]:
                layout["appenddirname"] = await self.config("appenddirname")
        return layout

    async def plan(self, manifest: Manifest) -> list[str]:
        layout = await self._layout()
        now = {c.name: c.count for c in await self.count() if c.kind == "keys"}
        now_volatile = {c.name: c.count for c in await self.count() if c.kind == "volatile_keys"}
        total_now = sum(now.values()) + sum(now_volatile.values())
        lines = [
            f"Redis {layout['version']} at {self.target.address}: every key of every database "
            f"is replaced ({total_now:,} keys now, {manifest.summary()} in the backup)",
            f"{layout['dir']}/{layout['dbfilename']} is replaced by the backup's RDB and Redis "
            "is restarted to load it; clients are disconnected meanwhile, and writes made "
            "during the restore are lost",
        ]
        if layout["appendonly"]:
            if layout["multipart_aof"]:
                lines.append(
                    f"AOF is on: the RDB becomes the new AOF base in {layout['dir']}/"
                    f"{layout['appenddirname']} (the old AOF files are kept as history, "
                    "so they cannot replay over it)"
                )
            else:
                lines.append(
                    f"AOF is on: {layout['appendfilename']} is replaced by the RDB "
                    "(loaded as the AOF's RDB preamble)"
                )
        return lines

    async def restore(self, entry: CatalogEntry, progress: ProgressCallback = no_progress) -> None:
        copier = require(self.backend, "redis", FileCopying)
        restarter = require(self.backend, "redis", Restartable)
        layout = await self._layout()
        source = entry.path(RDB_FILE)
        directory = layout["dir"].rstrip("/")
        old_manifest: list[dict[str, str]] = []
        scratch = Path(tempfile.mkdtemp(prefix="alfred-redis-restore-"))
        saving = await self.config("save")
        try:
            if layout["appendonly"] and layout["multipart_aof"]:
                manifest_path = (
                    f"{directory}/{layout['appenddirname']}/{layout['appendfilename']}.manifest"
                )
                local_copy = scratch / "old.manifest"
                with contextlib.suppress(Exception):
                    await copier.copy_from("redis", manifest_path, local_copy)
                    old_manifest = parse_aof_manifest(local_copy.read_text())
            progress(Progress("stop Redis writing its files", 1, 4, "steps", "redis"))
            await self.call("CONFIG", "SET", "save", "")
            if layout["appendonly"]:
                await self.call("CONFIG", "SET", "appendonly", "no")
            try:
                progress(Progress(f"put {RDB_FILE} in place", 2, 4, "steps", "redis"))
                await copier.copy_to("redis", source, f"{directory}/{layout['dbfilename']}")
                if layout["appendonly"]:
                    await self._replace_aof(layout, source, old_manifest, scratch)
            except BaseException:
                await self._persist_again(layout, saving)
                raise
            await self._drop()
            progress(Progress("restart redis: it loads the backup", 3, 4, "steps", "redis"))
            await restarter.restart("redis")
            await self._wait_loaded()
            progress(Progress("redis loaded the backup", 4, 4, "steps", "redis"))
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    async def _persist_again(self, layout: dict[str, Any], saving: str) -> None:
        """Undo the runtime changes after a failed copy: Redis persists its data again."""
        with contextlib.suppress(BackupError):
            await self.call("CONFIG", "SET", "save", saving)
            if layout["appendonly"]:
                await self.call("CONFIG", "SET", "appendonly", "yes")

    async def _replace_aof(
        self, layout: dict[str, Any], source: Path, old: list[dict[str, str]], scratch: Path
    ) -> None:
        directory = layout["dir"].rstrip("/")
        prefix = layout["appendfilename"]
        copy_to = require(self.backend, "redis", FileCopying).copy_to
        if not layout["multipart_aof"]:
            await copy_to("redis", source, f"{directory}/{prefix}")
            return
        aof_dir = f"{directory}/{layout['appenddirname']}"
        text, base, incr = new_aof_manifest(old, prefix)
        empty = scratch / "empty.aof"
        empty.write_bytes(b"")
        manifest_file = scratch / "aof.manifest"
        manifest_file.write_text(text)
        await copy_to("redis", source, f"{aof_dir}/{base}")
        await copy_to("redis", empty, f"{aof_dir}/{incr}")
        await copy_to("redis", manifest_file, f"{aof_dir}/{prefix}.manifest")

    async def _wait_loaded(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        last = "no answer"
        while time.monotonic() < deadline:
            try:
                info = await self.info("persistence")
                if not int(info.get("loading", 0)):
                    return
                last = "still loading"
            except BackupError as exc:
                last = exc.message
            await asyncio.sleep(0.2)
        raise RestoreError(f"Redis did not come back within {START_TIMEOUT:g} s ({last})")
