"""The disclosure audit: recording without values, newest-first pages, the DPO's API."""

from __future__ import annotations

from datetime import timedelta

import httpx
import orjson
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts import new_order_id
from gateway.privacy.audit import disclosures_of, record_disclosure
from tests.gateway.conftest import AccessToken, IssueCredentials
from tests.gateway.privacy.conftest import NOW, uow_of

PHONE = "13800138000"
FIELDS = [
    {"path": "customer.phone", "data_class": "contact", "kind": "phone", "operator": "relay"},
    {"path": "customer.name", "data_class": "identity", "kind": "name", "operator": "partial_mask"},
]


async def _record(
    engine: AsyncEngine, customer_id: str, *, at_minutes: int, partner_id: str = "citycar"
) -> None:
    async with uow_of(engine) as uow:
        await record_disclosure(
            uow,
            order_id=new_order_id(),
            customer_id=customer_id,
            partner_id=partner_id,
            purpose="courtesy_car_delivery",
            policy_version="2030.05",
            fields=FIELDS,
            now=NOW + timedelta(minutes=at_minutes),
        )
        await uow.commit()


class TestRecording:
    async def test_only_path_class_kind_and_operator_are_stored(
        self, engine: AsyncEngine, customer_id: str
    ) -> None:
        order_id = new_order_id()
        async with uow_of(engine) as uow:
            await record_disclosure(
                uow,
                order_id=order_id,
                customer_id=customer_id,
                partner_id="citycar",
                purpose="courtesy_car_delivery",
                policy_version="2030.05",
                fields=[{**FIELDS[0], "value": PHONE, "masked": "171****0042"}, FIELDS[1]],
                now=NOW,
            )
            await uow.commit()
        async with uow_of(engine) as uow:
            page = await disclosures_of(uow, customer_id=customer_id, limit=10)
        (row,) = page.rows
        assert row.fields == FIELDS
        assert (row.order_id, row.partner_id, row.purpose) == (
            order_id,
            "citycar",
            "courtesy_car_delivery",
        )
        assert row.policy_version == "2030.05" and row.created_at == NOW
        stored = orjson.dumps(row.fields).decode()
        assert PHONE not in stored and "0042" not in stored

    async def test_a_field_without_its_operator_is_refused(
        self, engine: AsyncEngine, customer_id: str
    ) -> None:
        async with uow_of(engine) as uow:
            with pytest.raises(ValueError, match="operator"):
                await record_disclosure(
                    uow,
                    order_id=None,
                    customer_id=customer_id,
                    partner_id="citycar",
                    purpose="courtesy_car_delivery",
                    policy_version="2030.05",
                    fields=[{"path": "customer.phone", "data_class": "contact", "kind": "phone"}],
                    now=NOW,
                )

    async def test_pages_run_newest_first_without_gaps_or_repeats(
        self, engine: AsyncEngine, customer_id: str
    ) -> None:
        # Two disclosures share a time (a fan-out): ties are broken by id.
        for minutes in (0, 5, 5, 10, 20):
            await _record(engine, customer_id, at_minutes=minutes)
        await _record(engine, customer_id + "-other", at_minutes=30)
        seen: list[tuple[int, int]] = []
        before = None
        pages = 0
        while True:
            async with uow_of(engine) as uow:
                page = await disclosures_of(uow, customer_id=customer_id, limit=2, before=before)
            pages += 1
            seen += [(int(r.created_at.timestamp()), r.id) for r in page.rows]
            if page.next_before is None:
                break
            before = page.next_before
        assert pages == 3 and len(seen) == 5 and len(set(seen)) == 5
        assert seen == sorted(seen, reverse=True)
        assert [t - int(NOW.timestamp()) for t, _ in seen] == [1200, 600, 300, 300, 0]


class TestAuditApi:
    async def test_the_auditor_reads_a_customers_disclosures(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        issue_credentials: IssueCredentials,
        access_token: AccessToken,
        customer_id: str,
    ) -> None:
        engine = app.state.container.engine
        for minutes in range(3):
            await _record(engine, customer_id, at_minutes=minutes, partner_id=f"p{minutes}")
        creds = await issue_credentials(app, name="dpo", scopes="audit:read")
        headers = {"authorization": f"Bearer {await access_token(creds)}"}
        url = "/v1/audit/disclosures"
        response = await client.get(
            url, params={"customer_id": customer_id, "limit": 2}, headers=headers
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["customer_id"] == customer_id
        assert [d["partner_id"] for d in body["disclosures"]] == ["p2", "p1"]
        first = body["disclosures"][0]
        assert first["fields"] == FIELDS
        assert first["purpose"] == "courtesy_car_delivery" and first["policy_version"] == "2030.05"
        assert first["at"] == "2030-05-20T08:32:00Z" and first["order_id"].startswith("ord_")
        rest = await client.get(
            url,
            params={"customer_id": customer_id, "before": body["next_before"]},
            headers=headers,
        )
        assert [d["partner_id"] for d in rest.json()["disclosures"]] == ["p0"]
        assert rest.json()["next_before"] is None
        too_many = await client.get(
            url, params={"customer_id": customer_id, "limit": 1001}, headers=headers
        )
        assert too_many.status_code == 422
        assert (await client.get(url, headers=headers)).status_code == 422

    async def test_admin_may_read_it_the_oem_app_may_not(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        issue_credentials: IssueCredentials,
        access_token: AccessToken,
        customer_id: str,
    ) -> None:
        params = {"customer_id": customer_id}
        admin = await issue_credentials(app, name="ops", scopes="admin")
        headers = {"authorization": f"Bearer {await access_token(admin)}"}
        response = await client.get("/v1/audit/disclosures", params=params, headers=headers)
        assert response.status_code == 200 and response.json()["disclosures"] == []
        oem = await issue_credentials(app, name="oem", scopes="services:write orders:read")
        headers = {"authorization": f"Bearer {await access_token(oem)}"}
        response = await client.get("/v1/audit/disclosures", params=params, headers=headers)
        assert response.status_code == 403
