"""Reading a backup back on demand: SHA-256 of every file, then the engine's own tool.

``alfred-tui backups verify`` and the Backups pane's ``v`` both run this, so
"verified" means the same thing wherever it is shown; the result is recorded
next to the manifest (``check.json``) like every restore's pre-flight.
"""

from __future__ import annotations

from datetime import UTC, datetime

from alfred_tui.backends.base import Backend, ProgressCallback, no_progress
from alfred_tui.backup.catalog import CatalogEntry, FileCheck
from alfred_tui.backup.engines import open_engine
from alfred_tui.backup.files import sha256_file


async def verify_backup(
    backend: Backend, entry: CatalogEntry, progress: ProgressCallback = no_progress
) -> list[str]:
    """Check ``entry``'s files; the problems found (empty: it reads back whole).

    The engine's tool runs only when every checksum matches: a file that
    changed is already a failure, and the tool could hang on garbage.
    """
    manifest = entry.require()
    problems: list[str] = []
    for item in manifest.files:
        path = entry.path(item.name)
        if not path.is_file():
            problems.append(f"{item.name}: missing")
        elif (
            await sha256_file(path, progress, f"sha256 {item.name}", manifest.service)
            != item.sha256
        ):
            problems.append(f"{item.name}: SHA-256 differs from the manifest")
    how = "sha256"
    if not problems:
        async with await open_engine(backend, manifest.service) as engine:
            report = await engine.check_files(entry.folder, manifest, manifest.details)
        problems.extend(report.problems)
        how = f"sha256 + {report.how}"
    entry.record_check(FileCheck(datetime.now(UTC), not problems, how, tuple(problems)))
    return problems
