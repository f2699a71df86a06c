"""Hostile input: oversized and deeply nested bodies, SQL metacharacters, path traversal.

The injection and traversal walks enumerate the operations from the app's
OpenAPI document, so a new route is covered the day it is added. Every
answer is a 4xx problem document (or, for a search, a 200 that matched
nothing), never a 5xx; the tables are intact and nothing was stored.
"""

from __future__ import annotations

import re
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import func, select

from gateway.console.auth import Role, create_user
from gateway.persistence.tables import Base
from tests.conftest import PARTNERS_DIR
from tests.gateway.webhooks.conftest import event
from tests.security.conftest import PROBLEM, Gateway, asgi_request, assert_problem, dumps

INJECTIONS = [
    "' OR 1=1 --",
    '"; DROP TABLE orders; --',
    "1; DELETE FROM ledger_entries",
    "\x00",
    "a\x00b",
    "\u2019 OR \u20181\u2019=\u20181",
    "%",
    "_",
    "%25",
    "\\",
    "' UNION SELECT client_id, secret_hash FROM clients --",
    "99999999999999999999999",
    "-1",
    "\U0001f600",
]
TRAVERSALS = [
    "..",
    "../../etc/passwd",
    "..%2f..%2fetc%2fpasswd",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "%2e%2e",
    "..%5c..%5cetc%5cpasswd",
    "..%252f..%252fetc%252fpasswd",
    "%c0%ae%c0%ae",
    "citycar%00",
    "%00",
    "citycar%00.yaml",
    "citycar.yaml",
    "%2fetc%2fpasswd",
    "..%2fpartners%2fcitycar",
    "x" * 5000,
]


@contextmanager
def _files_opened() -> Iterator[list[str]]:
    """Every file the process opens meanwhile (Python's `open` audit event)."""
    opened: list[str] = []
    _AUDIT.append(opened)
    try:
        yield opened
    finally:
        _AUDIT.remove(opened)


_AUDIT: list[list[str]] = []


def _audit(event_name: str, args: tuple[Any, ...]) -> None:
    if event_name == "open" and _AUDIT and isinstance(args[0], str | bytes):
        name = args[0].decode("latin-1") if isinstance(args[0], bytes) else args[0]
        for sink in _AUDIT:
            sink.append(name)


sys.addaudithook(_audit)


def _no_file_outside_the_code(opened: list[str]) -> None:
    for name in opened:
        assert "passwd" not in name and ".." not in name, name
        assert not name.startswith(str(PARTNERS_DIR)), name


def _value(parameter: dict[str, Any], gw: Gateway) -> str:
    """A valid value for a parameter the walk does not attack."""
    name, schema = parameter["name"], parameter.get("schema", {})
    if name == "partner_id":
        return gw.partners["citycar"]
    if name in {"month", "before_month"}:
        return "2026-11"
    if name == "virtual_number":
        return "13800000000"
    if name == "customer_id":
        return "cus_1"
    if schema.get("type") == "integer":
        return "1"
    return "x1"


def _example_body(operation: dict[str, Any]) -> bytes | None:
    content = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
    if "example" in content:
        return dumps(content["example"])
    return b"{}" if content else None


async def _all_tables(gw: Gateway) -> dict[str, int]:
    async with gw.container.engine.connect() as connection:
        return {
            table.name: (
                await connection.execute(select(func.count()).select_from(table))
            ).scalar_one()
            for table in Base.metadata.sorted_tables
        }


class TestBodies:
    async def test_an_oversized_delivery_is_refused_unread(self, any_gateway: Gateway) -> None:
        gw = any_gateway
        citycar = await gw.partner()
        limit = gw.container.settings.webhook_body_limit_bytes
        body = b'{"pad":"' + b"x" * limit + b'"}'
        before = await gw.snapshot()
        assert_problem(await citycar.post(body, citycar.headers(body)), 413, "payload-too-large")

        async def chunks() -> Any:  # no Content-Length: the limit holds while streaming
            for start in range(0, len(body), 65_536):
                yield body[start : start + 65_536]

        response = await gw.http.post(
            f"/v1/partners/{citycar.partner_id}/events",
            content=chunks(),
            headers=citycar.headers(body),
        )
        assert_problem(response, 413, "payload-too-large")
        await gw.assert_unchanged(before)

    async def test_a_lying_content_length_does_not_pass_the_limit(self, gateway: Gateway) -> None:
        citycar = await gateway.partner()
        limit = gateway.container.settings.webhook_body_limit_bytes
        body = b'{"pad":"' + b"x" * limit + b'"}'
        headers = citycar.headers(body) | {"content-length": "10"}
        before = await gateway.snapshot()
        path = f"/v1/partners/{citycar.partner_id}/events".encode()
        response = await asgi_request(gateway.app, "POST", path, headers=headers, body=body)
        assert_problem(response, 413, "payload-too-large")
        await gateway.assert_unchanged(before)

    @pytest.mark.parametrize(
        "shape",
        [
            b"[" * 10_000 + b"]" * 10_000,
            b'{"a":' * 10_000 + b"1" + b"}" * 10_000,
            b'{"event_id":"evt_1","data":' + b"[" * 5_000 + b"]" * 5_000 + b"}",
        ],
        ids=["arrays", "objects", "inside-an-event"],
    )
    async def test_deeply_nested_deliveries(self, any_gateway: Gateway, shape: bytes) -> None:
        gw = any_gateway
        citycar = await gw.partner()
        before = await gw.snapshot()
        response = await citycar.post(shape, citycar.headers(shape))
        assert_problem(response, 422, "malformed-payload")
        await gw.assert_unchanged(before)

    async def test_deeply_nested_bodies_on_every_json_operation(self, gateway: Gateway) -> None:
        token = await gateway.app_token(" ".join(_APP_SCOPES))
        shapes = [
            b"[" * 10_000 + b"]" * 10_000,
            b'{"a":' * 10_000 + b"1" + b"}" * 10_000,
            b'{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}",
            b"\xff\xfe not json",
            b'{"a": 1' + b"0" * 10_000 + b"}",
        ]
        before = await gateway.snapshot()
        walked = 0
        for method, path, operation in _operations(gateway):
            if _example_body(operation) is None or "/events" in path or path.startswith("/oauth"):
                continue
            for shape in shapes:
                response = await gateway.http.request(
                    method,
                    _fill(path, operation, gateway),
                    content=shape,
                    headers={
                        "authorization": f"Bearer {token}",
                        "content-type": "application/json",
                        "idempotency-key": str(uuid.uuid4()),
                    },
                )
                assert 400 <= response.status_code < 500, (path, response.text[:300])
                assert response.headers["content-type"] == PROBLEM
                walked += 1
        assert walked >= 40
        await gateway.assert_unchanged(before)

    @pytest.mark.parametrize(
        ("content_type", "body"),
        [
            ("text/plain", b"{}"),
            ("application/x-www-form-urlencoded", b"a=b"),
            ("multipart/form-data; boundary=x", b"--x--"),
            ("application/xml", b"<event/>"),
            ("", b"{}"),
        ],
    )
    async def test_a_delivery_that_is_not_json(
        self, gateway: Gateway, content_type: str, body: bytes
    ) -> None:
        citycar = await gateway.partner()
        headers = citycar.headers(body) | {"content-type": content_type}
        before = await gateway.snapshot()
        assert_problem(await citycar.post(body, headers), 415, "unsupported-media-type")
        await gateway.assert_unchanged(before)

    @pytest.mark.parametrize("body", [b"", b"null", b"[]", b'"event"', b"1", b"{not json"])
    async def test_a_delivery_that_is_not_an_object(self, gateway: Gateway, body: bytes) -> None:
        citycar = await gateway.partner()
        before = await gateway.snapshot()
        assert_problem(await citycar.post(body, citycar.headers(body)), 422, "malformed-payload")
        await gateway.assert_unchanged(before)

    async def test_the_token_form_has_a_size_limit(self, gateway: Gateway) -> None:
        response = await gateway.http.post(
            "/oauth/token", data={"grant_type": "client_credentials", "pad": "x" * 100_000}
        )
        assert response.status_code == 400
        assert response.json()["error"] == "invalid_request"


_APP_SCOPES = [
    "services:write",
    "orders:read",
    "scorecards:read",
    "settlements:read",
    "admin",
    "audit:read",
    "relay:resolve",
]


def _operations(gw: Gateway) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), template, operation)
        for template, item in gw.app.openapi()["paths"].items()
        for method, operation in item.items()
    ]


def _fill(template: str, operation: dict[str, Any], gw: Gateway) -> str:
    path = template
    for parameter in operation.get("parameters", []):
        if parameter["in"] == "path":
            path = path.replace("{" + parameter["name"] + "}", _value(parameter, gw))
    return path


class TestInjection:
    async def test_metacharacters_in_every_path_and_query_parameter(self, gateway: Gateway) -> None:
        app_token = await gateway.app_token(" ".join(_APP_SCOPES))
        partner = await gateway.partner()
        tables_before = await _all_tables(gateway)
        before = await gateway.snapshot()
        walked = 0
        for method, template, operation in _operations(gateway):
            parameters = [
                p for p in operation.get("parameters", []) if p["in"] in {"path", "query"}
            ]
            body = _example_body(operation)
            token = partner.token if template.endswith("/events") else app_token
            for attacked in parameters:
                for payload in INJECTIONS:
                    path, query = template, {}
                    for parameter in parameters:
                        value = payload if parameter is attacked else _value(parameter, gateway)
                        if parameter["in"] == "path":
                            path = path.replace(
                                "{" + parameter["name"] + "}", quote(value, safe="")
                            )
                        else:
                            query[parameter["name"]] = value
                    response = await gateway.http.request(
                        method,
                        path,
                        params=query,
                        content=body,
                        headers={
                            "authorization": f"Bearer {token}",
                            "content-type": "application/json",
                            "idempotency-key": str(uuid.uuid4()),
                        },
                    )
                    where = (method, template, attacked["name"], payload[:30], response.text[:300])
                    assert response.status_code < 500, where
                    if response.status_code >= 400:
                        assert response.headers["content-type"] == PROBLEM, where
                    else:
                        # Only a read may answer 200; a search term naming nothing finds nothing.
                        assert method == "GET", where
                        if attacked["in"] == "query":
                            assert not _rows_of(response.json()), where
                    walked += 1
        assert walked >= 500
        await gateway.assert_unchanged(before)
        tables_after = await _all_tables(gateway)
        assert set(tables_after) == set(tables_before)
        assert tables_after["orders"] == tables_before["orders"]
        assert tables_after["clients"] == tables_before["clients"]

    async def test_metacharacters_in_the_idempotency_key(self, gateway: Gateway) -> None:
        token = await gateway.app_token("services:write")
        before = await gateway.snapshot()
        cases = {
            "' OR 1=1 --": "not-found",  # printable ASCII: a valid key; no such order
            '"; DROP TABLE orders; --': "not-found",
            "k\x00": "idempotency-key-invalid",
            "k\u00e9": "idempotency-key-invalid",
            "x" * 256: "idempotency-key-invalid",
            "a b\tc": "idempotency-key-invalid",
        }
        for key, slug in cases.items():
            response = await gateway.http.post(
                "/v1/orders/ord_x/cancel",
                headers={
                    "authorization": f"Bearer {token}",
                    "idempotency-key": key.encode("latin-1"),
                },
            )
            assert_problem(response, 404 if slug == "not-found" else 400, slug)
        await gateway.assert_unchanged(before)


def _rows_of(body: Any) -> list[Any]:
    """The result rows of a search answer (a list, or the list field of an object)."""
    if isinstance(body, list):
        return body
    lists = [v for v in body.values() if isinstance(v, list)] if isinstance(body, dict) else []
    return [row for found in lists for row in found]


class TestTraversal:
    async def test_partner_ids_on_every_partner_route(self, gateway: Gateway) -> None:
        app_token = await gateway.app_token(" ".join(_APP_SCOPES))
        partner = await gateway.partner()
        routes = [
            (method, template, operation)
            for method, template, operation in _operations(gateway)
            if "{partner_id}" in template
        ]
        assert len(routes) >= 7
        before = await gateway.snapshot()
        with _files_opened() as opened:
            for method, template, operation in routes:
                token = partner.token if template.endswith("/events") else app_token
                body = dumps(event("ord_x", "rental.order.accepted", partner_id="x"))
                headers = partner.headers(body) | {"authorization": f"Bearer {token}"}
                for payload in TRAVERSALS:
                    path = _fill(template, operation, gateway).replace(
                        gateway.partners["citycar"], payload
                    )
                    response = await asgi_request(
                        gateway.app,
                        method,
                        path.encode() + b"?month=2026-11",
                        headers=headers,
                        body=body if method == "POST" else b"",
                    )
                    where = (method, template, payload[:40], response.text[:300])
                    assert response.status_code in {404, 405, 422}, where
                    assert response.headers["content-type"] == PROBLEM, where
        _no_file_outside_the_code(opened)
        await gateway.assert_unchanged(before)

    async def test_console_partner_pages(self, gateway: Gateway) -> None:
        name = f"manager-{uuid.uuid4().hex[:8]}"
        await create_user(gateway.container, name, Role.MANAGER, "correct horse battery")
        form = await gateway.http.get("/console/login")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert csrf is not None
        signed_in = await gateway.http.post(
            "/console/login",
            data={"user": name, "password": "correct horse battery", "csrf_token": csrf[1]},
        )
        assert signed_in.status_code == 303, signed_in.text
        cookie = "; ".join(f"{k}={v}" for k, v in gateway.http.cookies.items())
        templates = [
            "/console/partners/{id}",
            "/console/partners/{id}/settlements/2026-11",
            "/console/partners/{id}/settlements/2026-11.csv",
        ]
        try:
            with _files_opened() as opened:
                for template in templates:
                    for payload in TRAVERSALS:
                        path = template.replace("{id}", payload).encode()
                        response = await asgi_request(
                            gateway.app, "GET", path, headers={"cookie": cookie}
                        )
                        where = (template, payload[:40], response.text[:200])
                        assert response.status_code in {404, 422}, where
                        content_type = response.headers["content-type"]
                        # Console pages answer HTML pages; a path no page has, a problem.
                        assert content_type.startswith("text/html") or content_type == PROBLEM
                        assert "root:" not in response.text
            _no_file_outside_the_code(opened)
        finally:
            gateway.http.cookies.clear()
