"""Undo a point-in-time recovery that did not finish: put the saved data directory back.

``pitr recover`` journals each step (:class:`~alfred_tui.backup.pitr.PitrStep`)
under the restore lock of postgres. Killed midway (or failed in a way it
could not repair itself), it leaves the journal behind; ``pitr status``
reports it, the next ``pitr recover`` and ``restore postgres`` refuse to run
over it, and ``pitr recover --rollback`` comes here:

- the data directory as it is now (half a base backup, or a recovered
  database that may already have taken writes) is kept as well, in a new
  ``pitr-<time>-replaced`` safety folder: a rollback deletes nothing;
- the data directory saved by the recovery goes back into place, the way the
  engine keeps it (:class:`~alfred_tui.backends.pgdata.PostgresDataDirectory`:
  locally a rename back; on Docker a throwaway container empties the
  directory and the tar refills it through the archive API);
- PostgreSQL starts and must accept connections as a primary; then the
  journal is cleared.

When the recovery stopped before it replaced anything (steps ``stop`` and
``safety_copy``), there is nothing to put back: PostgreSQL is started, an
incomplete copy (``*.partial``) is removed, and the journal is cleared.
"""

from __future__ import annotations

import contextlib
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alfred_tui.backends.base import Progress, ProgressCallback, no_progress
from alfred_tui.backends.pgdata import PostgresDataDirectory
from alfred_tui.backup.journal import PITR_JOURNAL, Journal
from alfred_tui.backup.pitr import Pitr, PitrStep, new_pitr_folder
from alfred_tui.backup.pitr_settings import PitrError
from alfred_tui.backup.pitr_status import describe_unfinished

#: Seconds the restored server gets to accept connections again.
START_TIMEOUT = 300.0
ROLLBACK_STEPS = 4


@dataclass
class RollbackPlan:
    """What ``pitr recover --rollback`` will do, read from the journal and the disk."""

    journal: Journal
    data_dir: str
    saved: Path
    """The data directory the recovery saved (a folder, or a tar: see ``moves_aside``)."""
    put_back: bool
    """Whether the saved data directory goes back (False: it was never replaced)."""
    lines: list[str]


def _data(pitr: Pitr) -> PostgresDataDirectory:
    if pitr.data is None:
        raise PitrError(
            f"the {pitr.backend.name} backend cannot reach PostgreSQL's data directory, so "
            "there is no recovery of alfred-tui's to roll back here"
        )
    return pitr.data


def plan_rollback(pitr: Pitr) -> RollbackPlan:
    """Read the unfinished recovery's journal and say what undoing it takes."""
    journal = pitr.unfinished()
    if journal is None:
        path = pitr.journals.path(pitr.profile_name, PITR_JOURNAL)
        raise PitrError(
            f"no unfinished point-in-time recovery of profile '{pitr.profile_name}' "
            f"to roll back (no journal at {path})"
        )
    if journal.backend != pitr.backend.name:
        raise PitrError(
            f"the unfinished recovery ran on the {journal.backend} backend; "
            f"roll it back there (--backend {journal.backend})"
        )
    data_dir = journal.details.get("data_dir", "")
    if not data_dir or not journal.safety_folder:
        raise PitrError(
            f"{pitr.journals.path(pitr.profile_name, PITR_JOURNAL)}: the journal does not name "
            "the data directory and its safety copy; inspect it, then delete it"
        )
    data = _data(pitr)
    saved = data.saved_copy(Path(journal.safety_folder), data_dir)
    lines = [
        f"a point-in-time recovery was interrupted at step '{journal.step}': "
        + describe_unfinished(journal)
    ]
    if not data.moves_aside:  # saved as a copy: the directory stays until install replaces it
        put_back = journal.step in (PitrStep.INSTALL, PitrStep.START)
        if put_back and not saved.is_file():
            raise PitrError(
                f"the recovery replaced {data_dir} but its safety copy {saved} is missing: "
                "nothing to roll back to; the journal is left for you to inspect"
            )
        if put_back:
            lines += [
                f"stop {data.server}",
                f"save its data directory {data_dir} as it is now to a new safety folder",
                f"empty {data_dir} and refill it from {saved}",
            ]
    else:  # moved aside: wherever the saved folder is, the directory is not
        put_back = saved.is_dir()
        if put_back:
            lines.append(f"stop {data.server}")
            if Path(data_dir).exists():
                lines.append(f"move {data_dir} as it is now into a new safety folder")
            lines.append(f"move {saved} back to {data_dir}")
        elif not Path(data_dir).is_dir():
            raise PitrError(
                f"neither {data_dir} nor its safety copy {saved} exists: nothing to roll back "
                "to; the journal is left for you to inspect"
            )
    if not put_back:
        lines.append(f"{data_dir} was never replaced: nothing to put back")
    lines += [
        "start PostgreSQL and wait until it accepts connections as a primary",
        "forget the unfinished recovery (its journal)",
    ]
    return RollbackPlan(journal, data_dir, saved, put_back, lines)


async def rollback(
    pitr: Pitr, plan: RollbackPlan, safety_root: Path, progress: ProgressCallback = no_progress
) -> dict[str, Any]:
    """Carry out ``plan`` under the restore lock; returns where everything went."""
    with pitr.journals.lock(pitr.profile_name, "postgres"):
        current = pitr.unfinished()
        if current is None or current.started_at != plan.journal.started_at:
            raise PitrError("the unfinished recovery changed meanwhile; run --rollback again")
        kept: Path | None = None
        if plan.put_back:
            kept = await _put_back(pitr, plan, safety_root, progress)
        else:
            _drop_partial(plan.saved)
        progress(Progress("start postgres", 3, ROLLBACK_STEPS, "steps", "postgres"))
        await _data(pitr).start(progress)
        progress(Progress("wait for connections", 4, ROLLBACK_STEPS, "steps", "postgres"))
        await pitr.wait_primary(START_TIMEOUT)
        pitr.journals.clear(pitr.profile_name, PITR_JOURNAL)
        folder = Path(plan.journal.safety_folder or "")
        with contextlib.suppress(OSError):
            folder.rmdir()  # only when empty: the data went back from it
        return {
            "data_dir": plan.data_dir,
            "put_back": plan.put_back,
            "from": str(plan.saved) if plan.put_back else None,
            "replaced_kept_in": str(kept) if kept else None,
            "base_backup": plan.journal.backup_id,
            "target": plan.journal.details.get("target"),
        }


async def _put_back(
    pitr: Pitr, plan: RollbackPlan, safety_root: Path, progress: ProgressCallback
) -> Path | None:
    """Stop, keep the current data directory, put the saved one back; where it was kept."""
    data = _data(pitr)
    progress(Progress("stop postgres", 1, ROLLBACK_STEPS, "steps", "postgres"))
    await data.stop(progress)
    progress(Progress("put the saved data directory back", 2, ROLLBACK_STEPS, "steps"))
    kept: Path | None = None
    if await data.has_data(plan.data_dir):
        folder = new_pitr_folder(safety_root, suffix="-replaced")
        kept = await data.save(plan.data_dir, folder)
    await data.put_back(plan.saved, plan.data_dir)
    return kept


def _drop_partial(saved: Path) -> None:
    """An incomplete copy of a data directory that was never replaced: not a safety copy."""
    partial = saved.with_name(saved.name + ".partial")
    if partial.is_dir():
        shutil.rmtree(partial)
    else:
        partial.unlink(missing_ok=True)
