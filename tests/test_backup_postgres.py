"""PostgreSQL backup and restore end to end, on a real server run by the local backend.

Every test drives the installed ``alfred-tui`` in a subprocess and checks the
database itself with psql: the whole content (an md5 of every row of every
table) must be equal before the backup and after the restore.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
from backup_support import (
    alfred,
    json_out,
    kill_when,
    pg_fingerprint,
    psql,
    restore,
    take,
    validate,
)
from localdeploy import LocalDeployment

pytestmark = pytest.mark.slow

SCHEMA_SQL = """
DROP SCHEMA IF EXISTS auth CASCADE;
DROP TABLE IF EXISTS public.agents, public.agent_runs, public.big CASCADE;
DROP TABLE IF EXISTS public.created_after_the_backup;
CREATE SCHEMA auth;
CREATE TABLE auth.users (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email text UNIQUE NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    raw_user_meta_data jsonb
);
CREATE TABLE public.agents (
    id bigserial PRIMARY KEY,
    owner uuid REFERENCES auth.users(id),
    name text NOT NULL,
    config jsonb NOT NULL DEFAULT '{}'
);
CREATE TABLE public.agent_runs (
    id bigserial PRIMARY KEY,
    agent_id bigint REFERENCES public.agents(id) ON DELETE CASCADE,
    status text NOT NULL,
    tokens int,
    started_at timestamptz
);
CREATE INDEX ON public.agent_runs (agent_id, status);
INSERT INTO auth.users (email, raw_user_meta_data)
    SELECT 'user' || i || '@alfred.test', jsonb_build_object('n', i)
    FROM generate_series(1, 2000) i;
INSERT INTO public.agents (owner, name, config)
    SELECT id, 'agent-' || email, jsonb_build_object('model', 'm' || (length(email) % 3))
    FROM auth.users;
INSERT INTO public.agent_runs (agent_id, status, tokens, started_at)
    SELECT 1 + (i % 2000), (ARRAY['ok', 'failed', 'running'])[1 + i % 3], i * 7,
           '2026-01-01'::timestamptz + i * interval '1 minute'
    FROM generate_series(1, 6000) i;
"""

CHANGES_SQL = """
DELETE FROM public.agent_runs WHERE id % 3 = 0;
UPDATE public.agents SET name = name || '-renamed' WHERE id < 500;
DROP TABLE auth.users CASCADE;
CREATE TABLE public.created_after_the_backup (a int);
INSERT INTO public.created_after_the_backup VALUES (1), (2);
"""


@pytest.fixture(scope="module")
def deployment() -> LocalDeployment:
    with LocalDeployment(name="pg-backup") as deployment:
        deployment.up()
        yield deployment


def catalog_ids(profile: Path) -> list[str]:
    result = alfred("backups", "list", "--profile", str(profile), "--output", "json")
    return [b["id"] for b in json_out(result, "backups.v1.schema.json")["backups"]]


def test_round_trip_restores_every_row(deployment: LocalDeployment) -> None:
    port, profile = deployment.postgres_port, deployment.profile_path
    psql(port, SCHEMA_SQL)
    before = pg_fingerprint(port)
    assert before["public.agent_runs"].startswith("6000:")

    (backup,) = take(profile, "postgres")
    manifest = backup["manifest"]
    validate(json.loads((Path(backup["folder"]) / "manifest.json").read_text()),
             "backup-manifest.v1.schema.json")  # fmt: skip
    rows = {c["name"]: c["count"] for c in manifest["contents"]}
    assert rows == {"auth.users": 2000, "public.agents": 2000, "public.agent_runs": 6000}
    assert manifest["method"] == "pg_dump -F c (host client)"
    assert manifest["server_version"].startswith("15.")
    assert backup["last_check"]["ok"] and "pg_restore --list" in backup["last_check"]["how"]
    dump = Path(backup["folder"]) / "postgres.dump"
    assert oct(dump.stat().st_mode & 0o777) == "0o600"
    assert oct(Path(backup["folder"]).stat().st_mode & 0o777) == "0o700"

    psql(port, CHANGES_SQL)
    assert pg_fingerprint(port) != before

    code, document, stderr = restore(profile, "postgres", backup["id"], "--yes")
    assert code == 0, (document, stderr)
    assert document["outcome"] == "restored"
    assert [s["status"] for s in document["steps"]] == ["done"] * 7
    plan = " ".join(next(s for s in document["steps"] if s["id"] == "plan")["messages"])
    assert "public.created_after_the_backup" in plan  # says it is kept
    verify = next(s for s in document["steps"] if s["id"] == "verify")
    assert "10,000 rows in 3 tables" in verify["messages"][-1]

    after = pg_fingerprint(port)
    kept = after.pop("public.created_after_the_backup")
    assert after == before
    assert kept.startswith("2:")

    safety = document["safety_copy"]
    listing = json_out(
        alfred("backups", "list", "postgres", "--profile", str(profile), "-o", "json"),
        "backups.v1.schema.json",
    )["backups"]
    entry = next(b for b in listing if b["id"] == safety)
    assert entry["safety_copy"] and entry["safety_for"] == f"restore of {backup['id']}"
    held = {c["name"]: c["count"] for c in entry["manifest"]["contents"]}
    assert held["public.agent_runs"] == 4000 and "auth.users" not in held


def test_table_output_prints_each_step(deployment: LocalDeployment) -> None:
    (backup,) = take(deployment.profile_path, "postgres")
    result = alfred(
        "restore", "postgres", backup["id"], "--yes", "-p", str(deployment.profile_path)
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    headers = [line for line in lines if line.startswith("[")]
    assert headers == [
        "[1/7] Backup", "[2/7] Pre-flight", "[3/7] Plan", "[4/7] Confirmation",
        "[5/7] Safety copy", "[6/7] Restore", "[7/7] Verification",
    ]  # fmt: skip
    assert any("SHA-256 of 1 file(s) matches the manifest" in line for line in lines)
    assert any("versions compatible" in line for line in lines)


def test_a_flipped_byte_stops_the_restore_before_anything_changes(
    deployment: LocalDeployment,
) -> None:
    port, profile = deployment.postgres_port, deployment.profile_path
    psql(port, SCHEMA_SQL)
    (backup,) = take(profile, "postgres")
    psql(port, CHANGES_SQL)
    before = pg_fingerprint(port)
    ids_before = catalog_ids(profile)

    dump = Path(backup["folder"]) / "postgres.dump"
    data = bytearray(dump.read_bytes())
    data[len(data) // 2] ^= 0x01
    dump.write_bytes(bytes(data))

    code, document, _ = restore(profile, "postgres", backup["id"], "--yes")
    assert code == 2
    assert document["outcome"] == "preflight_failed"
    preflight = next(s for s in document["steps"] if s["id"] == "preflight")
    assert preflight["status"] == "failed"
    assert any("SHA-256 differs from the manifest" in m for m in preflight["messages"])
    assert all(s["status"] == "pending" for s in document["steps"][3:])
    assert pg_fingerprint(port) == before
    assert catalog_ids(profile) == ids_before  # no safety copy was even taken
    listing = json_out(
        alfred("backups", "list", "--profile", str(profile), "-o", "json"), "backups.v1.schema.json"
    )["backups"]
    check = next(b for b in listing if b["id"] == backup["id"])["last_check"]
    assert check["ok"] is False


def test_a_dump_the_engine_cannot_read_is_refused_even_with_a_matching_checksum(
    deployment: LocalDeployment,
) -> None:
    profile = deployment.profile_path
    (backup,) = take(profile, "postgres")
    folder = Path(backup["folder"])
    dump = folder / "postgres.dump"
    data = bytearray(dump.read_bytes())
    data[5] ^= 0xFF  # the archive's format version: pg_restore cannot read it any more
    dump.write_bytes(bytes(data))
    import hashlib

    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"][0]["sha256"] = hashlib.sha256(bytes(data)).hexdigest()
    (folder / "manifest.json").write_text(json.dumps(manifest))

    code, document, _ = restore(profile, "postgres", backup["id"], "--yes")
    assert code == 2 and document["outcome"] == "preflight_failed"
    preflight = next(s for s in document["steps"] if s["id"] == "preflight")
    assert any("pg_restore cannot read the dump" in m for m in preflight["messages"])


def test_read_only_mode_refuses_and_changes_nothing(deployment: LocalDeployment) -> None:
    port, profile = deployment.postgres_port, deployment.profile_path
    (backup,) = take(profile, "postgres")
    psql(
        port,
        "CREATE TABLE IF NOT EXISTS public.marker (a int); INSERT INTO public.marker VALUES (7)",
    )
    before = pg_fingerprint(port)
    ids = catalog_ids(profile)

    result = alfred("--readonly", "restore", "postgres", backup["id"], "--yes",
                    "--profile", str(profile), "--output", "json")  # fmt: skip
    assert result.returncode == 2
    document = json_out(result, "restore.v1.schema.json")
    assert document["outcome"] == "refused"
    confirm = next(s for s in document["steps"] if s["id"] == "confirm")
    assert confirm["status"] == "failed" and "read-only" in confirm["messages"][-1]
    assert pg_fingerprint(port) == before
    assert catalog_ids(profile) == ids


def test_without_yes_or_a_terminal_nothing_is_restored(deployment: LocalDeployment) -> None:
    profile = deployment.profile_path
    (backup,) = take(profile, "postgres")
    result = alfred("restore", "postgres", backup["id"], "--profile", str(profile), input="")
    assert result.returncode == 2
    assert "pass --yes" in result.stderr
    assert "not confirmed" in result.stdout


def test_unknown_backup_and_wrong_service_are_one_line_errors(deployment: LocalDeployment) -> None:
    profile = deployment.profile_path
    result = alfred("restore", "postgres", "postgres-19990101T000000Z", "--yes", "-p", str(profile))
    assert result.returncode == 2
    assert "no backup 'postgres-19990101T000000Z'" in result.stdout
    result = alfred("restore", "mysql", "x", "--yes", "-p", str(profile))
    assert result.returncode == 2 and "mysql" in result.stderr


def journal_step(journal: Path) -> str | None:
    """The step a restore journal names, or None while there is none."""
    try:
        return json.loads(journal.read_text())["step"]
    except (OSError, ValueError, KeyError):
        return None


def _restore_process(profile: Path, backup_id: str) -> subprocess.Popen[str]:
    import sys

    return subprocess.Popen(
        [str(Path(sys.executable).parent / "alfred-tui"), "restore", "postgres", backup_id,
         "--yes", "--profile", str(profile)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def test_a_killed_restore_is_found_next_time_and_rolled_back(
    deployment: LocalDeployment, isolated_dirs: Path
) -> None:
    port, profile = deployment.postgres_port, deployment.profile_path
    psql(port, SCHEMA_SQL)
    psql(
        port,
        "CREATE TABLE public.big AS SELECT i, md5(i::text) AS h FROM generate_series(1, 300000) i",
    )
    (backup,) = take(profile, "postgres")
    psql(port, CHANGES_SQL + "DELETE FROM public.big WHERE i % 2 = 0;")
    previous = pg_fingerprint(port)

    journal = Path(os.environ["ALFRED_TUI_STATE_DIR"]) / "restores" / "pg-backup" / "postgres.json"
    process = _restore_process(profile, backup["id"])

    kill_when(process, lambda: journal_step(journal) == "restore")
    time.sleep(0.5)
    leftover = subprocess.run(["pgrep", "-f", "pg_restore.*postgres.dump"], capture_output=True)
    assert leftover.returncode == 1, "pg_restore outlived the killed alfred-tui"

    code, document, _ = restore(profile, "postgres", backup["id"], "--yes")
    assert code == 2 and document["outcome"] == "interrupted_found"
    message = document["steps"][0]["messages"][-1]
    assert "--rollback" in message and "--resume" in message

    code, document, stderr = restore(profile, "postgres", "--rollback", "--yes")
    assert code == 0, (document, stderr)
    assert document["mode"] == "rollback" and document["outcome"] == "restored"
    assert next(s for s in document["steps"] if s["id"] == "safety_copy")["status"] == "skipped"
    assert pg_fingerprint(port) == previous
    assert not journal.exists()

    code, document, _ = restore(profile, "postgres", "--rollback", "--yes")
    assert code == 2 and "no unfinished restore" in document["steps"][0]["messages"][-1]


def test_resume_retries_the_interrupted_restore(deployment: LocalDeployment) -> None:
    port, profile = deployment.postgres_port, deployment.profile_path
    psql(port, SCHEMA_SQL)
    psql(
        port,
        "CREATE TABLE public.big AS SELECT i, md5(i::text) AS h FROM generate_series(1, 300000) i",
    )
    wanted = pg_fingerprint(port)
    (backup,) = take(profile, "postgres")
    psql(port, CHANGES_SQL)
    journal = Path(os.environ["ALFRED_TUI_STATE_DIR"]) / "restores" / "pg-backup" / "postgres.json"
    process = _restore_process(profile, backup["id"])
    kill_when(process, lambda: journal_step(journal) == "restore")

    code, document, stderr = restore(profile, "postgres", "--resume", "--yes")
    assert code == 0, (document, stderr)
    assert document["mode"] == "resume" and document["backup"] == backup["id"]
    safety = next(s for s in document["steps"] if s["id"] == "safety_copy")
    assert safety["status"] == "skipped" and "already taken" in safety["messages"][0]
    after = pg_fingerprint(port)
    after.pop("public.created_after_the_backup")  # not in the backup: kept, as the plan says
    assert after == wanted
