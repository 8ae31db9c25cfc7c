"""Replication per instance: each server's own view, put together into one row per instance.

Every instance is read through its own endpoint (the engine's
:class:`~alfred_tui.backends.capabilities.InstanceAddressing`): the primary
says which standbys stream from it and how far behind each is, a replica
says whether it streams, from where, and what it has replayed. A row joins
the two: lag from the primary's side when the primary lists the replica
(that side keeps counting while a replica is frozen or cut off), from the
replica's own side otherwise; a replica that does not answer still shows
the lag the primary sees. Which instance is the primary is what the servers
say (``pg_is_in_recovery()``, Redis's ``role``), not what the engine
labelled it: after a failover the two differ until the engine catches up.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from alfred_tui.config.models import Profile, ServiceKind

if TYPE_CHECKING:
    from alfred_tui.backends.base import Endpoint
    from alfred_tui.databases.pg_replication import PostgresReplication, Standby
    from alfred_tui.databases.redis_replication import RedisReplication


@dataclass(frozen=True)
class InstanceReplication:
    """One instance's part in replication, for a row of the overview and ``status`` JSON."""

    instance: str
    role: str
    """``primary``, ``replica``, or empty when the instance could not be read."""
    state: str
    """``primary``, ``streaming``, ``catchup``, ``not streaming`` or ``not answering``."""
    lag_seconds: float | None = None
    lag_bytes: int | None = None
    link_up: bool | None = None
    """Whether it follows its primary (a replica's link; None for a primary)."""
    upstream: str = ""
    """Where it streams from, as the replica names it (``host:port``)."""
    replicas: int = 0
    """Replicas the primary lists (0 for a replica)."""
    reason: str = ""
    """Why it does not stream or answer, in a few words."""
    view: dict[str, Any] | None = None
    """The server's own replication view (``to_json``), None when it did not answer."""

    @property
    def healthy(self) -> bool:
        """A primary, or a replica that streams."""
        return self.state in ("primary", "streaming")

    def to_json(self) -> dict[str, Any]:
        """Plain data."""
        return {
            "instance": self.instance,
            "role": self.role or None,
            "state": self.state,
            "lag_seconds": self.lag_seconds,
            "lag_bytes": self.lag_bytes,
            "link_up": self.link_up,
            "upstream": self.upstream or None,
            "replicas": self.replicas,
            "reason": self.reason or None,
            "view": self.view,
        }


View = Any
"""A server's replication view, or the one-line reason it could not be read (a ``str``)."""


def _standby_rows(primary: PostgresReplication, replicas: list[str]) -> dict[str, Standby]:
    """The primary's row of each replica: by application_name (alfred-tui names its
    replicas after their instance), else the one anonymous row left for the one
    replica left (a replica made without a name is ``walreceiver``)."""
    rows = {s.name: s for s in primary.standbys if s.name in replicas}
    anonymous = [s for s in primary.standbys if s.name not in replicas]
    unnamed = [name for name in replicas if name not in rows]
    if len(anonymous) == 1 and len(unnamed) == 1:
        rows[unnamed[0]] = anonymous[0]
    return rows


def postgres_instances(views: dict[str, View]) -> dict[str, InstanceReplication]:
    """One row per PostgreSQL instance from each one's view (see the module)."""
    from alfred_tui.databases.pg_replication import lsn_number

    primaries = {n: v for n, v in views.items() if not isinstance(v, str) and not v.in_recovery}
    primary = next(iter(primaries.values()), None)
    others = [name for name in views if name not in primaries]
    standby_rows = _standby_rows(primary, others) if primary is not None else {}
    rows: dict[str, InstanceReplication] = {}
    for name, view in views.items():
        if name in primaries:
            rows[name] = InstanceReplication(
                name,
                "primary",
                "primary",
                replicas=len(view.standbys),
                reason="" if len(primaries) == 1 else "more than one primary: split brain",
                view=view.to_json(),
            )
            continue
        row = standby_rows.get(name)
        if isinstance(view, str):
            rows[name] = InstanceReplication(
                name,
                "",
                "not answering",
                lag_seconds=row.lag_seconds if row else None,
                lag_bytes=row.lag_bytes if row else None,
                reason=view,
            )
            continue
        why = view.not_streaming()
        own_seconds, _ = view.standby_lag()
        lag_bytes = row.lag_bytes if row else None
        if lag_bytes is None and primary is not None:
            head, replayed = lsn_number(primary.current_lsn), lsn_number(view.replay_lsn)
            if head is not None and replayed is not None:
                lag_bytes = max(0, head - replayed)
        state = "not streaming" if why else (row.state if row else "streaming")
        receiver = view.receiver
        rows[name] = InstanceReplication(
            name,
            "replica",
            state,
            lag_seconds=row.lag_seconds if row else own_seconds,
            lag_bytes=lag_bytes,
            link_up=not why,
            upstream=(
                f"{receiver.sender_host}:{receiver.sender_port}"
                if receiver and receiver.sender_host
                else ""
            ),
            reason=why,
            view=view.to_json(),
        )
    return rows


def redis_instances(views: dict[str, View]) -> dict[str, InstanceReplication]:
    """One row per Redis instance from each one's ``INFO replication``."""
    masters = {n: v for n, v in views.items() if not isinstance(v, str) and not v.is_replica}
    master = next(iter(masters.values()), None)
    rows: dict[str, InstanceReplication] = {}
    for name, view in views.items():
        if isinstance(view, str):
            rows[name] = InstanceReplication(name, "", "not answering", reason=view)
        elif name in masters:
            rows[name] = InstanceReplication(
                name,
                "primary",
                "primary",
                replicas=len(view.replicas),
                reason="" if len(masters) == 1 else "more than one master: split brain",
                view=view.to_json(),
            )
        else:
            why = view.not_streaming()
            lag = None if master is None else max(0, master.offset - view.offset)
            rows[name] = InstanceReplication(
                name,
                "replica",
                "not streaming" if why else "streaming",
                lag_bytes=lag,
                link_up=bool(view.link_up),
                upstream=f"{view.master_host}:{view.master_port}",
                reason=why,
                view=view.to_json(),
            )
    return rows


class InstanceProbe:
    """One instance's connection, kept open between polls, reading its replication view."""

    def __init__(
        self, kind: ServiceKind, profile: Profile, endpoint: Endpoint, timeout: float
    ) -> None:
        self.kind = kind
        self.endpoint = endpoint
        self.client: Any
        if kind == "postgres":
            from alfred_tui.databases.postgres import PostgresClient, PostgresTarget

            assert profile.postgres is not None
            self.client = PostgresClient(
                PostgresTarget.from_profile(profile.postgres, endpoint),
                connect_timeout=timeout,
                query_timeout=timeout,
                application_name="alfred-tui replication",
            )
        elif kind == "redis":
            from alfred_tui.databases.redis import RedisClient, RedisTarget

            assert profile.redis is not None
            self.client = RedisClient(
                RedisTarget.from_profile(profile.redis, endpoint),
                connect_timeout=timeout,
                query_timeout=timeout,
            )
        else:
            raise ValueError(f"{kind} has no per-instance replication view")

    async def read(self) -> PostgresReplication | RedisReplication:
        """The server's view (raises ``DatabaseUnavailable`` with the reason)."""
        view: PostgresReplication | RedisReplication = await self.client.replication()
        return view

    async def close(self) -> None:
        """Close the connection."""
        with contextlib.suppress(Exception):
            await self.client.close()


#: Services whose instances replicate (Qdrant's cluster is read per service).
REPLICATED: tuple[ServiceKind, ...] = ("postgres", "redis")


def compose(kind: ServiceKind, views: dict[str, View]) -> dict[str, InstanceReplication]:
    """The rows of ``kind`` from its instances' views."""
    return postgres_instances(views) if kind == "postgres" else redis_instances(views)


async def read_view(kind: ServiceKind, profile: Profile, endpoint: Endpoint, timeout: float) -> Any:
    """One instance's replication view on a fresh connection, or why it could not be read."""
    import asyncio

    from alfred_tui.databases.failures import DatabaseUnavailable

    probe = InstanceProbe(kind, profile, endpoint, timeout)
    try:
        async with asyncio.timeout(timeout * 2):
            return await probe.read()
    except TimeoutError:
        return f"timeout after {timeout:g} s ({endpoint.address()})"
    except DatabaseUnavailable as exc:
        return exc.reason
    finally:
        await probe.close()


async def read_views(
    kind: ServiceKind, profile: Profile, endpoints: dict[str, Endpoint], timeout: float
) -> dict[str, View]:
    """Every instance's view at once (see :func:`read_view`)."""
    import asyncio

    views = await asyncio.gather(
        *(read_view(kind, profile, e, timeout) for e in endpoints.values())
    )
    return dict(zip(endpoints, views, strict=True))
