"""Schemathesis over the gateway's own OpenAPI: every operation, valid credentials, real ids.

Each operation is fuzzed in both generation modes: positive cases (valid by
the schema) must be answered without a server error and as documented;
negative cases (a part broken on purpose) must be refused with a documented
4xx. Every request carries what a real client sends: the fuzz client's token
(every scope but `events:write`), HTTP Basic credentials on the OAuth
endpoints, an `Idempotency-Key` on each POST (unless the case generated its
own), and on the webhook intake the partner's own token plus a Standard
Webhooks signature of the exact body sent, made with the partner's secret.
Path parameters are often swapped for ids that exist (partners, orders, a
complaint, ledger entries, a relay number, customers), so requests reach
the application rather than stopping at 404.

The app runs in pytest's event loop (its engine and Redis pool live there),
so the cases are sent with httpx over the ASGI transport and checked with
`case.validate_response` instead of `case.call()`, whose ASGI transport runs
the app in an event loop of its own.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.parameters import ParameterLocation
from schemathesis.core.transport import Response
from schemathesis.generation.case import Case
from schemathesis.hooks import HookContext
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from gateway.problems import Problem
from gateway.scorecards.months import parse_month
from gateway.webhooks.signature import sign
from tests.conftest import PARTNERS_DIR
from tests.fuzz.conftest import BASE_URL, COUNTER, FuzzWorld

OAUTH_PATHS = frozenset({"/oauth/token", "/oauth/revoke", "/oauth/introspect"})
"""RFC 6749 endpoints: their errors are `{"error", "error_description"}` JSON (docs/problems.md)."""

WEBHOOK_PATH = "/v1/partners/{partner_id}/events"
CLOSE_PATHS = frozenset({"/v1/scorecards/{month}/close", "/v1/settlements/{month}/close"})
FUZZ_CLOSE_YEARS = range(1990, 2000)
"""Closing a month closes it for the whole database: the fuzzer closes only months of the 1990s,
which no other test uses."""
RECENT_MONTHS = ("2026-11", "2026-10", "2026-09", "2025-12")


def _live_spec() -> dict[str, Any]:
    """The app's OpenAPI, read once at collection."""
    from gateway.app import create_app
    from gateway.settings import Settings

    with tempfile.TemporaryDirectory() as data_dir:
        settings = Settings(environment="test", data_dir=Path(data_dir), partners_dir=PARTNERS_DIR)
        spec: dict[str, Any] = create_app(settings).openapi()
    return spec


SPEC = _live_spec()
OPERATIONS = [
    (method.upper(), path)
    for path, item in SPEC["paths"].items()
    for method in item
    if method in {"get", "post", "put", "patch", "delete"}
]


def _max_examples() -> int:
    return int(os.environ.get("PGW_FUZZ_MAX_EXAMPLES", "3"))


def _hypothesis_settings() -> hypothesis.settings:
    seed = os.environ.get("PGW_FUZZ_SEED")
    return hypothesis.settings(
        max_examples=_max_examples(),
        deadline=None,
        database=None,
        derandomize=seed is None,
        print_blob=False,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.filter_too_much,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
            HealthCheck.function_scoped_fixture,
        ],
    )


def _seeded(test: Callable[..., Any]) -> Callable[..., Any]:
    """`PGW_FUZZ_SEED` fixes the seed of a randomised run; without it the run is derandomized."""
    seed = os.environ.get("PGW_FUZZ_SEED")
    return hypothesis.seed(int(seed))(test) if seed else test


# -- checks ------------------------------------------------------------------------------


def _header(response: Response, name: str) -> str:
    for key, values in response.headers.items():
        if key.lower() == name and values:
            return values[0]
    return ""


def problem_documents(ctx: Any, response: Response, case: Case) -> bool | None:
    """Every 4xx is an RFC 9457 problem document whose `status` is the HTTP status.

    The OAuth endpoints answer their own refusals in RFC 6749's shape
    (`application/json`, `error`): that is accepted there, and only there.
    """
    if not 400 <= response.status_code < 500:
        return None
    media_type = _header(response, "content-type").split(";")[0].strip().lower()
    body = response.json() if media_type.endswith("json") else None
    if case.operation.path in OAUTH_PATHS and media_type == "application/json":
        assert isinstance(body, dict) and isinstance(body.get("error"), str), (
            f"OAuth error without `error`: {response.text[:300]}"
        )
        return None
    assert media_type == "application/problem+json", (
        f"{response.status_code} answered as {media_type or 'no Content-Type'}, "
        f"not application/problem+json: {response.text[:300]}"
    )
    assert isinstance(body, dict), f"problem document is not an object: {response.text[:300]}"
    for member in ("type", "title", "status"):
        assert member in body, f"problem document without `{member}`: {response.text[:300]}"
    assert body["status"] == response.status_code, (
        f"problem `status` {body['status']!r} differs from HTTP {response.status_code}"
    )
    return None


CHECKS: list[Callable[..., bool | None]] = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
    problem_documents,
]


# -- generation: real ids ------------------------------------------------------------------


def _close_month(month: str, choice: int) -> str:
    """A month the fuzzer may close: a 1990s month instead of any valid month generated."""
    try:
        parse_month(month)
    except Problem:
        return month
    year = FUZZ_CLOSE_YEARS[choice % len(FUZZ_CLOSE_YEARS)]
    return f"{year}-{choice % 12 + 1:02d}"


def install_hooks(schema: Any, world: FuzzWorld) -> None:
    """Swap generated path parameters (and webhook bodies' ids) for real ones, half the time."""

    @schema.hook
    def flatmap_case(context: HookContext, case: Case) -> st.SearchStrategy[Case]:
        path = case.operation.path
        meta = case.meta
        path_negative = meta is not None and meta.is_negative_at(ParameterLocation.PATH)
        body_negative = meta is not None and meta.is_negative_at(ParameterLocation.BODY)
        choices: dict[str, st.SearchStrategy[Any]] = {}
        if not path_negative:
            for name, value in (case.path_parameters or {}).items():
                pool = list(world.pools.get(name, []))
                if name == "month" and path not in CLOSE_PATHS:
                    pool = list(RECENT_MONTHS)
                if pool:
                    choices[name] = st.one_of(st.just(value), st.sampled_from(pool))
        if path in CLOSE_PATHS and case.path_parameters:
            choices["__close"] = st.integers(min_value=0, max_value=119)
        if path == WEBHOOK_PATH and body_negative:
            # Only a canonical partner's body must match the published schema; the others
            # post their own dialect, which the adapter translates or dead-letters (202).
            choices["partner_id"] = st.sampled_from(world.canonical)
        if path == WEBHOOK_PATH and not body_negative and isinstance(case.body, dict):
            choices["__own_ids"] = st.booleans()
            choices["__order"] = st.integers(min_value=0, max_value=10)

        def apply(drawn: dict[str, Any]) -> Case:
            parameters = dict(case.path_parameters or {})
            for name, value in drawn.items():
                if not name.startswith("__"):
                    parameters[name] = value
            if "__close" in drawn and "month" in parameters:
                parameters["month"] = _close_month(str(parameters["month"]), drawn["__close"])
            if parameters and parameters != case.path_parameters:
                case.path_parameters = parameters
            if drawn.get("__own_ids") and isinstance(case.body, dict):
                partner = str(parameters.get("partner_id", ""))
                orders = world.orders_of.get(partner) or world.pools["order_id"]
                case.body = case.body | {
                    "partner_id": partner,
                    "order_id": orders[drawn["__order"] % len(orders)],
                }
            return case

        return st.fixed_dictionaries(choices).map(apply)


# -- sending ---------------------------------------------------------------------------------


def _without_credentials(case: Case) -> bool:
    """A negative case whose broken part is the missing `Authorization` header."""
    generated = {key.lower() for key in (case.headers or {})}
    meta = case.meta
    return (
        meta is not None
        and meta.is_negative_at(ParameterLocation.HEADER)
        and "authorization" not in generated
    )


def _auth_headers(case: Case, world: FuzzWorld) -> dict[str, str]:
    headers: dict[str, str] = {}
    generated = {key.lower() for key in (case.headers or {})}
    if case.operation.path in OAUTH_PATHS or _without_credentials(case):
        return headers
    if case.operation.path == WEBHOOK_PATH:
        partner = str((case.path_parameters or {}).get("partner_id", ""))
        keys = world.partners.get(partner) or next(iter(world.partners.values()))
        headers["authorization"] = f"Bearer {keys.token}"
    else:
        headers["authorization"] = f"Bearer {world.token}"
    if case.method.upper() == "POST" and "idempotency-key" not in generated:
        headers["idempotency-key"] = f"fuzz-{uuid.uuid4()}"
    return headers


def _webhook_signature(case: Case, world: FuzzWorld, raw: bytes) -> dict[str, str]:
    partner = str((case.path_parameters or {}).get("partner_id", ""))
    keys = world.partners.get(partner) or next(iter(world.partners.values()))
    webhook_id = f"msg_{uuid.uuid4().hex}"
    timestamp = int(time.time())
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(keys.webhook_secret, webhook_id, timestamp, raw),
    }


async def send(case: Case, world: FuzzWorld) -> tuple[Any, dict[str, Any]]:
    """Send the case as a client would; the httpx response and the transport arguments."""
    kwargs = case.as_transport_kwargs(base_url=BASE_URL, headers=_auth_headers(case, world))
    headers = dict(kwargs.get("headers") or {})
    content: bytes | None = None
    data: Any = None
    if "json" in kwargs:
        content = json.dumps(kwargs["json"], allow_nan=False).encode()
    elif isinstance(kwargs.get("data"), str | bytes):
        raw = kwargs["data"]
        content = raw.encode() if isinstance(raw, str) else raw
    elif kwargs.get("data") is not None:
        data = kwargs["data"]
    if case.operation.path == WEBHOOK_PATH:
        headers |= _webhook_signature(case, world, content or b"")
    auth = None
    if case.operation.path in OAUTH_PATHS and not _without_credentials(case):
        auth = world.basic
    COUNTER.add(f"{case.method.upper()} {case.operation.path}")
    response = await world.http.request(
        kwargs["method"],
        kwargs["url"],
        params=kwargs.get("params"),
        headers=headers,
        content=content,
        data=data,
        auth=auth,
    )
    return response, {"headers": headers}


# -- the tests -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fuzz_schema(fuzz_world: FuzzWorld) -> Any:
    """The live app's OpenAPI as a schemathesis schema, with the real-id hooks."""
    schema = schemathesis.openapi.from_dict(fuzz_world.app.openapi())
    install_hooks(schema, fuzz_world)
    return schema


CONSTRAINTS = ('"integer"', '"number"', '"boolean"', '"enum"', '"pattern"', "Length", "$ref")


def _negatable(operation: dict[str, Any]) -> bool:
    """Whether schemathesis can break something: a body, Basic credentials, a constrained value.

    Without any (no body, only unconstrained strings) negative generation is unsatisfiable.
    """
    if "requestBody" in operation:
        return True
    if any("client_secret_basic" in r for r in operation.get("security", [])):
        return True
    return any(
        any(word in json.dumps(parameter.get("schema", {})) for word in CONSTRAINTS)
        for parameter in operation.get("parameters", [])
    )


NEGATABLE = {
    (method.upper(), path)
    for path, item in SPEC["paths"].items()
    for method, operation in item.items()
    if method in {"get", "post", "put", "patch", "delete"} and _negatable(operation)
}
# Negative generation only where the schema has something to break (else unsatisfiable).
CASES = [
    (method, path, mode)
    for method, path in OPERATIONS
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if mode is GenerationMode.POSITIVE or (method, path) in NEGATABLE
]


def test_every_operation_is_fuzzed(fuzz_world: FuzzWorld) -> None:
    live = {
        (method.upper(), path)
        for path, item in fuzz_world.app.openapi()["paths"].items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    }
    assert live == set(OPERATIONS)


@pytest.mark.parametrize(
    ("method", "path", "mode"), CASES, ids=[f"{m} {p}-{mode}" for m, p, mode in CASES]
)
@_seeded
@_hypothesis_settings()
@hypothesis.given(data=st.data())
async def test_operation(
    fuzz_world: FuzzWorld,
    fuzz_schema: Any,
    method: str,
    path: str,
    mode: GenerationMode,
    data: st.DataObject,
) -> None:
    operation = fuzz_schema[path][method]
    case = data.draw(operation.as_strategy(generation_mode=mode), label="case")
    response, transport = await send(case, fuzz_world)
    case.validate_response(
        response, checks=CHECKS, headers=transport["headers"], transport_kwargs=transport
    )
