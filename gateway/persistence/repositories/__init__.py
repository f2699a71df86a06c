"""Every SQL statement of the gateway lives in one of these repository modules."""

from gateway.persistence.repositories.clients import ClientRepository
from gateway.persistence.repositories.dead_letters import DeadLetterRepository
from gateway.persistence.repositories.inbox import Delivery, InboxRepository, StoredDelivery
from gateway.persistence.repositories.ledger import LedgerRepository, LedgerTotal, credit_key
from gateway.persistence.repositories.orders import OrderRepository, OrderState
from gateway.persistence.repositories.privacy import (
    ConsentRepository,
    DisclosureRepository,
    RelayRepository,
)
from gateway.persistence.repositories.scorecards import (
    PartnerAggregates,
    ScorecardRepository,
    TermAggregates,
)
from gateway.persistence.repositories.signing_keys import SigningKeyRepository
from gateway.persistence.repositories.sla import Breach, SlaRepository, WindowTotals

__all__ = [
    "Breach",
    "ClientRepository",
    "ConsentRepository",
    "DeadLetterRepository",
    "Delivery",
    "DisclosureRepository",
    "InboxRepository",
    "LedgerRepository",
    "LedgerTotal",
    "OrderRepository",
    "OrderState",
    "PartnerAggregates",
    "RelayRepository",
    "ScorecardRepository",
    "SigningKeyRepository",
    "SlaRepository",
    "StoredDelivery",
    "TermAggregates",
    "WindowTotals",
    "credit_key",
]
