"""What each console page shows, gathered through the same services as the API.

Scorecards are read as stored: frozen for a closed month, and for an open
month the provisional ones the gateway recomputes every
``PGW_SCORECARD_REFRESH_INTERVAL_SECONDS`` (computed once on first view when
none is stored yet), so a page never aggregates a month of orders itself.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final, Generic, TypeVar

from contracts import (
    EXAMPLE_REQUESTS,
    OPERATION_CATEGORY,
    OPERATION_PURPOSE,
    PartnerAgreement,
    PartnerTier,
)
from gateway.bootstrap import Container
from gateway.dispatch.disclosure import partner_view
from gateway.ledger import statements_of_month
from gateway.ledger.schemas import Statement
from gateway.logs import get_logger
from gateway.persistence.tables import ComplaintRow, SlaClockRow, TierChangeRow
from gateway.scorecards.months import SHANGHAI, month_of, months_back
from gateway.scorecards.schemas import Scorecard
from gateway.scorecards.service import compute_month, tiers_in_force

__all__ = [
    "DataField",
    "Overview",
    "PartnerDetail",
    "month_scorecards",
    "month_statements",
    "overview",
    "partner_detail",
    "run_scorecard_refresh",
    "sort_scorecards",
]

_log = get_logger("gateway.console")
V = TypeVar("V")
_TREND_MONTHS: Final = 6
SORT_KEYS: Final = ("score", "sla", "p95", "rating", "complaints", "orders", "partner", "tier")
_TIER_RANK: Final = {tier: rank for rank, tier in enumerate(PartnerTier)}


class _PerContainer(Generic[V]):
    """Values by month, kept per container (per process and app)."""

    def __init__(self) -> None:
        self._held: dict[int, tuple[weakref.ref[Container], dict[str, V]]] = {}

    def of(self, container: Container) -> dict[str, V]:
        """The container's values; keyed by identity, as a Container is not hashable."""
        held = self._held.get(id(container))
        if held is None or held[0]() is not container:
            for key in [k for k, (ref, _) in self._held.items() if ref() is None]:
                del self._held[key]
            held = self._held[id(container)] = (weakref.ref(container), {})
        return held[1]


DRAFT_SECONDS: Final = 60.0
"""How long the console reuses an open month's draft statements (the page shows their age)."""
_DRAFTS: _PerContainer[tuple[float, datetime, list[Statement]]] = _PerContainer()
_CARDS: _PerContainer[tuple[tuple[int, datetime | None, datetime | None], list[Scorecard]]] = (
    _PerContainer()
)


async def month_statements(
    container: Container, month: str
) -> tuple[bool, list[Statement], datetime]:
    """Whether the month is closed, its statements, and when they were computed.

    A closed month's statements are frozen and read as stored. An open month's
    drafts sum every entry of the month, so the console reuses them for
    ``DRAFT_SECONDS`` per process (the API always computes them afresh).
    """
    cache = _DRAFTS.of(container)
    hit = cache.get(month)
    if hit is not None and time.monotonic() - hit[0] < DRAFT_SECONDS:
        return False, hit[2], hit[1]
    closed, statements = await statements_of_month(container, month)
    at = container.clock()
    if closed:
        cache.pop(month, None)
    else:
        cache[month] = (time.monotonic(), at, statements)
    return closed, statements, at


async def month_scorecards(container: Container, month: str) -> list[Scorecard]:
    """The month's scorecards as stored (closed, or provisional as last refreshed).

    Validated scorecards are kept per process until the stored ones change (their
    count, computation or closing time), which one small query tells each view.
    """
    cache = _CARDS.of(container)
    async with container.uow() as uow:
        stamp = await uow.scorecards.month_stamp(month)
        hit = cache.get(month)
        if hit is not None and hit[0] == stamp and stamp[0]:
            cards = hit[1]
        else:
            rows = list(await uow.scorecards.of_month(month))
            cards = []
    if not cards:
        if not rows:
            rows = await compute_month(container, month)
            async with container.uow() as uow:
                stamp = await uow.scorecards.month_stamp(month)
        cards = [Scorecard.from_row(row) for row in rows]
        cache[month] = (stamp, cards)
    ids = {a.id for a in container.registry.all()}
    return [card for card in cards if card.partner_id in ids]


def slowest_p95(card: Scorecard) -> float | None:
    """The largest 95th percentile time of the partner's SLA terms (ms)."""
    values = [t.p95_ms for t in card.metrics.sla_terms if t.p95_ms is not None]
    return max(values) if values else None


def sort_scorecards(cards: Sequence[Scorecard], key: str, descending: bool) -> list[Scorecard]:
    """Cards by a column; missing values always last."""

    def value(card: Scorecard) -> float | str | None:
        m = card.metrics
        return {
            "score": card.score,
            "sla": m.sla_compliance,
            "p95": slowest_p95(card),
            "rating": m.rating_average,
            "complaints": m.complaint_rate,
            "orders": float(m.orders),
            "partner": card.partner_id,
            "tier": float(_TIER_RANK[card.tier_in_force]),
        }.get(key, card.score)

    present = [c for c in cards if value(c) is not None]
    missing = [c for c in cards if value(c) is None]
    # Equal values keep partner-id order either way, as the API lists them (sorts are stable).
    present.sort(key=lambda c: c.partner_id)
    present.sort(key=value, reverse=descending)  # type: ignore[arg-type]
    return present + sorted(missing, key=lambda c: c.partner_id)


@dataclass(frozen=True, slots=True)
class Overview:
    """This month's ecosystem at a glance."""

    month: str
    orders_by_category: dict[str, int]
    sla_compliance: float | None
    partners_by_tier: dict[str, int]
    breaches_today: int
    money: list[tuple[str, int, int, int, int]]
    """Per currency: receivable, payable, net, retained (minor units)."""
    computed_at: datetime | None


async def overview(container: Container) -> Overview:
    """The current month's overview."""
    now = container.clock()
    month = month_of(now)
    cards, tiers, (_, statements, _at) = await asyncio.gather(
        month_scorecards(container, month),
        tiers_in_force(container, month),
        month_statements(container, month),
    )
    orders: dict[str, int] = defaultdict(int)
    met = breached = 0
    for card in cards:
        orders[card.category.value] += card.metrics.orders
        met += card.metrics.sla_met
        breached += card.metrics.sla_breached
    by_tier: dict[str, int] = defaultdict(int)
    for tier in tiers.values():
        by_tier[tier.value] += 1
    today = now.astimezone(SHANGHAI).replace(hour=0, minute=0, second=0, microsecond=0)
    async with container.uow() as uow:
        breaches = await uow.sla.breaches_between(list(tiers), today, today + timedelta(days=1))
    return Overview(
        month=month,
        orders_by_category=dict(orders),
        sla_compliance=met / (met + breached) if met + breached else None,
        partners_by_tier={t.value: by_tier.get(t.value, 0) for t in PartnerTier},
        breaches_today=breaches,
        money=_money(statements),
        computed_at=max((c.computed_at for c in cards), default=None),
    )


def _money(statements: Sequence[Statement]) -> list[tuple[str, int, int, int, int]]:
    sums: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for statement in statements:
        for total in statement.totals:
            row = sums[total.currency]
            row[0] += total.receivable.amount
            row[1] += total.payable.amount
            row[2] += total.net.amount
            row[3] += total.retained.amount
    return [(currency, *values) for currency, values in sorted(sums.items())]  # type: ignore[misc]


@dataclass(frozen=True, slots=True)
class DataField:
    """One field a partner receives for an operation, and how it is masked."""

    operation: str
    purpose: str
    path: str
    data_class: str
    operator: str


@dataclass(frozen=True, slots=True)
class PartnerDetail:
    """Everything the partner page shows."""

    agreement: PartnerAgreement
    tier: PartnerTier
    trend: list[Scorecard]
    months: list[str]
    tier_history: Sequence[TierChangeRow]
    breaches: Sequence[SlaClockRow]
    complaints: Sequence[ComplaintRow]
    data: list[DataField] = field(default_factory=list)


def data_received(container: Container, agreement: PartnerAgreement) -> list[DataField]:
    """What the masking policy lets the partner see of each operation's published example."""
    fields: list[DataField] = []
    for operation, request in EXAMPLE_REQUESTS.items():
        if OPERATION_CATEGORY[operation] is not agreement.category:
            continue
        purpose = OPERATION_PURPOSE[operation]
        view = partner_view(
            agreement, purpose, request, keys=container.masking_keys, now=container.clock()
        )
        fields.extend(
            DataField(operation.value, purpose.value, d.path, d.data_class, d.operator.value)
            for d in view.fields
        )
    return fields


async def partner_detail(container: Container, partner_id: str) -> PartnerDetail:
    """The partner page's data; raises ``UnknownPartner``."""
    agreement = container.registry.get(partner_id)
    month = month_of(container.clock())
    window = [*reversed(months_back(month, _TREND_MONTHS - 1)), month]
    async with container.uow() as uow:
        stored = await uow.scorecards.of_partner_months(partner_id, window)
        tier = await uow.scorecards.tier_in_force(partner_id, month)
        history = await uow.scorecards.tier_changes(partner_id=partner_id)
        breaches = await uow.sla.recent_breaches(partner_id, 10)
        complaints = await uow.sla.recent_complaints(partner_id, 10)
    if month not in stored:
        # The current month has no stored scorecard yet: compute the provisional ones once.
        await compute_month(container, month)
        async with container.uow() as uow:
            stored = await uow.scorecards.of_partner_months(partner_id, window)
    return PartnerDetail(
        agreement=agreement,
        tier=PartnerTier(tier) if tier is not None else agreement.tier,
        trend=[Scorecard.from_row(stored[m]) for m in window if m in stored],
        months=window,
        tier_history=list(reversed(history)),
        breaches=breaches,
        complaints=complaints,
        data=data_received(container, agreement),
    )


async def run_scorecard_refresh(container: Container, *, interval_seconds: float) -> None:
    """Recompute and store the current month's provisional scorecards forever (the first
    view of a month computes them when none are stored, so the loop starts by waiting)."""
    while True:
        await asyncio.sleep(interval_seconds)
        try:
            await compute_month(container, month_of(container.clock()))
        except asyncio.CancelledError:
            raise
        except Exception:
            _log.exception("console.scorecard_refresh_failed")
