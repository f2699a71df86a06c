"""Partner API calls measured for availability and latency, written in batches.

Every call attempt is counted (partner, operation, duration, success). Rows
are buffered in the process and written once a second in one INSERT, so a
dispatch pays no extra transaction; a crash loses at most the last second of
measurements (never an order or a clock).
"""

from __future__ import annotations

import asyncio
from typing import Any, Final

from gateway.bootstrap import Container
from gateway.logs import get_logger
from gateway.slo.clocks import month_of

__all__ = ["CallRecorder"]

_log = get_logger("gateway.slo")
_MAX_PENDING: Final = 50_000


class CallRecorder:
    """Buffers call measurements and flushes them to the database."""

    def __init__(self, container: Container) -> None:
        self._container = container
        self._pending: list[dict[str, Any]] = []
        self.dropped = 0

    def record(self, partner_id: str, operation: str, seconds: float, outcome: str) -> None:
        """Count one attempt that ended now (``outcome`` ``ok`` is a success)."""
        at = self._container.clock()
        if len(self._pending) >= _MAX_PENDING:
            self.dropped += 1
            return
        self._pending.append(
            {
                "partner_id": partner_id,
                "operation": operation,
                "at": at,
                "duration_ms": int(seconds * 1000),
                "ok": outcome == "ok",
                "outcome": outcome,
                "month": month_of(at),
            }
        )

    async def flush(self) -> int:
        """Write what is buffered; the number of rows written."""
        batch, self._pending = self._pending, []
        if not batch:
            return 0
        async with self._container.uow() as uow:
            await uow.sla.record_calls(batch)
            await uow.commit()
        return len(batch)

    async def run(self, *, interval_seconds: float = 1.0) -> None:
        """Flush forever; at cancellation, flush what is left."""
        try:
            while True:
                await asyncio.sleep(interval_seconds)
                try:
                    await self.flush()
                except Exception:
                    _log.exception("sla.calls_flush_failed")
        finally:
            try:
                await asyncio.shield(self.flush())
            except Exception:
                _log.exception("sla.calls_flush_failed")
