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
from functools import lru_cache
from typing import Any, Final, NamedTuple

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


class FieldDecision(NamedTuple):
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


@dataclass(frozen=True, slots=True)
class _Entry:
    """A classified field's marker and the rule the policy gives it (precomputed)."""

    marker: Sensitivity
    rule: Rule | None
    data_class: str
    kind: str


@lru_cache(maxsize=512)
def _plan(
    model: type[BaseModel], policy: Policy, purpose: Purpose, tier: DataClass
) -> Mapping[str, _Entry]:
    # The rule of a field depends on its kind and class, the purpose and the tier only:
    # decided once per model, purpose and tier instead of once per field and record.
    return {
        path: _Entry(
            marker,
            policy.decide(marker.kind, marker.data_class, purpose, tier),
            marker.data_class.value,
            marker.kind.value,
        )
        for path, marker in sensitivity_map(model).items()
    }


@dataclass
class _Walk:
    plan: Mapping[str, _Entry]
    partner_id: str
    keys: MaskingKeys
    today: date
    decisions: list[FieldDecision] = field(default_factory=list)
    relays: list[RelayRequest] = field(default_factory=list)
    # One record often repeats a value (the customer's address is the pickup address):
    # generalise it once per record. Nothing outlives the call.
    seen: dict[tuple[Operator, str], str] = field(default_factory=dict)

    def note(self, path: str, entry: _Entry | None, operator: Operator) -> None:
        if entry is None:
            self.decisions.append(FieldDecision(path, UNCLASSIFIED, UNCLASSIFIED, operator))
        else:
            self.decisions.append(FieldDecision(path, entry.data_class, entry.kind, operator))

    def object(self, source: Mapping[str, Any], prefix: str, shown: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        done = self.point(source, prefix, shown, out) if "lat" in source else ()
        plan = self.plan
        for key, value in source.items():
            if value is None or key in done:
                continue
            path, display = prefix + key, shown + key
            entry = plan.get(path)
            if entry is not None:
                self.leaf(key, value, entry, display, out)
            elif isinstance(value, dict):
                out[key] = self.object(value, path + ".", display + ".")
            elif isinstance(value, list):
                out[key] = self.items(value, path + "[]", display)
            else:
                self.note(display, None, Operator.DROP)
        return out

    def items(self, values: list[Any], path: str, shown: str) -> list[Any]:
        entry = self.plan.get(path)
        kept: list[Any] = []
        for index, value in enumerate(values):
            display = f"{shown}[{index}]"
            if entry is None and isinstance(value, dict):
                kept.append(self.object(value, f"{path}.", f"{display}."))
            elif entry is None:
                self.note(display, None, Operator.DROP)
            else:
                holder: dict[str, Any] = {}
                self.leaf("v", value, entry, display, holder)
                if "v" in holder:
                    kept.append(holder["v"])
        return kept

    def point(
        self, source: Mapping[str, Any], prefix: str, shown: str, out: dict[str, Any]
    ) -> tuple[str, ...]:
        """A lat/lon pair of GPS fields, snapped together to its geohash cell's centre."""
        lat_entry = self.plan.get(f"{prefix}lat")
        lon_entry = self.plan.get(f"{prefix}lon")
        if not (lat_entry and lon_entry and lat_entry.marker.kind is FieldKind.GPS):
            return ()
        lat, lon = source.get("lat"), source.get("lon")
        if lat is None or lon is None:
            return ()
        rule = lat_entry.rule
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
        for name, entry in (("lat", lat_entry), ("lon", lon_entry)):
            self.note(f"{shown}{name}", entry, operator)
        if operator is Operator.GEOHASH:
            self.note(f"{shown}geohash", lat_entry, Operator.GEOHASH)
        return ("lat", "lon")

    def leaf(self, key: str, value: Any, entry: _Entry, shown: str, out: dict[str, Any]) -> None:
        rule = entry.rule
        operator = rule.operator if rule is not None else Operator.DROP
        if operator is Operator.KEEP and entry.marker.kind not in _KEEP_FORMAT:
            out[key] = value  # the common case, without the general path below
            self.note(shown, entry, operator)
            return
        try:
            applied = self.apply(operator, entry.marker, value, shown, out)
        except (TypeError, ValueError):
            applied = False
        if applied:
            if operator is not Operator.RELAY and operator is not Operator.AGE_BAND:
                out[key] = applied if applied is not True else value
        else:
            operator = Operator.DROP
        self.note(shown, entry, operator)

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
        if operator is Operator.DISTRICT or operator is Operator.STREET:
            done = self.seen.get((operator, text))
            if done is None:
                cut = district_of_address if operator is Operator.DISTRICT else street_of_address
                done = self.seen[(operator, text)] = cut(text)
            return done
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
    walk = _Walk(_plan(model, policy, purpose, effective), partner_id, keys, today)
    payload = walk.object(record, "", "")
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
