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
from collections.abc import Awaitable, Callable, Sequence
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


async def guarded_probe(
    kind: ServiceKind, timeout: float, open_probe: Callable[[], Awaitable[ServiceProbe]]
) -> tuple[ServiceReport, ServiceProbe | None]:
    """Open a probe (``open_probe``) and poll it once, all within ``timeout``.

    Every failure becomes a report, never an exception: a timeout or an
    :class:`~alfred_tui.errors.AlfredError` is CRITICAL with its one line,
    anything else (a library surprise) UNKNOWN. ``check`` and the UI's
    overview both poll through here, so a service reads the same in both.
    Returns the report and the probe, if one was opened, for the caller to
    keep or close.
    """
    started = time.perf_counter()
    probe: ServiceProbe | None = None
    try:
        async with asyncio.timeout(timeout):
            probe = await open_probe()
            return await probe.probe(), probe
    except TimeoutError:
        address = probe.address if probe else "endpoint"
        reason = f"timeout after {timeout:g} s ({address})"
        return failed_report(kind, address, reason, started), probe
    except AlfredError as exc:
        return failed_report(kind, "-", exc.one_line(), started), probe
    except Exception as exc:  # a bug or an unexpected library error: UNKNOWN, not a traceback
        message = redact(f"{type(exc).__name__}: {exc}")[:200]
        address = probe.address if probe else "-"
        return failed_report(kind, address, message, started, Verdict.UNKNOWN), probe


async def check_service(
    backend: Backend, kind: ServiceKind, timeout: float, store: SampleStore | None
) -> ServiceReport:
    """Probe one service once, with the previous sample from ``store`` for rates."""
    deadline = time.monotonic() + timeout

    def key(probe: ServiceProbe) -> str:
        return f"{backend.profile.name}:{kind}:{probe.address}"

    async def open_probe() -> ServiceProbe:
        endpoint = await backend.endpoint(kind)
        probe = make_probe(kind, backend.profile, endpoint, timeout)
        if store is not None:
            probe.import_previous(store.get(key(probe)))
        return probe

    report, probe = await guarded_probe(kind, timeout, open_probe)
    if probe is not None:
        if store is not None and report.up:
            exported = probe.export_previous()
            if exported is not None:
                store.put(key(probe), exported)
        remaining = max(0.05, deadline - time.monotonic() + _CLOSE_MARGIN)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(probe.close(), remaining)
    return report


def failed_report(
    kind: ServiceKind,
    address: str,
    reason: str,
    started: float,
    verdict: Verdict = Verdict.CRITICAL,
) -> ServiceReport:
    """A report for a service that could not be probed at all (UNKNOWN has no reading)."""
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
