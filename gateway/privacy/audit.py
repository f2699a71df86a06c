"""The disclosure audit: which fields of a customer went to which partner, and why.

Every call the masking choke point builds is recorded with its order, partner,
purpose and policy version, and for each field its path, data class, kind and
masking operator. Values are never stored: `record_disclosure` keeps exactly
those four keys of each field and nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from gateway.persistence.tables import DisclosureRow
from gateway.persistence.uow import UnitOfWork

__all__ = ["FIELD_KEYS", "DisclosurePage", "disclosures_of", "record_disclosure"]

FIELD_KEYS: Final = ("path", "data_class", "kind", "operator")
"""What is kept of each disclosed field (never its value)."""


def _field_record(field: Mapping[str, str]) -> dict[str, str]:
    missing = [key for key in FIELD_KEYS if not isinstance(field.get(key), str)]
    if missing:
        raise ValueError(f"disclosed field lacks {', '.join(missing)}: keys {sorted(field)}")
    return {key: field[key] for key in FIELD_KEYS}


async def record_disclosure(
    uow: UnitOfWork,
    *,
    order_id: str | None,
    customer_id: str | None,
    partner_id: str,
    purpose: str,
    policy_version: str,
    fields: Sequence[Mapping[str, str]],
    now: datetime,
) -> None:
    """Stage the audit record of one disclosure in the caller's transaction (it commits).

    Only `path`, `data_class`, `kind` and `operator` of each field are stored;
    any other key (a value included) is dropped. Raises `ValueError` when a
    field lacks one of them.
    """
    uow.disclosures.add(
        DisclosureRow(
            order_id=order_id,
            customer_id=customer_id,
            partner_id=partner_id,
            purpose=purpose,
            policy_version=policy_version,
            fields=[_field_record(field) for field in fields],
            created_at=now,
        )
    )


@dataclass(frozen=True, slots=True)
class DisclosurePage:
    """One page of a customer's disclosures, newest first."""

    rows: Sequence[DisclosureRow]
    next_before: int | None
    """The `before` cursor of the next page; None on the last page."""


async def disclosures_of(
    uow: UnitOfWork, *, customer_id: str, limit: int, before: int | None = None
) -> DisclosurePage:
    """The customer's disclosures, newest first, older than the disclosure `before` (an id)."""
    rows = await uow.disclosures.of_customer(customer_id, limit=limit + 1, before=before)
    more = len(rows) > limit
    rows = rows[:limit]
    return DisclosurePage(rows=rows, next_before=rows[-1].id if more else None)
