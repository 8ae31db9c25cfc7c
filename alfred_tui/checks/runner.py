"""One check pass over a profile's services, concurrently, under a hard deadline.

Every service gets the whole ``timeout`` (they run at the same time); a
service that has not answered by then is reported DOWN with "timeout after N
s" while the others keep their results. Nothing here waits past the deadline,
not even to close a connection to a server that stopped answering.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from datetime import UTC, datetime

from alfred_tui.backends.base import Backend
from alfred_tui.checks.probes import ServiceProbe, make_probe
from alfred_tui.checks.report import CheckReport, ServiceReport
from alfred_tui.checks.samples import SampleStore
from alfred_tui.config.models import ServiceKind
from alfred_tui.errors import AlfredError
from alfred_tui.metrics import Reading, Verdict
from alfred_tui.redact import redact

#: Time kept back from the deadline for closing connections and printing.
_CLOSE_MARGIN = 0.15


async def check_service(
    backend: Backend, kind: ServiceKind, timeout: float, store: SampleStore | None
) -> ServiceReport:
    """Probe one service; every failure becomes a report, never an exception."""
    started = time.perf_counter()
    deadline = time.monotonic() + timeout
    probe: ServiceProbe | None = None
    try:
        async with asyncio.timeout(timeout):
            endpoint = await backend.endpoint(kind)
            probe = make_probe(kind, backend.profile, endpoint, timeout)
            key = f"{backend.profile.name}:{kind}:{probe.address}"
            if store is not None:
                probe.import_previous(store.get(key))
            report = await probe.probe()
            if store is not None and report.up:
                exported = probe.export_previous()
                if exported is not None:
                    store.put(key, exported)
    except TimeoutError:
        address = probe.address if probe else "endpoint"
        report = _failed(kind, address, f"timeout after {timeout:g} s ({address})", started)
    except AlfredError as exc:
        report = _failed(kind, "-", exc.one_line(), started, verdict=Verdict.CRITICAL)
    except Exception as exc:  # a bug or an unexpected library error: UNKNOWN, not a traceback
        message = redact(f"{type(exc).__name__}: {exc}")[:200]
        report = _failed(kind, probe.address if probe else "-", message, started, Verdict.UNKNOWN)
    finally:
        if probe is not None:
            remaining = max(0.05, deadline - time.monotonic() + _CLOSE_MARGIN)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(probe.close(), remaining)
    return report


def _failed(
    kind: ServiceKind,
    address: str,
    reason: str,
    started: float,
    verdict: Verdict = Verdict.CRITICAL,
) -> ServiceReport:
    critical = verdict == Verdict.CRITICAL
    up = Reading(f"{kind}_up", 0.0 if critical else None, verdict if critical else None, reason)
    return ServiceReport(
        service=kind,
        address=address,
        up=False,
        verdict=verdict,
        reason=reason,
        readings=(up,),
        duration_ms=(time.perf_counter() - started) * 1000,
        checked_at=time.time(),
    )


async def run_check(
    backend: Backend,
    services: Sequence[ServiceKind],
    timeout: float,
    store: SampleStore | None = None,
) -> CheckReport:
    """Check ``services`` concurrently; the report lists them in the order asked."""
    reports = await asyncio.gather(
        *(check_service(backend, kind, timeout, store) for kind in services)
    )
    if store is not None:
        store.save()
    return CheckReport(
        profile=backend.profile.name,
        backend=backend.name,
        checked_at=datetime.now(UTC),
        services=tuple(reports),
    )
