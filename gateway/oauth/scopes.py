"""The scopes the authorization server grants, in one constant."""

from __future__ import annotations

from collections.abc import Iterable
from types import MappingProxyType

__all__ = ["PARTNER_SCOPES", "SCOPES", "UnknownScope", "check_scopes", "format_scopes"]

SCOPES: MappingProxyType[str, str] = MappingProxyType(
    {
        "events:write": "Post signed status webhooks (partner systems).",
        "services:write": "Start partner services (the OEM app).",
        "orders:read": "Read orders and their history (the OEM app).",
        "scorecards:read": "Read SLA scorecards and tiers (partnership managers).",
        "settlements:read": "Read commission statements (partnership managers).",
        "admin": "Operate the gateway: registry, replays, credentials (managers).",
        "audit:read": "Read the disclosure audit (data protection officer).",
        "relay:resolve": "Resolve a relay number to the customer's number "
        "(the OEM's telephony provider).",
    }
)
"""Every scope with the one-line description published in the metadata and OpenAPI."""

PARTNER_SCOPES: frozenset[str] = frozenset({"events:write"})
"""Granted to partner credentials; reserved to them (an app client cannot hold it)."""


class UnknownScope(ValueError):
    """A scope name the authorization server does not define."""


def check_scopes(scopes: Iterable[str]) -> tuple[str, ...]:
    """The scopes deduplicated in a stable order; raises `UnknownScope` for any unknown one."""
    wanted = list(dict.fromkeys(scopes))
    unknown = [s for s in wanted if s not in SCOPES]
    if unknown:
        raise UnknownScope(
            f"unknown scope(s) {', '.join(unknown)}; known scopes: {', '.join(SCOPES)}"
        )
    return tuple(sorted(wanted, key=list(SCOPES).index))


def format_scopes(scopes: Iterable[str]) -> str:
    """The space-separated form used by OAuth (`scope` parameter and claim)."""
    return " ".join(check_scopes(scopes))
