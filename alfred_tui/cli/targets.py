"""Resolve a profile's database targets for the data commands (migrate, schema, keyspace).

The connection target comes from the backend's endpoint, as ``check`` gets
it, so a Kubernetes port-forward or a Docker host works the same here. The
backend is closed when the block ends; an unreachable database becomes one
:class:`~alfred_tui.errors.AlfredError` line, never a traceback.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from alfred_tui.cli.common import open_backend
from alfred_tui.errors import AlfredError, UsageError

if TYPE_CHECKING:
    from alfred_tui.config.loader import LoadedProfile
    from alfred_tui.databases.postgres import PostgresTarget
    from alfred_tui.databases.redis import RedisTarget


class DatabaseUnreachable(AlfredError):
    """A database did not answer; the message says where and why."""

    title = "Database unreachable"


@contextlib.asynccontextmanager
async def postgres_target(
    loaded: LoadedProfile,
    backend: str | None,
    context: str | None = None,
    namespace: str | None = None,
    database: str | None = None,
) -> AsyncIterator[PostgresTarget]:
    """The profile's PostgreSQL target, optionally on another ``database``."""
    from alfred_tui.databases.postgres import PostgresTarget

    service = loaded.profile.postgres
    if service is None:
        raise UsageError(f"profile '{loaded.profile.name}' has no enabled postgres service")
    engine = open_backend(loaded, backend, context, namespace)
    try:
        endpoint = await engine.endpoint("postgres")
        if endpoint.embedded:
            raise UsageError("postgres has no network endpoint in this profile")
        target = PostgresTarget.from_profile(service, endpoint)
        yield dataclasses.replace(target, database=database) if database else target
    finally:
        await engine.close()


@contextlib.asynccontextmanager
async def redis_target(
    loaded: LoadedProfile,
    backend: str | None,
    context: str | None = None,
    namespace: str | None = None,
) -> AsyncIterator[RedisTarget]:
    """The profile's Redis target."""
    from alfred_tui.databases.redis import RedisTarget

    service = loaded.profile.redis
    if service is None:
        raise UsageError(f"profile '{loaded.profile.name}' has no enabled redis service")
    engine = open_backend(loaded, backend, context, namespace)
    try:
        endpoint = await engine.endpoint("redis")
        if endpoint.embedded:
            raise UsageError("redis has no network endpoint in this profile")
        yield RedisTarget.from_profile(service, endpoint)
    finally:
        await engine.close()
