"""``pgw partners new``: a new partner's agreement and, for a custom dialect, its adapter.

``scaffold_partner`` writes:

- ``<partners_dir>/<id>.yaml``: the agreement with every clause of the
  partner agreement present and commented (service SLA, pricing, data
  sharing, liability, exclusivity, plus api, webhook, validity, contacts),
  with defaults for the category; validated by the loader the gateway starts
  with before anything is written. A new partner starts ``suspended`` and
  ``bronze``: it receives no orders until someone reviews the file;
- for ``--dialect custom``, a dialect ``<id>.v1`` that behaves as the
  published canonical API until it is changed:
  ``<adapters_root>/<package>/`` (``__init__.py`` declaring ``DIALECT``, ``API``,
  ``WEBHOOKS`` and ``SANDBOX``, ``outbound.py`` and ``webhooks.py`` delegating
  to the canonical dialect, ``fixtures/operations/`` copied from the canonical
  fixtures of the category, ``fixtures/webhooks/`` one published catalog
  example per event type of the category), the simulator
  ``<adapters_root>/sandbox/<package>.py`` (exporting ``DIALECT``, delegating to
  the canonical simulator) and ``<tests_root>/adapters/test_<package>.py``,
  which runs the conformance kit over it.

Registration needs no edit: ``adapters.registry`` registers every package
under ``adapters/`` that declares ``DIALECT``. ``<package>`` is the id with
``-`` written ``_``. Nothing is ever overwritten: if any target exists, or the
id or dialect is taken, ``ScaffoldError`` says so and nothing is written.
"""

from __future__ import annotations

import json
import keyword
import re
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from string import Template
from typing import Final, Literal

from pydantic import TypeAdapter, ValidationError

from adapters import ADAPTERS, WEBHOOK_TRANSLATORS
from adapters.conformance import category_events
from contracts import (
    CANONICAL_DIALECT,
    PartnerId,
    ServiceCategory,
    event_catalog,
    new_event_id,
    operations_of,
)
from gateway.registry import AGREEMENT_SUFFIXES, validate_directory

__all__ = ["ID_PATTERN", "DialectChoice", "ScaffoldError", "package_name", "scaffold_partner"]

ID_PATTERN: Final = re.compile(r"^[a-z][a-z0-9-]{1,38}[a-z0-9]$")
"""A new partner's id: lower-case letters, digits and ``-``, 3 to 40 characters."""

DialectChoice = Literal["canonical", "custom"]

_PARTNER_ID: Final[TypeAdapter[str]] = TypeAdapter(PartnerId)
# Modules of adapters/ and adapters/sandbox/ a package must not shadow, even if absent.
_RESERVED: Final = frozenset(
    {"canonical", "conformance", "sandbox", "registry", "protocol", "auth", "errors", "kit"}
)


class ScaffoldError(ValueError):
    """The partner cannot be scaffolded as asked; nothing was written."""


def package_name(partner_id: str) -> str:
    """The Python package of a partner's custom dialect: its id with ``-`` as ``_``."""
    return partner_id.replace("-", "_")


@dataclass(frozen=True, slots=True)
class _Category:
    partner_class: str
    tier: str
    purposes: str
    terms: str
    plans: str


_TODAY: Final = "$today"
_CATEGORIES: Final[Mapping[ServiceCategory, _Category]] = {
    ServiceCategory.RENTAL: _Category(
        "capability",
        "de_identified",
        "courtesy_car_delivery",
        """\
    # Accept within 5 minutes, car at the door within 30 minutes.
    - operation: courtesy_car.book
      name: accept
      stop: rental.order.accepted
      target: PT5M
      compliance_percent: 95
    - operation: courtesy_car.book
      name: deliver
      stop: rental.vehicle.delivered
      target: PT30M
      compliance_percent: 95""",
        f"""\
    # 8 % of each rental (per use).
    - kind: percentage
      rate: "0.08"
      valid_from: {_TODAY}""",
    ),
    ServiceCategory.INSURANCE: _Category(
        "capability",
        "de_identified",
        "insurance_quotation, insurance_underwriting",
        """\
    # Quotes are measured by the API targets below; a policy is issued within 10 minutes.
    - operation: insurance.bind
      name: issue_policy
      stop: insurance.policy.issued
      target: PT10M
      compliance_percent: 95
    - operation: insurance.bind
      name: acknowledge_claim
      start: insurance.claim.opened
      stop: insurance.claim.acknowledged
      target: PT2H
      compliance_percent: 95""",
        f"""\
    # 30 % of the premium (an insurer's agreement needs a revenue_share plan).
    - kind: revenue_share
      rate: "0.30"
      product: insurance_premium
      valid_from: {_TODAY}""",
    ),
    ServiceCategory.CHARGING: _Category(
        "resource_sharing",
        "public",
        "charging_access",
        """\
    # Searches and stops are measured by the API targets below; a session starts in a minute.
    - operation: charging.start
      name: start_session
      stop: charging.session.started
      target: PT1M
      compliance_percent: 95""",
        f"""\
    # 6 % of each session's value (per use).
    - kind: percentage
      rate: "0.06"
      valid_from: {_TODAY}""",
    ),
    ServiceCategory.LIFESTYLE: _Category(
        "traffic",
        "de_identified",
        "membership_linking, benefit_redemption, points_exchange",
        """\
    - operation: lifestyle.link
      name: link_membership
      stop: lifestyle.membership.linked
      target: PT1M
      compliance_percent: 98
    - operation: lifestyle.redeem
      name: confirm_redemption
      stop: lifestyle.benefit.redeemed
      target: PT1M
      compliance_percent: 98
    - operation: lifestyle.exchange_points
      name: credit_points
      stop: lifestyle.points.exchanged
      target: PT5M
      compliance_percent: 98""",
        f"""\
    # Member benefits: free to the member, the OEM pays the partner's cost per use.
    - kind: subscription_covered
      unit_cost: "8.00 CNY"
      valid_from: {_TODAY}""",
    ),
}

_AGREEMENT: Final = Template("""\
# Scaffolded by `pgw partners new $id --category $category --dialect $choice`.
# Every clause of the partner agreement is below with a default for a $category partner;
# replace each default with what was negotiated, then run `pgw partners validate` and
# `pgw conformance --partner $id`. Keys are explained in partners/README.md.
id: $id
name: $quoted_name
category: $category
partner_class: $partner_class  # capability | resource_sharing | traffic | co_creation
# A new partner receives no orders until this file is reviewed: set `active` once the
# agreement is signed and `pgw conformance --partner $id --base-url <its test endpoint>` passes.
status: suspended
tier: bronze                     # the scorecards move it each month (docs/scoring.md)
volume_cap_share: "0.10"         # while bronze: at most 10 % of the category's monthly orders
cities: [Shenzhen]               # every city the partner serves

# How the gateway calls the partner: its sandbox until it has a test endpoint of its own.
# The secret never appears here; `secret_ref` names it in PGW_PARTNER_SECRETS.
api:
  base_url: http://127.0.0.1:8000/sandbox/$id
  dialect: $dialect
  auth:
    type: api_key                # or oauth2_client_credentials, hmac, none
    header: X-Api-Key
    secret_ref: ${ref}_api_key
  timeouts: {connect: 2, read: 8}

# How the partner posts its events (Standard Webhooks, OAuth client credentials).
webhook:
  dialect: $dialect
  rate_limit_per_minute: 600

# Service SLA: response times and service standards, each from a start moment (default:
# when the gateway dispatches the order) to a canonical event, within a target.
sla:
  terms:
$terms
  # API targets: they measure every call, operations without a business term included.
  api_availability_percent: 99.5
  api_latency_p95_ms: 1500
  # Liability: a breached order credits the OEM 10 % of what it moved, once per order.
  breach_credit_percent: 10

# Pricing: per use, per month or per year; plans by kind (percentage, revenue_share,
# markup, platform_fee, subscription_covered, outcome_based), see docs/commission.md.
commission:
  plans:
$plans
  gold_rate_reduction_points: 0  # points off rate-based plans while gold

# Data sharing: the most protected class the partner receives (public or de_identified,
# never sensitive) and the purposes it may use it for; masking/ enforces both.
data:
  tier: $tier
  purposes: [$purposes]

# Exclusivity: whether the partner may serve competing brands, and whether the OEM
# routes the whole category to it.
exclusivity:
  serves_competitors: true
  exclusive_in_category: false

# The dates the agreement is in force, both inclusive.
validity:
  valid_from: $today
  valid_to: $until

# Someone at the partner to call about the agreement.
contacts:
  - role: account_manager
    name: Partner desk             # who at the partner answers for the agreement
    email: partners@$id.example.com
""")

_PACKAGE_INIT: Final = Template('''\
"""A partner dialect package, scaffolded by ``pgw partners new``.

Dialect ``$dialect``.

It speaks the published canonical partner API and posts canonical events
until its modules are changed: ``outbound.py`` is the partner's API,
``webhooks.py`` its webhooks, ``fixtures/`` the recorded requests, answers
and webhooks the conformance kit checks them against; the simulator is
``adapters/sandbox/$package.py``
and the tests ``tests/adapters/test_$package.py``.
``adapters.registry`` registers this package because it declares ``DIALECT``.
"""

from __future__ import annotations

from typing import Final

from adapters.$package.outbound import (
    ${cls}Api,
)
from adapters.$package.webhooks import (
    ${cls}Webhooks,
)

__all__ = [
    "API",
    "DIALECT",
    "SANDBOX",
    "WEBHOOKS",
    "${cls}Api",
    "${cls}Webhooks",
]

DIALECT: Final = "$dialect"
"""The dialect id the agreement names in ``api.dialect`` and ``webhook.dialect``."""

API: Final = ${cls}Api()
"""The outbound adapter the registry lists in ``ADAPTERS``."""

WEBHOOKS: Final = ${cls}Webhooks()
"""The webhook translator the registry lists in ``WEBHOOK_TRANSLATORS``."""

SANDBOX: Final = "adapters.sandbox.$package"
"""The simulator module of the dialect."""
''')

_OUTBOUND: Final = Template('''\
"""Outbound calls of a scaffolded dialect: the published canonical API until changed.

Dialect ``$dialect``.

Every method delegates to ``adapters.canonical.outbound.CanonicalApi``, so
the partner is called exactly as ``docs/partners/canonical-api.md`` describes.
When the partner's own API differs, replace a method's body with its
requests and answers (``adapters/swiftrent/outbound.py`` is a worked
example), record one request and one response per operation in
``fixtures/operations/``, and run
``pytest tests/adapters/test_$package.py``.
"""

from __future__ import annotations

from typing import Final

import httpx

from adapters.canonical.outbound import CanonicalApi
from adapters.protocol import OutboundCall
from contracts import Operation, ServiceCategory, ServiceResult, operations_of

__all__ = ["${cls}Api"]

_CANONICAL: Final = CanonicalApi()


class ${cls}Api:
    """The partner's API in canonical terms: the $category operations."""

    dialect: str = "$dialect"

    def operations(self) -> frozenset[Operation]:
        """Every $category operation."""
        return frozenset(operations_of(ServiceCategory.$CATEGORY))

    def retry_safe(self, operation: Operation) -> bool:
        """As the canonical API: the partner deduplicates orders on the idempotency key."""
        return _CANONICAL.retry_safe(operation)

    async def call(self, http: httpx.AsyncClient, call: OutboundCall) -> ServiceResult:
        """Perform ``call.operation`` at the partner and return its canonical result."""
        return await _CANONICAL.call(http, call)

    async def cancel(
        self, http: httpx.AsyncClient, *, order_id: str, partner_reference: str | None
    ) -> None:
        """Ask the partner to cancel an order; ``PartnerRejected`` when it no longer can."""
        await _CANONICAL.cancel(http, order_id=order_id, partner_reference=partner_reference)
''')

_WEBHOOKS: Final = Template('''\
"""Webhooks of a scaffolded dialect: canonical events as they are, until changed.

Dialect ``$dialect``.

The partner posts the published canonical events (``GET /v1/events/catalog``);
``translate`` checks each against the contract and reports its time in UTC,
as every translator does. When the partner posts its own payloads, write
wire models and a mapping per event kind here (``adapters/README.md``,
"Adding a dialect") and record one payload per kind in ``fixtures/webhooks/``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC
from typing import Any, Final

from adapters._wire import canonical_terms
from adapters.errors import TranslationError
from contracts import EVENT_CATEGORY, CanonicalEvent, EventType, ServiceCategory

__all__ = ["${cls}Webhooks"]

_EVENT_TYPES: Final = frozenset(
    t for t, category in EVENT_CATEGORY.items() if category in (ServiceCategory.$CATEGORY, None)
)


class ${cls}Webhooks:
    """Turns the partner's webhooks into canonical events."""

    dialect: str = "$dialect"

    def event_types(self) -> frozenset[EventType]:
        """The $category events and the ``order.*`` events of any category."""
        return _EVENT_TYPES

    def translate(self, payload: Mapping[str, Any], *, partner_id: str) -> CanonicalEvent:
        """The canonical event one payload states; raises ``TranslationError``."""
        with canonical_terms():
            event = CanonicalEvent.model_validate(payload)
        if event.type not in _EVENT_TYPES:
            raise TranslationError(f"{event.type} is not a $category event", "type")
        if event.partner_id != partner_id:
            raise TranslationError("the event names another partner", "partner_id")
        return event.model_copy(update={"occurred_at": event.occurred_at.astimezone(UTC)})
''')

_SANDBOX: Final = Template('''\
"""Sandbox of a scaffolded dialect: the canonical simulator until changed.

Dialect ``$dialect``.

Every method delegates to ``adapters.sandbox.canonical``; when the partner's
API gets its own shape, simulate it here (``adapters/sandbox/swiftrent.py``
is a worked example). ``python -m adapters.sandbox <partner id>`` serves it
alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from adapters.sandbox.canonical import DIALECT as _CANONICAL
from adapters.sandbox.kit import Sandbox, SandboxDialect, SandboxFault, SandboxOrder
from contracts import Operation

__all__ = ["DIALECT", "${cls}Sandbox"]


class ${cls}Sandbox:
    """The simulator of the partner's API."""

    dialect = "$dialect"

    def install(self, sandbox: Sandbox) -> None:
        """Add the partner's API routes to ``sandbox.app``."""
        _CANONICAL.install(sandbox)

    def error_body(self, fault: SandboxFault) -> tuple[int, Any]:
        """Status and JSON body the partner answers a fault with."""
        return _CANONICAL.error_body(fault)

    def webhook(self, sandbox: Sandbox, order: SandboxOrder, kind: str) -> dict[str, Any]:
        """The partner's webhook payload announcing ``kind`` for ``order``."""
        return _CANONICAL.webhook(sandbox, order, kind)

    def lifecycle(self, operation: Operation) -> Sequence[str]:
        """The webhook kinds sent by themselves after ``operation`` succeeds."""
        return _CANONICAL.lifecycle(operation)


DIALECT: Final[SandboxDialect] = ${cls}Sandbox()
"""The simulator of ``$dialect``."""
''')

_TEST: Final = Template('''\
"""A scaffolded partner against the conformance kit.

Dialect ``$dialect``;
agreement ``partners/$id.yaml``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

$imports

_PARTNERS = Path(__file__).resolve().parents[2] / "partners"
_AGREEMENT = _PARTNERS / "$id.yaml"


@pytest.fixture(scope="module")
def agreement() -> PartnerAgreement:
    return PartnerAgreement.model_validate(yaml.safe_load(_AGREEMENT.read_text("utf-8")))


def test_is_registered_in_the_one_registry(agreement: PartnerAgreement) -> None:
    assert agreement.api.dialect == agreement.webhook.dialect == DIALECT
    assert ADAPTERS[DIALECT] is API
    assert WEBHOOK_TRANSLATORS[DIALECT] is WEBHOOKS
    assert DIALECT_SANDBOX_MODULES[DIALECT] == SANDBOX
    assert registered_parts(agreement).sandbox is not None


def test_passes_the_static_conformance_checks(agreement: PartnerAgreement) -> None:
    findings = check_partner(agreement)
    assert findings
    assert not failures(findings), format_report(findings)


async def test_its_sandbox_answers_every_operation(agreement: PartnerAgreement) -> None:
    secret = sandbox_secret(getattr(agreement.api.auth, "secret_ref", ""))
    findings = await check_partner_live(agreement, base_url=None, secret=secret)
    assert findings
    assert not failures(findings), format_report(findings)
''')


def _class_name(partner_id: str) -> str:
    return "".join(part.capitalize() for part in re.split(r"[-_]", partner_id))


def _check_id(partner_id: str) -> None:
    if not ID_PATTERN.match(partner_id):
        raise ScaffoldError(
            f"partner id {partner_id!r} must be 3 to 40 lower-case letters, digits or '-', "
            "starting with a letter and not ending with '-'"
        )
    try:
        _PARTNER_ID.validate_python(partner_id)
    except ValidationError as exc:
        raise ScaffoldError(f"partner id {partner_id!r} is not a contracts PartnerId") from exc


def _existing_agreement(partners_dir: Path, partner_id: str) -> Path | None:
    for suffix in AGREEMENT_SUFFIXES:
        path = partners_dir / f"{partner_id}{suffix}"
        if path.exists():
            return path
    return None


def _dialect_in_use(partners_dir: Path, dialect: str) -> list[str]:
    pattern = re.compile(rf"^\s*dialect:\s*{re.escape(dialect)}\s*(#.*)?$", re.M)
    return sorted(
        p.name
        for p in partners_dir.iterdir()
        if p.is_file() and p.suffix in AGREEMENT_SUFFIXES and pattern.search(p.read_text("utf-8"))
    )


def _render_agreement(
    partner_id: str,
    category: ServiceCategory,
    choice: DialectChoice,
    dialect: str,
    name: str,
    today: date,
) -> str:
    parts = _CATEGORIES[category]
    until = date(today.year + 3, 12, 31)
    fields = {
        "id": partner_id,
        "quoted_name": json.dumps(name, ensure_ascii=False),
        "category": category.value,
        "choice": choice,
        "dialect": dialect,
        "ref": package_name(partner_id),
        "partner_class": parts.partner_class,
        "tier": parts.tier,
        "purposes": parts.purposes,
        "today": today.isoformat(),
        "until": until.isoformat(),
    }
    terms = Template(parts.terms).substitute(fields)
    plans = Template(parts.plans).substitute(fields)
    return _AGREEMENT.substitute(fields, terms=terms, plans=plans)


def _validate_agreement(
    partners_dir: Path, partner_id: str, text: str, new_dialect: str | None
) -> None:
    """Validate the new file with the start-up loader, next to the existing agreements."""
    with tempfile.TemporaryDirectory(prefix="pgw-scaffold-") as scratch:
        directory = Path(scratch)
        if partners_dir.is_dir():
            for existing in partners_dir.iterdir():
                if existing.is_file() and existing.suffix in AGREEMENT_SUFFIXES:
                    shutil.copyfile(existing, directory / existing.name)
        target = directory / f"{partner_id}.yaml"
        target.write_text(text, "utf-8")
        problems = [
            problem
            for problem in validate_directory(directory)
            if Path(problem.file).name == target.name
            # The new dialect's package is registered by discovery at the next start.
            and not (
                new_dialect is not None
                and problem.path in ("api.dialect", "webhook.dialect")
                and repr(new_dialect) in problem.reason
            )
        ]
    if problems:
        listed = "; ".join(f"{p.path}: {p.reason}" for p in problems)
        raise ScaffoldError(f"the generated agreement does not validate: {listed}")


def _webhook_fixtures(partner_id: str, category: ServiceCategory) -> dict[str, str]:
    wanted = category_events(category)
    fixtures = {}
    for entry in event_catalog():
        if entry.type in wanted:
            example = {**entry.example, "event_id": new_event_id(), "partner_id": partner_id}
            fixtures[f"{entry.type}.json"] = json.dumps(example, ensure_ascii=False, indent=2)
    return fixtures


def _operation_fixtures(canonical_dir: Path, category: ServiceCategory) -> dict[str, Path]:
    if not canonical_dir.is_dir():
        raise ScaffoldError(f"no canonical fixtures to copy in {canonical_dir}")
    names = [
        f"{op}.{part}.json" for op in operations_of(category) for part in ("request", "response")
    ]
    names += ["cancel.request.json", "cancel.response.json"]
    names += sorted(p.name for p in canonical_dir.glob("error.*.json"))
    missing = [name for name in names if not (canonical_dir / name).is_file()]
    if missing:
        raise ScaffoldError(f"canonical fixtures missing in {canonical_dir}: {', '.join(missing)}")
    return {name: canonical_dir / name for name in names}


def scaffold_partner(
    partner_id: str,
    category: ServiceCategory | str,
    dialect: DialectChoice,
    *,
    partners_dir: Path,
    adapters_root: Path,
    tests_root: Path,
    name: str | None = None,
    today: date | None = None,
) -> list[Path]:
    """Write the new partner's files (see the module docstring); the paths written, in order.

    ``adapters_root`` is the ``adapters`` package directory and ``tests_root``
    the ``tests`` directory; both matter for ``custom`` only.
    """
    _check_id(partner_id)
    try:
        chosen = ServiceCategory(category)
    except ValueError:
        known = ", ".join(c.value for c in ServiceCategory)
        raise ScaffoldError(f"category {category!r} is not one of {known}") from None
    if dialect not in ("canonical", "custom"):
        raise ScaffoldError(f"dialect must be canonical or custom, not {dialect!r}")
    existing = _existing_agreement(partners_dir, partner_id)
    if existing is not None:
        raise ScaffoldError(f"partner {partner_id!r} exists already: {existing}")
    name = name or " ".join(part.capitalize() for part in partner_id.split("-"))
    if not name.strip() or len(name) > 200 or any(c in name for c in "\r\n"):
        raise ScaffoldError("the name must be one line of at most 200 characters")
    day = today or date.today()
    if dialect == "canonical":
        text = _render_agreement(partner_id, chosen, dialect, CANONICAL_DIALECT, name, day)
        _validate_agreement(partners_dir, partner_id, text, None)
        target = partners_dir / f"{partner_id}.yaml"
        _write({target: text})
        return [target]
    package = package_name(partner_id)
    wire_dialect = f"{partner_id}.v1"
    _check_custom(partners_dir, adapters_root, package, wire_dialect)
    text = _render_agreement(partner_id, chosen, dialect, wire_dialect, name, day)
    _validate_agreement(partners_dir, partner_id, text, wire_dialect)
    files = {
        partners_dir / f"{partner_id}.yaml": text,
        **_custom_files(partner_id, chosen, package, wire_dialect, adapters_root, tests_root),
    }
    taken = sorted(str(path) for path in files if path.exists())
    if taken:
        raise ScaffoldError(f"refusing to overwrite {', '.join(taken)}")
    _write(files)
    return list(files)


def _check_custom(partners_dir: Path, adapters_root: Path, package: str, dialect: str) -> None:
    if keyword.iskeyword(package) or not package.isidentifier():
        raise ScaffoldError(f"{package!r} cannot be a Python package name: choose another id")
    if package in _RESERVED or package.startswith("_"):
        raise ScaffoldError(f"{package!r} is a reserved name under adapters/: choose another id")
    for taken in (
        adapters_root / package,
        adapters_root / f"{package}.py",
        adapters_root / "sandbox" / f"{package}.py",
    ):
        if taken.exists():
            raise ScaffoldError(f"refusing to overwrite {taken}")
    if dialect in ADAPTERS or dialect in WEBHOOK_TRANSLATORS:
        raise ScaffoldError(f"dialect {dialect!r} is registered already")
    if partners_dir.is_dir():
        users = _dialect_in_use(partners_dir, dialect)
        if users:
            raise ScaffoldError(f"dialect {dialect!r} is named by {', '.join(users)} already")


def _custom_files(
    partner_id: str,
    category: ServiceCategory,
    package: str,
    dialect: str,
    adapters_root: Path,
    tests_root: Path,
) -> dict[Path, str | Path]:
    fields = {
        "id": partner_id,
        "package": package,
        "dialect": dialect,
        "cls": _class_name(partner_id),
        "category": category.value,
        "CATEGORY": category.name,
    }
    root = adapters_root / package
    files: dict[Path, str | Path] = {
        root / "__init__.py": _PACKAGE_INIT.substitute(fields),
        root / "outbound.py": _OUTBOUND.substitute(fields),
        root / "webhooks.py": _WEBHOOKS.substitute(fields),
        adapters_root / "sandbox" / f"{package}.py": _SANDBOX.substitute(fields),
    }
    canonical = adapters_root / "canonical" / "fixtures" / "operations"
    for file_name, source in _operation_fixtures(canonical, category).items():
        files[root / "fixtures" / "operations" / file_name] = source
    for file_name, body in _webhook_fixtures(partner_id, category).items():
        files[root / "fixtures" / "webhooks" / file_name] = body + "\n"
    # Sorted as the linter sorts them: where the package falls depends on its name.
    imports = sorted(
        [
            f"from adapters.{package} import API, DIALECT, SANDBOX, WEBHOOKS",
            "from adapters.conformance import failures, format_report",
            "from adapters.registry import ADAPTERS, DIALECT_SANDBOX_MODULES, WEBHOOK_TRANSLATORS",
            "from adapters.sandbox import sandbox_secret",
            "from contracts import PartnerAgreement",
            "from gateway.onboarding.kit import "
            "check_partner, check_partner_live, registered_parts",
        ],
        key=lambda line: line.split()[1],
    )
    files[tests_root / "adapters" / f"test_{package}.py"] = _TEST.substitute(
        fields, imports="\n".join(imports)
    )
    return files


def _write(files: Mapping[Path, str | Path]) -> None:
    written: list[Path] = []
    try:
        for path, content in files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("x", encoding="utf-8") as handle:  # "x": never overwrite
                written.append(path)
                handle.write(content.read_text("utf-8") if isinstance(content, Path) else content)
    except OSError:
        for path in reversed(written):
            path.unlink(missing_ok=True)
        raise
