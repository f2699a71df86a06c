"""The deadline sweep: clocks nobody stopped become breaches, each exactly once.

Every gateway process runs the sweep; the UPDATE that breaches a clock only
matches open clocks and, on PostgreSQL, skips rows another process holds
(``FOR UPDATE SKIP LOCKED``), so a missed deadline is recorded once whatever
the number of processes.
"""

from __future__ import annotations

import asyncio
from typing import Final

from gateway.bootstrap import Container
from gateway.ledger import credit_breached_orders
from gateway.logs import get_logger
from gateway.persistence.repositories import Breach

__all__ = ["run_sweep", "sweep_once"]

_log = get_logger("gateway.slo")
_BATCH: Final = 500


async def sweep_once(container: Container, *, limit: int = _BATCH) -> list[Breach]:
    """Breach every open clock past its deadline (up to ``limit``); the breaches.

    Completed orders among them then get their SLA credit, each in its own
    transaction (``credit_breached_orders``); a crash in between is made good
    when the month's statements are closed.
    """
    async with container.uow() as uow:
        breaches = await uow.sla.sweep(container.clock(), limit)
        await uow.commit()
    await credit_breached_orders(container, [breach.order_id for breach in breaches])
    for breach in breaches:
        container.metrics.sla_breaches.labels(breach.partner_id, breach.term).inc()
        _log.warning(
            "sla.breached",
            order_id=breach.order_id,
            partner_id=breach.partner_id,
            term=breach.term,
            deadline_at=breach.deadline_at.isoformat(),
            found_by="sweep",
        )
    return breaches


async def run_sweep(container: Container, *, interval_seconds: float) -> None:
    """Sweep forever; a failed round is logged and retried at the next interval."""
    while True:
        try:
            while len(await sweep_once(container)) == _BATCH:
                pass  # a backlog: keep going before sleeping
        except asyncio.CancelledError:
            raise
        except Exception:
            _log.exception("sla.sweep_failed")
        await asyncio.sleep(interval_seconds)
