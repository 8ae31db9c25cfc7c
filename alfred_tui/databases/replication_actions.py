"""Remedies of the "replica lagging or broken" runbook that change a server, planned first.

Each takes ``confirm`` and ``readonly`` like every change alfred-tui makes
(:mod:`alfred_tui.actions`): without ``confirm`` it only says what it would
do; applied, its safety copy (what the slot held, whether replay was paused)
goes to the action journal first.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from alfred_tui.database_actions import ActionOutcome, ActionRefused, ReadOnlyRefused, record
from alfred_tui.units import format_bytes

if TYPE_CHECKING:
    from alfred_tui.databases.postgres import PostgresClient


async def drop_slot(
    client: PostgresClient, name: str, *, confirm: bool, readonly: bool
) -> ActionOutcome:
    """``pg_drop_replication_slot(name)`` for a slot no standby uses, so its WAL can go."""
    if readonly:
        raise ReadOnlyRefused(f"drop replication slot {name}")
    replication = await client.replication()
    slot = next((s for s in replication.slots if s.name == name), None)
    if slot is None:
        known = ", ".join(s.name for s in replication.slots) or "none"
        raise ActionRefused(f"no replication slot '{name}' on this server (slots: {known})")
    if slot.active:
        raise ActionRefused(
            f"slot '{name}' is in use by a connected standby or consumer: dropping it would cut "
            "it off; stop that consumer first"
        )
    held = (
        "an unknown amount of" if slot.retained_bytes is None else format_bytes(slot.retained_bytes)
    )
    literal = "'" + name.replace("'", "''") + "'"
    outcome = ActionOutcome(
        action="drop-slot",
        service="postgres",
        applied=False,
        summary=(
            f"Drop the inactive {slot.type} replication slot '{name}'. It keeps {held} WAL "
            "from being recycled; once dropped, the server frees it at its next checkpoint."
        ),
        steps=(f"SELECT pg_drop_replication_slot({literal})",),
        previous={"slot": slot.to_json()},
        undo=(
            "A dropped slot cannot be restored. A standby or consumer that was meant to use it "
            "resumes only if the WAL it needs is still there; otherwise re-clone it."
        ),
        destructive=True,
    )
    if not confirm:
        return outcome
    journal = record(outcome, client.target.address)
    await client.fetch("SELECT pg_drop_replication_slot($1)", name)
    return replace(outcome, applied=True, results=(f"slot {name} dropped",), journal=journal)


async def resume_replay(
    client: PostgresClient, instance: str, *, confirm: bool, readonly: bool
) -> ActionOutcome:
    """``pg_wal_replay_resume()`` on a standby whose WAL replay was paused."""
    if readonly:
        raise ReadOnlyRefused(f"resume WAL replay on {instance}")
    replication = await client.replication()
    if not replication.in_recovery:
        raise ActionRefused(f"{instance} is not a standby: it has no WAL replay to resume")
    if not replication.replay_paused:
        raise ActionRefused(f"WAL replay on {instance} is not paused")
    outcome = ActionOutcome(
        action="resume-replay",
        service="postgres",
        applied=False,
        summary=(
            f"Resume WAL replay on {instance}: it replays what it received while paused and "
            "catches up with the primary."
        ),
        steps=("SELECT pg_wal_replay_resume()",),
        previous={"instance": instance, "replay_paused": True},
        undo="SELECT pg_wal_replay_pause() pauses it again.",
    )
    if not confirm:
        return outcome
    journal = record(outcome, client.target.address)
    await client.fetch("SELECT pg_wal_replay_resume()")
    return replace(
        outcome, applied=True, results=(f"WAL replay resumed on {instance}",), journal=journal
    )
