"""Every registered webhook translator meets the same bar, checked over the whole registry."""

import importlib
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from adapters import WEBHOOK_TRANSLATORS, WebhookTranslator, translator_for
from contracts import (
    CANONICAL_DIALECT,
    EVENT_CATEGORY,
    EVENT_DATA_MODELS,
    CanonicalEvent,
    EventType,
    PartnerAgreement,
    ServiceCategory,
)

_PARTNERS_DIR = Path(__file__).resolve().parents[2] / "partners"
_T = EventType
# What each category's partners must be able to report (the webhooks issue, section 3).
_REQUIRED: dict[ServiceCategory, frozenset[EventType]] = {
    ServiceCategory.RENTAL: frozenset(
        {
            _T.RENTAL_ORDER_ACCEPTED,
            _T.RENTAL_ORDER_REJECTED,
            _T.RENTAL_VEHICLE_DISPATCHED,
            _T.RENTAL_VEHICLE_DELIVERED,
            _T.RENTAL_COMPLETED,
            _T.ORDER_CANCELLED,
        }
    ),
    ServiceCategory.INSURANCE: frozenset(
        {_T.INSURANCE_POLICY_ISSUED, _T.INSURANCE_CLAIM_OPENED, _T.INSURANCE_CLAIM_SETTLED}
    ),
    ServiceCategory.CHARGING: frozenset(
        {_T.CHARGING_SESSION_STARTED, _T.CHARGING_SESSION_COMPLETED}
    ),
    ServiceCategory.LIFESTYLE: frozenset(
        {
            _T.LIFESTYLE_MEMBERSHIP_LINKED,
            _T.LIFESTYLE_BENEFIT_REDEEMED,
            _T.LIFESTYLE_POINTS_EXCHANGED,
        }
    ),
}


def _agreements() -> list[PartnerAgreement]:
    files = sorted([*_PARTNERS_DIR.glob("*.yaml"), *_PARTNERS_DIR.glob("*.yml")])
    return [PartnerAgreement.model_validate(yaml.safe_load(f.read_text("utf-8"))) for f in files]


_AGREEMENTS = _agreements()
_CUSTOM = [a for a in _AGREEMENTS if a.webhook.dialect != CANONICAL_DIALECT]
_DIALECTS = sorted(WEBHOOK_TRANSLATORS)


def _partners_of(dialect: str) -> list[PartnerAgreement]:
    return [a for a in _AGREEMENTS if a.webhook.dialect == dialect]


def _fixtures(translator: WebhookTranslator) -> list[Path]:
    module = importlib.import_module(type(translator).__module__)
    assert module.__file__ is not None
    return sorted((Path(module.__file__).parent / "fixtures" / "webhooks").glob("*.json"))


def _events(dialect: str) -> dict[str, CanonicalEvent]:
    translator = WEBHOOK_TRANSLATORS[dialect]
    partner_id = _partners_of(dialect)[0].id
    events = {}
    for path in _fixtures(translator):
        payload: Any = json.loads(path.read_text("utf-8"))
        events[path.name] = translator.translate(payload, partner_id=partner_id)
    return events


class TestRegistryCoversTheSampleRegistry:
    def test_sample_registry_has_custom_dialects(self) -> None:
        assert len(_AGREEMENTS) >= 8
        assert _CUSTOM

    @pytest.mark.parametrize("agreement", _CUSTOM, ids=lambda a: a.id)
    def test_every_custom_webhook_dialect_has_a_translator(
        self, agreement: PartnerAgreement
    ) -> None:
        assert agreement.webhook.dialect in WEBHOOK_TRANSLATORS

    def test_canonical_is_left_to_the_gateway(self) -> None:
        assert CANONICAL_DIALECT not in WEBHOOK_TRANSLATORS


@pytest.mark.parametrize("dialect", _DIALECTS)
class TestEveryTranslator:
    def test_is_keyed_by_its_own_dialect(self, dialect: str) -> None:
        assert WEBHOOK_TRANSLATORS[dialect].dialect == dialect
        assert translator_for(dialect) is WEBHOOK_TRANSLATORS[dialect]

    def test_satisfies_the_protocol(self, dialect: str) -> None:
        translator = WEBHOOK_TRANSLATORS[dialect]
        assert isinstance(translator, WebhookTranslator)
        assert isinstance(translator.event_types(), frozenset)
        assert translator.event_types() <= set(EventType)

    def test_is_used_by_a_partner(self, dialect: str) -> None:
        assert _partners_of(dialect), f"no agreement posts webhooks in {dialect}"

    def test_has_fixtures(self, dialect: str) -> None:
        assert _fixtures(WEBHOOK_TRANSLATORS[dialect])

    def test_every_fixture_translates_to_a_valid_event(self, dialect: str) -> None:
        for name, event in _events(dialect).items():
            assert type(event.data) is EVENT_DATA_MODELS[event.type], name
            offset = event.occurred_at.utcoffset()
            assert offset is not None and offset.total_seconds() == 0, name
            assert event.partner_reference, name
            assert CanonicalEvent.model_validate_json(event.model_dump_json()) == event, name

    def test_every_event_type_has_a_fixture(self, dialect: str) -> None:
        produced = {event.type for event in _events(dialect).values()}
        assert produced == WEBHOOK_TRANSLATORS[dialect].event_types()

    def test_fixture_event_ids_are_distinct(self, dialect: str) -> None:
        ids = [event.event_id for event in _events(dialect).values()]
        assert len(ids) == len(set(ids))

    def test_translation_is_deterministic(self, dialect: str) -> None:
        assert _events(dialect) == _events(dialect)

    def test_covers_its_partners_category(self, dialect: str) -> None:
        types = WEBHOOK_TRANSLATORS[dialect].event_types()
        for agreement in _partners_of(dialect):
            missing = _REQUIRED[agreement.category] - types
            assert not missing, f"{agreement.id} cannot report {sorted(missing)}"
            foreign = {t for t in types if EVENT_CATEGORY[t] not in (None, agreement.category)}
            assert not foreign, f"{dialect} reports other categories' events: {sorted(foreign)}"
