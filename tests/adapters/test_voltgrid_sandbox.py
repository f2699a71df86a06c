"""VoltGridApi against the VoltGrid sandbox: paging, sessions, HMAC auth, faults and pushes."""

import base64
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

import adapters.voltgrid
from adapters import PartnerAuthFailed, PartnerRateLimited, PartnerRejected, PartnerUnavailable
from adapters.auth import HmacSigner
from adapters.protocol import OutboundCall
from adapters.sandbox import (
    GatewayLink,
    Sandbox,
    SandboxCredentials,
    create_sandbox,
    sandbox_secret,
)
from adapters.voltgrid import VoltGridApi, VoltGridWebhooks
from contracts import (
    EXAMPLE_REQUESTS,
    ChargingSession,
    ChargingSessionCompleted,
    ChargingSessionStarted,
    ChargingSessionState,
    ConnectorType,
    EventType,
    HmacAuth,
    Operation,
    PartnerAgreement,
    StationList,
    new_order_id,
)
from tests.adapters.conftest import FakeIntake, fixtures_of, load

_AGREEMENT = PartnerAgreement.model_validate(
    yaml.safe_load((Path(__file__).parents[2] / "partners" / "voltgrid.yaml").read_text("utf-8"))
)
# The sandbox is reached at the agreement's own base URL, mounted as the gateway mounts it.
_BASE = _AGREEMENT.api.base_url
_MOUNT = httpx.URL(_BASE).path
_OPERATIONS = fixtures_of(adapters.voltgrid).parent / "operations"
_SEARCH = Operation.CHARGING_SEARCH
_START = Operation.CHARGING_START
_STOP = Operation.CHARGING_STOP
_RECORDED_ORDER = "ord_01jp969rm0m4j1928jxf6qf2c9"
_WEBHOOK_SECRET = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
_T = EventType


async def _credentials() -> SandboxCredentials:
    return SandboxCredentials("voltgrid", "gw-client-secret", _WEBHOOK_SECRET)


@pytest.fixture
def gateway() -> FakeIntake:
    return FakeIntake(VoltGridWebhooks(), _WEBHOOK_SECRET, _AGREEMENT.id)


@pytest.fixture
async def sandbox(gateway: FakeIntake) -> AsyncIterator[Sandbox]:
    link = GatewayLink(
        base_url="http://gateway.test",
        credentials=_credentials,
        transport=httpx.ASGITransport(app=gateway.app),
    )
    simulator = create_sandbox(_AGREEMENT, gateway=link)
    simulator.config.webhook_delay_s = 0
    yield simulator
    await simulator.aclose()


def _transport(sandbox: Sandbox) -> httpx.ASGITransport:
    return httpx.ASGITransport(app=sandbox.app, root_path=_MOUNT)


@pytest.fixture
async def control(sandbox: Sandbox) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the sandbox without the partner's auth (its /_ controls need none)."""
    async with httpx.AsyncClient(transport=_transport(sandbox), base_url=_BASE) as client:
        yield client


def _signer(secret: str) -> HmacSigner:
    auth = _AGREEMENT.api.auth
    assert isinstance(auth, HmacAuth)
    return HmacSigner(auth.key_id, secret, auth.algorithm)


@pytest.fixture
async def http(sandbox: Sandbox) -> AsyncIterator[httpx.AsyncClient]:
    """The partner's client as the gateway would hold it: every request HMAC-signed."""
    auth = _AGREEMENT.api.auth
    assert isinstance(auth, HmacAuth)
    async with httpx.AsyncClient(
        transport=_transport(sandbox),
        base_url=_BASE + "/",
        auth=_signer(sandbox_secret(auth.secret_ref)),
    ) as client:
        yield client


def _call(operation: Operation, order_id: str | None = None, **changes: Any) -> OutboundCall:
    payload = EXAMPLE_REQUESTS[operation].model_dump(mode="json") | changes
    return OutboundCall(
        partner_id="voltgrid",
        order_id=order_id or new_order_id(),
        operation=operation,
        payload=payload,
        idempotency_key=secrets.token_hex(16),
    )


async def _configure(control: httpx.AsyncClient, **config: Any) -> None:
    response = await control.put("/_config", json={"webhook_delay_s": 0} | config)
    response.raise_for_status()


async def _search(http: httpx.AsyncClient, **changes: Any) -> StationList:
    result = await VoltGridApi().call(http, _call(_SEARCH, **changes))
    assert isinstance(result, StationList)
    return result


async def _start(http: httpx.AsyncClient, order_id: str | None = None) -> ChargingSession:
    result = await VoltGridApi().call(http, _call(_START, order_id))
    assert isinstance(result, ChargingSession)
    return result


async def _stop(http: httpx.AsyncClient, session_id: str) -> ChargingSession:
    result = await VoltGridApi().call(http, _call(_STOP, session_id=session_id))
    assert isinstance(result, ChargingSession)
    return result


class TestSearch:
    async def test_round_trips_nearest_first_over_two_pages(
        self, http: httpx.AsyncClient, control: httpx.AsyncClient
    ) -> None:
        call = _call(_SEARCH)
        result = await VoltGridApi().call(http, call)
        assert isinstance(result, StationList)
        distances = [station.distance_m or 0 for station in result.stations]
        assert len(distances) == 18  # every Nanshan station lies within 3 km of the example
        assert distances == sorted(distances)
        assert all(station.distance_m is not None for station in result.stations)
        assert max(distances) <= 3000
        assert all(s.partner_id is None and s.city == "Shenzhen" for s in result.stations)
        first, second = (await control.get("/_received")).json()
        assert first["query"] == load(_OPERATIONS, "charging.search.request")
        assert first["headers"]["x-correlation-id"] == call.idempotency_key
        assert first["headers"]["x-signature"] == "(hidden)"
        assert (second["path"], second["query"]["offset"]) == (
            f"{_MOUNT}/ocpi/2.2/locations",
            "10",
        )

    async def test_a_page_with_enough_stations_is_the_last_read(
        self, http: httpx.AsyncClient, control: httpx.AsyncClient
    ) -> None:
        result = await _search(http, limit=5)
        everything = await _search(http)
        assert result.stations == everything.stations[:5]
        received = (await control.get("/_received")).json()
        assert [r["query"]["offset"] for r in received] == ["0", "0", "10"]

    async def test_the_whole_network_over_six_pages(
        self, http: httpx.AsyncClient, control: httpx.AsyncClient
    ) -> None:
        result = await _search(http, radius_m=50_000, limit=200)
        ids = [station.station_id for station in result.stations]
        assert len(ids) == len(set(ids)) == 60
        assert {i.split("-")[1] for i in ids} == {"NS", "FT", "BA", "LH", "LG"}
        assert len((await control.get("/_received")).json()) == 6

    async def test_a_connector_narrows_the_stations(self, http: httpx.AsyncClient) -> None:
        result = await _search(http, radius_m=50_000, limit=200, connector="chaoji")
        assert result.stations
        assert all(s.connectors == [ConnectorType.CHAOJI] for s in result.stations)


class TestSessions:
    async def test_start_round_trips_into_a_starting_session(
        self, http: httpx.AsyncClient, control: httpx.AsyncClient
    ) -> None:
        await _configure(control, webhooks=False)
        session = await _start(http, _RECORDED_ORDER)
        assert session.state is ChargingSessionState.STARTING
        assert session.session_id.startswith("VG-SZ-")
        assert (session.station_id, session.connector_id) == ("SZ-NS-0042", "2")
        assert (session.energy_wh, session.amount, session.ended_at) == (0, None, None)
        [received] = (await control.get("/_received")).json()
        assert received["body"] == load(_OPERATIONS, "charging.start.request")

    async def test_a_repeated_start_starts_nothing_twice(
        self, http: httpx.AsyncClient, control: httpx.AsyncClient
    ) -> None:
        await _configure(control, webhooks=False)
        order_id = new_order_id()
        first = await _start(http, order_id)
        again = await _start(http, order_id)
        assert again.session_id == first.session_id
        orders = (await control.get("/_orders")).json()
        assert [o["order_id"] for o in orders] == [order_id]

    async def test_stop_completes_the_session_and_a_repeat_answers_the_same(
        self, http: httpx.AsyncClient, control: httpx.AsyncClient
    ) -> None:
        await _configure(control, webhooks=False)
        started = await _start(http)
        stopped = await _stop(http, started.session_id)
        assert stopped.state is ChargingSessionState.STOPPED
        assert stopped.started_at == started.started_at
        assert stopped.ended_at is not None and stopped.amount is not None
        assert stopped.amount.currency == "CNY"
        assert await _stop(http, started.session_id) == stopped

    async def test_an_unknown_session_cannot_be_stopped(self, http: httpx.AsyncClient) -> None:
        with pytest.raises(PartnerRejected) as caught:
            await _stop(http, "VG-SZ-20300101-000000")
        assert caught.value.code == "unknown_session"

    async def test_an_unknown_station_is_refused(self, http: httpx.AsyncClient) -> None:
        call = _call(_START, station_id="SZ-XX-9999")
        with pytest.raises(PartnerRejected) as caught:
            await VoltGridApi().call(http, call)
        assert caught.value.code == "2003"

    async def test_an_unknown_connector_is_refused(self, http: httpx.AsyncClient) -> None:
        with pytest.raises(PartnerRejected) as caught:
            await VoltGridApi().call(http, _call(_START, connector_id="99"))
        assert caught.value.code == "2001"

    async def test_cancel_stops_a_started_session(
        self, http: httpx.AsyncClient, control: httpx.AsyncClient
    ) -> None:
        await _configure(control, webhooks=False)
        call = _call(_START)
        started = await VoltGridApi().call(http, call)
        assert isinstance(started, ChargingSession)
        await VoltGridApi().cancel(
            http, order_id=call.order_id, partner_reference=started.session_id
        )
        [order] = (await control.get("/_orders")).json()
        assert order["status"] == "COMPLETED"


class TestFaults:
    async def test_wrong_credentials_fail_auth(self, sandbox: Sandbox) -> None:
        async with httpx.AsyncClient(
            transport=_transport(sandbox), base_url=_BASE + "/", auth=_signer("not-the-secret")
        ) as stranger:
            with pytest.raises(PartnerAuthFailed):
                await VoltGridApi().call(stranger, _call(_SEARCH))

    @pytest.mark.parametrize("operation", [_SEARCH, _START])
    async def test_error_rate_is_unavailable(
        self, operation: Operation, http: httpx.AsyncClient, control: httpx.AsyncClient
    ) -> None:
        await _configure(control, error_rate=1)
        with pytest.raises(PartnerUnavailable, match="HTTP 503") as caught:
            await VoltGridApi().call(http, _call(operation))
        assert caught.value.sent

    async def test_rate_limit_carries_retry_after(
        self, http: httpx.AsyncClient, control: httpx.AsyncClient
    ) -> None:
        await _configure(control, rate_limit_rate=1, retry_after_s=4)
        with pytest.raises(PartnerRateLimited) as caught:
            await VoltGridApi().call(http, _call(_SEARCH))
        assert caught.value.retry_after == 4.0

    @pytest.mark.parametrize(("operation", "code"), [(_SEARCH, "2000"), (_START, "rejected")])
    async def test_reject_rate_is_a_business_refusal(
        self,
        operation: Operation,
        code: str,
        http: httpx.AsyncClient,
        control: httpx.AsyncClient,
    ) -> None:
        await _configure(control, reject_rate=1)
        with pytest.raises(PartnerRejected) as caught:
            await VoltGridApi().call(http, _call(operation))
        assert caught.value.code == code


class TestWebhooks:
    async def test_a_start_pushes_active_then_completed_signed_and_in_order(
        self, http: httpx.AsyncClient, gateway: FakeIntake
    ) -> None:
        order_id = new_order_id()
        session = await _start(http, order_id)
        await gateway.received(2)
        started, completed = gateway.translated()
        assert [started.type, completed.type] == [
            _T.CHARGING_SESSION_STARTED,
            _T.CHARGING_SESSION_COMPLETED,
        ]
        assert {started.order_id, completed.order_id} == {order_id}
        assert {started.partner_reference, completed.partner_reference} == {session.session_id}
        assert started.data == ChargingSessionStarted(
            session_id=session.session_id, station_id="SZ-NS-0042", connector_id="2"
        )
        assert started.occurred_at == session.started_at
        assert isinstance(completed.data, ChargingSessionCompleted)
        assert completed.data.amount.currency == "CNY"

    async def test_a_stop_repeats_the_same_completion_event(
        self, http: httpx.AsyncClient, gateway: FakeIntake
    ) -> None:
        order_id = new_order_id()
        session = await _start(http, order_id)
        await gateway.received(2)
        stopped = await _stop(http, session.session_id)
        await gateway.received(3)
        _, completed, repeated = gateway.translated()
        assert repeated.event_id == completed.event_id == f"voltgrid:{session.session_id}:completed"
        assert repeated.order_id == order_id
        assert repeated.data == completed.data
        assert isinstance(repeated.data, ChargingSessionCompleted)
        assert (repeated.data.energy_wh, repeated.data.amount) == (
            stopped.energy_wh,
            stopped.amount,
        )

    async def test_the_control_emits_an_invalid_session(
        self,
        http: httpx.AsyncClient,
        control: httpx.AsyncClient,
        gateway: FakeIntake,
    ) -> None:
        await _configure(control, webhooks=False)
        order_id = new_order_id()
        session = await _start(http, order_id)
        emitted = await control.post(f"/_orders/{session.session_id}/emit/session_invalid")
        assert emitted.json()["status"] == 202
        [event] = gateway.translated()
        assert (event.type, event.order_id) == (_T.ORDER_FAILED, order_id)
        stopped = await _stop(http, session.session_id)
        assert stopped.state is ChargingSessionState.FAILED
        assert len(gateway.events) == 1  # nothing completed, so nothing more to push

    async def test_an_unknown_kind_is_refused(
        self, http: httpx.AsyncClient, control: httpx.AsyncClient, gateway: FakeIntake
    ) -> None:
        await _configure(control, webhooks=False)
        session = await _start(http)
        emitted = await control.post(f"/_orders/{session.session_id}/emit/session_paused")
        assert emitted.status_code == 404
        assert emitted.json()["status_code"] == 2000
        assert gateway.events == []
