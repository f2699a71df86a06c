"""Sensitivity classes of contract fields and the map masking derives its rules from.

Every leaf field of a model that travels to a partner carries a ``Sensitivity``
marker as ``Annotated`` metadata::

    name: Annotated[str, sensitive(FieldKind.NAME)]

A marker on a field whose type is itself a model classifies that whole value;
otherwise the walk descends into the nested model. List items appear as
``field[]`` and mapping values as ``field{}`` in the dotted paths.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel

__all__ = [
    "DataClass",
    "FieldKind",
    "Sensitivity",
    "de_identified",
    "public",
    "sensitive",
    "sensitivity_map",
    "unclassified_fields",
]


class DataClass(StrEnum):
    """The three data-sharing tiers, from least to most protected."""

    PUBLIC = "public"
    DE_IDENTIFIED = "de_identified"
    SENSITIVE = "sensitive"

    @property
    def level(self) -> int:
        """0 for public, 1 for de-identified, 2 for sensitive."""
        return _LEVELS[self]

    def within(self, tier: DataClass) -> bool:
        """Whether data of this class may go to a partner cleared for ``tier``."""
        return self.level <= tier.level


_LEVELS = {DataClass.PUBLIC: 0, DataClass.DE_IDENTIFIED: 1, DataClass.SENSITIVE: 2}


class FieldKind(StrEnum):
    """The format of a field's value, which decides how it can be masked."""

    NAME = "name"
    NATIONAL_ID = "national_id"
    PHONE = "phone"
    EMAIL = "email"
    ADDRESS = "address"
    GPS = "gps"
    BIRTH_DATE = "birth_date"
    PLATE = "plate"
    VIN = "vin"
    BANK_CARD = "bank_card"
    CUSTOMER_REF = "customer_ref"
    MEMBER_REF = "member_ref"
    MEMBERSHIP = "membership"
    CITY = "city"
    DISTRICT = "district"
    FREE_TEXT = "free_text"
    AMOUNT = "amount"
    CURRENCY = "currency"
    QUANTITY = "quantity"
    RATE = "rate"
    TIMESTAMP = "timestamp"
    DATE = "date"
    DURATION = "duration"
    IDENTIFIER = "identifier"
    CODE = "code"
    VEHICLE_SPEC = "vehicle_spec"
    LABEL = "label"


@dataclass(frozen=True, slots=True)
class Sensitivity:
    """Marker placed in ``Annotated`` metadata: the field's class and value format."""

    data_class: DataClass
    kind: FieldKind


def public(kind: FieldKind) -> Sensitivity:
    """Marker for data every partner may see (price lists, outlet locations)."""
    return Sensitivity(DataClass.PUBLIC, kind)


def de_identified(kind: FieldKind) -> Sensitivity:
    """Marker for data core partners may see once de-identified."""
    return Sensitivity(DataClass.DE_IDENTIFIED, kind)


def sensitive(kind: FieldKind) -> Sensitivity:
    """Marker for personal data that never leaves as is."""
    return Sensitivity(DataClass.SENSITIVE, kind)


def sensitivity_map(model_cls: type[BaseModel]) -> Mapping[str, Sensitivity]:
    """Dotted path of every classified field of ``model_cls`` -> its marker (read-only)."""
    return _walk(model_cls)[0]


def unclassified_fields(model_cls: type[BaseModel]) -> list[str]:
    """Dotted paths of leaf fields of ``model_cls`` that carry no marker."""
    return list(_walk(model_cls)[1])


@cache
def _walk(model_cls: type[BaseModel]) -> tuple[Mapping[str, Sensitivity], tuple[str, ...]]:
    # Cached per class: models are immutable definitions, and masking asks on every call.
    found: dict[str, Sensitivity] = {}
    missing: list[str] = []
    _visit_model(model_cls, "", found, missing, frozenset())
    return types.MappingProxyType(found), tuple(dict.fromkeys(missing))


def _visit_model(
    model_cls: type[BaseModel],
    prefix: str,
    found: dict[str, Sensitivity],
    missing: list[str],
    seen: frozenset[type[BaseModel]],
) -> None:
    if model_cls in seen:
        return  # A recursive model adds no new paths past its first occurrence.
    seen = seen | {model_cls}
    for name, info in model_cls.model_fields.items():
        path = f"{prefix}{name}"
        marker = _marker(info.metadata)
        if marker is not None:
            _record(found, path, marker)
        else:
            _visit_type(info.annotation, path, found, missing, seen)


def _visit_type(
    annotation: Any,
    path: str,
    found: dict[str, Sensitivity],
    missing: list[str],
    seen: frozenset[type[BaseModel]],
) -> None:
    origin = get_origin(annotation)
    if origin is Annotated:
        inner, *metadata = get_args(annotation)
        marker = _marker(metadata)
        if marker is not None:
            _record(found, path, marker)
        else:
            _visit_type(inner, path, found, missing, seen)
    elif origin in (Union, types.UnionType):
        for member in get_args(annotation):
            if member is not type(None):
                _visit_type(member, path, found, missing, seen)
    elif origin in (list, tuple, set, frozenset):
        for member in get_args(annotation):
            if member is not Ellipsis:
                _visit_type(member, f"{path}[]", found, missing, seen)
    elif origin is dict:
        _visit_type(get_args(annotation)[1], f"{path}{{}}", found, missing, seen)
    elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
        _visit_model(annotation, f"{path}.", found, missing, seen)
    else:
        missing.append(path)


def _marker(metadata: Any) -> Sensitivity | None:
    for item in metadata:
        if isinstance(item, Sensitivity):
            return item
    return None


def _record(found: dict[str, Sensitivity], path: str, marker: Sensitivity) -> None:
    # Variants of a union may share a path; the more protective class wins.
    current = found.get(path)
    if current is None or marker.data_class.level > current.data_class.level:
        found[path] = marker
