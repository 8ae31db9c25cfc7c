"""Audit checks against the running servers: what the profile says is not always what runs.

Redis: whether a client *without* a password is served (a second, password-
less connection sends PING and expects NOAUTH), and ``CONFIG GET
protected-mode``; the password itself is never read back (``CONFIG GET
requirepass`` would return it in clear). PostgreSQL: ``SHOW ssl`` and the
``trust`` lines of ``pg_hba_file_rules`` (superuser only; a plain role gets
an "unknown" with the reason).

A server that cannot be reached leaves the check to the profile when the
profile alone shows the weakness, and marks it unknown otherwise.
"""

from __future__ import annotations

import contextlib
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Protocol

from alfred_tui.audit.model import CheckResult, Finding
from alfred_tui.audit.profile_checks import (
    check_postgres_profile,
    check_redis_profile,
    redis_auth_findings,
    redis_profile_password,
    ssl_finding,
)
from alfred_tui.config.loader import LoadedProfile
from alfred_tui.databases.failures import DatabaseUnavailable, describe_failure
from alfred_tui.errors import AlfredError
from alfred_tui.metrics import Verdict
from alfred_tui.redact import redact
from alfred_tui.troubleshoot.profile_yaml import service_yaml

if TYPE_CHECKING:
    from alfred_tui.backends.base import Backend

REDIS_TITLE = "Redis password and protected mode"
SSL_TITLE = "PostgreSQL TLS (ssl)"
TRUST_TITLE = "PostgreSQL trust authentication (pg_hba)"


async def audit_redis(loaded: LoadedProfile, backend: Backend, timeout: float) -> CheckResult:
    """Redis's password and protected mode, on the live server."""
    from alfred_tui.databases.redis import RedisClient, RedisTarget
    from alfred_tui.databases.redis_inspect import config_get

    profile_result = check_redis_profile(loaded)
    service = loaded.profile.redis
    if service is None:
        return profile_result
    try:
        endpoint = await backend.endpoint("redis")
    except AlfredError as exc:
        return _unreachable(profile_result, exc.one_line())
    target = RedisTarget.from_profile(service, endpoint)
    anonymous = RedisClient(
        RedisTarget(target.host, target.port, None), connect_timeout=timeout, query_timeout=timeout
    )
    client = RedisClient(target, connect_timeout=timeout, query_timeout=timeout)
    try:
        try:
            await anonymous.call("PING")
            password = False
        except DatabaseUnavailable as exc:
            if "auth" not in exc.reason.lower():
                return _unreachable(profile_result, exc.reason)
            password = True
        except Exception as exc:  # NOAUTH arrives as a ResponseError subclass
            if "noauth" not in str(exc).lower() and "auth" not in type(exc).__name__.lower():
                raise
            password = True
        protected_text = await config_get(client if password else anonymous, "protected-mode")
    except DatabaseUnavailable as exc:
        return _unreachable(profile_result, exc.reason)
    finally:
        for item in (anonymous, client):
            with contextlib.suppress(Exception):
                await item.close()
    protected = None if protected_text is None else protected_text.lower() != "no"
    findings = redis_auth_findings(
        loaded,
        password=password,
        protected=protected,
        source="live",
        where_text=f"live: {target.address}",
    )
    note = "" if protected is not None else "CONFIG is disabled: protected-mode not checked"
    if password and not redis_profile_password(service):
        note = "the server requires a password the profile does not set"
    return CheckResult(
        "redis-auth",
        REDIS_TITLE,
        "failed" if findings else "passed",
        "live",
        note,
        tuple(findings),
    )


def _unreachable(profile_result: CheckResult, reason: str) -> CheckResult:
    """The profile's verdict when it already shows a weakness; unknown otherwise."""
    note = f"live server not reached ({reason}); judged from the profile"
    if profile_result.findings:
        return replace(profile_result, note=note)
    return replace(
        profile_result, status="unknown", note=f"could not check the live server: {reason}"
    )


async def audit_postgres(
    loaded: LoadedProfile, backend: Backend, timeout: float
) -> tuple[CheckResult, CheckResult]:
    """(TLS, trust) checks on the live PostgreSQL."""
    from alfred_tui.databases.postgres import PostgresClient, PostgresTarget

    ssl_profile, trust_profile = check_postgres_profile(loaded)
    ssl_result = CheckResult(
        "postgres-ssl",
        SSL_TITLE,
        "failed" if ssl_profile else "passed",
        "profile",
        findings=tuple(ssl_profile),
    )
    trust_result = CheckResult(
        "postgres-trust",
        TRUST_TITLE,
        "failed" if trust_profile else "passed",
        "profile",
        findings=tuple(trust_profile),
    )
    service = loaded.profile.postgres
    if service is None:
        return ssl_result, trust_result
    try:
        endpoint = await backend.endpoint("postgres")
        client = PostgresClient(
            PostgresTarget.from_profile(service, endpoint),
            connect_timeout=timeout,
            query_timeout=timeout,
        )
    except AlfredError as exc:
        return _unreachable(ssl_result, exc.one_line()), _unreachable(trust_result, exc.one_line())
    address = client.target.address
    try:
        ssl = (await client.fetch("SHOW ssl"))[0][0]
        try:
            rules = await client.fetch(
                "SELECT line_number, type, database, user_name, address, auth_method "
                "FROM pg_hba_file_rules WHERE auth_method = 'trust' AND error IS NULL "
                "ORDER BY line_number"
            )
            rules_error = ""
        except Exception as exc:
            if type(exc).__module__.startswith("asyncpg"):
                rules, rules_error = [], redact(str(exc).splitlines()[0])
            else:
                raise
    except DatabaseUnavailable as exc:
        return _unreachable(ssl_result, exc.reason), _unreachable(trust_result, exc.reason)
    except (TimeoutError, OSError) as exc:
        reason = describe_failure(
            exc, host=client.target.host, port=client.target.port, timeout=timeout
        )
        return _unreachable(ssl_result, reason), _unreachable(trust_result, reason)
    finally:
        with contextlib.suppress(Exception):
            await client.close()
    ssl_findings = [] if ssl == "on" else [ssl_finding(loaded, "live", f"live: {address}")]
    ssl_result = CheckResult(
        "postgres-ssl",
        SSL_TITLE,
        "failed" if ssl_findings else "passed",
        "live",
        findings=tuple(ssl_findings),
    )
    if rules_error:
        trust_result = replace(
            trust_result,
            status="failed" if trust_profile else "unknown",
            note=f"pg_hba_file_rules not readable ({rules_error}); needs a superuser",
        )
        return ssl_result, trust_result
    trust_findings = list(trust_profile) + [_trust_finding(row, address) for row in rules]
    trust_result = CheckResult(
        "postgres-trust",
        TRUST_TITLE,
        "failed" if trust_findings else "passed",
        "live",
        findings=tuple(trust_findings),
    )
    return ssl_result, trust_result


class _Row(Protocol):
    """A row of pg_hba_file_rules by column name (an asyncpg Record)."""

    def __getitem__(self, column: str) -> Any: ...


def _trust_finding(row: _Row, address: str) -> Finding:
    line, kind = row["line_number"], row["type"]
    databases = ",".join(row["database"] or [])
    users = ",".join(row["user_name"] or [])
    source = row["address"] or ("Unix socket" if kind == "local" else "any address")
    local = kind == "local"
    return Finding(
        check="postgres-trust",
        severity=Verdict.WARNING if local else Verdict.CRITICAL,
        service="postgres",
        title=f"pg_hba.conf line {line} trusts {kind} connections from {source} "
        f"(databases {databases}, users {users}) without a password",
        why=(
            "Anyone who can open a connection that matches the line logs in as any role it "
            "names, superuser included."
            + (
                " It matches Unix-socket connections only: anyone with a shell in the "
                "container or on the host."
                if local
                else ""
            )
        ),
        fix=(
            f"Change 'trust' to 'scram-sha-256' on line {line} of pg_hba.conf and reload "
            "(SELECT pg_reload_conf()). A new cluster gets it from initdb's arguments in the "
            "profile."
        ),
        fix_yaml=service_yaml(
            "postgres",
            {
                "environment": {
                    "POSTGRES_HOST_AUTH_METHOD": "scram-sha-256",
                    "POSTGRES_INITDB_ARGS": "--auth-local=scram-sha-256 --auth-host=scram-sha-256",
                }
            },
        ),
        field="pg_hba.conf",
        where=f"live: {address}, pg_hba.conf line {line}",
        source="live",
    )
