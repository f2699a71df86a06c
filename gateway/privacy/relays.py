"""Relay numbers: virtual numbers that stand for a customer's phone while an order is open.

A partner that must call the customer gets a virtual number of the OEM's
telephony provider (`PGW_RELAY_NUMBER_POOL`) instead of the real one. The
binding (virtual number -> order, partner, real number) is kept in
`relay_bindings`; the provider resolves a call through
`GET /v1/relay-numbers/{virtual_number}`. Bindings are released when the order
is completed, cancelled, failed or rejected, and the number returns to the pool.

Two partial unique indexes over open bindings are the whole concurrency story:
a virtual number has at most one open binding, and an order discloses a given
phone under one virtual number (disclosing it again reuses that number).
Binders start at a pseudo-random place in the pool so concurrent ones rarely
meet; when they do, the database decides and the loser takes the next number.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Final

from gateway.logs import get_logger
from gateway.persistence.tables import RelayBindingRow
from gateway.persistence.uow import UnitOfWork
from gateway.privacy.pool import NumberPool, parse_number_pool
from gateway.problems import ServiceUnavailable
from gateway.settings import Settings

__all__ = [
    "RelayBinding",
    "RelayPoolExhausted",
    "bind_relay",
    "number_pool",
    "release_relays",
    "resolve_relay",
]

_log = get_logger("gateway.privacy")

_PROBES: Final = 32
"""Numbers tried one after the other from a random start before looking at the whole pool."""

_FREE_TRIES: Final = 32
"""Numbers known free (a moment ago) tried before giving up."""

_random = random.SystemRandom()


class RelayPoolExhausted(ServiceUnavailable):
    """Every virtual number of the pool is bound to an open order."""

    slug = "relay-pool-exhausted"
    title = "No relay number free"
    status = 503


@dataclass(frozen=True, slots=True)
class RelayBinding:
    """An open binding: who a virtual number stands for, for which order and partner."""

    virtual_number: str
    real_number: str
    order_id: str
    partner_id: str
    bound_at: datetime

    @classmethod
    def of(cls, row: RelayBindingRow) -> RelayBinding:
        """The binding a stored row describes."""
        return cls(
            virtual_number=row.virtual_number,
            real_number=row.real_number,
            order_id=row.order_id,
            partner_id=row.partner_id,
            bound_at=row.bound_at,
        )


@lru_cache(maxsize=8)
def number_pool(text: str) -> NumberPool:
    """The parsed pool of a `PGW_RELAY_NUMBER_POOL` value (validated with the settings)."""
    return parse_number_pool(text)


async def bind_relay(
    uow: UnitOfWork,
    settings: Settings,
    *,
    order_id: str,
    partner_id: str,
    real_number: str,
    now: datetime,
) -> str:
    """The virtual number standing for `real_number` in the order, bound now if need be.

    Reuses the order's open binding of the same number; otherwise binds a free
    number of the pool inside the caller's transaction (the caller commits).
    Raises `RelayPoolExhausted` (503) when no number is free.
    """
    existing = await uow.relays.open_for(order_id, real_number)
    if existing is not None:
        return existing.virtual_number
    pool = number_pool(settings.relay_number_pool)

    async def attempt(candidate: str) -> str | None:
        if await uow.relays.try_bind(
            virtual_number=candidate,
            order_id=order_id,
            partner_id=partner_id,
            real_number=real_number,
            now=now,
        ):
            return candidate
        # Either the number is taken, or a concurrent disclosure of this same order
        # and phone bound one first: then that binding is the answer.
        raced = await uow.relays.open_for(order_id, real_number)
        return None if raced is None else raced.virtual_number

    size = len(pool)
    start = _random.randrange(size)
    for step in range(min(size, _PROBES)):
        bound = await attempt(pool[(start + step) % size])
        if bound is not None:
            return bound
    # The neighbourhood is busy: look at the whole pool once, try numbers free a moment ago.
    held = {n for n in await uow.relays.open_virtual_numbers() if n in pool}
    if len(held) < size:
        for candidate in _free_sample(pool, held, _FREE_TRIES):
            bound = await attempt(candidate)
            if bound is not None:
                return bound
    _log.warning("relay.pool_exhausted", order_id=order_id, pool_size=size)
    raise RelayPoolExhausted(
        f"All {size} relay numbers of PGW_RELAY_NUMBER_POOL are bound to open orders; "
        "the customer's number cannot be relayed now. Retry later; operators: widen the pool.",
        retry_after_seconds=60,
    )


def _free_sample(pool: NumberPool, held: set[str], count: int) -> list[str]:
    """Up to `count` numbers of the pool not in `held`, in random order."""
    size = len(pool)
    if size <= 4 * (len(held) + count):
        free = [n for n in pool if n not in held]
        _random.shuffle(free)
        return free[:count]
    picked: set[str] = set()
    while len(picked) < count:
        candidate = pool[_random.randrange(size)]
        if candidate not in held:
            picked.add(candidate)
    return list(picked)


async def release_relays(uow: UnitOfWork, *, order_id: str, now: datetime) -> int:
    """Release the order's open bindings (their numbers return to the pool); how many.

    Runs in the caller's transaction; the caller commits.
    """
    released = await uow.relays.release_order(order_id, now)
    if released:
        _log.info("relay.released", order_id=order_id, count=released)
    return released


async def resolve_relay(uow: UnitOfWork, virtual_number: str) -> RelayBinding | None:
    """The open binding of a virtual number, or None when it is not bound."""
    row = await uow.relays.open_by_number(virtual_number)
    return None if row is None else RelayBinding.of(row)
