"""Consent: may a customer's data go to a category's partners for a purpose?

Data is shared for a purpose when either

- the customer holds an active (not withdrawn) consent for the purpose, naming
  the partner or the whole category (`partner_id` null); or
- the purpose is one the OEM's service contract covers
  (`PGW_CONSENT_DEFAULT_PURPOSES`) and the customer has not withdrawn it.

Withdrawing a default-covered purpose stores a consent row with source
`contract_default` and `withdrawn_at` set; such a row wins over the default
for good (an explicit grant afterwards is a new `app` row). Every grant and
withdrawal is recorded in `consent_events`; nothing is ever deleted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from contracts import PURPOSE_CATEGORY, Purpose
from gateway.persistence.tables import ConsentEventRow, ConsentRow
from gateway.persistence.uow import UnitOfWork
from gateway.problems import Problem
from gateway.settings import Settings

__all__ = [
    "APP_SOURCE",
    "DEFAULT_SOURCE",
    "ConsentRequired",
    "ConsentState",
    "Withdrawal",
    "consent_refusal_of",
    "consent_state",
    "grant_consent",
    "require_consent",
    "withdraw_consent",
]

APP_SOURCE: Final = "app"
"""A consent the customer gave in the OEM app (granted through the API)."""

DEFAULT_SOURCE: Final = "contract_default"
"""A purpose the service contract covers; stored only when the customer withdraws it."""


class ConsentRequired(Problem):
    """The customer has not consented to share data with the category for the purpose."""

    slug = "consent-required"
    title = "Customer consent required"
    status = 403

    def __init__(
        self,
        *,
        customer_id: str,
        category: str,
        purpose: str,
        partner_id: str | None = None,
        withdrawn: bool = False,
    ) -> None:
        with_whom = f"partner {partner_id} ({category})" if partner_id else f"{category} partners"
        why = " (the customer withdrew it)" if withdrawn else ""
        super().__init__(
            f"Customer {customer_id} has no active consent to share data with {with_whom} for "
            f"the purpose {purpose}{why}. Record the customer's consent with "
            f"POST /v1/customers/{customer_id}/consents "
            f'{{"category": "{category}", "purpose": "{purpose}"}}, then retry.',
            extensions={
                "customer_id": customer_id,
                "category": category,
                "purpose": purpose,
                "partner_id": partner_id,
            },
        )


def _covers(row: ConsentRow, category: str, partner_id: str | None) -> bool:
    return (
        row.withdrawn_at is None
        and row.category == category
        and (row.partner_id is None or row.partner_id == partner_id)
    )


def _default_withdrawn(rows: Sequence[ConsentRow]) -> bool:
    return any(r.source == DEFAULT_SOURCE and r.withdrawn_at is not None for r in rows)


def consent_refusal_of(
    rows: Sequence[ConsentRow],
    settings: Settings,
    *,
    customer_id: str,
    category: str,
    purpose: str,
    partner_id: str | None,
) -> ConsentRequired | None:
    """Why the customer's consent rows for `purpose` do not allow the disclosure, if not.

    `partner_id=None` asks for the whole category: then only consents naming no
    partner count.
    """
    if any(_covers(row, category, partner_id) for row in rows):
        return None
    default_withdrawn = _default_withdrawn(rows)
    is_default = purpose in settings.consent_default_purposes
    if is_default and not default_withdrawn:
        return None
    withdrawn = any(r.withdrawn_at is not None for r in rows)
    return ConsentRequired(
        customer_id=customer_id,
        category=category,
        purpose=purpose,
        partner_id=partner_id,
        withdrawn=withdrawn,
    )


async def require_consent(
    uow: UnitOfWork,
    settings: Settings,
    *,
    customer_id: str,
    category: str,
    purpose: str,
    partner_id: str | None,
) -> None:
    """Return when the customer's data may go to the partner for the purpose; else raise.

    Raises `ConsentRequired` (403, `consent-required`) naming the customer, the
    category, the purpose and how to grant it. `partner_id=None` asks for the
    whole category: then only consents naming no partner count.
    """
    rows = await uow.consents.of_purpose(customer_id, purpose)
    refusal = consent_refusal_of(
        rows,
        settings,
        customer_id=customer_id,
        category=category,
        purpose=purpose,
        partner_id=partner_id,
    )
    if refusal is not None:
        raise refusal


@dataclass(frozen=True, slots=True)
class ConsentState:
    """A customer's consents in force: explicit rows and the contract defaults that apply."""

    customer_id: str
    active: Sequence[ConsentRow]
    defaults: Sequence[str]
    """Default-covered purposes the customer has not withdrawn, in settings order."""


async def consent_state(uow: UnitOfWork, settings: Settings, customer_id: str) -> ConsentState:
    """What the customer has consented to, including the defaults that still apply."""
    active = await uow.consents.active(customer_id)
    withdrawn = await uow.consents.withdrawn_defaults(customer_id, DEFAULT_SOURCE)
    defaults = [p for p in settings.consent_default_purposes if p not in withdrawn]
    return ConsentState(customer_id=customer_id, active=active, defaults=defaults)


async def grant_consent(
    uow: UnitOfWork,
    *,
    customer_id: str,
    purpose: Purpose,
    partner_id: str | None,
    evidence: str | None,
    client_id: str | None,
    now: datetime,
) -> tuple[ConsentRow, bool]:
    """The active consent for (customer, purpose, partner), created unless one exists.

    Returns the row and whether it was created; granting twice keeps one active
    row (the first grant's evidence stays). The caller commits.
    """
    for row in await uow.consents.of_purpose(customer_id, purpose.value):
        if row.withdrawn_at is None and row.partner_id == partner_id:
            return row, False
    row = ConsentRow(
        customer_id=customer_id,
        category=PURPOSE_CATEGORY[purpose].value,
        purpose=purpose.value,
        partner_id=partner_id,
        granted_at=now,
        withdrawn_at=None,
        source=APP_SOURCE,
        evidence=evidence,
    )
    uow.consents.add(row)
    await uow.flush()
    uow.consents.add_event(
        ConsentEventRow(
            customer_id=customer_id,
            consent_id=row.id,
            action="granted",
            at=now,
            client_id=client_id,
        )
    )
    return row, True


@dataclass(frozen=True, slots=True)
class Withdrawal:
    """What a withdrawal ended: explicit consents and, if it applied, the contract default."""

    customer_id: str
    purpose: str
    at: datetime
    consents: Sequence[ConsentRow]
    default: ConsentRow | None
    """The `contract_default` row recorded now, when the default applied until now."""


async def withdraw_consent(
    uow: UnitOfWork,
    settings: Settings,
    *,
    customer_id: str,
    purpose: Purpose,
    client_id: str | None,
    now: datetime,
) -> Withdrawal:
    """Withdraw at once every active consent of the purpose, and the contract default.

    The default's withdrawal is stored even when the purpose is not a default
    today, so a later change of `PGW_CONSENT_DEFAULT_PURPOSES` cannot opt the
    customer back in. Each withdrawal is recorded in `consent_events`;
    withdrawing again withdraws nothing. The caller commits.
    """
    withdrawn = await uow.consents.withdraw_active(customer_id, purpose.value, now)
    rows = await uow.consents.of_purpose(customer_id, purpose.value)
    default: ConsentRow | None = None
    if not _default_withdrawn(rows):
        marker = ConsentRow(
            customer_id=customer_id,
            category=PURPOSE_CATEGORY[purpose].value,
            purpose=purpose.value,
            partner_id=None,
            granted_at=now,
            withdrawn_at=now,
            source=DEFAULT_SOURCE,
            evidence=None,
        )
        uow.consents.add(marker)
        await uow.flush()
        if purpose.value in settings.consent_default_purposes:
            default = marker
    for row in [*withdrawn, *([default] if default is not None else [])]:
        uow.consents.add_event(
            ConsentEventRow(
                customer_id=customer_id,
                consent_id=row.id,
                action="withdrawn",
                at=now,
                client_id=client_id,
            )
        )
    return Withdrawal(
        customer_id=customer_id,
        purpose=purpose.value,
        at=now,
        consents=withdrawn,
        default=default,
    )
