"""What the Backups pane costs per refresh on a large catalog, against reading the files raw.

The pane re-reads the catalog every 15 s while shown (in a thread) and
redraws its table (on the UI's event loop, where time spent is time the UI
does not answer keys). This writes a synthetic catalog of ``--backups``
manifests per service (with their ``check.json``) in a temporary folder and
times, interleaved, in one process:

- anchor: ``json.loads`` of every ``manifest.json`` and ``check.json`` (the I/O floor);
- the pane's catalog read (``LiveBackups`` on that folder: manifests validated,
  journals read, plain rows built), off the event loop;
- the table's first draw of those rows, and a redraw with nothing changed,
  in a headless Textual app;
- what a refresh that finds nothing changed costs the event loop: the pane
  compares the new view with the one on screen and redraws only when it
  differs (or when the minute changed, for the ages).

Run::

    .venv/bin/python benchmarks/backups_pane.py [--runs 10] [--backups 100 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shlex
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from textual.app import App, ComposeResult

from alfred_tui.backup.catalog import Catalog
from alfred_tui.backup.journal import JournalStore
from alfred_tui.backup.manifest import Count, FileEntry, Manifest
from alfred_tui.control.backups import CatalogView, LiveBackups
from alfred_tui.control.session import open_session
from alfred_tui.widgets.backup_tables import CatalogTable

SERVICES = ("postgres", "redis", "qdrant")


def write_catalog(root: Path, per_service: int) -> None:
    """``per_service`` backups of each service, one in ten a safety copy, all verified."""
    start = datetime(2025, 5, 13, 12, tzinfo=UTC)
    for service in SERVICES:
        for index in range(per_service):
            created = start - timedelta(hours=index)
            backup_id = f"{service}-{created.strftime('%Y%m%dT%H%M%SZ')}"
            folder = root / service / backup_id
            folder.mkdir(parents=True)
            manifest = Manifest(
                id=backup_id,
                service=service,  # type: ignore[arg-type]
                profile="bench",
                backend="local",
                created_at=created,
                duration_seconds=1.5,
                method="synthetic",
                server_version="15.1",
                files=[FileEntry(name="data.bin", bytes=42_000_000, sha256="0" * 64)],
                contents=[
                    Count(kind="table_rows", name=f"public.t{n}", count=1000 * n) for n in range(8)
                ],
                safety_copy=index % 10 == 3,
            )
            (folder / "manifest.json").write_text(manifest.to_json())
            (folder / "check.json").write_text(
                json.dumps(
                    {
                        "checked_at": created.isoformat(),
                        "ok": True,
                        "how": "sha256 + pg_restore --list",
                        "problems": [],
                    }
                )
            )


def raw_read(root: Path) -> int:
    found = 0
    for path in root.glob("*/*/manifest.json"):
        json.loads(path.read_text())
        json.loads((path.parent / "check.json").read_text())
        found += 1
    return found


def timed(samples: list[float], work: Callable[[], object]) -> None:
    started = time.perf_counter()
    work()
    samples.append(time.perf_counter() - started)


class TableApp(App[None]):
    def compose(self) -> ComposeResult:
        yield CatalogTable(id="catalog")


async def draw_times(view: CatalogView, runs: int) -> tuple[list[float], list[float]]:
    """First draw and unchanged redraw of ``view``, each on a fresh table."""
    first: list[float] = []
    again: list[float] = []
    now = datetime(2025, 5, 13, 12, tzinfo=UTC).timestamp()
    app = TableApp()
    async with app.run_test(size=(120, 40)) as pilot:
        for _ in range(runs + 1):
            table = app.query_one(CatalogTable)
            table.set_rows([])
            await pilot.pause()
            timed(first, lambda table=table: table.show(view, now, 120))
            timed(again, lambda table=table: table.show(view, now, 120))
    return first[1:], again[1:]


def row(label: str, samples: list[float], anchor: float) -> str:
    median = statistics.median(samples)
    return (
        f"| {label} | {median * 1000:.1f} | {min(samples) * 1000:.1f} | "
        f"{max(samples) * 1000:.1f} | {median / anchor:.2f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--backups", type=int, nargs="+", default=[100, 1000])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="alfred-bench-") as temporary:
        os.environ["ALFRED_TUI_DATA_DIR"] = str(Path(temporary) / "data")
        os.environ["ALFRED_TUI_STATE_DIR"] = str(Path(temporary) / "state")
        session = open_session("local")
        for per_service in args.backups:
            root = Path(temporary) / f"catalog-{per_service}"
            write_catalog(root, per_service)
            source = LiveBackups(session, JournalStore(Path(temporary) / "journals"))
            source.store = Catalog(root)
            raw: list[float] = []
            read: list[float] = []
            view = source._read_catalog()
            for _ in range(args.runs + 1):  # interleaved, the first round is a warm-up
                timed(raw, lambda root=root: raw_read(root))
                timed(read, source._read_catalog)
            raw, read = raw[1:], read[1:]
            fresh = source._read_catalog()  # equal values, other objects: a refresh
            same: list[float] = []
            for _ in range(args.runs):
                timed(same, lambda fresh=fresh, view=view: fresh == view)
            first, again = asyncio.run(draw_times(view, args.runs))
            anchor = statistics.median(raw)
            total = len(view.rows)
            print(f"\n### Backups pane, {total} backups ({per_service} per service)\n")
            print(f"runs: {args.runs} (interleaved), anchor: raw json.loads of the files\n")
            print("| step | median ms | min ms | max ms | x anchor |")
            print("|---|---:|---:|---:|---:|")
            print(row("anchor: json.loads of every manifest.json + check.json", raw, anchor))
            print(row("catalog read (LiveBackups, in a thread)", read, anchor))
            print(row("table first draw (event loop)", first, anchor))
            print(row("table redraw, nothing changed (event loop)", again, anchor))
            print(row("refresh, nothing changed: the pane's comparison (event loop)", same, anchor))
    print(f"\nmade by: `{shlex.join([sys.executable, *sys.argv])}`")


if __name__ == "__main__":
    main()
