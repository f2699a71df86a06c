"""The conformance kit: the checks every registered adapter, and every partner, must pass.

The checks are plain functions returning ``Finding``s, so the test suite
(``tests/conformance``), ``pgw conformance`` and a partner running the kit
against its own endpoint all use the same code:

- ``static_checks`` / ``check_static``: protocol, fixtures, disclosure, SLA
  terms and the webhook round trip, from the code and its recorded fixtures;
- ``live_checks``: the partner's endpoint (or its sandbox) answers every
  operation the adapter claims, in contract terms.

Masking lives outside ``adapters``; callers pass a ``Masker``
(``gateway.onboarding.kit.gateway_masker`` is the gateway's own). The rules
behind each check are written out in ``docs/partners/conformance.md``.
"""

from __future__ import annotations

from adapters.conformance.findings import Finding, failures, format_report, summary
from adapters.conformance.live import live_checks
from adapters.conformance.rules import REQUIRED_EVENTS, category_events, example_request
from adapters.conformance.static import check_static, static_checks
from adapters.conformance.views import FieldDisclosure, Masker, PartnerView

__all__ = [
    "REQUIRED_EVENTS",
    "FieldDisclosure",
    "Finding",
    "Masker",
    "PartnerView",
    "category_events",
    "check_static",
    "example_request",
    "failures",
    "format_report",
    "live_checks",
    "static_checks",
    "summary",
]
