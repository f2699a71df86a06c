"""Partner agreements: each clause's fields and the checks across clauses."""

import copy
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from contracts import (
    ApiKeyAuth,
    DataClass,
    Direction,
    HmacAuth,
    MarkupPlan,
    Money,
    OAuth2ClientCredentials,
    PartnerAgreement,
    PercentagePlan,
    ServiceCategory,
    SubscriptionCoveredPlan,
)

BASE: dict[str, Any] = {
    "id": "swiftrent",
    "name": "SwiftRent Mobility",
    "category": "rental",
    "partner_class": "capability",
    "cities": ["Shenzhen"],
    "api": {
        "base_url": "http://127.0.0.1:8000/sandbox/swiftrent/",
        "dialect": "swiftrent.v2",
        "auth": {"type": "api_key", "secret_ref": "swiftrent_key"},
    },
    "webhook": {"dialect": "canonical"},
    "sla": {
        "terms": [
            {
                "operation": "courtesy_car.book",
                "name": "deliver",
                "stop": "rental.vehicle.delivered",
                "target": "PT30M",
            }
        ]
    },
    "commission": {"plans": [{"kind": "percentage", "rate": "0.08", "valid_from": "2025-01-01"}]},
    "data": {"tier": "de_identified", "purposes": ["courtesy_car_delivery"]},
    "validity": {"valid_from": "2025-01-01", "valid_to": "2027-12-31"},
}


def agreement(**changes: Any) -> PartnerAgreement:
    raw = copy.deepcopy(BASE)
    raw.update(changes)
    return PartnerAgreement.model_validate(raw)


def errors(**changes: Any) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        agreement(**changes)
    return {".".join(map(str, e["loc"])): e["msg"] for e in caught.value.errors()}


class TestFields:
    def test_minimal_agreement(self) -> None:
        parsed = agreement()
        assert parsed.category is ServiceCategory.RENTAL
        assert parsed.api.base_url == "http://127.0.0.1:8000/sandbox/swiftrent"
        assert parsed.sla.terms[0].target == timedelta(minutes=30)
        assert parsed.sla.terms[0].start == "dispatched"

    def test_target_in_seconds(self) -> None:
        terms = copy.deepcopy(BASE["sla"])
        terms["terms"][0]["target"] = 1800
        assert agreement(sla=terms).sla.terms[0].target == timedelta(minutes=30)

    def test_target_must_be_positive(self) -> None:
        terms = copy.deepcopy(BASE["sla"])
        terms["terms"][0]["target"] = "PT0S"
        assert "positive duration" in errors(sla=terms)["sla.terms.0.target"]

    def test_typo_is_refused(self) -> None:
        assert "Extra inputs" in errors(citys=["Shenzhen"])["citys"]

    def test_cities_must_not_be_empty(self) -> None:
        assert "cities" in errors(cities=[])

    def test_rates_are_exact_decimals(self) -> None:
        commission = {"plans": [{"kind": "percentage", "rate": 0.08, "valid_from": "2025-01-01"}]}
        plan = agreement(commission=commission).commission.plans[0]
        assert isinstance(plan, PercentagePlan)
        assert plan.rate == Decimal("0.08")

    @pytest.mark.parametrize("rate", ["-0.01", "1.01"])
    def test_rate_bounds(self, rate: str) -> None:
        commission = {"plans": [{"kind": "percentage", "rate": rate, "valid_from": "2025-01-01"}]}
        assert "commission.plans.0.percentage.rate" in errors(commission=commission)

    def test_money_as_text(self) -> None:
        commission = {
            "plans": [
                {
                    "kind": "markup",
                    "buy": "100.00 CNY",
                    "sell": {"amount": 12000, "currency": "CNY"},
                    "valid_from": "2025-01-01",
                }
            ]
        }
        plan = agreement(commission=commission).commission.plans[0]
        assert isinstance(plan, MarkupPlan)
        assert plan.buy == Money.of("100", "CNY")
        assert plan.sell - plan.buy == Money.of("20", "CNY")

    def test_markup_must_not_sell_below_cost(self) -> None:
        commission = {
            "plans": [
                {"kind": "markup", "buy": "120 CNY", "sell": "100 CNY", "valid_from": "2025-01-01"}
            ]
        }
        assert (
            "sell must not be below buy"
            in errors(commission=commission)["commission.plans.0.markup"]
        )

    def test_percentage_min_not_above_max(self) -> None:
        plan = {
            "kind": "percentage",
            "rate": "0.06",
            "min": "20.00 CNY",
            "max": "0.50 CNY",
            "valid_from": "2025-01-01",
        }
        assert "min must not exceed max" in str(errors(commission={"plans": [plan]}))

    def test_unknown_plan_kind(self) -> None:
        plan = {"kind": "bribe", "valid_from": "2025-01-01"}
        assert "commission.plans.0" in errors(commission={"plans": [plan]})

    @pytest.mark.parametrize(
        ("auth", "model"),
        [
            (
                {
                    "type": "oauth2_client_credentials",
                    "token_url": "https://p.example.com/token",
                    "client_id": "oem",
                    "secret_ref": "p_secret",
                },
                OAuth2ClientCredentials,
            ),
            ({"type": "api_key", "secret_ref": "p_key"}, ApiKeyAuth),
            ({"type": "hmac", "key_id": "k1", "secret_ref": "p_hmac"}, HmacAuth),
        ],
    )
    def test_auth_styles(self, auth: dict[str, Any], model: type) -> None:
        api = {**BASE["api"], "auth": auth}
        assert isinstance(agreement(api=api).api.auth, model)

    def test_secret_ref_is_a_name_not_a_secret(self) -> None:
        api = {**BASE["api"], "auth": {"type": "api_key", "secret_ref": "sk_live_9F2c+/=="}}
        assert "api.auth.api_key.secret_ref" in errors(api=api)

    def test_base_url_must_be_http(self) -> None:
        api = {**BASE["api"], "base_url": "ftp://x"}
        assert "http" in errors(api=api)["api.base_url"]

    def test_dialect_shape(self) -> None:
        assert "webhook.dialect" in errors(webhook={"dialect": "Swift Rent"})

    def test_validity_must_move_forward(self) -> None:
        validity = {"valid_from": "2026-01-01", "valid_to": "2025-01-01"}
        assert "valid_to must not be before valid_from" in errors(validity=validity)["validity"]

    def test_data_tier_never_sensitive(self) -> None:
        data = {"tier": "sensitive", "purposes": ["courtesy_car_delivery"]}
        assert "never receive the sensitive class" in errors(data=data)["data.tier"]

    def test_may_receive(self) -> None:
        data = agreement().data
        assert data.may_receive(DataClass.DE_IDENTIFIED)
        assert not data.may_receive(DataClass.SENSITIVE)

    def test_plan_directions(self) -> None:
        assert PercentagePlan.direction is Direction.RECEIVABLE
        assert SubscriptionCoveredPlan.direction is Direction.PAYABLE

    def test_serves(self) -> None:
        parsed = agreement()
        assert parsed.serves(ServiceCategory.RENTAL, "Shenzhen")
        assert not parsed.serves(ServiceCategory.RENTAL, "Beijing")
        assert not parsed.serves(ServiceCategory.CHARGING, "Shenzhen")


class TestCrossFieldChecks:
    def test_sla_operation_must_belong_to_category(self) -> None:
        sla = {
            "terms": [
                {
                    "operation": "charging.start",
                    "name": "start",
                    "stop": "charging.session.started",
                    "target": "PT10S",
                }
            ]
        }
        found = errors(sla=sla)
        assert found["sla.terms.0.operation"] == (
            "operation charging.start is not a rental operation"
        )
        assert (
            found["sla.terms.0.stop"] == "event charging.session.started does not occur in rental"
        )

    def test_sla_start_must_be_dispatched_or_an_event(self) -> None:
        sla = copy.deepcopy(BASE["sla"])
        sla["terms"][0]["start"] = "whenever"
        assert "dispatched" in errors(sla=sla)["sla.terms.0.start"]

    def test_sla_term_names_unique(self) -> None:
        sla = copy.deepcopy(BASE["sla"])
        sla["terms"].append(dict(sla["terms"][0]))
        assert "used twice" in errors(sla=sla)["sla.terms.1.name"]

    def test_insurance_needs_revenue_share(self) -> None:
        found = errors(
            category="insurance",
            sla={"terms": []},
            data={"tier": "de_identified", "purposes": ["insurance_quotation"]},
        )
        assert found["commission.plans"] == "an insurance partner needs a revenue_share plan"

    def test_premium_share_only_for_insurers(self) -> None:
        plan = {
            "kind": "revenue_share",
            "rate": "0.3",
            "product": "insurance_premium",
            "valid_from": "2025-01-01",
        }
        assert "insurers only" in errors(commission={"plans": [plan]})["commission.plans.0.product"]

    def test_purposes_must_belong_to_category(self) -> None:
        data = {"tier": "public", "purposes": ["courtesy_car_delivery", "points_exchange"]}
        assert "not a rental purpose" in errors(data=data)["data.purposes.1"]

    def test_plans_within_validity(self) -> None:
        commission = {"plans": [{"kind": "percentage", "rate": "0.08", "valid_from": "2024-06-01"}]}
        assert "within validity" in errors(commission=commission)["commission.plans.0.valid_from"]

    def test_overlapping_plans_of_one_kind(self) -> None:
        plan = {"kind": "percentage", "rate": "0.08", "valid_from": "2025-01-01"}
        assert (
            "overlaps plan 0"
            in errors(commission={"plans": [plan, plan]})["commission.plans.1.valid_from"]
        )

    def test_consecutive_plans_of_one_kind(self) -> None:
        first = {"kind": "percentage", "rate": "0.08", "valid_from": "2025-01-01"}
        first["valid_to"] = "2025-12-31"
        second = {"kind": "percentage", "rate": "0.07", "valid_from": "2026-01-01"}
        assert len(agreement(commission={"plans": [first, second]}).commission.plans) == 2

    def test_gold_reduction_not_above_rate(self) -> None:
        commission = {
            "plans": [{"kind": "percentage", "rate": "0.08", "valid_from": "2025-01-01"}],
            "gold_rate_reduction_points": 9,
        }
        assert (
            "exceeds the rate"
            in errors(commission=commission)["commission.gold_rate_reduction_points"]
        )

    def test_yellow_card_must_be_suspended(self) -> None:
        assert "must be suspended" in errors(tier="yellow_card")["status"]
        assert agreement(tier="yellow_card", status="suspended").status == "suspended"

    def test_outcome_based_only_for_traffic(self) -> None:
        plan = {
            "kind": "outcome_based",
            "base_fee": "50000 CNY",
            "bonus_rate_per_point": "0.1",
            "kpi": "lead_conversion_percent",
            "baseline": "2",
            "attribution": "last_click",
            "valid_from": "2025-01-01",
        }
        assert "traffic partners" in errors(commission={"plans": [plan]})["commission.plans"]

    def test_every_broken_rule_is_reported_at_once(self) -> None:
        found = errors(
            cities=["Shenzhen", "Shenzhen"],
            tier="terminated",
            data={"tier": "public", "purposes": ["charging_access"]},
        )
        assert {"cities", "status", "data.purposes.0"} <= set(found)
