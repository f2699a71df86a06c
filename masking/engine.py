"""A partner's view of a record: every field through the policy, nothing unclassified.

``mask`` walks the record as JSON next to its model's sensitivity map (from
``contracts``). Each leaf is looked up by its dotted path; the policy decides
the operator from the field's kind and class, the purpose and the partner's
data tier; a leaf without a class, without a rule, or whose value does not
parse as its declared format is dropped. Every decision is returned (path,
class, operator; never the value) for the disclosure audit.

Two operators need more than a pure function: ``relay`` needs a virtual
number bound to the order by the gateway, so the engine returns the real
number as a ``RelayRequest`` and leaves the field out until
``MaskedView.with_relays`` places the bound number; and ``geohash`` treats a
``lat``/``lon`` pair as one point, replaced by the centre of its cell (and
the cell's code as a sibling ``geohash``), so an adapter still reads numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Final

from pydantic import BaseModel

from contracts import DataClass, FieldKind, Purpose, Sensitivity, sensitivity_map
from contracts.formats import validate_mobile, validate_vin
from masking.keys import MaskingKeys
from masking.operators import (
    age_band,
    district_of_address,
    mask_bank_card,
    mask_name,
    mask_national_id,
    mask_phone,
    mask_plate,
    national_id_birth_date,
    province_of_national_id,
    snap_to_geohash,
    street_of_address,
)
from masking.policy import POLICY, Operator, Policy, Rule

__all__ = ["FieldDecision", "MaskedView", "RelayRequest", "mask", "mask_json"]

UNCLASSIFIED: Final = "unclassified"

_PARTIAL: Final[Mapping[FieldKind, Callable[[str], str]]] = {
    FieldKind.NAME: mask_name,
    FieldKind.PHONE: mask_phone,
    FieldKind.NATIONAL_ID: mask_national_id,
    FieldKind.PLATE: mask_plate,
    FieldKind.BANK_CARD: mask_bank_card,
}
# De-identified values kept as they are must still be what they claim to be.
_KEEP_FORMAT: Final[Mapping[FieldKind, Callable[[str], str]]] = {FieldKind.VIN: validate_vin}


@dataclass(frozen=True, slots=True)
class FieldDecision:
    """What the policy did with one field (no value)."""

    path: str
    data_class: str
    kind: str
    operator: Operator

    def record(self) -> dict[str, str]:
        """The audit form."""
        return {
            "path": self.path,
            "data_class": self.data_class,
            "kind": self.kind,
            "operator": self.operator.value,
        }


@dataclass(frozen=True, slots=True)
class RelayRequest:
    """A phone number to replace with a relay number bound to the order."""

    path: str
    number: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class MaskedView:
    """The partner's view of a record, the decisions behind it, and relays to bind."""

    payload: dict[str, Any]
    fields: tuple[FieldDecision, ...]
    relays: tuple[RelayRequest, ...]
    policy_version: str

    def with_relays(self, numbers: Mapping[str, str]) -> dict[str, Any]:
        """The payload with each relay path set to its bound virtual number."""
        payload: dict[str, Any] = _copy(self.payload)
        for relay in self.relays:
            if relay.path in numbers:
                *parents, last = relay.path.split(".")
                target = payload
                for part in parents:
                    target = target.setdefault(part, {})
                target[last] = numbers[relay.path]
        return payload


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


@dataclass
class _Walk:
    markers: Mapping[str, Sensitivity]
    policy: Policy
    purpose: Purpose
    tier: DataClass
    partner_id: str
    keys: MaskingKeys
    today: date
    decisions: list[FieldDecision] = field(default_factory=list)
    relays: list[RelayRequest] = field(default_factory=list)

    def note(self, path: str, marker: Sensitivity | None, operator: Operator) -> None:
        self.decisions.append(
            FieldDecision(
                path,
                marker.data_class.value if marker else UNCLASSIFIED,
                marker.kind.value if marker else UNCLASSIFIED,
                operator,
            )
        )

    def rule(self, marker: Sensitivity) -> Rule | None:
        return self.policy.decide(marker.kind, marker.data_class, self.purpose, self.tier)

    def object(self, source: Mapping[str, Any], prefix: str, shown: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        self.point(source, prefix, shown, out)
        for key, value in source.items():
            if key in out or value is None:
                continue
            path, display = f"{prefix}{key}", f"{shown}{key}"
            marker = self.markers.get(path)
            if marker is None and isinstance(value, dict):
                out[key] = self.object(value, f"{path}.", f"{display}.")
            elif marker is None and isinstance(value, list):
                out[key] = self.items(value, f"{path}[]", display)
            elif marker is None:
                self.note(display, None, Operator.DROP)
            else:
                self.leaf(key, value, marker, display, out)
        return out

    def items(self, values: list[Any], path: str, shown: str) -> list[Any]:
        marker = self.markers.get(path)
        kept: list[Any] = []
        for index, value in enumerate(values):
            display = f"{shown}[{index}]"
            if marker is None and isinstance(value, dict):
                kept.append(self.object(value, f"{path}.", f"{display}."))
            elif marker is None:
                self.note(display, None, Operator.DROP)
            else:
                holder: dict[str, Any] = {}
                self.leaf("v", value, marker, display, holder)
                if "v" in holder:
                    kept.append(holder["v"])
        return kept

    def point(
        self, source: Mapping[str, Any], prefix: str, shown: str, out: dict[str, Any]
    ) -> None:
        """A lat/lon pair of GPS fields, snapped together to its geohash cell's centre."""
        lat_marker = self.markers.get(f"{prefix}lat")
        lon_marker = self.markers.get(f"{prefix}lon")
        if not (lat_marker and lon_marker and lat_marker.kind is FieldKind.GPS):
            return
        lat, lon = source.get("lat"), source.get("lon")
        if lat is None or lon is None:
            return
        rule = self.rule(lat_marker)
        operator = Operator.DROP
        if rule is not None and rule.operator is Operator.GEOHASH and rule.precision:
            try:
                code, centre_lat, centre_lon = snap_to_geohash(
                    float(lat), float(lon), rule.precision
                )
            except (TypeError, ValueError):
                pass
            else:
                out.update(lat=centre_lat, lon=centre_lon, geohash=code)
                operator = Operator.GEOHASH
        if operator is Operator.DROP:
            # Dropped together: `out` gets placeholders removed after the walk.
            out.update(lat=None, lon=None)
        for name, marker in (("lat", lat_marker), ("lon", lon_marker)):
            self.note(f"{shown}{name}", marker, operator)
        if operator is Operator.GEOHASH:
            self.note(f"{shown}geohash", lat_marker, Operator.GEOHASH)

    def leaf(
        self, key: str, value: Any, marker: Sensitivity, shown: str, out: dict[str, Any]
    ) -> None:
        rule = self.rule(marker)
        operator = rule.operator if rule is not None else Operator.DROP
        try:
            applied = self.apply(operator, marker, value, shown, out)
        except (TypeError, ValueError):
            applied = False
        if applied:
            if operator is not Operator.RELAY and operator is not Operator.AGE_BAND:
                out[key] = applied if applied is not True else value
        else:
            operator = Operator.DROP
        self.note(shown, marker, operator)

    def apply(
        self, operator: Operator, marker: Sensitivity, value: Any, shown: str, out: dict[str, Any]
    ) -> Any:
        """The new value (True: keep as is; False: drop); derived fields go to ``out``."""
        text = value if isinstance(value, str) else None
        if operator is Operator.KEEP:
            check = _KEEP_FORMAT.get(marker.kind)
            if check is not None:
                check(str(value))
            return True
        if operator is Operator.DROP:
            return False
        if text is None:
            return False  # every transforming operator works on text
        if operator is Operator.PARTIAL_MASK:
            partial = _PARTIAL.get(marker.kind)
            return partial(text) if partial else False
        if operator is Operator.PSEUDONYM:
            return self.keys.pseudonym(self.partner_id, text)
        if operator is Operator.TOKEN:
            return self.keys.token(self.partner_id, text)
        if operator is Operator.DISTRICT:
            return district_of_address(text)
        if operator is Operator.STREET:
            return street_of_address(text)
        if operator is Operator.RELAY:
            if "[" in shown:
                return False  # relays are bound to single fields only
            self.relays.append(RelayRequest(shown, validate_mobile(text)))
            return True
        if operator is Operator.AGE_BAND:
            return self.derive_age(marker.kind, text, shown, out)
        return False

    def derive_age(self, kind: FieldKind, text: str, shown: str, out: dict[str, Any]) -> bool:
        parent = shown.rpartition(".")[0]
        prefix = f"{parent}." if parent else ""
        if kind is FieldKind.NATIONAL_ID:
            born = national_id_birth_date(text)
            province = province_of_national_id(text)
            out["province"] = province
            self.decisions.append(
                FieldDecision(
                    f"{prefix}province",
                    DataClass.DE_IDENTIFIED.value,
                    kind.value,
                    Operator.AGE_BAND,
                )
            )
        else:
            born = date.fromisoformat(text)
        band = age_band(born, self.today)
        if "age_band" not in out:
            self.decisions.append(
                FieldDecision(
                    f"{prefix}age_band",
                    DataClass.DE_IDENTIFIED.value,
                    kind.value,
                    Operator.AGE_BAND,
                )
            )
        out["age_band"] = band
        return True


def _prune(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _prune(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_prune(v) for v in value]
    return value


def mask_json(
    record: Mapping[str, Any],
    model: type[BaseModel],
    *,
    partner_id: str,
    tier: DataClass,
    purpose: Purpose,
    agreed_purposes: Collection[Purpose],
    keys: MaskingKeys,
    today: date,
    policy: Policy = POLICY,
) -> MaskedView:
    """The view of ``record`` (JSON of ``model``) for one partner and purpose."""
    # A purpose the agreement does not list gets nothing beyond public data.
    effective = tier if purpose in agreed_purposes else DataClass.PUBLIC
    walk = _Walk(sensitivity_map(model), policy, purpose, effective, partner_id, keys, today)
    payload = _prune(walk.object(record, "", ""))
    return MaskedView(payload, tuple(walk.decisions), tuple(walk.relays), policy.version)


def mask(
    record: BaseModel,
    *,
    partner_id: str,
    tier: DataClass,
    purpose: Purpose,
    agreed_purposes: Collection[Purpose],
    keys: MaskingKeys,
    today: date,
    policy: Policy = POLICY,
) -> MaskedView:
    """The view of a validated ``record`` for one partner and purpose."""
    return mask_json(
        record.model_dump(mode="json", exclude_none=True),
        type(record),
        partner_id=partner_id,
        tier=tier,
        purpose=purpose,
        agreed_purposes=agreed_purposes,
        keys=keys,
        today=today,
        policy=policy,
    )
