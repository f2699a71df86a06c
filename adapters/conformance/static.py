"""The static conformance checks: what can be verified from the code and its recorded fixtures.

``check_static`` runs them all for one partner and returns one ``Finding`` per
check (``static_checks`` is the same for callers without an event loop). The
checks, by the ``check`` name they report under:

- ``protocol:adapter|translator|sandbox``: the adapter satisfies
  ``PartnerAdapter`` and speaks the agreement's ``api.dialect``; a custom
  webhook dialect has a ``WebhookTranslator`` of that dialect; a sandbox
  simulator of the API dialect exists;
- ``operations``: the adapter claims every operation of the agreement's
  category;
- ``fixture:<op>.request`` / ``fixture:<op>.response``: each served operation
  has both recorded fixtures; the adapter reads the recorded response into the
  operation's contract result, and the request it builds from the published
  example has the recorded request's shape (the same keys);
- ``disclosure:<op>``: every field of the operation's request model has a
  sensitivity class; the adapter builds its request from the partner's masked
  view of the published example (what the gateway would hand it); every field
  of that view it actually sends has a class and a masking rule other than
  ``drop``; no value masking withheld or transformed reaches the partner as is;
- ``sla:<op>`` / ``sla:terms``: every served operation has a business SLA term,
  or the agreement states its API availability and p95 latency targets, which
  measure every call; every term names an operation the adapter serves;
- ``events:<category>`` / ``webhook:<fixture or event type>``: the webhook
  dialect reports the category's required events, every event type it claims
  has a recorded fixture, every fixture translates into a valid canonical
  event of the category (partners posting canonical events: every published
  catalog example of the category validates);
- ``round-trip:<op>``: the sandbox takes the operation from the adapter, and
  every lifecycle webhook it emits translates back into a canonical event of
  the same order, of a type a recorded fixture also translates to.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Final

import httpx
from pydantic import ValidationError

from adapters.conformance.capture import Run, flatten, key_paths, run_recorded, without
from adapters.conformance.findings import Finding
from adapters.conformance.rules import (
    REQUIRED_EVENTS,
    category_events,
    example_request,
    order_id_in,
    served_operations,
)
from adapters.conformance.views import FieldDisclosure, Masker, PartnerView
from adapters.errors import TranslationError
from adapters.protocol import OutboundCall, PartnerAdapter, WebhookTranslator
from adapters.sandbox.kit import Sandbox, SandboxDialect, SandboxOrder
from contracts import (
    CANONICAL_DIALECT,
    EVENT_CATEGORY,
    OPERATION_PURPOSE,
    REQUEST_MODELS,
    SERVICE_RESULT_ADAPTER,
    CanonicalEvent,
    EventType,
    NoAuth,
    Operation,
    PartnerAgreement,
    event_catalog,
    new_order_id,
    operations_of,
    unclassified_fields,
)

__all__ = ["check_static", "static_checks"]

_SANDBOX_BASE: Final = "http://sandbox.conformance.invalid"
# Masked or withheld text shorter than this is too common to call a leak when seen.
_LEAK_MIN_CHARS: Final = 4
_SANDBOX_METHODS: Final = ("install", "error_body", "webhook", "lifecycle")


def static_checks(
    agreement: PartnerAgreement,
    adapter: PartnerAdapter,
    fixtures_dir: Path,
    *,
    masker: Masker,
    translator: WebhookTranslator | None = None,
    sandbox: SandboxDialect | None = None,
) -> list[Finding]:
    """``check_static`` for callers without a running event loop (tests, the CLI)."""
    return asyncio.run(
        check_static(
            agreement, adapter, fixtures_dir, masker=masker, translator=translator, sandbox=sandbox
        )
    )


async def check_static(
    agreement: PartnerAgreement,
    adapter: PartnerAdapter,
    fixtures_dir: Path,
    *,
    masker: Masker,
    translator: WebhookTranslator | None = None,
    sandbox: SandboxDialect | None = None,
) -> list[Finding]:
    """Every static check of ``agreement``'s partner (see the module docstring).

    ``fixtures_dir`` holds ``operations/<op>.request.json``, ``<op>.response.json``
    and, for a custom webhook dialect, ``webhooks/*.json``. ``translator`` is
    required when ``webhook.dialect`` is not ``canonical``; ``sandbox`` is the
    simulator of ``api.dialect``.
    """
    check = _Checks(agreement, fixtures_dir, masker)
    check.protocol(adapter, translator, sandbox)
    if not isinstance(adapter, PartnerAdapter):
        return check.findings  # nothing else can be called on it
    served = check.operations(adapter)
    for operation in served:
        await check.fixtures(adapter, operation)
        await check.disclosure(adapter, operation)
        check.sla(operation)
    check.sla_terms(adapter)
    fixture_types = check.events(translator)
    if sandbox is not None and check.passed("protocol:sandbox", "protocol:translator"):
        for operation in served:
            if sandbox.lifecycle(operation):
                await check.round_trip(adapter, translator, sandbox, operation, fixture_types)
    return check.findings


class _Checks:
    """The checks of one partner, collecting findings in the order they ran."""

    def __init__(self, agreement: PartnerAgreement, fixtures_dir: Path, masker: Masker) -> None:
        self.agreement = agreement
        self.partner_id = agreement.id
        self.fixtures_dir = fixtures_dir
        self.masker = masker
        self.findings: list[Finding] = []

    def add(self, check: str, ok: bool, detail: str) -> bool:
        self.findings.append(Finding(self.partner_id, check, ok, detail))
        return ok

    def passed(self, *checks: str) -> bool:
        """Whether every finding of the named checks passed."""
        return all(f.ok for f in self.findings if f.check in checks)

    # -- protocol -------------------------------------------------------------------

    def protocol(
        self,
        adapter: object,
        translator: object | None,
        sandbox: object | None,
    ) -> None:
        api_dialect = self.agreement.api.dialect
        problems: list[str] = []
        if not isinstance(adapter, PartnerAdapter):
            missing = [
                name
                for name in ("dialect", "operations", "retry_safe", "call", "cancel")
                if not hasattr(adapter, name)
            ]
            problems.append(f"{type(adapter).__name__} lacks {', '.join(missing)}")
        else:
            if adapter.dialect != api_dialect:
                problems.append(f"speaks {adapter.dialect!r}, the agreement names {api_dialect!r}")
            operations = adapter.operations()
            if not isinstance(operations, frozenset) or not operations <= set(Operation):
                problems.append("operations() must return a frozenset of contracts.Operation")
            else:
                unsure = [
                    op for op in sorted(operations) if not isinstance(adapter.retry_safe(op), bool)
                ]
                if unsure:
                    problems.append(f"retry_safe() is not a bool for {', '.join(unsure)}")
        self.add(
            "protocol:adapter",
            not problems,
            "; ".join(problems)
            or f"{type(adapter).__name__} satisfies PartnerAdapter for {api_dialect}",
        )
        self._protocol_translator(translator)
        self._protocol_sandbox(sandbox)

    def _protocol_translator(self, translator: object | None) -> None:
        dialect = self.agreement.webhook.dialect
        if dialect == CANONICAL_DIALECT:
            self.add(
                "protocol:translator",
                translator is None,
                "posts canonical events; the gateway parses them itself"
                if translator is None
                else "webhook.dialect is canonical, yet a translator was given",
            )
            return
        if translator is None:
            self.add(
                "protocol:translator",
                False,
                f"no WebhookTranslator for webhook.dialect {dialect!r}: register one",
            )
        elif not isinstance(translator, WebhookTranslator):
            self.add(
                "protocol:translator",
                False,
                f"{type(translator).__name__} lacks dialect, event_types() or translate()",
            )
        elif translator.dialect != dialect:
            self.add(
                "protocol:translator",
                False,
                f"translates {translator.dialect!r}, the agreement names {dialect!r}",
            )
        elif not isinstance(translator.event_types(), frozenset) or not (
            translator.event_types() <= set(EventType)
        ):
            self.add("protocol:translator", False, "event_types() must be a frozenset of EventType")
        else:
            self.add(
                "protocol:translator",
                True,
                f"{type(translator).__name__} satisfies WebhookTranslator for {dialect}",
            )

    def _protocol_sandbox(self, sandbox: object | None) -> None:
        dialect = self.agreement.api.dialect
        if sandbox is None:
            self.add(
                "protocol:sandbox", False, f"no sandbox simulator of {dialect!r} is registered"
            )
            return
        missing = [name for name in _SANDBOX_METHODS if not callable(getattr(sandbox, name, None))]
        spoken = getattr(sandbox, "dialect", None)
        if missing:
            self.add("protocol:sandbox", False, f"the simulator lacks {', '.join(missing)}")
        elif spoken != dialect:
            self.add("protocol:sandbox", False, f"simulates {spoken!r}, not {dialect!r}")
        else:
            self.add("protocol:sandbox", True, f"{type(sandbox).__name__} simulates {dialect}")

    # -- operations and their fixtures ----------------------------------------------------

    def operations(self, adapter: PartnerAdapter) -> list[Operation]:
        category = self.agreement.category
        served = served_operations(self.agreement, adapter)
        missing = [op.value for op in operations_of(category) if op not in served]
        self.add(
            "operations",
            not missing,
            f"does not offer {', '.join(missing)} of its category {category}"
            if missing
            else f"offers every {category} operation: {', '.join(op.value for op in served)}",
        )
        return served

    def _fixture(self, name: str) -> tuple[Any, str | None]:
        """A recorded JSON fixture under ``operations/``, or why it cannot be read."""
        path = self.fixtures_dir / "operations" / f"{name}.json"
        shown = f"operations/{name}.json"
        if not path.is_file():
            return None, f"missing fixture {shown} (in {self.fixtures_dir})"
        try:
            return json.loads(path.read_text("utf-8")), None
        except (ValueError, UnicodeDecodeError) as exc:
            return None, f"fixture {shown} is not JSON: {exc}"

    def _call(
        self, operation: Operation, payload: Any, order_id: str | None = None
    ) -> OutboundCall:
        order_id = order_id or new_order_id()
        return OutboundCall(
            partner_id=self.partner_id,
            order_id=order_id,
            operation=operation,
            payload=payload,
            idempotency_key=f"{order_id}:{self.partner_id}",
        )

    async def fixtures(self, adapter: PartnerAdapter, operation: Operation) -> None:
        request_fixture, request_problem = self._fixture(f"{operation}.request")
        response_fixture, response_problem = self._fixture(f"{operation}.response")
        if request_problem is not None:
            self.add(f"fixture:{operation}.request", False, request_problem)
        if response_problem is not None:
            self.add(f"fixture:{operation}.response", False, response_problem)
        if request_problem is not None or response_problem is not None:
            return
        example = example_request(self.agreement, operation).model_dump(
            mode="json", exclude_none=True
        )
        call = self._call(operation, example, order_id_in(request_fixture))
        run = await run_recorded(adapter, call, response_fixture)
        self._response_fixture(operation, run)
        self._request_fixture(operation, run, request_fixture)

    def _response_fixture(self, operation: Operation, run: Run) -> None:
        check = f"fixture:{operation}.response"
        if run.error is not None or run.result is None:
            self.add(
                check,
                False,
                f"the adapter cannot read the recorded answer into a {operation} result: "
                f"{type(run.error).__name__}: {run.error}",
            )
            return
        result = run.result
        try:
            again = SERVICE_RESULT_ADAPTER.validate_json(result.model_dump_json())
        except ValidationError as exc:
            self.add(check, False, f"the result does not validate again: {exc.errors()[0]['msg']}")
            return
        if result.operation is not operation:
            self.add(check, False, f"read as a {result.operation} result, not {operation}")
            return
        if again != result:
            self.add(check, False, "the result changes when read back from its own JSON")
            return
        self.add(check, True, f"read into {type(result).__name__}")

    def _request_fixture(self, operation: Operation, run: Run, recorded: Any) -> None:
        check = f"fixture:{operation}.request"
        if not run.sent_anything:
            self.add(
                check,
                False,
                f"the adapter sent nothing for the published example: "
                f"{type(run.error).__name__}: {run.error}",
            )
            return
        body = run.body()
        sent = body if body is not None else dict(run.requests[0].url.params)
        sent_keys, recorded_keys = key_paths(sent), key_paths(recorded)
        if sent_keys != recorded_keys:
            extra = sorted(sent_keys - recorded_keys)
            lacking = sorted(recorded_keys - sent_keys)
            parts = [f"the adapter sends {', '.join(extra)} it lacks"] if extra else []
            if lacking:
                parts.append(f"it has {', '.join(lacking)} the adapter does not send")
            self.add(check, False, "the recorded request is stale: " + "; ".join(parts))
            return
        self.add(check, True, f"matches the adapter's request ({len(sent_keys)} keys)")

    # -- disclosure ---------------------------------------------------------------------

    async def disclosure(self, adapter: PartnerAdapter, operation: Operation) -> None:
        check = f"disclosure:{operation}"
        unclassified = unclassified_fields(REQUEST_MODELS[operation])
        if unclassified:
            self.add(
                check,
                False,
                f"request fields without a sensitivity class: {', '.join(unclassified)}",
            )
            return
        request = example_request(self.agreement, operation)
        view = self.masker(self.agreement, request)
        answer, _ = self._fixture(f"{operation}.response")
        baseline = await run_recorded(adapter, self._call(operation, view.payload), answer)
        order_id = _order_id_of(baseline)
        if not baseline.sent_anything:
            self.add(
                check,
                False,
                f"the adapter cannot build its request from the partner's masked view "
                f"({self.agreement.data.tier} tier, purpose {OPERATION_PURPOSE[operation]}): "
                f"{type(baseline.error).__name__}: {baseline.error}",
            )
            return
        used = await _fields_used(
            adapter, self._call(operation, view.payload, order_id), answer, view
        )
        decisions = {field.path: field for field in view.fields}
        ruled = {path: _decision(path, decisions) for path in used}
        unruled = [
            path
            for path, decision in ruled.items()
            if decision is None
            or decision.data_class == "unclassified"
            or decision.operator == "drop"
        ]
        if unruled:
            self.add(
                check,
                False,
                f"sends fields without a class or masking rule: {', '.join(unruled)}",
            )
            return
        leaked = _leaks(request.model_dump(mode="json", exclude_none=True), view, baseline)
        if leaked:
            self.add(
                check,
                False,
                f"sends the real value of {', '.join(leaked)}, which masking withheld or changed",
            )
            return
        shown = ", ".join(
            f"{path} ({decision.data_class}, {decision.operator})"
            for path, decision in ruled.items()
            if decision is not None
        )
        withheld = sorted({f.path for f in view.fields if f.operator == "drop"})
        self.add(
            check,
            True,
            f"sends {len(used)} field(s) of its {self.agreement.data.tier} view: {shown or 'none'}"
            + (f"; withheld: {', '.join(withheld)}" if withheld else ""),
        )

    # -- SLA ------------------------------------------------------------------------------

    def sla(self, operation: Operation) -> None:
        sla = self.agreement.sla
        terms = [term for term in sla.terms if term.operation is operation]
        if terms:
            described = ", ".join(
                f"{t.name} ({t.start} -> {t.stop} within {t.target}, {t.compliance_percent} %)"
                for t in terms
            )
            self.add(f"sla:{operation}", True, f"business terms: {described}")
            return
        stated = {"api_availability_percent", "api_latency_p95_ms"} <= sla.model_fields_set
        self.add(
            f"sla:{operation}",
            stated,
            f"no business term; measured by the API targets: availability "
            f"{sla.api_availability_percent} %, p95 {sla.api_latency_p95_ms} ms"
            if stated
            else f"no sla.terms entry for {operation} and no API targets stated: add a term, "
            "or state sla.api_availability_percent and sla.api_latency_p95_ms",
        )

    def sla_terms(self, adapter: PartnerAdapter) -> None:
        terms = self.agreement.sla.terms
        served = set(served_operations(self.agreement, adapter))
        unserved = sorted({t.operation.value for t in terms if t.operation not in served})
        if not terms:
            self.add("sla:terms", False, "the agreement promises no business SLA term at all")
        elif unserved:
            self.add(
                "sla:terms", False, f"terms name operations the adapter does not offer: {unserved}"
            )
        else:
            self.add(
                "sla:terms", True, f"{len(terms)} business term(s), each on a served operation"
            )

    # -- events -------------------------------------------------------------------------

    def events(self, translator: WebhookTranslator | None) -> frozenset[EventType]:
        """Check the webhook side; the event types the recorded fixtures translate to."""
        category = self.agreement.category
        if self.agreement.webhook.dialect == CANONICAL_DIALECT:
            return self._canonical_events()
        if not self.passed("protocol:translator") or translator is None:
            self.add(
                f"events:{category}",
                False,
                "no usable webhook translator (see protocol:translator)",
            )
            return frozenset()
        claimed = translator.event_types()
        missing = sorted(t.value for t in REQUIRED_EVENTS[category] - claimed)
        foreign = sorted(t.value for t in claimed - category_events(category))
        problems = []
        if missing:
            problems.append(f"cannot report {', '.join(missing)}")
        if foreign:
            problems.append(f"reports other categories' events {', '.join(foreign)}")
        seen = self._webhook_fixtures(translator)
        lacking = sorted(t.value for t in claimed - seen)
        if lacking:
            problems.append(f"no recorded webhook in webhooks/ translates to {', '.join(lacking)}")
        self.add(
            f"events:{category}",
            not problems,
            "; ".join(problems)
            or f"reports {len(claimed)} event type(s), each with a recorded fixture",
        )
        return seen

    def _webhook_fixtures(self, translator: WebhookTranslator) -> frozenset[EventType]:
        directory = self.fixtures_dir / "webhooks"
        files = sorted(directory.glob("*.json")) if directory.is_dir() else []
        if not files:
            self.add("webhook:fixtures", False, f"no recorded webhooks in {directory}")
            return frozenset()
        seen: set[EventType] = set()
        for path in files:
            check = f"webhook:{path.name}"
            try:
                payload = json.loads(path.read_text("utf-8"))
            except (ValueError, UnicodeDecodeError) as exc:
                self.add(check, False, f"webhooks/{path.name} is not JSON: {exc}")
                continue
            try:
                event = translator.translate(payload, partner_id=self.partner_id)
            except TranslationError as exc:
                self.add(check, False, f"does not translate: {exc}")
                continue
            except Exception as exc:  # a translator must raise TranslationError only
                self.add(check, False, f"translator raised {type(exc).__name__}: {exc}")
                continue
            problem = self._event_problem(event, translated=True)
            if problem is None:
                seen.add(event.type)
            self.add(check, problem is None, problem or f"translates to {event.type}")
        return frozenset(seen)

    def _event_problem(self, event: CanonicalEvent, *, translated: bool) -> str | None:
        category = self.agreement.category
        if EVENT_CATEGORY[event.type] not in (category, None):
            return f"translates to {event.type}, not an event of {category}"
        if event.partner_id != self.partner_id:
            return f"names partner {event.partner_id!r}, not {self.partner_id!r}"
        offset = event.occurred_at.utcoffset()
        if translated and (offset is None or offset.total_seconds() != 0):
            return "occurred_at is not a UTC time (translators report UTC)"
        if CanonicalEvent.model_validate_json(event.model_dump_json()) != event:
            return "the event does not survive its own JSON"
        return None

    def _canonical_events(self) -> frozenset[EventType]:
        category = self.agreement.category
        wanted = category_events(category)
        seen: set[EventType] = set()
        for entry in event_catalog():
            if entry.type not in wanted:
                continue
            check = f"webhook:{entry.type}"
            try:
                event = CanonicalEvent.model_validate(
                    {**entry.example, "partner_id": self.partner_id}
                )
            except ValidationError as exc:
                self.add(check, False, f"the published example does not validate: {exc}")
                continue
            problem = self._event_problem(event, translated=False)
            if problem is None:
                seen.add(event.type)
            self.add(check, problem is None, problem or "the published catalog example validates")
        missing = sorted(t.value for t in REQUIRED_EVENTS[category] - seen)
        self.add(
            f"events:{category}",
            not missing,
            f"the catalog lacks {', '.join(missing)}"
            if missing
            else "posts the published canonical events of its category",
        )
        return frozenset(seen)

    # -- round trip through the sandbox -----------------------------------------------------

    async def round_trip(
        self,
        adapter: PartnerAdapter,
        translator: WebhookTranslator | None,
        simulator: SandboxDialect,
        operation: Operation,
        fixture_types: frozenset[EventType],
    ) -> None:
        check = f"round-trip:{operation}"
        # The round trip is about the webhook dialect: the simulator skips auth checks.
        quiet = self.agreement.model_copy(
            update={"api": self.agreement.api.model_copy(update={"auth": NoAuth(type="none")})}
        )
        view = self.masker(self.agreement, example_request(self.agreement, operation))
        call = self._call(operation, view.payload)
        sandbox = Sandbox(quiet, simulator, secret="")
        sandbox.config.webhooks = False
        try:
            transport = httpx.ASGITransport(app=sandbox.app)
            async with httpx.AsyncClient(base_url=_SANDBOX_BASE, transport=transport) as http:
                try:
                    result = await adapter.call(http, call)
                except Exception as exc:  # reported, as any adapter failure
                    self.add(
                        check,
                        False,
                        f"the sandbox refused the operation: {type(exc).__name__}: {exc}",
                    )
                    return
            order = sandbox.existing(operation, call.order_id) or _order_named(
                sandbox, flatten(result.model_dump(mode="json")).values()
            )
            if order is None:
                self.add(check, False, "the sandbox holds no order for our order id or result")
                return
            problems, types = [], []
            for kind in simulator.lifecycle(operation):
                problem, event_type = self._emitted(
                    simulator, sandbox, order, kind, translator, fixture_types, order.order_id
                )
                if problem is not None:
                    problems.append(f"{kind}: {problem}")
                elif event_type is not None:
                    types.append(f"{kind} -> {event_type}")
        finally:
            await sandbox.aclose()
        self.add(check, not problems, "; ".join(problems) or ", ".join(types))

    def _emitted(
        self,
        simulator: SandboxDialect,
        sandbox: Sandbox,
        order: SandboxOrder,
        kind: str,
        translator: WebhookTranslator | None,
        fixture_types: frozenset[EventType],
        order_id: str,
    ) -> tuple[str | None, EventType | None]:
        try:
            payload = simulator.webhook(sandbox, order, kind)
        except Exception as exc:  # the simulator's own failure is a finding too
            return f"the sandbox cannot emit it: {type(exc).__name__}: {exc}", None
        try:
            if translator is None:
                event = CanonicalEvent.model_validate(payload)
            else:
                event = translator.translate(payload, partner_id=self.partner_id)
        except (TranslationError, ValidationError) as exc:
            return f"the emitted payload does not translate: {exc}", None
        problem = self._event_problem(event, translated=translator is not None)
        if problem is not None:
            return problem, None
        if event.order_id != order_id:
            return "the event names another order", None
        if translator is None and event.type.value != kind:
            return f"emitted as {kind}, parsed as {event.type}", None
        if translator is not None and event.type not in fixture_types:
            return f"translates to {event.type}, which no recorded fixture translates to", None
        return None, event.type


def _order_named(sandbox: Sandbox, values: Iterable[Any]) -> SandboxOrder | None:
    """The sandbox order whose reference the result names (a stop names the started session)."""
    for value in values:
        if isinstance(value, str) and value in sandbox.orders:
            return sandbox.orders[value]
    return None


def _decision(path: str, decisions: Mapping[str, FieldDisclosure]) -> FieldDisclosure | None:
    """The decision about ``path`` or the nearest enclosing field classified as a whole."""
    while path:
        if path in decisions:
            return decisions[path]
        cut = max(path.rfind("."), path.rfind("["))
        path = path[:cut] if cut > 0 else ""
    return None


def _order_id_of(run: Run) -> str | None:
    if not run.requests:
        return None
    return order_id_in(run.body()) or order_id_in(dict(run.requests[0].url.params))


async def _fields_used(
    adapter: PartnerAdapter, call: OutboundCall, answer: Any, view: PartnerView
) -> list[str]:
    """The paths of ``view`` whose removal changes what the adapter sends (or whether it can)."""
    first = (await run_recorded(adapter, call, answer)).shape()
    second = (await run_recorded(adapter, call, answer)).shape()
    # Clocks, nonces and the like differ between two identical calls: they are not compared.
    volatile = {k for k in first.keys() | second.keys() if first.get(k) != second.get(k)}
    stable = {k: v for k, v in first.items() if k not in volatile}
    used = []
    for path in flatten(view.payload):
        trimmed = OutboundCall(
            partner_id=call.partner_id,
            order_id=call.order_id,
            operation=call.operation,
            payload=without(view.payload, path),
            idempotency_key=call.idempotency_key,
        )
        shape = (await run_recorded(adapter, trimmed, answer)).shape()
        if {k: v for k, v in shape.items() if k not in volatile} != stable:
            used.append(path)
    return used


def _leaks(original: dict[str, Any], view: PartnerView, run: Run) -> list[str]:
    """Paths of original text values masking withheld or changed that still went out."""
    decisions = {field.path: field for field in view.fields}
    passed = {str(v) for v in flatten(view.payload).values()}
    text = run.text()
    return [
        path
        for path, value in flatten(original).items()
        if isinstance(value, str)
        and len(value) >= _LEAK_MIN_CHARS
        and getattr(_decision(path, decisions), "operator", "drop") != "keep"
        and value not in passed
        and value in text
    ]
