"""The troubleshooting panes' data: runbooks, markers, remedies, activity, audit.

One :class:`TroubleshootSource` per UI session, held by the
:class:`~alfred_tui.control.session.Session` and closed with it. The live
one (:class:`LiveTroubleshoot`) keeps two
:class:`~alfred_tui.troubleshoot.context.TroubleshootContext` open for the
session's life, one for the runbooks (the overview's markers, the
Troubleshoot pane, remedies, EXPLAIN) and one for the Activity pane, so a
runbook's rates come from the previous poll and a refresh costs a query, not
a connection. Each context is used by one call at a time (asyncpg runs one
query at a time on a connection), behind its own lock, so a long runbook
never makes the Activity pane wait.

Everything heavy (the runbook registry, database clients) is imported in a
thread on first use: this module is imported by the session, before the
first frame, and must cost nothing.

Failures come back as :class:`~alfred_tui.errors.AlfredError` (a database
that does not answer, a statement the server refused) so the UI's one error
route shows them as a title and a message, never as "Internal error".
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from alfred_tui.errors import AlfredError

if TYPE_CHECKING:
    from alfred_tui.audit.model import AuditReport
    from alfred_tui.backends.base import Backend
    from alfred_tui.config.loader import LoadedProfile
    from alfred_tui.database_actions import ActionOutcome
    from alfred_tui.databases.activity import Activity
    from alfred_tui.databases.statements import Explanation
    from alfred_tui.troubleshoot.context import TroubleshootContext
    from alfred_tui.troubleshoot.model import Detection, RunbookInfo, RunbookReport

T = TypeVar("T")

#: What the overview's marker says for each runbook: a word that fits a cell.
SHORT_WORDS = {
    "postgres-connections": "connections",
    "postgres-slow-queries": "slow queries",
    "redis-memory": "memory",
    "redis-latency": "latency",
    "qdrant-slow-searches": "slow search",
    "qdrant-memory": "memory",
}

#: Verdicts that put a marker on a service (UNKNOWN is the overview's DOWN already).
FLAGGED = ("WARNING", "CRITICAL")


@dataclass(frozen=True)
class ServiceFlag:
    """What the overview shows on a service row when a runbook found something."""

    service: str
    verdict: str
    """``OK``, ``WARNING``, ``CRITICAL`` or ``UNKNOWN`` (the worst runbook's)."""
    runbook: str
    """The runbook to open (the worst one)."""
    title: str
    summary: str

    @property
    def flagged(self) -> bool:
        """Whether the row carries a marker."""
        return self.verdict in FLAGGED

    @property
    def word(self) -> str:
        """``memory``, ``slow queries``: the runbook in a word or two."""
        return SHORT_WORDS.get(self.runbook, self.runbook)


class TroubleshootSource(Protocol):
    """Where the troubleshooting panes read from and act through."""

    async def runbooks(self) -> list[RunbookInfo]:
        """The runbooks of the profile's enabled services, in the spec's order."""
        ...

    async def markers(self) -> dict[str, ServiceFlag]:
        """Each service's worst runbook verdict (light detection)."""
        ...

    async def detect(self, names: list[str]) -> dict[str, Detection]:
        """The light verdict of each runbook named."""
        ...

    async def run(self, name: str) -> RunbookReport:
        """One runbook in full; a service that does not answer is an UNKNOWN report."""
        ...

    async def perform(
        self, action: str, parameters: dict[str, Any], *, confirm: bool
    ) -> ActionOutcome:
        """Plan (``confirm=False``) or apply a remedy's action."""
        ...

    async def explain(
        self, statement: str, query_id: int | None, *, analyze: bool, consent: bool
    ) -> Explanation:
        """The plan of a statement or of a pg_stat_statements entry."""
        ...

    async def activity(self) -> Activity:
        """PostgreSQL's sessions now."""
        ...

    async def signal(self, pids: list[int], signal: str, *, confirm: bool) -> ActionOutcome:
        """Plan or send ``cancel`` / ``terminate`` to sessions."""
        ...

    async def audit(self) -> AuditReport:
        """The security audit, live checks included where the servers answer."""
        ...

    async def close(self) -> None:
        """Close every connection."""
        ...


TroubleshootFactory = Callable[["LoadedProfile", "Backend", bool], TroubleshootSource]


async def _module(name: str) -> Any:
    """Import ``name`` in a thread: the runbook registry takes about 0.3 s."""
    return await asyncio.to_thread(importlib.import_module, name)


def translate(exc: BaseException) -> BaseException:
    """A database library's error as an AlfredError with words an operator can use."""
    if isinstance(exc, AlfredError):
        return exc
    from alfred_tui.databases.failures import DatabaseUnavailable, refusal

    if isinstance(exc, DatabaseUnavailable):
        return AlfredError(exc.reason, title="Database unavailable")
    return refusal(exc) or exc


async def _guarded(work: Awaitable[T]) -> T:
    try:
        return await work
    except Exception as exc:
        translated = translate(exc)
        if translated is exc:
            raise
        raise translated from None


class LiveTroubleshoot:
    """The real thing: runbooks and activity on the session's servers."""

    def __init__(
        self,
        loaded: LoadedProfile,
        backend: Backend,
        readonly: bool,
        *,
        timeout: float = 5.0,
        sample_seconds: float = 1.0,
        audit_timeout: float = 5.0,
    ) -> None:
        self.loaded = loaded
        self.backend = backend
        self.readonly = readonly
        self.timeout = timeout
        self.sample_seconds = sample_seconds
        self.audit_timeout = audit_timeout
        self._contexts: dict[str, TroubleshootContext] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    # --- contexts ---------------------------------------------------------------

    async def _context(self, purpose: str) -> TroubleshootContext:
        context = self._contexts.get(purpose)
        if context is None:
            module = await _module("alfred_tui.troubleshoot.context")
            context = module.TroubleshootContext(
                self.backend,
                timeout=self.timeout,
                sample_seconds=self.sample_seconds,
                readonly=self.readonly,
                application_name=f"alfred-tui {purpose}",
            )
            self._contexts[purpose] = context
        return context

    @contextlib.asynccontextmanager
    async def _using(self, purpose: str) -> AsyncIterator[TroubleshootContext]:
        """The context for ``purpose``, alone; an embedded Qdrant store is let go after."""
        lock = self._locks.setdefault(purpose, asyncio.Lock())
        async with lock:
            context = await self._context(purpose)
            context.forget_status()
            try:
                yield context
            finally:
                await context.release_embedded()

    async def _qdrant_missing(self) -> str:
        """Why Qdrant cannot be diagnosed without creating it, or empty.

        Opening an embedded store that does not exist would create an empty
        one where the deployment has none (the overview reports "not
        deployed" for the same reason).
        """
        if self.loaded.profile.qdrant is None:
            return ""
        try:
            endpoint = await self.backend.endpoint("qdrant")
        except AlfredError as exc:
            return exc.one_line()
        if endpoint.embedded and not await asyncio.to_thread(Path(str(endpoint.path)).exists):
            return f"no embedded store at {endpoint.path} (deploy it first: alfred-tui up)"
        return ""

    async def _embedded_qdrant(self) -> bool:
        if self.loaded.profile.qdrant is None:
            return False
        with contextlib.suppress(AlfredError):
            return (await self.backend.endpoint("qdrant")).embedded
        return False

    # --- runbooks ---------------------------------------------------------------

    async def runbooks(self) -> list[RunbookInfo]:
        registry = await _module("alfred_tui.troubleshoot.registry")
        return [r.info for r in registry.select_runbooks(self.loaded.profile)]

    async def markers(self) -> dict[str, ServiceFlag]:
        registry = await _module("alfred_tui.troubleshoot.registry")
        services = [kind for kind, _ in self.loaded.profile.services.enabled()]
        if await self._embedded_qdrant():
            # An embedded store has no limits, metrics or index to judge, and
            # opening it every few seconds would fight the overview's probe.
            services = [s for s in services if s != "qdrant"]
        titles = {r.name: r.info.title for r in registry.RUNBOOKS}
        async with self._using("runbooks") as ctx:
            found = await _guarded(registry.detect_services(ctx, services))
        return {
            service: ServiceFlag(
                service,
                marker.verdict.name,
                marker.runbook,
                titles.get(marker.runbook, marker.runbook),
                marker.summary,
            )
            for service, marker in found.items()
        }

    async def detect(self, names: list[str]) -> dict[str, Detection]:
        registry = await _module("alfred_tui.troubleshoot.registry")
        missing = ""
        if any(registry.get_runbook(n).service == "qdrant" for n in names):
            missing = await self._qdrant_missing()
        found: dict[str, Detection] = {}
        async with self._using("runbooks") as ctx:
            for name in names:
                runbook = registry.get_runbook(name)
                if runbook.service == "qdrant" and missing:
                    found[name] = runbook.unavailable(missing)
                else:
                    found[name] = await runbook.detect(ctx)
        return found

    async def run(self, name: str) -> RunbookReport:
        registry = await _module("alfred_tui.troubleshoot.registry")
        model = await _module("alfred_tui.troubleshoot.model")
        runbook = registry.get_runbook(name)
        if runbook.service == "qdrant":
            missing = await self._qdrant_missing()
            if missing:
                unavailable: RunbookReport = model.RunbookReport(
                    runbook.info, runbook.unavailable(missing)
                )
                return unavailable
        async with self._using("runbooks") as ctx:
            report: RunbookReport = await runbook.run(ctx)
        return report

    async def perform(
        self, action: str, parameters: dict[str, Any], *, confirm: bool
    ) -> ActionOutcome:
        remedies = await _module("alfred_tui.troubleshoot.remedies")
        async with self._using("runbooks") as ctx:
            outcome: ActionOutcome = await _guarded(
                remedies.perform(ctx, action, parameters, confirm=confirm)
            )
        return outcome

    async def explain(
        self, statement: str, query_id: int | None, *, analyze: bool, consent: bool
    ) -> Explanation:
        statements = await _module("alfred_tui.databases.statements")
        async with self._using("runbooks") as ctx:

            async def work() -> Explanation:
                client = await ctx.postgres()
                sql = statement
                if query_id is not None:
                    status = await statements.statements_status(client)
                    sql = await statements.statement_text(client, status, query_id)
                result: Explanation = await statements.explain(
                    client, sql, analyze=analyze, consent=consent, readonly=self.readonly
                )
                return result

            return await _guarded(work())

    # --- activity ---------------------------------------------------------------

    async def activity(self) -> Activity:
        module = await _module("alfred_tui.databases.activity")
        async with self._using("activity") as ctx:

            async def work() -> Activity:
                result: Activity = await module.fetch_activity(await ctx.postgres())
                return result

            return await _guarded(work())

    async def signal(self, pids: list[int], signal: str, *, confirm: bool) -> ActionOutcome:
        remedies = await _module("alfred_tui.troubleshoot.remedies")
        async with self._using("activity") as ctx:
            outcome: ActionOutcome = await _guarded(
                remedies.perform(ctx, signal, {"pids": pids}, confirm=confirm)
            )
        return outcome

    # --- audit ------------------------------------------------------------------

    async def audit(self) -> AuditReport:
        runner = await _module("alfred_tui.audit.runner")
        report: AuditReport = await _guarded(
            runner.run_audit(self.loaded, self.backend, timeout=self.audit_timeout)
        )
        return report

    async def close(self) -> None:
        contexts, self._contexts = list(self._contexts.values()), {}
        for context in contexts:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(context.close(), 3.0)


def live_troubleshoot(
    loaded: LoadedProfile, backend: Backend, readonly: bool
) -> TroubleshootSource:
    """The default factory of a session's troubleshooting data."""
    return LiveTroubleshoot(loaded, backend, readonly)
