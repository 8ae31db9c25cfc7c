"""Fixed data for the data panes' snapshots: the same picture every run.

Nothing here talks to a server and nothing here is a stand-in for one: the
readers hand the real panes frozen results of the real data layer's types
(a migration status, a schema view, a keyspace report, a collections
report), converted by the same functions the live sources use. Behaviour is
tested against real servers in test_ui_migrations.py, test_ui_keyspace.py
and test_ui_collections.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from ui_fixed import NOW_DT, fixed_app

from alfred_tui.app import AlfredApp
from alfred_tui.backends.base import Progress, ProgressCallback
from alfred_tui.control import collections_view, keyspace_view, migrations_view
from alfred_tui.databases.keyspace_model import (
    BigKey,
    Channel,
    DatabaseKeyspace,
    KeyGroup,
    KeyspaceReport,
    PubSubInfo,
    QueueLength,
)
from alfred_tui.databases.keyspace_scripts import TTL_BUCKETS, TYPES
from alfred_tui.databases.keyspace_stats import Estimate
from alfred_tui.databases.migration_model import MigrationEntry, MigrationState, MigrationStatus
from alfred_tui.databases.qdrant_collections import (
    CollectionReport,
    CollectionsReport,
    PayloadIndex,
    VectorSpec,
)
from alfred_tui.databases.schema_view import SchemaInfo, SchemaView, TableInfo

MIGRATIONS_DIR = Path("/usr/share/alfred-tui/migrations")
APP_DIR = Path("/srv/alfred/migrations/app")
KIB, MIB, GIB = 1024, 1024**2, 1024**3

# --- migrations ------------------------------------------------------------------------


def _entry(
    name: str,
    state: MigrationState,
    minutes_ago: float | None,
    took_ms: float | None,
    source: str = "bundled",
    file_sum: str | None = "3f2a9c1b7d4e",
    recorded: str | None = "3f2a9c1b7d4e",
) -> MigrationEntry:
    folder = MIGRATIONS_DIR if source == "bundled" else APP_DIR
    applied = NOW_DT - timedelta(minutes=minutes_ago) if minutes_ago is not None else None
    return MigrationEntry(
        name=name,
        state=state,
        source=source,
        path=None if state == MigrationState.MISSING else folder / f"{name}.sql",
        checksum=None if state == MigrationState.MISSING else (file_sum or "") + "0" * 52,
        recorded_checksum=(recorded + "0" * 52) if recorded else None,
        id=None if minutes_ago is None else int(minutes_ago),
        applied_at=applied,
        duration_ms=took_ms,
    )


A, P, D, M = (
    MigrationState.APPLIED,
    MigrationState.PENDING,
    MigrationState.DRIFTED,
    MigrationState.MISSING,
)

STATUS = MigrationStatus(
    database="postgres",
    address="127.0.0.1:5432",
    tracking_table=True,
    entries=(
        _entry("0001_extensions", A, 4320, 4.1),
        _entry("0002_tasks", A, 4320, 12.7),
        _entry("0003_processed_messages", A, 4320, 3.2),
        _entry("0004_agent_registry", A, 4320, 5.9),
        _entry("0005_auth", D, 4320, 2.4, file_sum="9c1b7d4e3f2a"),
        _entry("0006_storage", P, None, None, recorded=None),
        _entry("0007_model_registry", P, None, None, recorded=None),
        _entry("0100_app_tables", P, None, None, source="migrations/app", recorded=None),
        _entry("0099_legacy_seed", M, 9000, 812.0, source="flyway"),
    ),
)

SCHEMA = SchemaView(
    database="postgres",
    address="127.0.0.1:5432",
    server_version="15.1",
    size_bytes=int(1.2 * GIB),
    schemas=(
        SchemaInfo("auth", "supabase_auth_admin", 1, 96 * KIB, 12),
        SchemaInfo("extensions", "postgres", 0, 0, 0),
        SchemaInfo("model_registry", "postgres", 3, 240 * KIB, 310),
        SchemaInfo("public", "postgres", 5, int(1.1 * GIB), 4_210_554),
        SchemaInfo("storage", "supabase_storage_admin", 0, 0, 0),
    ),
    tables=(
        TableInfo(
            "public",
            "task_results",
            "table",
            int(812 * MIB),
            int(590 * MIB),
            160 * MIB,
            2_804_113,
            "planner",
            NOW_DT,
        ),
        TableInfo(
            "public",
            "tasks",
            "table",
            int(301 * MIB),
            201 * MIB,
            88 * MIB,
            1_402_007,
            "planner",
            NOW_DT,
        ),
        TableInfo(
            "public",
            "processed_messages",
            "table",
            9 * MIB,
            6 * MIB,
            3 * MIB,
            4_410,
            "statistics",
            None,
        ),
        TableInfo(
            "model_registry",
            "models",
            "table",
            112 * KIB,
            48 * KIB,
            64 * KIB,
            210,
            "planner",
            NOW_DT,
        ),
        TableInfo(
            "public", "agent_registry", "table", 80 * KIB, 16 * KIB, 64 * KIB, 24, "planner", NOW_DT
        ),
        TableInfo("auth", "users", "table", 96 * KIB, 32 * KIB, 64 * KIB, 12, "planner", NOW_DT),
        TableInfo(
            "model_registry",
            "model_endpoints",
            "table",
            64 * KIB,
            16 * KIB,
            48 * KIB,
            100,
            "planner",
            NOW_DT,
        ),
        TableInfo(
            "model_registry",
            "model_capabilities",
            "table",
            64 * KIB,
            16 * KIB,
            48 * KIB,
            None,
            "none",
            None,
        ),
        TableInfo(
            "public", "migrations", "table", 48 * KIB, 8 * KIB, 40 * KIB, 9, "planner", NOW_DT
        ),
    ),
    tables_total=9,
)


class FixedMigrations:
    """Frozen migration status and schema view; ``up`` is not for snapshots."""

    def __init__(self, down: str = "") -> None:
        self.down = down

    async def read(self) -> migrations_view.MigrationsView:
        if self.down:
            raise migrations_view.PostgresUnreachable(self.down)
        return migrations_view.build_view(STATUS, SCHEMA)

    async def up(
        self, progress: ProgressCallback, allow_drift: bool, plan: tuple[str, ...] = ()
    ) -> migrations_view.UpOutcome:
        raise AssertionError("fixed data: snapshot tests run no migrations")

    def timeout_for(self, pending: int) -> float:
        return 10.0

    async def close(self) -> None:
        return None


# --- keyspace -----------------------------------------------------------------------------


def _estimate(value: float, margin: float) -> Estimate:
    return Estimate(value, max(0.0, value - margin), value + margin)


def _group(
    name: str,
    keys: float,
    memory: float,
    types: dict[str, float],
    ttl: dict[str, float],
    *,
    sampled: bool = False,
    expected_db: int | None = None,
    misplaced: bool = False,
) -> KeyGroup:
    def figure(value: float) -> Estimate:
        return _estimate(value, value * 0.04 + 30) if sampled else Estimate.exact(value)

    return KeyGroup(
        name=name,
        declared=expected_db is not None,
        expected_db=expected_db,
        misplaced=misplaced,
        keys=figure(keys),
        memory=figure(memory),
        types={kind: figure(types.get(kind, 0.0)) for kind in TYPES},
        ttl={bucket: figure(ttl.get(bucket, 0.0)) for bucket in TTL_BUCKETS},
        sampled=int(keys * 0.01) if sampled else 0,
    )


def keyspace_report(sampled: bool = False) -> KeyspaceReport:
    """The spec's layout at a busy moment; db 0 sampled when ``sampled``."""
    cache_keys = 412_330.0 if sampled else 41_233.0
    db0 = DatabaseKeyspace(
        db=0,
        purpose="General cache",
        prefix="alfred:cache:",
        in_profile=True,
        mode="sampled" if sampled else "exact",
        engine="lua",
        keys=int(cache_keys + 1_250 + 80 + 5),
        expires=int(cache_keys * 0.7),
        scanned=4_150 if sampled else int(cache_keys + 1_335),
        avg_ttl_seconds=_estimate(5_410.0, 210.0) if sampled else Estimate.exact(5_410.0),
        memory=_estimate(96.4 * MIB, 3.1 * MIB) if sampled else Estimate.exact(9.6 * MIB),
        groups=(
            _group(
                "alfred:cache:*",
                cache_keys,
                (94 * MIB) if sampled else 9.4 * MIB,
                {"string": cache_keys * 0.92, "hash": cache_keys * 0.08},
                {"none": cache_keys * 0.3, "lt_1h": cache_keys * 0.45, "lt_1d": cache_keys * 0.25},
                sampled=sampled,
                expected_db=0,
            ),
            _group(
                "celery:task:*",
                1_250,
                410 * KIB,
                {"string": 1_250},
                {"lt_1d": 1_250},
                sampled=sampled,
            ),
            _group(
                "(no prefix)",
                80,
                12 * KIB,
                {"string": 70, "set": 10},
                {"none": 80},
                sampled=sampled,
            ),
            _group(
                "alfred:session:*",
                5,
                1 * KIB,
                {"hash": 5},
                {"lt_1d": 5},
                sampled=sampled,
                expected_db=1,
                misplaced=True,
            ),
        ),
    )
    db1 = DatabaseKeyspace(
        1,
        "Session storage",
        "alfred:session:",
        True,
        "exact",
        "lua",
        3_120,
        3_120,
        3_120,
        Estimate.exact(4_012.0),
        Estimate.exact(2.1 * MIB),
        (
            _group(
                "alfred:session:*",
                3_120,
                2.1 * MIB,
                {"hash": 3_120},
                {"lt_1d": 3_120},
                expected_db=1,
            ),
        ),
    )
    db2 = DatabaseKeyspace(
        2,
        "Rate limiting",
        "alfred:ratelimit:",
        True,
        "exact",
        "lua",
        2_000,
        2_000,
        2_000,
        Estimate.exact(41.0),
        Estimate.exact(141 * KIB),
        (
            _group(
                "alfred:ratelimit:*",
                2_000,
                141 * KIB,
                {"string": 2_000},
                {"lt_1h": 2_000},
                expected_db=2,
            ),
        ),
    )
    db3 = DatabaseKeyspace(
        3,
        "Task queues",
        "alfred:queue:",
        True,
        "exact",
        "lua",
        4,
        0,
        4,
        None,
        Estimate.exact(5.3 * MIB),
        (
            _group(
                "alfred:queue:*",
                4,
                5.3 * MIB,
                {"list": 2, "zset": 1, "string": 1},
                {"none": 4},
                expected_db=3,
            ),
        ),
    )
    db4 = DatabaseKeyspace(
        4,
        "Pub/Sub channels for service communication",
        None,
        True,
        "exact",
        "lua",
        0,
        0,
        0,
        None,
        Estimate.exact(0),
        (),
    )
    db7 = DatabaseKeyspace(
        7,
        "",
        None,
        False,
        "exact",
        "lua",
        12,
        0,
        12,
        None,
        Estimate.exact(1.5 * KIB),
        (_group("scratch:*", 12, 1.5 * KIB, {"string": 12}, {"none": 12}),),
    )
    top = [
        BigKey(
            3,
            "alfred:queue:tasks",
            "alfred:queue:*",
            "list",
            int(4.1 * MIB),
            True,
            52_000,
            None,
            False,
        ),
        BigKey(
            0,
            "alfred:cache:embeddings:general",
            "alfred:cache:*",
            "hash",
            int(2.4 * MIB),
            False,
            18_220,
            86_000.0,
            sampled,
        ),
        BigKey(
            3,
            "alfred:queue:delayed",
            "alfred:queue:*",
            "zset",
            int(1.1 * MIB),
            True,
            9_800,
            None,
            False,
        ),
    ]
    top += [
        BigKey(
            0,
            f"alfred:cache:profile:{9000 + i}",
            "alfred:cache:*",
            "hash",
            int((180 - i * 7) * KIB),
            True,
            400 - i * 11,
            3_600.0 - i * 60,
            sampled,
        )
        for i in range(17)
    ]
    return KeyspaceReport(
        address="127.0.0.1:6379",
        redis_version="7.2.4",
        used_memory=int(1.4 * GIB),
        mode="mixed" if sampled else "exact",
        confidence=0.95,
        sample_pct=1.0 if sampled else None,
        databases=(db0, db1, db2, db3, db4, db7),
        top_keys=tuple(top),
        queues=(
            QueueLength(3, "alfred:queue:tasks", "list", 52_000),
            QueueLength(3, "alfred:queue:delayed", "zset", 9_800),
            QueueLength(3, "alfred:queue:high", "list", 12),
        ),
        queues_total=3,
        pubsub=PubSubInfo(
            4,
            (
                Channel("alfred:events", 6),
                Channel("alfred:agents:heartbeat", 3),
                Channel("alfred:tasks:done", 2),
            ),
            3,
            1,
        ),
        duration_ms=1_840.0 if not sampled else 310.0,
        notes=(),
    )


class FixedKeyspace:
    """A frozen analysis; ``hold`` keeps a scan running at a given progress (for its picture)."""

    def __init__(self, *, hold: Progress | None = None, down: str = "") -> None:
        self.hold = hold
        self.down = down

    async def scan(
        self, mode: keyspace_view.Mode, sample_pct: float, progress: ProgressCallback
    ) -> keyspace_view.KeyspaceView:
        if self.down:
            raise keyspace_view.RedisUnreachable(self.down)
        if self.hold is not None:
            progress(self.hold)
            await asyncio.Event().wait()  # until cancelled
        return keyspace_view.build_view(keyspace_report(sampled=mode == "sample"))

    async def close(self) -> None:
        return None


# --- collections ------------------------------------------------------------------------------


def collections_report(embedded: bool = False) -> CollectionsReport:
    spec = VectorSpec("", 1536, "Cosine")

    def present(name: str, purpose: str, points: int, **extra: object) -> CollectionReport:
        fields: dict[str, object] = {
            "state": "ok",
            "expected": spec,
            "purpose": purpose,
            "status": "green",
            "optimizer": None if embedded else "ok",
            "points": points,
            "indexed_vectors": None if embedded else points,
            "segments": None if embedded else 4,
            "vectors": (spec,),
            "payload_indexes": None
            if embedded
            else (
                PayloadIndex("source", "keyword", points),
                PayloadIndex("created_at", "datetime", points),
            ),
            "notes": ("segments... not tracked by embedded mode",) if embedded else (),
        }
        fields.update(extra)
        return CollectionReport(name, **fields)  # type: ignore[arg-type]

    collections = [
        present("general-knowledge", "General RAG knowledge base", 184_220),
        present(
            "financial-knowledge",
            "Financial domain knowledge",
            12_004,
            state="drift",
            vectors=(VectorSpec("", 768, "Cosine"),),
            drift=("size 768, profile expects 1536",),
            status="yellow",
            indexed_vectors=None if embedded else 9_310,
        ),
        present(
            "legal-knowledge", "Legal domain knowledge", 0, payload_indexes=None if embedded else ()
        ),
        CollectionReport(
            "social-knowledge",
            "missing",
            spec,
            "Social media domain knowledge",
            notes=("create it with: alfred-tui collections --create-missing",),
        ),
        CollectionReport(
            "scratch-embeddings",
            "extra",
            None,
            status="green",
            optimizer=None if embedded else "ok",
            points=40,
            indexed_vectors=None if embedded else 0,
            segments=None if embedded else 1,
            vectors=(VectorSpec("", 4, "Euclid"),),
            payload_indexes=None if embedded else (),
        ),
    ]
    address = "embedded:/var/lib/alfred-tui/local/qdrant" if embedded else "http://127.0.0.1:6333"
    return CollectionsReport("dev", address, embedded, tuple(collections), NOW_DT)


class FixedCollections:
    """A frozen collections report; creating is not for snapshots."""

    def __init__(self, embedded: bool = False) -> None:
        self.embedded = embedded

    async def read(self) -> collections_view.CollectionsView:
        return collections_view.build_view(collections_report(self.embedded))

    async def create_missing(
        self, plan: tuple[str, ...] = ()
    ) -> tuple[list[str], collections_view.CollectionsView]:
        raise AssertionError("fixed data: snapshot tests create nothing")

    async def close(self) -> None:
        return None


def data_app(
    readonly: bool = False,
    *,
    migrations: FixedMigrations | None = None,
    keyspace: FixedKeyspace | None = None,
    collections: FixedCollections | None = None,
    down: Sequence[str] = (),
) -> AlfredApp:
    """The real app on fixed data (``ui_fixed.fixed_app``) with the data panes' readers frozen."""
    app = fixed_app(readonly=readonly)
    resources = app.session.resources
    resources[migrations_view.RESOURCE_KEY] = migrations or FixedMigrations()
    resources[keyspace_view.RESOURCE_KEY] = keyspace or FixedKeyspace()
    resources[collections_view.RESOURCE_KEY] = collections or FixedCollections()
    return app
