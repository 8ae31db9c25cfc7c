"""The Audit pane driven by Pilot: a deliberately weak setup lists every planted weakness.

A ``policy: production`` profile this weak does not load at all (the UI
refuses it before the screen changes; ``alfred-tui audit`` reads it), so the
profile here is a development one. The weaknesses are real: a PostgreSQL
with ``trust`` lines in pg_hba.conf and ssl off, a Redis without a password
and with protected mode off, and a profile with default and empty secrets,
public ports, unpinned images and no Qdrant API key. Servers that do not
answer leave their live checks unknown instead of breaking the pane.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator

import pytest
from servers import PgServer, RedisServer, free_port, postgres_server, redis_server
from ui_helpers import fast_app, key_of, static_text, wait_for

from alfred_tui.screens.audit import AuditPane
from alfred_tui.widgets.audit_view import ChecksTable, FindingsTable

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def weak_pg() -> Iterator[PgServer]:
    """ssl off, and pg_hba.conf with a trust line for a network and one for the socket."""
    with postgres_server() as server:
        with open(server.data_dir / "pg_hba.conf", "a") as hba:
            hba.write("host all all 10.0.0.0/8 trust\nlocal all all trust\n")
        server.psql("SELECT pg_reload_conf()")
        yield server


@pytest.fixture(scope="module")
def weak_redis() -> Iterator[RedisServer]:
    with redis_server("--protected-mode", "no") as server:
        yield server


def weak_profile(pg_port: int, password: str, redis_port: int) -> str:
    return textwrap.dedent(
        f"""\
        extends: local
        services:
          postgres:
            image: supabase/postgres:latest
            ports: ["0.0.0.0:{pg_port}:5432"]
            environment:
              POSTGRES_PASSWORD: {password}
              JWT_SECRET: your-super-secret-jwt-token
              SERVICE_API_TOKEN: ""
              POSTGRES_HOST_AUTH_METHOD: trust
          redis:
            ports: ["0.0.0.0:{redis_port}:6379"]
            command: [redis-server, --appendonly, "yes", --protected-mode, "no"]
          qdrant:
            image: qdrant/qdrant
        """
    )


def audit(app) -> AuditPane:  # type: ignore[no-untyped-def]
    pane = app._panes["audit"]
    assert isinstance(pane, AuditPane)
    return pane


async def open_audit(pilot, app) -> AuditPane:  # type: ignore[no-untyped-def]
    await pilot.press(key_of("audit"))
    await wait_for(pilot, lambda: app.current_mode == "audit", what="the audit pane")
    pane = audit(app)
    await wait_for(pilot, lambda: pane.report is not None, timeout=60, what="the audit")
    return pane


async def test_weak_profile_lists_every_planted_weakness_with_its_fix(
    write_profile, weak_pg: PgServer, weak_redis: RedisServer
) -> None:
    path = write_profile(weak_profile(weak_pg.port, weak_pg.password, weak_redis.port), "weak")
    app = fast_app(path)
    async with app.run_test(size=(160, 48)) as pilot:
        pane = await open_audit(pilot, app)
        table = pane.query_one(FindingsTable)
        found = {(f.check, f.source) for f in table.findings.values()}
        titles = "\n".join(f.title for f in table.findings.values())
        planted = {
            ("default-secret", "profile"),  # JWT_SECRET at the spec's default
            ("empty-secret", "profile"),  # SERVICE_API_TOKEN ""
            ("public-port", "profile"),  # postgres and redis on 0.0.0.0
            ("unpinned-image", "profile"),  # :latest, and no tag
            ("qdrant-api-key", "profile"),
            ("redis-auth", "live"),  # a password-less client is served
            ("redis-protected-mode", "live"),
            ("postgres-ssl", "live"),  # SHOW ssl
            ("postgres-trust", "profile"),  # POSTGRES_HOST_AUTH_METHOD
            ("postgres-trust", "live"),  # pg_hba lines
        }
        assert planted <= found, f"missing {planted - found}; found:\n{titles}"
        assert "JWT_SECRET" in titles and "SERVICE_API_TOKEN" in titles
        assert "10.0.0.0" in titles
        # Every row is shown (critical first), and the rows say what is wrong.
        assert len(table.visible_keys) == len(table.findings) == 13  # one per planted weakness
        first = table.findings[table.visible_keys[0]]
        assert first.severity.name == "CRITICAL"
        summary = str(pane.query_one("#audit-summary").render())
        assert summary.lstrip().startswith("CRITICAL") and "policy development" in summary
        assert "live checks 3/3" in summary

        # The finding under the cursor in full: why, how to fix, YAML, where.
        key = next(k for k, f in table.findings.items() if "JWT_SECRET" in f.title)
        table.move_cursor(row=table.visible_keys.index(key))
        await wait_for(pilot, lambda: "JWT_SECRET" in static_text(pane.query_one("#finding-body")))
        detail = static_text(pane.query_one("#finding-body"))
        assert "Why it matters" in detail and "How to fix it" in detail
        assert "JWT_SECRET: ${DB_JWT_SECRET}" in detail
        assert f"{path.name}:" in detail  # file:line of the field
        assert "your-super-secret-jwt-token" not in detail  # never a secret's value

        # c shows the checks; on a tall terminal they are there anyway.
        checks = pane.query_one(ChecksTable)
        assert "failed" in checks.row_text("redis-auth")
        await pilot.press("c")
        assert pane.has_class("-checks") and checks.has_focus
        await pilot.press("c")
        assert not pane.has_class("-checks")


async def test_servers_that_do_not_answer_leave_live_checks_unknown(write_profile) -> None:
    text = textwrap.dedent(
        f"""\
        extends: local
        services:
          postgres:
            ports: ["127.0.0.1:{free_port()}:5432"]
            environment:
              POSTGRES_PASSWORD: whatever-1234
          redis:
            ports: ["127.0.0.1:{free_port()}:6379"]
        """
    )
    path = write_profile(text, "gone")
    app = fast_app(path)
    async with app.run_test(size=(80, 24)) as pilot:
        pane = await open_audit(pilot, app)
        checks = pane.query_one(ChecksTable)
        rows = {key: checks.row_text(key) for key in checks.visible_keys}
        # pg_hba can only be read on the live server: unknown, with the reason.
        assert " unknown " in rows["postgres-trust"]
        assert "connection refused" in rows["postgres-trust"]
        # Where the profile alone shows the weakness, it is judged from the profile.
        assert (
            "failed" in rows["postgres-ssl"] and "judged from the profile" in rows["postgres-ssl"]
        )
        summary = str(pane.query_one("#audit-summary").render())
        assert "not checked" in summary
        # The profile alone still shows its weaknesses.
        found = {f.check for f in pane.query_one(FindingsTable).findings.values()}
        assert {"default-secret", "redis-auth"} <= found
        # r audits again, in a worker; the pane stays usable.
        await pilot.press("r")
        await wait_for(pilot, lambda: not pane.running, timeout=60)
        await pilot.press("1")
        await wait_for(pilot, lambda: app.current_mode == "overview")
