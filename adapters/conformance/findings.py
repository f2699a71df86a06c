"""What a conformance check reports: one ``Finding`` per check, and a report of many."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = ["Finding", "failures", "format_report", "summary"]


@dataclass(frozen=True, slots=True)
class Finding:
    """The outcome of one check of one partner.

    ``check`` names what was checked, most general first, such as
    ``fixtures:courtesy_car.book`` or ``live:insurance.bind``; ``detail`` says
    what passed, or what is missing and how to fix it.
    """

    partner_id: str
    check: str
    ok: bool
    detail: str

    def __str__(self) -> str:
        mark = "PASS" if self.ok else "FAIL"
        return f"{mark} {self.partner_id}: {self.check}: {self.detail}"


def failures(findings: Iterable[Finding]) -> list[Finding]:
    """The findings that did not pass, in order."""
    return [finding for finding in findings if not finding.ok]


def summary(findings: Sequence[Finding]) -> str:
    """``"12 passed, 1 failed"``."""
    failed = len(failures(findings))
    return f"{len(findings) - failed} passed, {failed} failed"


def format_report(findings: Sequence[Finding]) -> str:
    """One line per finding, failures first, then the summary line."""
    ordered = sorted(findings, key=lambda f: f.ok)
    return "\n".join([*(str(f) for f in ordered), summary(findings)])
