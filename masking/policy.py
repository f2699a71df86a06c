"""The disclosure policy: field kind x partner tier x purpose -> operator, in one table.

Read a row as "a field of this kind, disclosed for one of these purposes, is
transformed by this operator". The first row matching the field's kind and
the purpose *whose output the partner's tier may receive* decides; a field
no row allows is dropped (default deny). What an operator's output counts as:

- ``keep``: the field's own class (never used for sensitive kinds);
- ``partial_mask``, ``pseudonym``, ``token``, ``relay``, ``age_band``,
  ``district``, ``street``, ``geohash``: de-identified.

So a public-tier partner receives public fields only, a de-identified-tier
partner public fields and de-identified derivatives, and nobody receives a
sensitive value as is (name, national ID number, real phone number, bank
card, address, GPS, birth date, e-mail, plate, free text). A partner also
receives nothing beyond public fields for a purpose its agreement does not
list. ``POLICY_VERSION`` changes with any change of a row; every disclosure
records it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from contracts import DataClass, FieldKind, Purpose

__all__ = [
    "OUTPUT_CLASS",
    "POLICY",
    "POLICY_VERSION",
    "Operator",
    "Policy",
    "Rule",
]

POLICY_VERSION: Final = "2026-11.1"


class Operator(StrEnum):
    """What happens to a field's value on its way to a partner."""

    KEEP = "keep"
    DROP = "drop"
    PARTIAL_MASK = "partial_mask"
    PSEUDONYM = "pseudonym"
    TOKEN = "token"
    RELAY = "relay"
    AGE_BAND = "age_band"
    DISTRICT = "district"
    STREET = "street"
    GEOHASH = "geohash"


OUTPUT_CLASS: Final = {
    Operator.PARTIAL_MASK: DataClass.DE_IDENTIFIED,
    Operator.PSEUDONYM: DataClass.DE_IDENTIFIED,
    Operator.TOKEN: DataClass.DE_IDENTIFIED,
    Operator.RELAY: DataClass.DE_IDENTIFIED,
    Operator.AGE_BAND: DataClass.DE_IDENTIFIED,
    Operator.DISTRICT: DataClass.DE_IDENTIFIED,
    Operator.STREET: DataClass.DE_IDENTIFIED,
    Operator.GEOHASH: DataClass.DE_IDENTIFIED,
}
"""The class of each transforming operator's output (``keep`` keeps the field's class)."""

_P = Purpose
_INSURANCE: Final = frozenset(
    {_P.INSURANCE_QUOTATION, _P.INSURANCE_UNDERWRITING, _P.CLAIMS_HANDLING}
)
_PUBLIC_KINDS: Final = (
    FieldKind.CITY,
    FieldKind.AMOUNT,
    FieldKind.CURRENCY,
    FieldKind.QUANTITY,
    FieldKind.RATE,
    FieldKind.TIMESTAMP,
    FieldKind.DATE,
    FieldKind.DURATION,
    FieldKind.IDENTIFIER,
    FieldKind.CODE,
    FieldKind.VEHICLE_SPEC,
    FieldKind.LABEL,
)
_NEVER_KEPT: Final = frozenset(
    {
        FieldKind.NAME,
        FieldKind.NATIONAL_ID,
        FieldKind.PHONE,
        FieldKind.EMAIL,
        FieldKind.ADDRESS,
        FieldKind.GPS,
        FieldKind.BIRTH_DATE,
        FieldKind.PLATE,
        FieldKind.BANK_CARD,
        FieldKind.FREE_TEXT,
    }
)


@dataclass(frozen=True, slots=True)
class Rule:
    """One row: fields of ``kind``, for ``purposes`` (None: any), go through ``operator``."""

    kind: FieldKind
    operator: Operator
    purposes: frozenset[Purpose] | None = None
    precision: int | None = None
    """Geohash precision of a ``geohash`` row."""

    def matches(self, kind: FieldKind, purpose: Purpose) -> bool:
        """Whether this row speaks of ``kind`` disclosed for ``purpose``."""
        return self.kind is kind and (self.purposes is None or purpose in self.purposes)


class Policy:
    """An ordered, versioned set of rules with the default-deny lookup."""

    def __init__(self, version: str, rules: Iterable[Rule]) -> None:
        self.version = version
        self.rules = tuple(rules)
        for rule in self.rules:
            if rule.operator is Operator.KEEP and rule.kind in _NEVER_KEPT:
                raise ValueError(f"{rule.kind} is sensitive: it can never be kept as is")
            if (rule.operator is Operator.GEOHASH) != (rule.precision is not None):
                raise ValueError("a precision belongs to geohash rows, and they need one")

    def decide(
        self, kind: FieldKind, data_class: DataClass, purpose: Purpose, tier: DataClass
    ) -> Rule | None:
        """The row that applies to a field, or None (the field is dropped)."""
        if kind in _NEVER_KEPT and data_class is not DataClass.SENSITIVE:
            data_class = DataClass.SENSITIVE  # a mislabelled personal field is still personal
        for rule in self.rules:
            if not rule.matches(kind, purpose):
                continue
            produced = (
                data_class if rule.operator is Operator.KEEP else OUTPUT_CLASS.get(rule.operator)
            )
            if produced is not None and produced.within(tier):
                return rule
        return None

    def rows(self) -> tuple[Rule, ...]:
        """Every row, in order (for documentation and previews)."""
        return self.rules


POLICY: Final = Policy(
    POLICY_VERSION,
    [
        *(Rule(kind, Operator.KEEP) for kind in _PUBLIC_KINDS),
        Rule(FieldKind.DISTRICT, Operator.KEEP),
        Rule(FieldKind.MEMBERSHIP, Operator.KEEP),
        Rule(FieldKind.MEMBER_REF, Operator.KEEP),
        # Who the customer is: a stable pseudonym per partner, never our own id.
        Rule(FieldKind.CUSTOMER_REF, Operator.PSEUDONYM),
        # Insurers price and underwrite the car by its VIN; others get a pseudonym of it.
        Rule(FieldKind.VIN, Operator.KEEP, _INSURANCE),
        Rule(FieldKind.VIN, Operator.PSEUDONYM),
        Rule(
            FieldKind.NAME,
            Operator.PARTIAL_MASK,
            frozenset({_P.COURTESY_CAR_DELIVERY, _P.INSURANCE_UNDERWRITING, _P.CLAIMS_HANDLING}),
        ),
        # The driver and the claims handler call a relay number, never the customer's own.
        Rule(
            FieldKind.PHONE,
            Operator.RELAY,
            frozenset({_P.COURTESY_CAR_DELIVERY, _P.CLAIMS_HANDLING}),
        ),
        # A policy holder is identified by a token the gateway can resolve, never the number.
        Rule(
            FieldKind.NATIONAL_ID,
            Operator.TOKEN,
            frozenset({_P.INSURANCE_UNDERWRITING, _P.CLAIMS_HANDLING}),
        ),
        Rule(FieldKind.NATIONAL_ID, Operator.AGE_BAND, frozenset({_P.INSURANCE_QUOTATION})),
        Rule(
            FieldKind.BIRTH_DATE,
            Operator.AGE_BAND,
            frozenset({_P.INSURANCE_QUOTATION, _P.INSURANCE_UNDERWRITING}),
        ),
        Rule(FieldKind.ADDRESS, Operator.STREET, frozenset({_P.COURTESY_CAR_DELIVERY})),
        Rule(
            FieldKind.ADDRESS,
            Operator.DISTRICT,
            frozenset({*_INSURANCE, _P.CHARGING_ACCESS}),
        ),
        Rule(FieldKind.GPS, Operator.GEOHASH, frozenset({_P.COURTESY_CAR_DELIVERY}), precision=7),
        Rule(FieldKind.GPS, Operator.GEOHASH, frozenset({_P.CHARGING_ACCESS}), precision=6),
        Rule(FieldKind.GPS, Operator.GEOHASH, precision=5),
        Rule(FieldKind.PLATE, Operator.PARTIAL_MASK, _INSURANCE),
        Rule(FieldKind.BANK_CARD, Operator.PARTIAL_MASK, frozenset({_P.INSURANCE_UNDERWRITING})),
        # E-mail, free text, and everything not named above: dropped.
    ],
)
"""The policy in force."""
