"""Property tests of partner views over the sample registry and generated customers."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts import (
    EXAMPLE_LOCATION,
    EXAMPLE_REQUESTS,
    PURPOSE_CATEGORY,
    Customer,
    Operation,
    PartnerAgreement,
    Purpose,
    ServiceCategory,
    ServiceRequest,
)
from contracts.formats import national_id_check_char
from gateway.registry import load_registry
from masking import MaskedView, MaskingKeys, Operator, mask

REGISTRY = load_registry(Path(__file__).resolve().parents[2] / "partners")
KEYS = MaskingKeys.development()
TODAY = date(2026, 11, 22)
# The request of each category that carries a customer.
CARRIER = {
    ServiceCategory.RENTAL: Operation.COURTESY_CAR_BOOK,
    ServiceCategory.INSURANCE: Operation.INSURANCE_BIND,
    ServiceCategory.CHARGING: Operation.CHARGING_START,
    ServiceCategory.LIFESTYLE: Operation.LIFESTYLE_LINK,
}
PAIRS = [(a, p) for a in REGISTRY for p in Purpose if PURPOSE_CATEGORY[p] is a.category]

_SURNAMES = "李王张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
_GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂"
_ROADS = ("科苑路", "深南大道", "建国路", "人民街", "解放巷")


@st.composite
def customers(draw: st.DrawFn) -> Customer:
    born = draw(st.dates(min_value=date(1940, 1, 1), max_value=date(2006, 12, 31)))
    region = draw(st.sampled_from(["440305", "110105", "310104", "510107", "330106"]))
    serial = draw(st.integers(min_value=0, max_value=999))
    first17 = f"{region}{born:%Y%m%d}{serial:03d}"
    name = draw(st.sampled_from(_SURNAMES)) + "".join(
        draw(st.lists(st.sampled_from(_GIVEN), min_size=1, max_size=3))
    )
    phone = "1" + draw(st.sampled_from("3456789")) + f"{draw(st.integers(0, 999_999_999)):09d}"
    road = draw(st.sampled_from(_ROADS))
    number = draw(st.integers(min_value=1, max_value=999))
    return Customer(
        customer_id=f"cus-{draw(st.integers(0, 10**10)):010d}",
        name=name,
        phone=phone,
        national_id=first17 + national_id_check_char(first17),
        email=f"user{draw(st.integers(0, 10**6))}@example.com",
        birth_date=born,
        address=f"广东省深圳市南山区{road}{number}号",
        city="Shenzhen",
    )


def _request(category: ServiceCategory, customer: Customer) -> ServiceRequest:
    example = EXAMPLE_REQUESTS[CARRIER[category]]
    request: ServiceRequest = example.model_copy(update={"customer": customer})
    return request


def _windows(value: str, size: int = 5) -> set[str]:
    return {value[i : i + size] for i in range(len(value) - size + 1)}


def _sensitive_values(customer: Customer) -> list[str]:
    return [
        customer.name,
        customer.phone,
        str(customer.national_id),
        str(customer.email),
        customer.birth_date.isoformat() if customer.birth_date else "",
    ]


def _value_at(payload: Any, path: str) -> Any:
    value = payload
    for name, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", path):
        if isinstance(value, dict) and name:
            value = value.get(name)
        elif isinstance(value, list) and index:
            value = value[int(index)] if int(index) < len(value) else None
        else:
            return None
    return value


def _derived_text(view: MaskedView) -> str:
    """Every value the policy transformed; values kept from non-personal fields (a repair
    order number, a VIN) are left out, since a random piece of a phone may equal them."""
    derived = [
        _value_at(view.payload, d.path) for d in view.fields if d.operator is not Operator.KEEP
    ]
    return json.dumps(derived, ensure_ascii=False)


@settings(
    max_examples=60,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(customer=customers())
def test_no_sensitive_value_or_long_piece_of_one_reaches_any_partner(customer: Customer) -> None:
    for agreement, purpose in PAIRS:
        request = _request(agreement.category, customer)
        view = mask(
            request,
            partner_id=agreement.id,
            tier=agreement.data.tier,
            purpose=purpose,
            agreed_purposes=agreement.data.purposes,
            keys=KEYS,
            today=TODAY,
        )
        sent = _derived_text(view)
        everything = json.dumps(view.payload, ensure_ascii=False)
        for value in _sensitive_values(customer):
            assert value not in everything, (agreement.id, purpose)
            for piece in _windows(value):
                assert piece not in sent, (agreement.id, purpose, "a 5-character piece leaked")
        # An address leaves generalised only: a prefix of the original, no house number.
        originals = [customer.address or "", EXAMPLE_LOCATION.address or ""]
        for shown in _addresses(view.payload):
            assert any(o.startswith(shown) for o in originals)
            assert not any(c.isdigit() for c in shown)
        # A relayed phone is bound by the gateway; the engine hands it over, never sends it.
        assert all(r.number == customer.phone for r in view.relays)


def _addresses(value: Any) -> list[str]:
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "address" and isinstance(item, str):
                found.append(item)
            else:
                found.extend(_addresses(item))
    elif isinstance(value, list):
        for item in value:
            found.extend(_addresses(item))
    return found


@settings(max_examples=40, derandomize=True, deadline=None)
@given(customer=customers())
def test_pseudonyms_are_stable_per_partner_and_differ_across(customer: Customer) -> None:
    def pseudonym(agreement: PartnerAgreement) -> str:
        purpose = agreement.data.purposes[0]
        view = mask(
            _request(agreement.category, customer),
            partner_id=agreement.id,
            tier=agreement.data.tier,
            purpose=purpose,
            agreed_purposes=agreement.data.purposes,
            keys=KEYS,
            today=TODAY,
        )
        value: str = view.payload["customer"]["customer_id"]
        return value

    cleared = [a for a in REGISTRY if a.data.tier.value == "de_identified"]
    first = {a.id: pseudonym(a) for a in cleared}
    again = {a.id: pseudonym(a) for a in cleared}
    assert first == again
    assert len(set(first.values())) == len(first)
    assert all(value.startswith("psn_") for value in first.values())


@settings(max_examples=40, derandomize=True, deadline=None)
@given(customer=customers())
def test_the_underwriting_token_resolves_inside_the_gateway_only(customer: Customer) -> None:
    pingsure = REGISTRY.get("pingsure")
    view = mask(
        _request(ServiceCategory.INSURANCE, customer),
        partner_id="pingsure",
        tier=pingsure.data.tier,
        purpose=Purpose.INSURANCE_UNDERWRITING,
        agreed_purposes=pingsure.data.purposes,
        keys=KEYS,
        today=TODAY,
    )
    token = view.payload["customer"]["national_id"]
    assert KEYS.resolve_token("pingsure", token) == customer.national_id
    try:
        KEYS.resolve_token("taicover", token)
    except ValueError:
        pass
    else:
        raise AssertionError("another partner's key resolved the token")


def test_a_purpose_outside_the_agreement_gets_public_data_only() -> None:
    swiftrent = REGISTRY.get("swiftrent")
    customer = EXAMPLE_REQUESTS[Operation.COURTESY_CAR_BOOK]
    view = mask(
        customer,
        partner_id="swiftrent",
        tier=swiftrent.data.tier,
        purpose=Purpose.COURTESY_CAR_DELIVERY,
        agreed_purposes=[],
        keys=KEYS,
        today=TODAY,
    )
    assert "customer_id" not in view.payload.get("customer", {})
    assert "repair_order_id" not in view.payload
    assert view.relays == ()
    assert view.payload["days"] == 3


def test_unclassified_fields_never_pass() -> None:
    from masking import mask_json

    record = EXAMPLE_REQUESTS[Operation.COURTESY_CAR_BOOK].model_dump(mode="json")
    record["customer"]["loyalty_secret"] = "x" * 20
    view = mask_json(
        record,
        type(EXAMPLE_REQUESTS[Operation.COURTESY_CAR_BOOK]),
        partner_id="swiftrent",
        tier=REGISTRY.get("swiftrent").data.tier,
        purpose=Purpose.COURTESY_CAR_DELIVERY,
        agreed_purposes=[Purpose.COURTESY_CAR_DELIVERY],
        keys=KEYS,
        today=TODAY,
    )
    assert "loyalty_secret" not in view.payload["customer"]
    assert any(
        d.path == "customer.loyalty_secret" and d.operator.value == "drop" for d in view.fields
    )


def test_a_value_that_does_not_parse_is_dropped() -> None:
    record = EXAMPLE_REQUESTS[Operation.COURTESY_CAR_BOOK].model_dump(mode="json")
    record["customer"]["phone"] = "not a phone"
    from masking import mask_json

    view = mask_json(
        record,
        type(EXAMPLE_REQUESTS[Operation.COURTESY_CAR_BOOK]),
        partner_id="swiftrent",
        tier=REGISTRY.get("swiftrent").data.tier,
        purpose=Purpose.COURTESY_CAR_DELIVERY,
        agreed_purposes=[Purpose.COURTESY_CAR_DELIVERY],
        keys=KEYS,
        today=TODAY,
    )
    assert view.relays == ()
    assert "phone" not in view.payload["customer"]
    assert date.today() - TODAY < timedelta(days=100_000)
