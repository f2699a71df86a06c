"""The base every canonical model shares, and field types used across categories."""

from __future__ import annotations

from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, StringConstraints

from contracts.ids import PartnerId
from contracts.sensitivity import FieldKind, public

__all__ = [
    "CanonicalModel",
    "LongText",
    "ServiceRequestBase",
    "Text",
    "Timestamp",
]

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
"""A short single-purpose text (a name, a label, an address line)."""

LongText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
"""A free-text note."""

Timestamp = AwareDatetime
"""A point in time with its UTC offset; naive datetimes are refused."""


class CanonicalModel(BaseModel):
    """Immutable model that refuses unknown fields, so typos fail loudly."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class ServiceRequestBase(CanonicalModel):
    """Fields every service request shares."""

    partner_id: Annotated[PartnerId | None, public(FieldKind.IDENTIFIER)] = None
    """Pin the request to one partner; routing chooses when it is ``None``."""

    @property
    def city(self) -> str | None:
        """The city routing matches against partners' coverage, if the request has one."""
        return None
