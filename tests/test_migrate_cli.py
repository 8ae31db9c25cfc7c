"""``alfred-tui migrate status|up`` and ``schema`` as a user runs them (subprocesses)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from conftest import ProfileWriter, run_cli
from servers import PgServer, free_port

from alfred_tui.paths import assets_dir

SCHEMAS = assets_dir() / "schemas"


def validate(document: dict, name: str) -> None:  # type: ignore[type-arg]
    schema = json.loads((SCHEMAS / f"{name}.v1.schema.json").read_text())
    jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    ).validate(document)


@pytest.fixture
def db_profile(write_profile: ProfileWriter, pg: PgServer, fresh_database: str) -> Path:
    """A profile on the session's PostgreSQL, on a fresh database, with one extra folder."""
    extra = write_profile("", name="placeholder").parent / "extra"
    extra.mkdir()
    (extra / "0100_app.sql").write_text("SELECT pg_sleep(0.5);\nCREATE TABLE app_things (x int);\n")
    return write_profile(
        f"""
        extends: local
        services:
          postgres:
            ports: ["127.0.0.1:{pg.port}:5432"]
            environment:
              POSTGRES_PASSWORD: {pg.password}
              POSTGRES_DB: {fresh_database}
        migrations:
          folders: [extra]
        """,
        name="db",
    )


def test_status_up_status_as_json(db_profile: Path, pg: PgServer, fresh_database: str) -> None:
    status = run_cli("migrate", "status", "--profile", str(db_profile), "--output", "json")
    assert status.returncode == 0, status.stderr
    document = json.loads(status.stdout)
    validate(document, "migrate-status")
    assert document["counts"] == {"applied": 0, "pending": 8, "drifted": 0, "missing": 0}
    assert document["migrations"][-1]["name"] == "0100_app"
    assert document["migrations"][-1]["source"] == "extra"  # relative to the profile file
    assert document["database"] == fresh_database

    up = run_cli("migrate", "up", "--yes", "--profile", str(db_profile), "--output", "json")
    assert up.returncode == 0, up.stderr
    document = json.loads(up.stdout)
    validate(document, "migrate-up")
    assert document["ok"] and len(document["applied"]) == 8
    assert "apply 0001_extensions (1/8)" in up.stderr  # progress on stderr

    table = run_cli("migrate", "status", "--profile", str(db_profile))
    assert table.returncode == 0
    assert "8 applied, 0 pending, 0 drifted, 0 missing" in table.stdout
    assert pg.psql("SELECT name FROM migrations ORDER BY id DESC LIMIT 1", fresh_database) == (
        "0100_app"
    )


def test_two_processes_at_once_apply_each_migration_once(
    db_profile: Path, pg: PgServer, fresh_database: str
) -> None:
    executable = shutil.which("alfred-tui", path=str(Path(sys.executable).parent))
    assert executable
    argv = [executable, "migrate", "up", "--yes", "--profile", str(db_profile), "--output", "json"]
    processes = [
        subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [process.communicate(timeout=120) for process in processes]
    assert [process.returncode for process in processes] == [0, 0], outputs
    documents = [json.loads(stdout) for stdout, _ in outputs]
    for document in documents:
        validate(document, "migrate-up")
    applied = [item["name"] for document in documents for item in document["applied"]]
    assert len(applied) == len(set(applied)) == 8
    count = pg.psql("SELECT count(*), count(DISTINCT name) FROM migrations", fresh_database)
    assert count == "8|8"


def test_failed_migration_exits_2_with_one_line_naming_file_and_line(
    db_profile: Path, pg: PgServer, fresh_database: str
) -> None:
    (db_profile.parent / "extra" / "0101_broken.sql").write_text(
        "CREATE TABLE gone (x int);\n\nALTER TABLE gone ADD COLUMN y nosuchtype;\n"
    )
    result = run_cli("migrate", "up", "--yes", "--profile", str(db_profile), "--output", "json")
    assert result.returncode == 2
    document = json.loads(result.stdout)
    validate(document, "migrate-up")
    assert not document["ok"]
    assert document["failure"]["line"] == 3 and document["failure"]["sqlstate"] == "42704"
    errors = [line for line in result.stderr.splitlines() if line.startswith("Migration failed")]
    assert errors == [
        'Migration failed: 0101_broken.sql:3:31: type "nosuchtype" does not exist [42704]; '
        "rolled back; 8 earlier migrations kept"
    ]
    assert "Traceback" not in result.stderr
    assert pg.psql("SELECT to_regclass('public.gone') IS NULL", fresh_database) == "t"


def test_drift_makes_up_exit_2_and_status_shows_it(db_profile: Path) -> None:
    assert run_cli("migrate", "up", "--yes", "--profile", str(db_profile)).returncode == 0
    app = db_profile.parent / "extra" / "0100_app.sql"
    app.write_text(app.read_text() + "-- edited\n")
    status = run_cli("migrate", "status", "--profile", str(db_profile), "--output", "json")
    document = json.loads(status.stdout)
    validate(document, "migrate-status")
    assert [m["name"] for m in document["migrations"] if m["state"] == "drifted"] == ["0100_app"]
    up = run_cli("migrate", "up", "--yes", "--profile", str(db_profile))
    assert up.returncode == 2
    assert up.stderr.startswith("Migration drift: applied migration changed on disk: 0100_app")


def test_up_without_yes_lists_what_is_pending_and_applies_nothing(
    db_profile: Path, pg: PgServer, fresh_database: str
) -> None:
    result = run_cli("migrate", "up", "--profile", str(db_profile))  # stdin is no terminal
    assert result.returncode == 2
    assert "apply 8 pending migration(s) to database" in result.stderr
    assert "  0100_app (extra)" in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("Confirmation needed: migrate up")
    assert pg.psql("SELECT to_regclass('public.migrations') IS NULL", fresh_database) == "t"


def test_readonly_refuses_up(db_profile: Path) -> None:
    result = run_cli("--readonly", "migrate", "up", "--yes", "--profile", str(db_profile))
    assert result.returncode == 2
    assert "read-only mode" in result.stderr


def test_missing_profile_folder_names_the_profile_line(
    write_profile: ProfileWriter, pg: PgServer
) -> None:
    path = write_profile(
        f"""
        extends: local
        services:
          postgres:
            ports: ["127.0.0.1:{pg.port}:5432"]
        migrations:
          folders:
            - does-not-exist
        """,
        name="bad",
    )
    result = run_cli("migrate", "status", "--profile", str(path))
    assert result.returncode == 2
    assert "bad.yaml:8: migrations.folders[0]: folder does-not-exist does not exist" in (
        result.stderr
    )


def test_unreachable_database_is_one_line(write_profile: ProfileWriter) -> None:
    path = write_profile(
        f"""
        extends: local
        services:
          postgres:
            ports: ["127.0.0.1:{free_port()}:5432"]
        """,
        name="down",
    )
    for command in (["migrate", "status"], ["schema"]):
        result = run_cli(*command, "--profile", str(path), "--timeout", "2")
        assert result.returncode == 2
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "connection refused" in lines[0], lines


def test_schema_view_lists_schemas_and_tables_by_size(
    db_profile: Path, pg: PgServer, fresh_database: str
) -> None:
    assert run_cli("migrate", "up", "--yes", "--profile", str(db_profile)).returncode == 0
    pg.psql(
        "INSERT INTO tasks (task_id, intent, content) SELECT 'task-' || g, 'x', "
        "jsonb_build_object('pad', repeat('x', 500)) FROM generate_series(1, 2000) g; "
        "ANALYZE tasks;",
        fresh_database,
    )
    result = run_cli("schema", "--profile", str(db_profile), "--output", "json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    validate(document, "schema")
    assert {"auth", "extensions", "model_registry", "public", "storage"} <= {
        s["name"] for s in document["schemas"]
    }
    tasks = document["tables"][0]
    assert (tasks["schema"], tasks["name"]) == ("public", "tasks")  # the largest
    assert tasks["rows_estimate"] == 2000 and tasks["rows_source"] == "planner"
    assert tasks["total_bytes"] >= 1_000_000 and tasks["last_analyzed"]
    assert document["size_bytes"] > tasks["total_bytes"]

    limited = run_cli(
        "schema", "--profile", str(db_profile), "-s", "model_registry", "-n", "2", "-o", "json"
    )
    document = json.loads(limited.stdout)
    assert [s["name"] for s in document["schemas"]] == ["model_registry"]
    assert len(document["tables"]) == 2 and document["tables_total"] == 3

    table = run_cli("schema", "--profile", str(db_profile))
    assert "public.tasks" in table.stdout and "2,000" in table.stdout

    unknown = run_cli("schema", "--profile", str(db_profile), "--schema", "nope")
    assert unknown.returncode == 2
    assert unknown.stderr.startswith("Usage error: no schema nope in database")
