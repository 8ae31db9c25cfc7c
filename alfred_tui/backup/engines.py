"""Which backup engine serves which database: :func:`open_engine`.

One engine per database (:mod:`.postgres`, :mod:`.redis`, :mod:`.qdrant`),
each a subclass of :class:`~alfred_tui.backup.engine.Engine`; this module is
the only one that knows all three, so the base module never imports them.
They are imported when first opened: each brings its database's client.
"""

from __future__ import annotations

from alfred_tui.backends.base import Backend
from alfred_tui.backends.endpoints import enabled_service
from alfred_tui.backup.engine import Engine, EngineContext
from alfred_tui.config.models import ServiceKind


async def open_engine(backend: Backend, service: ServiceKind) -> Engine:
    """The engine for ``service`` on ``backend``, at the backend's endpoint."""
    spec = enabled_service(backend.profile, service)
    context = EngineContext(backend, service, spec, await backend.endpoint(service))
    if service == "postgres":
        from alfred_tui.backup.postgres import PostgresEngine

        return PostgresEngine(context)
    if service == "redis":
        from alfred_tui.backup.redis import RedisEngine

        return RedisEngine(context)
    from alfred_tui.backup.qdrant import QdrantEngine

    return QdrantEngine(context)
