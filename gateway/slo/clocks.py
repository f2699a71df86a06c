"""SLA clocks: started at dispatch (or by a start event), stopped by the partner's event.

Each SLA term of the partner's agreement for the order's operation becomes one
clock row. A clock whose term starts at ``dispatched`` starts when the gateway
hands the request to the partner; one whose term starts with an event starts
when that event arrives. The stop event resolves it as met or breached by
its elapsed time; a clock nobody stops is breached by the sweep as soon as
its deadline passes (``gateway/slo/sweep.py``). Clocks belong to the month
(Asia/Shanghai) they started in; a stop arriving after that month was closed
is marked late and does not change the closed scorecard.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from contracts import Operation, PartnerAgreement, SlaTerm
from gateway.persistence.tables import SlaClockRow
from gateway.persistence.uow import UnitOfWork

__all__ = ["month_of", "start_clocks", "stop_clocks"]

_SHANGHAI: Final = ZoneInfo("Asia/Shanghai")


def month_of(moment: datetime) -> str:
    """The scorecard month of a moment: ``YYYY-MM`` in Asia/Shanghai."""
    return moment.astimezone(_SHANGHAI).strftime("%Y-%m")


def _terms(agreement: PartnerAgreement, operation: Operation, start: str) -> list[SlaTerm]:
    return [t for t in agreement.sla.terms if t.operation is operation and t.start == start]


async def start_clocks(
    uow: UnitOfWork,
    agreement: PartnerAgreement,
    *,
    order_id: str,
    operation: Operation,
    start: str,
    started_at: datetime,
    now: datetime,
) -> int:
    """Start the clocks of the terms beginning at ``start`` (``dispatched`` or an event type).

    A stop event already recorded for the order (a partner faster than our own
    bookkeeping) resolves its clock at once.
    """
    started = 0
    for term in _terms(agreement, operation, start):
        target = term.target
        clock = SlaClockRow(
            order_id=order_id,
            partner_id=agreement.id,
            operation=operation.value,
            term=term.name,
            stop_event=term.stop.value,
            target_ms=int(target / timedelta(milliseconds=1)),
            started_at=started_at,
            deadline_at=started_at + target,
            status="open",
            month=month_of(started_at),
            late=False,
        )
        uow.sla.add_clock(clock)
        started += 1
        stopped_at = await uow.sla.recorded_event_time(order_id, term.stop.value)
        if stopped_at is not None:
            await uow.flush()
            await uow.sla.stop_clocks(order_id, term.stop.value, stopped_at, now)
    return started


async def stop_clocks(
    uow: UnitOfWork, *, order_id: str, event_type: str, occurred_at: datetime, now: datetime
) -> int:
    """Resolve the order's clocks waiting for ``event_type``."""
    return await uow.sla.stop_clocks(order_id, event_type, occurred_at, now)
