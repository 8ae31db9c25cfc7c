"""PostgreSQL streaming replication as one server sees it, read in the probe's round trip.

A primary knows its standbys (``pg_stat_replication``: state, sync state,
the four LSNs, the three lag intervals, when each last replied) and its
replication slots with the WAL each one holds back; a standby knows whether
it is in recovery, its WAL receiver (streaming or not, from where, when it
last heard from the primary) and how far its replay trails what it received.
:data:`REPLICATION_COLUMNS` reads all of it as extra columns of the probe's
query, so the replication view costs no extra round trip.

Lag, as :func:`standby_lag_seconds` defines it, must grow when a standby
stops answering: the lag intervals PostgreSQL reports keep their last value
when a standby goes silent (they are measured from the standby's replies),
so a standby that is behind and has not replied for a while is as late as
its silence. The rules are written down there and in docs/replication.md.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

#: Extra columns of the probe's query (``SELECT <sample columns>, <these>``).
#: ``json_agg`` keeps one row whatever the number of standbys and slots.
REPLICATION_COLUMNS = """
  CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_current_wal_lsn()::text END AS current_lsn,
  pg_last_wal_receive_lsn()::text AS receive_lsn,
  pg_last_wal_replay_lsn()::text AS replay_lsn,
  CASE WHEN pg_is_in_recovery() THEN
    CASE WHEN pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn() THEN 0
         ELSE extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp()) END
  END AS replay_delay_seconds,
  extract(epoch FROM pg_last_xact_replay_timestamp()) AS last_replay_at,
  CASE WHEN pg_is_in_recovery() THEN pg_is_wal_replay_paused() END AS replay_paused,
  (SELECT coalesce(json_agg(json_build_object(
      'name', r.application_name,
      'client', coalesce(host(r.client_addr), 'local'),
      'state', r.state,
      'sync_state', r.sync_state,
      'sent_lsn', r.sent_lsn::text,
      'write_lsn', r.write_lsn::text,
      'flush_lsn', r.flush_lsn::text,
      'replay_lsn', r.replay_lsn::text,
      'write_lag', extract(epoch FROM r.write_lag),
      'flush_lag', extract(epoch FROM r.flush_lag),
      'replay_lag', extract(epoch FROM r.replay_lag),
      'lag_bytes', CASE WHEN pg_is_in_recovery() THEN NULL
                        ELSE pg_wal_lsn_diff(pg_current_wal_lsn(), r.replay_lsn) END,
      'reply_age', extract(epoch FROM clock_timestamp() - r.reply_time)
    ) ORDER BY r.application_name, r.client_addr), '[]'::json)
   FROM pg_stat_replication r) AS standbys,
  (SELECT coalesce(json_agg(json_build_object(
      'name', s.slot_name,
      'type', s.slot_type,
      'active', s.active,
      'wal_status', s.wal_status,
      'retained_bytes', pg_wal_lsn_diff(
          CASE WHEN pg_is_in_recovery() THEN pg_last_wal_receive_lsn()
               ELSE pg_current_wal_lsn() END, s.restart_lsn)
    ) ORDER BY s.slot_name), '[]'::json)
   FROM pg_replication_slots s) AS slots,
  (SELECT json_build_object(
      'status', w.status,
      'sender_host', w.sender_host,
      'sender_port', w.sender_port,
      'slot', w.slot_name,
      'last_message_age', extract(epoch FROM clock_timestamp() - w.last_msg_receipt_time)
    ) FROM pg_stat_wal_receiver w LIMIT 1) AS receiver
"""


def lsn_number(lsn: str | None) -> int | None:
    """``16/B374D848`` as a byte position (None stays None)."""
    if not lsn:
        return None
    high, _, low = lsn.partition("/")
    try:
        return (int(high, 16) << 32) + int(low, 16)
    except ValueError:
        return None


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


@dataclass(frozen=True)
class Standby:
    """One standby streaming from this primary: a row of ``pg_stat_replication``."""

    name: str
    """``application_name`` (alfred-tui's replicas use their instance name)."""
    client: str
    """The standby's address as the primary sees it, or ``local``."""
    state: str
    """``startup``, ``catchup``, ``streaming``, ``backup`` or ``stopping``."""
    sync_state: str
    sent_lsn: str | None
    write_lsn: str | None
    flush_lsn: str | None
    replay_lsn: str | None
    write_lag: float | None
    flush_lag: float | None
    replay_lag: float | None
    """Seconds, as PostgreSQL measured them at the standby's last reply."""
    lag_bytes: int | None
    """WAL the primary has written that the standby has not replayed."""
    reply_age: float | None
    """Seconds since the standby last replied."""

    @property
    def lag_seconds(self) -> float | None:
        """How late the standby is, in seconds (see :func:`standby_lag_seconds`)."""
        return standby_lag_seconds(self.replay_lag, self.lag_bytes, self.reply_age)

    def to_json(self) -> dict[str, Any]:
        """Plain data, with the derived lag."""
        return {
            "name": self.name,
            "client": self.client,
            "state": self.state,
            "sync_state": self.sync_state,
            "sent_lsn": self.sent_lsn,
            "write_lsn": self.write_lsn,
            "flush_lsn": self.flush_lsn,
            "replay_lsn": self.replay_lsn,
            "write_lag_seconds": self.write_lag,
            "flush_lag_seconds": self.flush_lag,
            "replay_lag_seconds": self.replay_lag,
            "lag_seconds": self.lag_seconds,
            "lag_bytes": self.lag_bytes,
            "reply_age_seconds": self.reply_age,
        }


def standby_lag_seconds(
    replay_lag: float | None, lag_bytes: int | None, reply_age: float | None
) -> float | None:
    """A standby's lag in seconds, growing while it is behind and silent.

    PostgreSQL's ``replay_lag`` is measured from the standby's replies, so a
    standby that stopped replying (paused, cut off, overloaded) keeps its
    last, small value. When the standby is behind (``lag_bytes > 0``) it is
    at least as late as the time since its last reply; when it has replayed
    everything, it is not late at all, however long ago it replied (an idle
    standby replies only every ``wal_receiver_status_interval``).
    """
    if lag_bytes is not None and lag_bytes <= 0:
        return 0.0
    if lag_bytes is None:
        return replay_lag
    return max(0.0, replay_lag or 0.0, reply_age or 0.0)


@dataclass(frozen=True)
class Slot:
    """A replication slot and the WAL it keeps the server from recycling."""

    name: str
    type: str
    active: bool
    wal_status: str | None
    """``reserved``, ``extended``, ``unreserved`` or ``lost``."""
    retained_bytes: int | None

    def to_json(self) -> dict[str, Any]:
        """Plain data."""
        return {
            "name": self.name,
            "type": self.type,
            "active": self.active,
            "wal_status": self.wal_status,
            "retained_bytes": self.retained_bytes,
        }


@dataclass(frozen=True)
class WalReceiver:
    """A standby's WAL receiver: whether it streams, and from where."""

    status: str
    """``streaming``, ``starting``, ``waiting``, ``restarting``, ``stopping``..."""
    sender_host: str | None
    sender_port: int | None
    slot: str | None
    last_message_age: float | None
    """Seconds since the primary last sent anything (data or keepalive)."""

    def to_json(self) -> dict[str, Any]:
        """Plain data."""
        return {
            "status": self.status,
            "sender_host": self.sender_host,
            "sender_port": self.sender_port,
            "slot": self.slot,
            "last_message_age_seconds": self.last_message_age,
        }


@dataclass(frozen=True)
class PostgresReplication:
    """Replication as one server sees it, primary or standby."""

    in_recovery: bool
    current_lsn: str | None
    """The primary's WAL insert position (None on a standby)."""
    receive_lsn: str | None
    replay_lsn: str | None
    replay_delay: float | None
    """A standby's replay delay in seconds: 0 when it replayed all it received."""
    last_replay_at: float | None
    """Unix time of the last transaction replayed (a standby)."""
    replay_paused: bool | None
    standbys: tuple[Standby, ...] = ()
    slots: tuple[Slot, ...] = ()
    receiver: WalReceiver | None = None

    @property
    def role(self) -> str:
        """``primary`` or ``replica``."""
        return "replica" if self.in_recovery else "primary"

    @property
    def position(self) -> int | None:
        """How far this server's WAL reaches (replayed, on a standby): failover's yardstick."""
        if not self.in_recovery:
            return lsn_number(self.current_lsn)
        return lsn_number(self.replay_lsn)

    @property
    def received(self) -> int | None:
        """The furthest WAL this standby received (it may replay more of it after promotion)."""
        return lsn_number(self.receive_lsn) or lsn_number(self.replay_lsn)

    def not_streaming(self) -> str:
        """Why a standby is not streaming, in a few words; empty when it streams (or is primary)."""
        if not self.in_recovery:
            return ""
        if self.replay_paused:
            return "WAL replay is paused (pg_wal_replay_resume() resumes it)"
        if self.receiver is None:
            return "no WAL receiver: the standby cannot reach its primary (see its log)"
        if self.receiver.status != "streaming":
            return f"WAL receiver is {self.receiver.status}"
        return ""

    def standby_lag(self) -> tuple[float | None, int | None]:
        """A standby's own lag (seconds, bytes): replay behind what it received."""
        received, replayed = lsn_number(self.receive_lsn), lsn_number(self.replay_lsn)
        lag_bytes = None if received is None or replayed is None else max(0, received - replayed)
        return self.replay_delay, lag_bytes

    def worst_standby(self) -> Standby | None:
        """The standby furthest behind (by seconds, then bytes), if any."""
        if not self.standbys:
            return None
        return max(self.standbys, key=lambda s: (s.lag_seconds or 0.0, s.lag_bytes or 0))

    def to_json(self) -> dict[str, Any]:
        """Plain data for ``check``, ``status`` and ``overview`` JSON."""
        own_seconds, own_bytes = self.standby_lag() if self.in_recovery else (None, None)
        return {
            "role": self.role,
            "current_lsn": self.current_lsn,
            "receive_lsn": self.receive_lsn,
            "replay_lsn": self.replay_lsn,
            "replay_delay_seconds": own_seconds,
            "replay_lag_bytes": own_bytes,
            "last_replay_at": self.last_replay_at,
            "replay_paused": self.replay_paused,
            "not_streaming": self.not_streaming() or None,
            "standbys": [s.to_json() for s in self.standbys],
            "slots": [s.to_json() for s in self.slots],
            "receiver": None if self.receiver is None else self.receiver.to_json(),
        }


def _json(value: Any) -> Any:
    """asyncpg hands ``json`` columns over as text."""
    return json.loads(value) if isinstance(value, str) else value


def parse_replication(row: Any, in_recovery: bool) -> PostgresReplication:
    """The replication view from a row carrying :data:`REPLICATION_COLUMNS`."""
    standbys = tuple(
        Standby(
            name=str(item.get("name") or ""),
            client=str(item.get("client") or "local"),
            state=str(item.get("state") or ""),
            sync_state=str(item.get("sync_state") or ""),
            sent_lsn=item.get("sent_lsn"),
            write_lsn=item.get("write_lsn"),
            flush_lsn=item.get("flush_lsn"),
            replay_lsn=item.get("replay_lsn"),
            write_lag=_float(item.get("write_lag")),
            flush_lag=_float(item.get("flush_lag")),
            replay_lag=_float(item.get("replay_lag")),
            lag_bytes=None if item.get("lag_bytes") is None else int(item["lag_bytes"]),
            reply_age=_float(item.get("reply_age")),
        )
        for item in _json(row["standbys"]) or []
    )
    slots = tuple(
        Slot(
            name=str(item.get("name") or ""),
            type=str(item.get("type") or ""),
            active=bool(item.get("active")),
            wal_status=item.get("wal_status"),
            retained_bytes=(
                None if item.get("retained_bytes") is None else int(item["retained_bytes"])
            ),
        )
        for item in _json(row["slots"]) or []
    )
    raw_receiver = _json(row["receiver"])
    receiver = (
        None
        if not raw_receiver
        else WalReceiver(
            status=str(raw_receiver.get("status") or ""),
            sender_host=raw_receiver.get("sender_host"),
            sender_port=raw_receiver.get("sender_port"),
            slot=raw_receiver.get("slot"),
            last_message_age=_float(raw_receiver.get("last_message_age")),
        )
    )
    return PostgresReplication(
        in_recovery=in_recovery,
        current_lsn=row["current_lsn"],
        receive_lsn=row["receive_lsn"],
        replay_lsn=row["replay_lsn"],
        replay_delay=_float(row["replay_delay_seconds"]),
        last_replay_at=_float(row["last_replay_at"]),
        replay_paused=row["replay_paused"],
        standbys=standbys,
        slots=slots,
        receiver=receiver,
    )


def _bytes_text(value: int) -> str:
    from alfred_tui.units import format_bytes

    return format_bytes(value)


def replication_metrics(
    replication: PostgresReplication | None,
) -> dict[str, tuple[float | None, str]]:
    """``postgres_replication_lag_seconds`` and ``_bytes`` as this server sees them.

    On a primary: the standby furthest behind (the note names it). On a
    standby (a profile whose endpoint is one): its own replay behind what it
    received. Without standbys there is no lag to judge: not available, which
    never changes the verdict.
    """
    names = ("postgres_replication_lag_seconds", "postgres_replication_lag_bytes")
    if replication is None:
        return dict.fromkeys(names, (None, "replication not readable"))
    if replication.in_recovery:
        seconds, lag_bytes = replication.standby_lag()
        why = replication.not_streaming()
        note = f"this is a standby; {why}" if why else "this is a standby: replay behind receipt"
        return {
            names[0]: (seconds, note),
            names[1]: (None if lag_bytes is None else float(lag_bytes), note),
        }
    worst = replication.worst_standby()
    if worst is None:
        return dict.fromkeys(names, (None, "no standby streams from this primary"))
    count = len(replication.standbys)
    where = f"{worst.name or worst.client} ({worst.state})"
    silent = (
        f", behind and silent for {worst.reply_age:.0f} s"
        if worst.reply_age is not None
        and worst.reply_age >= 1
        and worst.reply_age > (worst.replay_lag or 0.0)
        and (worst.lag_bytes or 0) > 0
        else ""
    )
    note = f"worst of {count} standby(s): {where}{silent}"
    most_bytes = max((s.lag_bytes or 0) for s in replication.standbys)
    byte_worst = max(replication.standbys, key=lambda s: s.lag_bytes or 0)
    byte_note = (
        f"worst of {count} standby(s): {byte_worst.name or byte_worst.client} "
        f"{_bytes_text(most_bytes)} behind"
    )
    return {
        names[0]: (worst.lag_seconds, note),
        names[1]: (float(most_bytes), byte_note),
    }


#: What promoting a standby runs: wait (up to the given seconds) until it accepts writes.
PROMOTE_SQL = "SELECT pg_promote(true, $1)"


async def promote(client: Any, wait_seconds: int = 60) -> None:
    """Promote the standby ``client`` is connected to; raise if it did not become a primary.

    ``pg_promote`` replays every WAL record the standby received before it
    opens for writes, which is why failover picks the standby that received
    the most.
    """
    from alfred_tui.databases.failures import DatabaseUnavailable

    row = (await client.fetch(PROMOTE_SQL, wait_seconds))[0]
    if not row[0]:
        raise DatabaseUnavailable(
            f"pg_promote() did not finish within {wait_seconds} s on {client.target.address}"
        )
