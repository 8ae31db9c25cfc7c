"""The shape every runbook has: collect facts, judge them, explain, offer remedies.

A runbook reads live data once (:meth:`Runbook.collect`) and derives
everything from those facts, so ``detect`` (cheap, for the overview's
markers) and ``run`` (everything, for the Troubleshoot pane and ``doctor``)
never disagree. A database that is down, slow or refusing becomes a verdict
with its reason, never an exception: the caller is a UI worker or a CLI that
must go on with the other runbooks.
"""

from __future__ import annotations

import abc
import asyncio
import time
from typing import Any

from alfred_tui.databases.failures import DatabaseUnavailable
from alfred_tui.errors import AlfredError
from alfred_tui.metrics import Verdict, judge
from alfred_tui.redact import redact
from alfred_tui.troubleshoot.context import TroubleshootContext
from alfred_tui.troubleshoot.model import (
    Detection,
    Evidence,
    Remedy,
    RunbookInfo,
    RunbookReport,
    Table,
)

SERVICE_NAMES = {"postgres": "PostgreSQL", "redis": "Redis", "qdrant": "Qdrant"}


class Runbook(abc.ABC):
    """One troubleshooting procedure for one symptom of one service."""

    info: RunbookInfo

    @property
    def name(self) -> str:
        """The runbook's name, as ``doctor --runbook`` takes it."""
        return self.info.name

    @property
    def service(self) -> str:
        """The service it diagnoses."""
        return self.info.service

    @abc.abstractmethod
    async def collect(self, ctx: TroubleshootContext, full: bool) -> Any:
        """Read the live facts; ``full`` adds what only the diagnosis needs."""

    @abc.abstractmethod
    def judge(self, facts: Any, ctx: TroubleshootContext) -> Detection:
        """The verdict on the symptom, from ``facts``."""

    def tables(self, facts: Any, ctx: TroubleshootContext) -> tuple[Table, ...]:
        """The diagnostics, most telling first."""
        return ()

    def remedies(self, facts: Any, ctx: TroubleshootContext) -> tuple[Remedy, ...]:
        """What the operator can do about it, given these facts."""
        return ()

    def notes(self, facts: Any) -> tuple[str, ...]:
        """What this diagnosis could not read, and why."""
        return ()

    def unavailable(self, reason: str) -> Detection:
        """The detection when the service cannot be read (a runbook may know better)."""
        service = SERVICE_NAMES.get(self.service, self.service)
        return Detection(
            Verdict.UNKNOWN,
            f"cannot diagnose: {service} does not answer ({reason})",
            (Evidence(f"{service} reachable", "no", Verdict.UNKNOWN, reason),),
        )

    async def detect(self, ctx: TroubleshootContext) -> Detection:
        """The verdict alone, from the light facts (what the overview polls)."""
        try:
            async with asyncio.timeout(ctx.timeout * 3):
                facts = await self.collect(ctx, full=False)
            return self.judge(facts, ctx)
        except Exception as exc:
            return self._failure(exc, ctx)

    async def run(self, ctx: TroubleshootContext) -> RunbookReport:
        """The whole runbook: verdict, diagnostics and remedies from one set of facts."""
        started = time.perf_counter()
        try:
            async with asyncio.timeout(ctx.timeout * 6 + ctx.sample_seconds):
                facts = await self.collect(ctx, full=True)
            report = RunbookReport(
                info=self.info,
                detection=self.judge(facts, ctx),
                diagnostics=self.tables(facts, ctx),
                remedies=self.remedies(facts, ctx),
                notes=self.notes(facts),
            )
        except Exception as exc:
            report = RunbookReport(info=self.info, detection=self._failure(exc, ctx))
        return RunbookReport(
            info=report.info,
            detection=report.detection,
            diagnostics=report.diagnostics,
            remedies=report.remedies,
            notes=report.notes,
            duration_ms=(time.perf_counter() - started) * 1000,
        )

    def _failure(self, exc: Exception, ctx: TroubleshootContext) -> Detection:
        if isinstance(exc, DatabaseUnavailable):
            return self.unavailable(exc.reason)
        if isinstance(exc, TimeoutError):
            return self.unavailable(f"no answer within the time allowed ({ctx.timeout:g} s a call)")
        if isinstance(exc, AlfredError):
            return self.unavailable(exc.one_line())
        message = redact(f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
        return Detection(
            Verdict.UNKNOWN,
            f"cannot diagnose: {message[:200]}",
            (Evidence("diagnosis", "failed", Verdict.UNKNOWN, message[:200]),),
        )


def metric_evidence(
    ctx: TroubleshootContext, metric: str, label: str, value: float, shown: str
) -> Evidence:
    """Evidence for ``value`` judged by the profile's threshold for ``metric``."""
    threshold = ctx.threshold(metric)
    verdict = judge(value, threshold)
    note = ""
    if threshold is not None:
        from alfred_tui.checks.output import format_threshold

        note = f"profile's {metric}: {format_threshold(threshold)}"
    return Evidence(label, shown, verdict, note)


def ratio_verdict(ratio: float, warning: float, critical: float) -> Verdict:
    """OK below ``warning``, WARNING from it, CRITICAL from ``critical``."""
    if ratio >= critical:
        return Verdict.CRITICAL
    if ratio >= warning:
        return Verdict.WARNING
    return Verdict.OK


def yaml_block(text: str) -> str:
    """Profile YAML as written in a remedy: dedented, one trailing newline."""
    import textwrap

    return textwrap.dedent(text).strip("\n") + "\n"
