"""Where a pane's database is: the session backend's endpoint, as ``check`` resolves it.

The data panes reach PostgreSQL, Redis and Qdrant through the session's own
backend (a Kubernetes port-forward or a Docker host works as it does for the
overview), not through a second backend of their own. Database client
modules are imported in a thread on first use, so the UI's event loop never
stalls on a 100-200 ms import.
"""

from __future__ import annotations

import asyncio
import importlib
from typing import TYPE_CHECKING

from alfred_tui.errors import UsageError

if TYPE_CHECKING:
    from alfred_tui.backends.base import Endpoint
    from alfred_tui.control.session import Session
    from alfred_tui.databases.postgres import PostgresTarget
    from alfred_tui.databases.redis import RedisTarget


class ServiceNotInProfile(UsageError):
    """The pane's service is not enabled in the session's profile."""

    title = "Not in the profile"


async def import_in_thread(module: str) -> None:
    """Import ``module`` off the event loop (a no-op once imported)."""
    await asyncio.to_thread(importlib.import_module, module)


async def postgres_target(session: Session) -> PostgresTarget:
    """The profile's PostgreSQL at the backend's endpoint."""
    await import_in_thread("alfred_tui.databases.postgres")
    from alfred_tui.databases.postgres import PostgresTarget

    service = session.profile.postgres
    if service is None:
        raise ServiceNotInProfile(f"profile '{session.profile_name}' has no enabled postgres")
    endpoint = await session.backend.endpoint("postgres")
    if endpoint.embedded:
        raise UsageError("postgres has no network endpoint in this profile")
    return PostgresTarget.from_profile(service, endpoint)


async def redis_target(session: Session) -> RedisTarget:
    """The profile's Redis at the backend's endpoint."""
    await import_in_thread("alfred_tui.databases.redis")
    from alfred_tui.databases.redis import RedisTarget

    service = session.profile.redis
    if service is None:
        raise ServiceNotInProfile(f"profile '{session.profile_name}' has no enabled redis")
    endpoint = await session.backend.endpoint("redis")
    if endpoint.embedded:
        raise UsageError("redis has no network endpoint in this profile")
    return RedisTarget.from_profile(service, endpoint)


async def qdrant_endpoint(session: Session) -> Endpoint:
    """The profile's Qdrant: a server's address or an embedded store's folder."""
    if session.profile.qdrant is None:
        raise ServiceNotInProfile(f"profile '{session.profile_name}' has no enabled qdrant")
    return await session.backend.endpoint("qdrant")
