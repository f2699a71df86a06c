"""PingSure v1 outbound: recorded requests and answers, every failure class, surrender."""

import copy
import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

import adapters.pingsure
from adapters import (
    OutboundCall,
    PartnerAdapter,
    PartnerAuthFailed,
    PartnerRateLimited,
    PartnerRejected,
    PartnerUnavailable,
)
from adapters.pingsure import PingSureApi
from adapters.pingsure.outbound import DatePeriod
from contracts import (
    EXAMPLE_REQUESTS,
    Coverage,
    InsurancePolicy,
    InsuranceQuote,
    InsuranceQuotes,
    Money,
    Operation,
)

_BASE = "https://api.pingsure.test"
_FIXTURES = Path(adapters.pingsure.__file__).parent / "fixtures" / "operations"
_ORDER = "ord_01jqdsc4a0j4eqxp5r76bqcqzf"
_PROPOSAL = "TDAA203044030000098765"
_KEY = "idem-01jqdsc4a0j4eqxp5r76bqcqzf"
_QUOTE = Operation.INSURANCE_QUOTE
_BIND = Operation.INSURANCE_BIND
_PATHS = {_QUOTE: "/api/v1/quotes", _BIND: "/api/v1/proposals"}
_SURRENDER = f"/api/v1/policies/{_PROPOSAL}/surrender"
_COVERS = [
    Coverage.COMPULSORY_TRAFFIC,
    Coverage.THIRD_PARTY_LIABILITY,
    Coverage.VEHICLE_DAMAGE,
    Coverage.EV_BATTERY,
]


def _fixture(name: str) -> Any:
    return json.loads((_FIXTURES / f"{name}.json").read_text("utf-8"))


def _payload(operation: Operation) -> dict[str, Any]:
    payload: dict[str, Any] = EXAMPLE_REQUESTS[operation].model_dump(mode="json")
    return payload


def _call(operation: Operation, payload: dict[str, Any] | None = None) -> OutboundCall:
    return OutboundCall(
        partner_id="pingsure",
        order_id=_ORDER,
        operation=operation,
        payload=_payload(operation) if payload is None else payload,
        idempotency_key=_KEY,
    )


def _sent(route: respx.Route) -> Any:
    return json.loads(route.calls.last.request.content)


@pytest.fixture
def partner() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=_BASE, assert_all_called=False) as router:
        yield router


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=_BASE) as client:
        yield client


class TestSurface:
    def test_is_a_partner_adapter(self) -> None:
        adapter = PingSureApi()
        assert isinstance(adapter, PartnerAdapter)
        assert adapter.dialect == "pingsure.v1"
        assert adapter.operations() == {_QUOTE, _BIND}

    def test_quotes_are_reads_and_proposals_are_deduplicated(self) -> None:
        assert PingSureApi().retry_safe(_QUOTE)
        assert PingSureApi().retry_safe(_BIND)
        assert not PingSureApi().retry_safe(Operation.COURTESY_CAR_BOOK)

    async def test_other_operations_are_refused_without_a_call(
        self, partner: respx.MockRouter, http: httpx.AsyncClient
    ) -> None:
        other = OutboundCall("pingsure", _ORDER, Operation.CHARGING_STOP, {}, _KEY)
        with pytest.raises(PartnerRejected) as caught:
            await PingSureApi().call(http, other)
        assert caught.value.code == "unsupported_operation"
        assert not partner.calls


class TestQuote:
    async def test_recorded_request_and_answer(
        self, partner: respx.MockRouter, http: httpx.AsyncClient
    ) -> None:
        route = partner.post("/api/v1/quotes").respond(
            200, json=_fixture("insurance.quote.response")
        )
        result = await PingSureApi().call(http, _call(_QUOTE))
        assert _sent(route) == _fixture("insurance.quote.request")
        assert route.calls.last.request.headers["Idempotency-Key"] == _KEY
        assert result == InsuranceQuotes(
            quotes=[
                InsuranceQuote(
                    quote_id="PQ-2030-88412",
                    insurer="PingSure Property & Casualty",
                    premium=Money(amount=555_800, currency="CNY"),
                    coverages=_COVERS,
                    valid_until=datetime(2030, 5, 23, 15, 59, 59, tzinfo=UTC),
                )
            ]
        )
        assert result.quotes[0].partner_id is None

    async def test_undisclosed_driver_and_plate_are_left_out(
        self, partner: respx.MockRouter, http: httpx.AsyncClient
    ) -> None:
        route = partner.post("/api/v1/quotes").respond(
            200, json=_fixture("insurance.quote.response")
        )
        payload = _payload(_QUOTE)
        for field in ("national_id", "birth_date", "email", "address"):
            del payload["customer"][field]
        del payload["vehicle"]["plate"]
        await PingSureApi().call(http, _call(_QUOTE, payload))
        sent = _sent(route)
        assert "driver" not in sent
        assert "plate_no" not in sent["vehicle"]
        assert sent["vehicle"]["vin"] == "LGXCE4CB8N0012345"

    @pytest.mark.parametrize(
        ("customer", "driver"),
        [
            # The age band comes from the ID when the birth date is withheld.
            (
                {"national_id": "440305198803161235"},
                {"age_band": "40-49", "id_no": "440305198803161235"},
            ),
            ({"birth_date": "2008-06-02"}, {"age_band": "18-24", "birth_date": "2008-06-02"}),
            ({"birth_date": "1970-06-01"}, {"age_band": "60+", "birth_date": "1970-06-01"}),
            # A blurred value is no date: it is neither sent nor rated.
            ({"birth_date": "1988-**-**"}, None),
            ({"national_id": "440305********1235"}, {"id_no": "440305********1235"}),
        ],
    )
    async def test_driver_is_rated_from_what_is_disclosed(
        self,
        partner: respx.MockRouter,
        http: httpx.AsyncClient,
        customer: dict[str, str],
        driver: dict[str, str] | None,
    ) -> None:
        route = partner.post("/api/v1/quotes").respond(
            200, json=_fixture("insurance.quote.response")
        )
        payload = _payload(_QUOTE)
        payload["customer"] = {"customer_id": "cus-0000482913", "city": "Shenzhen", **customer}
        await PingSureApi().call(http, _call(_QUOTE, payload))
        assert _sent(route).get("driver") == driver

    async def test_every_coverage_and_powertrain_has_a_code(
        self, partner: respx.MockRouter, http: httpx.AsyncClient
    ) -> None:
        route = partner.post("/api/v1/quotes").respond(
            200, json=_fixture("insurance.quote.response")
        )
        payload = _payload(_QUOTE)
        payload["coverages"] = [c.value for c in Coverage]
        payload["vehicle"]["powertrain"] = "erev"
        await PingSureApi().call(http, _call(_QUOTE, payload))
        sent = _sent(route)
        assert sent["coverage_codes"] == ["JQX", "SZX", "CSX", "CSRY", "BLX", "SDX", "JYFW"]
        assert sent["vehicle"]["energy_type"] == "ZC"

    @pytest.mark.parametrize(
        ("path", "field"),
        [
            (("vehicle", "vin"), "vehicle.vin"),
            (("vehicle", "model_year"), "vehicle.model_year"),
            (("vehicle", "powertrain"), "vehicle.powertrain"),
            (("vehicle",), "vehicle.vin"),
            (("start_date",), "start_date"),
        ],
    )
    async def test_missing_vehicle_facts_are_refused_before_sending(
        self,
        partner: respx.MockRouter,
        http: httpx.AsyncClient,
        path: tuple[str, ...],
        field: str,
    ) -> None:
        route = partner.post("/api/v1/quotes")
        payload = _payload(_QUOTE)
        target = payload
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]
        with pytest.raises(PartnerRejected) as caught:
            await PingSureApi().call(http, _call(_QUOTE, payload))
        assert caught.value.code == "missing_field"
        assert str(caught.value) == f"insurance.quote: {field} not disclosed"
        assert not route.called

    async def test_a_value_pingsure_cannot_take_is_refused(
        self, partner: respx.MockRouter, http: httpx.AsyncClient
    ) -> None:
        route = partner.post("/api/v1/quotes")
        payload = _payload(_QUOTE)
        payload["vehicle"]["powertrain"] = "steam"
        with pytest.raises(PartnerRejected) as caught:
            await PingSureApi().call(http, _call(_QUOTE, payload))
        assert caught.value.code == "invalid_field"
        assert "vehicle.energy_type" in str(caught.value)
        assert not route.called


class TestBind:
    async def test_recorded_request_and_answer(
        self, partner: respx.MockRouter, http: httpx.AsyncClient
    ) -> None:
        route = partner.post("/api/v1/proposals").respond(
            200, json=_fixture("insurance.bind.response")
        )
        result = await PingSureApi().call(http, _call(_BIND))
        assert _sent(route) == _fixture("insurance.bind.request")
        assert route.calls.last.request.headers["Idempotency-Key"] == _KEY
        assert result == InsurancePolicy(
            policy_number="PDAA203044030000012345",
            insurer="PingSure Property & Casualty",
            premium=Money(amount=555_800, currency="CNY"),
            coverages=_COVERS,
            starts_on=date(2030, 6, 1),
            ends_on=date(2031, 5, 31),
        )

    async def test_period_is_read_in_beijing_time(
        self, partner: respx.MockRouter, http: httpx.AsyncClient
    ) -> None:
        answer = _fixture("insurance.bind.response")
        # 16:00 UTC on 31 May is midnight of 1 June in Beijing.
        answer["effective_time"] = "2030-05-31T16:00:00+00:00"
        answer["insurance_period"] = "P6M"
        partner.post("/api/v1/proposals").respond(200, json=answer)
        result = await PingSureApi().call(http, _call(_BIND))
        assert isinstance(result, InsurancePolicy)
        assert (result.starts_on, result.ends_on) == (date(2030, 6, 1), date(2030, 11, 30))

    async def test_undisclosed_phone_is_left_out(
        self, partner: respx.MockRouter, http: httpx.AsyncClient
    ) -> None:
        route = partner.post("/api/v1/proposals").respond(
            200, json=_fixture("insurance.bind.response")
        )
        payload = _payload(_BIND)
        del payload["customer"]["phone"]
        await PingSureApi().call(http, _call(_BIND, payload))
        assert _sent(route)["applicant"] == {"name": "李晓明", "id_no": "440305198803161235"}

    @pytest.mark.parametrize("field", ["national_id", "name"])
    async def test_real_name_rule_needs_name_and_id(
        self, partner: respx.MockRouter, http: httpx.AsyncClient, field: str
    ) -> None:
        route = partner.post("/api/v1/proposals")
        payload = _payload(_BIND)
        del payload["customer"][field]
        with pytest.raises(PartnerRejected) as caught:
            await PingSureApi().call(http, _call(_BIND, payload))
        assert caught.value.code == "missing_field"
        assert str(caught.value) == f"insurance.bind: customer.{field} not disclosed"
        assert not route.called

    async def test_quote_id_is_required(
        self, partner: respx.MockRouter, http: httpx.AsyncClient
    ) -> None:
        payload = _payload(_BIND)
        del payload["quote_id"]
        with pytest.raises(PartnerRejected, match="quote_id not disclosed"):
            await PingSureApi().call(http, _call(_BIND, payload))


@pytest.mark.parametrize("operation", [_QUOTE, _BIND])
class TestFailures:
    @pytest.mark.parametrize("status", [401, 403])
    async def test_refused_credentials(
        self,
        partner: respx.MockRouter,
        http: httpx.AsyncClient,
        operation: Operation,
        status: int,
    ) -> None:
        partner.post(_PATHS[operation]).respond(status, json=_fixture("error.unauthorized"))
        with pytest.raises(PartnerAuthFailed):
            await PingSureApi().call(http, _call(operation))

    async def test_rate_limited_with_seconds(
        self, partner: respx.MockRouter, http: httpx.AsyncClient, operation: Operation
    ) -> None:
        partner.post(_PATHS[operation]).respond(
            429, json=_fixture("error.rate_limited"), headers={"Retry-After": "7"}
        )
        with pytest.raises(PartnerRateLimited) as caught:
            await PingSureApi().call(http, _call(operation))
        assert caught.value.retry_after == 7.0

    async def test_rate_limited_with_an_http_date(
        self, partner: respx.MockRouter, http: httpx.AsyncClient, operation: Operation
    ) -> None:
        later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
        partner.post(_PATHS[operation]).respond(
            429, json=_fixture("error.rate_limited"), headers={"Retry-After": later}
        )
        with pytest.raises(PartnerRateLimited) as caught:
            await PingSureApi().call(http, _call(operation))
        assert caught.value.retry_after is not None
        assert 25 <= caught.value.retry_after <= 30

    @pytest.mark.parametrize("status", [500, 502, 503, 504, 408])
    async def test_outage(
        self,
        partner: respx.MockRouter,
        http: httpx.AsyncClient,
        operation: Operation,
        status: int,
    ) -> None:
        partner.post(_PATHS[operation]).respond(status, json=_fixture("error.unavailable"))
        with pytest.raises(PartnerUnavailable) as caught:
            await PingSureApi().call(http, _call(operation))
        assert caught.value.sent

    async def test_timeout(
        self, partner: respx.MockRouter, http: httpx.AsyncClient, operation: Operation
    ) -> None:
        partner.post(_PATHS[operation]).mock(side_effect=httpx.ReadTimeout("slow"))
        with pytest.raises(PartnerUnavailable) as caught:
            await PingSureApi().call(http, _call(operation))
        assert caught.value.timed_out

    async def test_connection_refused_was_not_sent(
        self, partner: respx.MockRouter, http: httpx.AsyncClient, operation: Operation
    ) -> None:
        partner.post(_PATHS[operation]).mock(side_effect=httpx.ConnectError("refused"))
        with pytest.raises(PartnerUnavailable) as caught:
            await PingSureApi().call(http, _call(operation))
        assert not caught.value.sent

    @pytest.mark.parametrize(
        "kind",
        [
            "missing_field",
            "invalid_field",
            "quote_not_found",
            "quote_expired",
            "underwriting_declined",
            "coverage_not_offered",
        ],
    )
    async def test_business_refusal_keeps_pingsure_code(
        self,
        partner: respx.MockRouter,
        http: httpx.AsyncClient,
        operation: Operation,
        kind: str,
    ) -> None:
        body = _fixture(f"error.{kind}")
        code = body["error_code"]
        partner.post(_PATHS[operation]).respond(code // 100, json=body)
        with pytest.raises(PartnerRejected) as caught:
            await PingSureApi().call(http, _call(operation))
        assert caught.value.code == str(code)
        # PingSure's message may repeat personal data; only its code is quoted.
        assert body["error_msg"] not in str(caught.value)

    async def test_refusal_without_pingsure_body(
        self, partner: respx.MockRouter, http: httpx.AsyncClient, operation: Operation
    ) -> None:
        partner.post(_PATHS[operation]).respond(404, text="<html>Not Found</html>")
        with pytest.raises(PartnerRejected) as caught:
            await PingSureApi().call(http, _call(operation))
        assert caught.value.code == "http_404"

    async def test_success_body_that_is_not_json(
        self, partner: respx.MockRouter, http: httpx.AsyncClient, operation: Operation
    ) -> None:
        partner.post(_PATHS[operation]).respond(200, text="OK")
        with pytest.raises(PartnerUnavailable, match="not JSON"):
            await PingSureApi().call(http, _call(operation))

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("channel_order_no", "ord_01jqt71yw0yjt6rn9pkvr3nv9y"),
            ("total_premium_fen", "5558.00"),
            ("insurer_name", None),
        ],
    )
    async def test_mismatched_success_body(
        self,
        partner: respx.MockRouter,
        http: httpx.AsyncClient,
        operation: Operation,
        field: str,
        value: object,
    ) -> None:
        name = "insurance.quote.response" if operation is _QUOTE else "insurance.bind.response"
        answer = _fixture(name)
        answer[field] = value
        partner.post(_PATHS[operation]).respond(200, json=answer)
        with pytest.raises(PartnerUnavailable):
            await PingSureApi().call(http, _call(operation))


class TestMalformedAnswers:
    @pytest.mark.parametrize(
        ("mutate", "where"),
        [
            (lambda a: a["items"][0].update(coverage_code="XYZ"), "items.0.coverage_code"),
            (lambda a: a.update(items=[]), "items"),
            (lambda a: a.update(expire_time="2030-05-23 23:59:59"), "expire_time"),
        ],
    )
    async def test_quote(
        self, partner: respx.MockRouter, http: httpx.AsyncClient, mutate: Any, where: str
    ) -> None:
        answer = copy.deepcopy(_fixture("insurance.quote.response"))
        mutate(answer)
        partner.post("/api/v1/quotes").respond(200, json=answer)
        with pytest.raises(PartnerUnavailable, match=where):
            await PingSureApi().call(http, _call(_QUOTE))

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("insurance_period", "PT8760H"),
            ("insurance_period", "P0D"),
            ("effective_time", "2030-06-01T00:00:00"),
            ("coverage_codes", ["JQX", "XYZ"]),
            ("effective_time", "9999-12-31T00:00:00+08:00"),
        ],
    )
    async def test_proposal(
        self, partner: respx.MockRouter, http: httpx.AsyncClient, field: str, value: object
    ) -> None:
        answer = _fixture("insurance.bind.response")
        answer[field] = value
        partner.post("/api/v1/proposals").respond(200, json=answer)
        with pytest.raises(PartnerUnavailable):
            await PingSureApi().call(http, _call(_BIND))


class TestCancel:
    async def test_surrender_before_the_start_date(
        self, partner: respx.MockRouter, http: httpx.AsyncClient
    ) -> None:
        route = partner.post(_SURRENDER).respond(200, json=_fixture("cancel.response"))
        await PingSureApi().cancel(http, order_id=_ORDER, partner_reference=_PROPOSAL)
        assert _sent(route) == _fixture("cancel.request")

    @pytest.mark.parametrize("kind", ["policy_in_force", "proposal_not_found"])
    async def test_in_force_or_no_proposal_is_not_cancellable(
        self, partner: respx.MockRouter, http: httpx.AsyncClient, kind: str
    ) -> None:
        body = _fixture(f"error.{kind}")
        partner.post(_SURRENDER).respond(body["error_code"] // 100, json=body)
        with pytest.raises(PartnerRejected) as caught:
            await PingSureApi().cancel(http, order_id=_ORDER, partner_reference=_PROPOSAL)
        assert caught.value.code == "not_cancellable"

    async def test_a_quote_has_nothing_to_surrender(
        self, partner: respx.MockRouter, http: httpx.AsyncClient
    ) -> None:
        body = _fixture("error.proposal_not_found")
        partner.post("/api/v1/policies/PQ-2030-88412/surrender").respond(404, json=body)
        with pytest.raises(PartnerRejected) as caught:
            await PingSureApi().cancel(http, order_id=_ORDER, partner_reference="PQ-2030-88412")
        assert caught.value.code == "not_cancellable"

    async def test_without_a_reference_nothing_is_sent(
        self, partner: respx.MockRouter, http: httpx.AsyncClient
    ) -> None:
        with pytest.raises(PartnerRejected) as caught:
            await PingSureApi().cancel(http, order_id=_ORDER, partner_reference=None)
        assert caught.value.code == "not_cancellable"
        assert not partner.calls

    async def test_reference_is_one_path_segment(
        self, partner: respx.MockRouter, http: httpx.AsyncClient
    ) -> None:
        route = partner.post("/api/v1/policies/A%2FB/surrender").respond(200, json={})
        await PingSureApi().cancel(http, order_id=_ORDER, partner_reference="A/B")
        assert route.called

    async def test_other_refusals_and_outages_pass_through(
        self, partner: respx.MockRouter, http: httpx.AsyncClient
    ) -> None:
        route = partner.post(_SURRENDER)
        route.respond(400, json=_fixture("error.missing_field"))
        with pytest.raises(PartnerRejected) as refused:
            await PingSureApi().cancel(http, order_id=_ORDER, partner_reference=_PROPOSAL)
        assert refused.value.code == "40012"
        route.respond(503, json=_fixture("error.unavailable"))
        with pytest.raises(PartnerUnavailable):
            await PingSureApi().cancel(http, order_id=_ORDER, partner_reference=_PROPOSAL)


class TestDatePeriod:
    @pytest.mark.parametrize(
        ("text", "start", "last_day", "shown"),
        [
            ("P1Y", date(2025, 4, 1), date(2026, 3, 31), "P1Y"),
            ("P1Y", date(2024, 2, 29), date(2025, 2, 28), "P1Y"),
            ("P1M", date(2025, 1, 31), date(2025, 2, 28), "P1M"),
            ("P6M", date(2025, 9, 1), date(2026, 2, 28), "P6M"),
            ("P30D", date(2025, 1, 1), date(2025, 1, 30), "P30D"),
            ("P2W", date(2025, 1, 1), date(2025, 1, 14), "P14D"),
            ("P1Y6M", date(2025, 1, 15), date(2026, 7, 14), "P1Y6M"),
        ],
    )
    def test_last_day_covered(self, text: str, start: date, last_day: date, shown: str) -> None:
        period = DatePeriod.parse(text)
        assert period.last_day_from(start) == last_day
        assert str(period) == shown

    @pytest.mark.parametrize("text", ["P", "P0Y", "PT1H", "P1YT1H", "1Y", "p1y", "P9999Y", 12])
    def test_refuses_what_is_no_date_period(self, text: object) -> None:
        with pytest.raises(ValueError):
            DatePeriod.parse(text)
