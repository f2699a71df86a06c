"""The masking choke point: the only way a canonical request becomes a partner's payload.

Every outbound call is built here, from the partner's agreement, the purpose
of the disclosure and the canonical request, so there is exactly one place
that decides what leaves for a partner. ``tests/gateway/dispatch`` checks that
nothing else in the gateway constructs an ``OutboundCall``.

The view is the canonical request as JSON. ``partner_view`` is where the
per-field masking to the partner's data tier and the purpose (sensitivity
classes from contracts, operators from masking/) belongs; that policy is not
in place yet, so today the view is the whole request.
"""

from __future__ import annotations

from typing import Any

from adapters import OutboundCall
from contracts import OPERATION_PURPOSE, PartnerAgreement, Purpose, ServiceRequest

__all__ = ["outbound_call", "partner_view"]


def partner_view(
    agreement: PartnerAgreement, purpose: Purpose, request: ServiceRequest
) -> dict[str, Any]:
    """What ``agreement``'s partner may see of ``request`` for ``purpose``."""
    del agreement, purpose  # the per-tier policy plugs in here
    view: dict[str, Any] = request.model_dump(mode="json", exclude_none=True)
    return view


def outbound_call(
    agreement: PartnerAgreement, order_id: str, request: ServiceRequest
) -> OutboundCall:
    """The call to ``agreement``'s partner for ``request``, carrying only the partner's view."""
    purpose = OPERATION_PURPOSE[request.operation]
    return OutboundCall(
        partner_id=agreement.id,
        order_id=order_id,
        operation=request.operation,
        payload=partner_view(agreement, purpose, request),
        idempotency_key=f"{order_id}:{agreement.id}",
    )
