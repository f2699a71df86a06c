from __future__ import annotations
from datetime import date
import httpx
from gateway.ledger import accrue_month, record_kpi
from decimal import Decimal
from contracts.commission import Attribution
from tests.gateway.ledger.test_api import api, partners, _client, Api  # noqa: F401
from tests.gateway.ledger.conftest import Partners, at, complete, copies

async def test_probe_http(api: Api, partners: Partners) -> None:
    app, _ = api
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app, raise_app_exceptions=False), base_url="http://gateway.test")
    c = app.state.container
    _, admin = await _client(api, "admin")
    oid = await complete(c, partners["swiftrent"], 100000, occurred_at=at("2026-06"))
    e = (await http.get("/v1/ledger/entries", params={"order_id": oid}, headers=admin)).json()["entries"][0]
    out = []
    for amount in (10**19,):
        r = await http.post(f"/v1/ledger/entries/{e['id']}/corrections", json={"reason": "huge", "amount": amount}, headers=admin)
        out.append(("correction", amount, r.status_code, r.text[:150]))
    for value in ("1e20", "0.0000000000000000000000000000000001"):
        r = await http.post(f"/v1/partners/{partners['roadmap']}/kpis", json={"month": "2026-06", "kpi": "lead_conversion_percent", "value": value, "source": "probe", "attribution": "last_click"}, headers=admin)
        out.append(("kpi", value, r.status_code, r.text[:150]))
    r = await http.get(f"/v1/partners/{partners['swiftrent']}/settlements/2026-06", headers=admin | {"accept": "text/csv;q=0, application/json"})
    out.append(("csv q=0", r.headers["content-type"]))
    open("/tmp/probe_out.txt", "a").write("\n".join(map(str, out)) + "\n")

async def test_probe_boundary(container, partners) -> None:
    roadmap = container.registry.get(partners["roadmap"])
    plan = roadmap.commission.plans[0].model_copy(update={"valid_from": date(2026, 4, 30)})
    p = copies(roadmap={"commission": roadmap.commission.model_copy(update={"plans": [plan]})})
    container.registry = p.registry
    async with container.uow() as uow:
        fees = await accrue_month(uow, container.registry, "2026-04", container.clock())
        await uow.commit()
    out = [("accrued", [(f.kind, f.amount) for f in fees if f.partner_id == p["roadmap"]])]
    try:
        r = await record_kpi(container, partner_id=p["roadmap"], month="2026-04", kpi="lead_conversion_percent", value=Decimal("3"), source="probe", attribution=Attribution.LAST_CLICK, recorded_by="probe")
        out.append(("kpi ok", r.bonus and r.bonus.amount))
    except Exception as exc:
        out.append(("kpi refused", type(exc).__name__, getattr(exc, "slug", ""), str(exc)))
    open("/tmp/probe_out.txt", "a").write("\n".join(map(str, out)) + "\n")
