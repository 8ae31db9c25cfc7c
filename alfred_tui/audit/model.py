"""What the security audit reports: checks that ran, and findings with their fix.

A finding never carries a secret's value: it names the field that holds it
("services.postgres.environment.POSTGRES_PASSWORD is the spec's default").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from alfred_tui.metrics import Verdict, worst

CheckStatus = Literal["passed", "failed", "unknown", "skipped", "pending"]
Source = Literal["profile", "live", "manifests"]


@dataclass(frozen=True)
class Finding:
    """One weakness: what is wrong, why it matters, how to fix it in the profile."""

    check: str
    severity: Verdict
    title: str
    """What is wrong, in one line."""
    why: str
    fix: str
    """How to fix it, in words."""
    fix_yaml: str = ""
    """The profile (or manifest) YAML that fixes it."""
    service: str | None = None
    field: str = ""
    """The profile field at fault (``services.redis.ports[0]``), when there is one."""
    where: str = ""
    """``file:line`` of that field, or the live server, or the manifest file."""
    source: Source = "profile"

    def to_json(self) -> dict[str, Any]:
        """Plain data."""
        return {
            "check": self.check,
            "severity": self.severity.name,
            "service": self.service,
            "title": self.title,
            "why": self.why,
            "fix": self.fix,
            "fix_yaml": self.fix_yaml or None,
            "field": self.field or None,
            "where": self.where or None,
            "source": self.source,
        }


@dataclass(frozen=True)
class CheckResult:
    """One audit check and how it went."""

    id: str
    title: str
    """What the check looks at."""
    status: CheckStatus
    source: Source
    note: str = ""
    """Why it was skipped, unknown or pending."""
    findings: tuple[Finding, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """Plain data (findings are listed once, at the top level)."""
        return {
            "id": self.id,
            "title": self.title,
            "status": self.status,
            "source": self.source,
            "note": self.note or None,
            "findings": len(self.findings),
        }


@dataclass(frozen=True)
class AuditReport:
    """The whole audit."""

    profile: str
    policy: str
    backend: str
    checked_at: datetime
    checks: tuple[CheckResult, ...] = field(default_factory=tuple)

    @property
    def findings(self) -> list[Finding]:
        """Every finding, critical first."""
        found = [f for check in self.checks for f in check.findings]
        return sorted(found, key=lambda f: -int(f.severity == Verdict.CRITICAL))

    @property
    def verdict(self) -> Verdict:
        """Worst finding; UNKNOWN when a check could not run and nothing is worse."""
        verdicts = [f.severity for f in self.findings]
        verdicts += [Verdict.UNKNOWN for c in self.checks if c.status == "unknown"]
        return worst(verdicts)

    @property
    def exit_code(self) -> int:
        """0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN, as ``check``."""
        return int(self.verdict)
