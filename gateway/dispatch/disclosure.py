"""The masking choke point: the only way a canonical request becomes a partner's payload.

Every outbound call is built here, from the partner's agreement, the purpose
of the operation and the canonical request, inside the transaction that
records the order, so that before anything leaves:

1. the customer's consent to share with the partner (or its whole category)
   for the purpose is checked (``consent_refusals``; refused with a problem
   naming what is missing); routing already passes over partners without it;
2. the request is masked to the partner's data tier and the purpose by the
   policy in ``masking/`` (``partner_view``);
3. phone numbers the policy relays are replaced by virtual numbers bound to
   the order;
4. the disclosure is audited: partner, purpose, order, policy version, and
   each field's path, class and operator (never a value).

``tests/gateway/dispatch/test_choke_point.py`` checks that nothing else in the
gateway constructs an ``OutboundCall``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Final
from zoneinfo import ZoneInfo

from adapters import OutboundCall
from contracts import (
    OPERATION_CATEGORY,
    OPERATION_PURPOSE,
    PartnerAgreement,
    Purpose,
    ServiceRequest,
)
from gateway.bootstrap import Container
from gateway.persistence.uow import UnitOfWork
from gateway.privacy.audit import record_disclosure
from gateway.privacy.consents import ConsentRequired, consent_refusal_of
from gateway.privacy.relays import bind_relay
from masking import MaskedView, MaskingKeys, mask

__all__ = ["consent_refusals", "customer_id_of", "disclose", "partner_view"]

_SHANGHAI: Final = ZoneInfo("Asia/Shanghai")


def customer_id_of(request: ServiceRequest) -> str | None:
    """The OEM's id of the customer a request is about, if it is about one."""
    customer = getattr(request, "customer", None)
    return None if customer is None else str(customer.customer_id)


def partner_view(
    agreement: PartnerAgreement,
    purpose: Purpose,
    request: ServiceRequest,
    *,
    keys: MaskingKeys,
    now: datetime,
) -> MaskedView:
    """What ``agreement``'s partner may see of ``request`` for ``purpose`` (pure)."""
    return mask(
        request,
        partner_id=agreement.id,
        tier=agreement.data.tier,
        purpose=purpose,
        agreed_purposes=agreement.data.purposes,
        keys=keys,
        today=now.astimezone(_SHANGHAI).date(),
    )


async def consent_refusals(
    uow: UnitOfWork,
    container: Container,
    agreements: Sequence[PartnerAgreement],
    request: ServiceRequest,
) -> dict[str, ConsentRequired]:
    """Partners of ``agreements`` the customer's data may not go to, and why (one query).

    A consent for the whole category or for the partner counts, and so does a
    purpose the customer's contract covers by default unless withdrawn.
    """
    customer_id = customer_id_of(request)
    if customer_id is None:
        return {}
    purpose = OPERATION_PURPOSE[request.operation].value
    rows = await uow.consents.of_purpose(customer_id, purpose)
    refusals: dict[str, ConsentRequired] = {}
    for agreement in agreements:
        refusal = consent_refusal_of(
            rows,
            container.settings,
            customer_id=customer_id,
            category=OPERATION_CATEGORY[request.operation].value,
            purpose=purpose,
            partner_id=agreement.id,
        )
        if refusal is not None:
            refusals[agreement.id] = refusal
    return refusals


async def disclose(
    uow: UnitOfWork,
    container: Container,
    agreement: PartnerAgreement,
    order_id: str,
    request: ServiceRequest,
    now: datetime,
) -> OutboundCall:
    """The call to ``agreement``'s partner, carrying only its view; audited in ``uow``.

    Raises ``ConsentRequired`` when the customer has not consented (checked in the
    same transaction as the disclosure, so a withdrawal stops it at once).
    """
    refusal = (await consent_refusals(uow, container, [agreement], request)).get(agreement.id)
    if refusal is not None:
        raise refusal
    purpose = OPERATION_PURPOSE[request.operation]
    view = partner_view(agreement, purpose, request, keys=container.masking_keys, now=now)
    numbers = {
        relay.path: await bind_relay(
            uow,
            container.settings,
            order_id=order_id,
            partner_id=agreement.id,
            real_number=relay.number,
            now=now,
        )
        for relay in view.relays
    }
    await record_disclosure(
        uow,
        order_id=order_id,
        customer_id=customer_id_of(request),
        partner_id=agreement.id,
        purpose=purpose.value,
        policy_version=view.policy_version,
        fields=[decision.record() for decision in view.fields],
        now=now,
    )
    return OutboundCall(
        partner_id=agreement.id,
        order_id=order_id,
        operation=request.operation,
        payload=view.with_relays(numbers),
        idempotency_key=f"{order_id}:{agreement.id}",
    )
