"""Consents: require_consent on both databases, and the consent API."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts import PURPOSE_CATEGORY, Purpose
from gateway.privacy.consents import (
    ConsentRequired,
    grant_consent,
    require_consent,
    withdraw_consent,
)
from gateway.problems import problem_body
from gateway.settings import Settings
from tests.gateway.conftest import AccessToken, IssueCredentials
from tests.gateway.privacy.conftest import NOW, uow_of

PROBLEM = "application/problem+json"


async def _allowed(
    engine: AsyncEngine,
    settings: Settings,
    customer_id: str,
    purpose: Purpose,
    *,
    category: str | None = None,
    partner_id: str | None = None,
) -> bool:
    async with uow_of(engine) as uow:
        try:
            await require_consent(
                uow,
                settings,
                customer_id=customer_id,
                category=category or PURPOSE_CATEGORY[purpose].value,
                purpose=purpose.value,
                partner_id=partner_id,
            )
        except ConsentRequired:
            return False
    return True


async def _grant(
    engine: AsyncEngine, customer_id: str, purpose: Purpose, partner_id: str | None = None
) -> int:
    async with uow_of(engine) as uow:
        row, _created = await grant_consent(
            uow,
            customer_id=customer_id,
            purpose=purpose,
            partner_id=partner_id,
            evidence="consent text v1",
            client_id="test-client",
            now=NOW,
        )
        await uow.commit()
    return row.id


async def _withdraw(
    engine: AsyncEngine, settings: Settings, customer_id: str, purpose: Purpose
) -> list[str]:
    async with uow_of(engine) as uow:
        withdrawal = await withdraw_consent(
            uow,
            settings,
            customer_id=customer_id,
            purpose=purpose,
            client_id="test-client",
            now=NOW + timedelta(hours=1),
        )
        await uow.commit()
    return [row.source for row in withdrawal.consents] + (
        [withdrawal.default.source] if withdrawal.default is not None else []
    )


class TestRequireConsent:
    async def test_default_purposes_are_allowed_without_a_consent(
        self, engine: AsyncEngine, privacy_settings: Settings, customer_id: str
    ) -> None:
        for purpose in Purpose:
            expected = purpose is not Purpose.CHARGING_USAGE_ANALYTICS
            assert await _allowed(engine, privacy_settings, customer_id, purpose) is expected

    async def test_refusal_names_the_customer_category_purpose_and_how_to_grant(
        self, engine: AsyncEngine, privacy_settings: Settings, customer_id: str
    ) -> None:
        async with uow_of(engine) as uow:
            with pytest.raises(ConsentRequired) as refused:
                await require_consent(
                    uow,
                    privacy_settings,
                    customer_id=customer_id,
                    category="charging",
                    purpose="charging_usage_analytics",
                    partner_id=None,
                )
        problem = refused.value
        assert problem.status == 403 and problem.slug == "consent-required"
        for part in (
            customer_id,
            "charging",
            "charging_usage_analytics",
            f"POST /v1/customers/{customer_id}/consents",
        ):
            assert part in problem.detail
        body = problem_body(problem)
        assert body["type"] == "/problems/consent-required"
        assert body["customer_id"] == customer_id and body["purpose"] == "charging_usage_analytics"

    async def test_an_explicit_consent_allows_a_purpose_without_default(
        self, engine: AsyncEngine, privacy_settings: Settings, customer_id: str
    ) -> None:
        purpose = Purpose.CHARGING_USAGE_ANALYTICS
        await _grant(engine, customer_id, purpose)
        assert await _allowed(engine, privacy_settings, customer_id, purpose)
        assert await _allowed(engine, privacy_settings, customer_id, purpose, partner_id="voltgrid")
        # Another customer is not covered.
        assert not await _allowed(engine, privacy_settings, customer_id + "x", purpose)

    async def test_a_partner_consent_covers_that_partner_only(
        self, engine: AsyncEngine, privacy_settings: Settings, customer_id: str
    ) -> None:
        purpose = Purpose.CHARGING_USAGE_ANALYTICS
        await _grant(engine, customer_id, purpose, partner_id="voltgrid")
        assert await _allowed(engine, privacy_settings, customer_id, purpose, partner_id="voltgrid")
        assert not await _allowed(
            engine, privacy_settings, customer_id, purpose, partner_id="starcharge"
        )
        # The whole category is asked for: a consent naming one partner does not cover it.
        assert not await _allowed(engine, privacy_settings, customer_id, purpose)

    async def test_a_consent_of_the_wrong_category_does_not_count(
        self, engine: AsyncEngine, privacy_settings: Settings, customer_id: str
    ) -> None:
        purpose = Purpose.CHARGING_USAGE_ANALYTICS
        await _grant(engine, customer_id, purpose)
        assert not await _allowed(
            engine, privacy_settings, customer_id, purpose, category="insurance"
        )

    async def test_withdrawing_a_default_purpose_wins_until_granted_again(
        self, engine: AsyncEngine, privacy_settings: Settings, customer_id: str
    ) -> None:
        purpose = Purpose.COURTESY_CAR_DELIVERY
        assert await _allowed(engine, privacy_settings, customer_id, purpose)
        assert await _withdraw(engine, privacy_settings, customer_id, purpose) == [
            "contract_default"
        ]
        assert not await _allowed(engine, privacy_settings, customer_id, purpose)
        # Withdrawing again withdraws nothing and still refuses.
        assert await _withdraw(engine, privacy_settings, customer_id, purpose) == []
        assert not await _allowed(engine, privacy_settings, customer_id, purpose)
        # An explicit grant afterwards allows it; withdrawing that refuses again.
        await _grant(engine, customer_id, purpose)
        assert await _allowed(engine, privacy_settings, customer_id, purpose)
        assert await _withdraw(engine, privacy_settings, customer_id, purpose) == ["app"]
        assert not await _allowed(engine, privacy_settings, customer_id, purpose)

    async def test_withdrawal_ends_every_active_consent_of_the_purpose(
        self, engine: AsyncEngine, privacy_settings: Settings, customer_id: str
    ) -> None:
        purpose = Purpose.CHARGING_USAGE_ANALYTICS
        await _grant(engine, customer_id, purpose)
        await _grant(engine, customer_id, purpose, partner_id="voltgrid")
        assert await _withdraw(engine, privacy_settings, customer_id, purpose) == ["app", "app"]
        assert not await _allowed(
            engine, privacy_settings, customer_id, purpose, partner_id="voltgrid"
        )
        async with uow_of(engine) as uow:
            events = await uow.consents.events(customer_id)
        assert [e.action for e in events] == ["granted", "granted", "withdrawn", "withdrawn"]
        assert {e.client_id for e in events} == {"test-client"}

    async def test_purposes_outside_the_configured_defaults_need_a_consent(
        self, engine: AsyncEngine, privacy_settings: Settings, customer_id: str
    ) -> None:
        strict = privacy_settings.model_copy(update={"consent_default_purposes": []})
        assert not await _allowed(engine, strict, customer_id, Purpose.CHARGING_ACCESS)
        await _grant(engine, customer_id, Purpose.CHARGING_ACCESS)
        assert await _allowed(engine, strict, customer_id, Purpose.CHARGING_ACCESS)

    async def test_granting_twice_keeps_one_active_row(
        self, engine: AsyncEngine, customer_id: str
    ) -> None:
        first = await _grant(engine, customer_id, Purpose.POINTS_EXCHANGE)
        assert await _grant(engine, customer_id, Purpose.POINTS_EXCHANGE) == first
        async with uow_of(engine) as uow:
            active = await uow.consents.active(customer_id)
        assert [row.id for row in active] == [first]


class TestSettings:
    def test_unknown_default_purposes_are_refused(self) -> None:
        with pytest.raises(ValueError, match="unknown purpose"):
            Settings(consent_default_purposes=["courtesy_car_delivery", "marketing"])

    def test_defaults_cover_every_purpose_but_usage_analytics(self) -> None:
        defaults = Settings().consent_default_purposes
        assert set(defaults) == {p.value for p in Purpose} - {"charging_usage_analytics"}


class TestConsentApi:
    async def _headers(
        self,
        app: FastAPI,
        issue_credentials: IssueCredentials,
        access_token: AccessToken,
        scopes: str,
    ) -> dict[str, str]:
        creds = await issue_credentials(app, name="privacy", scopes=scopes)
        return {"authorization": f"Bearer {await access_token(creds)}"}

    async def test_grant_list_and_withdraw(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        issue_credentials: IssueCredentials,
        access_token: AccessToken,
        customer_id: str,
    ) -> None:
        writer = await self._headers(app, issue_credentials, access_token, "services:write")
        reader = await self._headers(app, issue_credentials, access_token, "orders:read")
        url = f"/v1/customers/{customer_id}/consents"
        grant = {
            "category": "charging",
            "purpose": "charging_usage_analytics",
            "partner_id": "voltgrid",
            "evidence": "app consent text v3.2",
        }
        created = await client.post(url, json=grant, headers=writer)
        assert created.status_code == 201, created.text
        consent = created.json()
        assert consent["source"] == "app" and consent["partner_id"] == "voltgrid"
        assert consent["customer_id"] == customer_id and consent["granted_at"]
        again = await client.post(url, json=grant, headers=writer)
        assert again.status_code == 200 and again.json()["id"] == consent["id"]

        listed = await client.get(url, headers=reader)
        assert listed.status_code == 200, listed.text
        entries = listed.json()["consents"]
        explicit = [e for e in entries if e["source"] == "app"]
        defaults = {e["purpose"]: e for e in entries if e["source"] == "contract_default"}
        assert [e["id"] for e in explicit] == [consent["id"]]
        assert set(defaults) == set(app.state.container.settings.consent_default_purposes)
        assert defaults["courtesy_car_delivery"]["category"] == "rental"
        assert defaults["courtesy_car_delivery"]["id"] is None

        withdrawn = await client.delete(f"{url}/courtesy_car_delivery", headers=writer)
        assert withdrawn.status_code == 200, withdrawn.text
        assert [e["source"] for e in withdrawn.json()["withdrawn"]] == ["contract_default"]
        purposes = {
            e["purpose"] for e in (await client.get(url, headers=reader)).json()["consents"]
        }
        assert "courtesy_car_delivery" not in purposes
        assert "charging_usage_analytics" in purposes

        withdrawn = await client.delete(f"{url}/charging_usage_analytics", headers=writer)
        assert [e["id"] for e in withdrawn.json()["withdrawn"]] == [consent["id"]]
        assert (await client.delete(f"{url}/charging_usage_analytics", headers=writer)).json()[
            "withdrawn"
        ] == []

        async with app.state.container.uow() as uow:
            events = await uow.consents.events(customer_id)
            with pytest.raises(ConsentRequired):
                await require_consent(
                    uow,
                    app.state.container.settings,
                    customer_id=customer_id,
                    category="rental",
                    purpose="courtesy_car_delivery",
                    partner_id=None,
                )
        assert [e.action for e in events] == ["granted", "withdrawn", "withdrawn"]

    async def test_purpose_of_another_category_is_a_422_naming_the_field(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        issue_credentials: IssueCredentials,
        access_token: AccessToken,
        customer_id: str,
    ) -> None:
        writer = await self._headers(app, issue_credentials, access_token, "services:write")
        response = await client.post(
            f"/v1/customers/{customer_id}/consents",
            json={"category": "rental", "purpose": "insurance_quotation"},
            headers=writer,
        )
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == PROBLEM
        body = response.json()
        assert body["type"] == "/problems/validation-error"
        assert [e["field"] for e in body["errors"]] == ["body.purpose"]
        assert "insurance" in body["errors"][0]["reason"]

    async def test_unknown_or_foreign_partner_is_a_422(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        issue_credentials: IssueCredentials,
        access_token: AccessToken,
        customer_id: str,
    ) -> None:
        writer = await self._headers(app, issue_credentials, access_token, "services:write")
        for partner_id in ("nosuchpartner", "swiftrent"):
            response = await client.post(
                f"/v1/customers/{customer_id}/consents",
                json={
                    "category": "charging",
                    "purpose": "charging_access",
                    "partner_id": partner_id,
                },
                headers=writer,
            )
            assert response.status_code == 422, response.text
            assert [e["field"] for e in response.json()["errors"]] == ["body.partner_id"]

    async def test_unknown_purpose_and_extra_fields_are_refused(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        issue_credentials: IssueCredentials,
        access_token: AccessToken,
        customer_id: str,
    ) -> None:
        writer = await self._headers(app, issue_credentials, access_token, "services:write")
        url = f"/v1/customers/{customer_id}/consents"
        response = await client.post(
            url, json={"category": "rental", "purpose": "marketing"}, headers=writer
        )
        assert response.status_code == 422
        assert (await client.delete(f"{url}/marketing", headers=writer)).status_code == 422

    async def test_scopes(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        issue_credentials: IssueCredentials,
        access_token: AccessToken,
        customer_id: str,
    ) -> None:
        reader = await self._headers(app, issue_credentials, access_token, "orders:read")
        url = f"/v1/customers/{customer_id}/consents"
        grant = {"category": "charging", "purpose": "charging_access"}
        assert (await client.post(url, json=grant, headers=reader)).status_code == 403
        assert (await client.delete(f"{url}/charging_access", headers=reader)).status_code == 403
        assert (await client.get(url)).status_code == 401
