"""The port through which the kit asks how the gateway would mask a request for a partner.

``adapters`` imports ``contracts`` only, so the kit cannot run the masking
policy itself: whoever runs the kit (the test suite, ``pgw conformance``)
passes a ``Masker`` built on ``masking`` (``gateway.onboarding.kit.gateway_masker``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from contracts import PartnerAgreement, ServiceRequest

__all__ = ["FieldDisclosure", "Masker", "PartnerView"]


@dataclass(frozen=True, slots=True)
class FieldDisclosure:
    """What the policy did with one field of a request: its path, class, kind and operator."""

    path: str
    """Dotted path as masking reports it (``customer.phone``, ``coverages[0]``)."""
    data_class: str
    """``public``, ``de_identified``, ``sensitive``, or ``unclassified`` (no marker)."""
    kind: str
    operator: str
    """The masking operator applied (``keep``, ``partial_mask``, ...); ``drop`` when denied."""


@dataclass(frozen=True, slots=True)
class PartnerView:
    """A request as one partner receives it, and the decision behind every field."""

    payload: Mapping[str, Any]
    """The masked request JSON, relay numbers bound (what ``OutboundCall.payload`` carries)."""
    fields: tuple[FieldDisclosure, ...]


class Masker(Protocol):
    """The partner's view of a canonical request, exactly as dispatch would build it."""

    def __call__(self, agreement: PartnerAgreement, request: ServiceRequest) -> PartnerView:
        """Mask ``request`` for ``agreement``'s partner, for its operation's purpose."""
        ...
