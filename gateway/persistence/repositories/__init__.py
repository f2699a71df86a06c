"""Every SQL statement of the gateway lives in one of these repository modules."""

from gateway.persistence.repositories.clients import ClientRepository
from gateway.persistence.repositories.dead_letters import DeadLetterRepository
from gateway.persistence.repositories.inbox import Delivery, InboxRepository, StoredDelivery
from gateway.persistence.repositories.orders import OrderRepository, OrderState
from gateway.persistence.repositories.privacy import (
    ConsentRepository,
    DisclosureRepository,
    RelayRepository,
)
from gateway.persistence.repositories.signing_keys import SigningKeyRepository

__all__ = [
    "ClientRepository",
    "ConsentRepository",
    "DeadLetterRepository",
    "Delivery",
    "DisclosureRepository",
    "InboxRepository",
    "OrderRepository",
    "OrderState",
    "RelayRepository",
    "SigningKeyRepository",
    "StoredDelivery",
]
