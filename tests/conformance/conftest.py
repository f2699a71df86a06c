"""Shared pieces of the conformance tests: the sample registry, its known gaps, the verdict."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import pytest

from adapters.conformance import Finding, failures
from contracts import PartnerAgreement
from gateway.registry import load_registry

REPO = Path(__file__).resolve().parents[2]
PARTNERS_DIR = REPO / "partners"
SAMPLE_AGREEMENTS: tuple[PartnerAgreement, ...] = load_registry(PARTNERS_DIR).all()

KNOWN_GAPS: dict[str, dict[str, str]] = {}
"""Gaps the kit finds in the sample registry today, each for its owner to fix.

The suite asserts these exactly: a new gap fails it, and so does a fixed one
still listed here (remove it then)."""


def assert_conformant(
    partner_id: str, findings: Iterable[Finding], known: dict[str, str] | None = None
) -> None:
    """Fail, naming the partner, each failed check and its gap, unless all failures are known."""
    findings = list(findings)
    assert findings, f"{partner_id}: the kit reported nothing"
    known = known or {}
    failed = failures(findings)
    unexpected = [f for f in failed if not (f.check in known and known[f.check] in f.detail)]
    fixed = sorted(set(known) - {f.check for f in failed})
    message = "\n".join(
        [*(str(f) for f in unexpected), *(f"{partner_id}: {c}: fixed; drop it" for c in fixed)]
    )
    assert not unexpected and not fixed, message


@pytest.fixture(scope="session")
def agreements() -> dict[str, PartnerAgreement]:
    """The sample agreements by partner id."""
    return {agreement.id: agreement for agreement in SAMPLE_AGREEMENTS}


@pytest.fixture(scope="session")
def known_gaps() -> dict[str, dict[str, str]]:
    """``KNOWN_GAPS``: partner id -> failed check -> text its detail contains."""
    return KNOWN_GAPS


@pytest.fixture(scope="session")
def verdict() -> Callable[..., None]:
    """``assert_conformant``, for test modules (conftest is not importable by name)."""
    return assert_conformant
