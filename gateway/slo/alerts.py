"""Fast-burn alerts: a partner burning its monthly error budget is known the same hour.

Two signals per partner: on-time (SLA clocks resolved in a window, breaches
are bad; the objective is the strictest compliance its terms promise) and
availability (calls, failures are bad; the objective is the agreement's API
availability). Each is checked with the SRE workbook's multi-window burn
rates (``sla.FAST_BURN``: 14.4x over 1 h and 5 min, 6x over 6 h and 30 min),
counted in one SQL query per signal for all partners. A partner with an
alert is demoted behind its peers in routing until the burn stops; alerts are
served at ``GET /v1/alerts``, exported as ``pgw_sla_fast_burn`` and logged
when raised and when cleared. Every process runs its own monitor over the
shared database.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from contracts import PartnerAgreement
from gateway.bootstrap import Container
from gateway.logs import get_logger
from gateway.persistence.repositories import WindowTotals
from sla import FAST_BURN, BurnAlert, WindowCounts, fast_burn

__all__ = ["ActiveAlert", "AlertMonitor"]

_log = get_logger("gateway.slo")
_WINDOWS: Final = tuple(sorted({d for w in FAST_BURN for d in (w.long, w.short)}))
_NONE: Final = WindowTotals(0, 0)


@dataclass(frozen=True, slots=True)
class ActiveAlert:
    """A partner burning one signal's budget fast."""

    partner_id: str
    signal: str
    objective: float
    since: datetime
    burn: BurnAlert

    def as_json(self) -> dict[str, object]:
        """The alert as the API shows it."""
        return {
            "partner_id": self.partner_id,
            "signal": self.signal,
            "objective_percent": round(self.objective * 100, 3),
            "since": self.since.isoformat(),
            "long_window_s": int(self.burn.window.long.total_seconds()),
            "short_window_s": int(self.burn.window.short.total_seconds()),
            "threshold": self.burn.window.factor,
            "long_rate": round(self.burn.long_rate, 2),
            "short_rate": round(self.burn.short_rate, 2),
            "detail": self.burn.describe(),
        }


def _on_time_objective(agreement: PartnerAgreement) -> float | None:
    terms = agreement.sla.terms
    return None if not terms else float(min(t.compliance_percent for t in terms) / 100)


class AlertMonitor:
    """Computes fast-burn alerts for every partner; knows who is demoted."""

    def __init__(self, container: Container) -> None:
        self._container = container
        self._active: dict[tuple[str, str], ActiveAlert] = {}

    def active(self) -> list[ActiveAlert]:
        """The alerts in force, by partner and signal."""
        return sorted(self._active.values(), key=lambda a: (a.partner_id, a.signal))

    def demoted(self) -> frozenset[str]:
        """Partners routing should place behind their peers."""
        return frozenset(partner for partner, _ in self._active)

    async def check(self) -> list[ActiveAlert]:
        """Recompute every partner's alerts now; the alerts in force."""
        container = self._container
        now = container.clock()
        async with container.uow() as uow:
            clocks = await uow.sla.clock_windows(now, _WINDOWS)
            calls = await uow.sla.call_windows(now, _WINDOWS)
        found: dict[tuple[str, str], tuple[BurnAlert, float]] = {}
        for agreement in container.registry:
            signals = (
                ("on_time", clocks, _on_time_objective(agreement)),
                ("availability", calls, float(agreement.sla.api_availability_percent / 100)),
            )
            for signal, source, objective in signals:
                if objective is None or objective >= 1:
                    continue
                totals = source.get(agreement.id, {})
                counts = {
                    window: WindowCounts(t.bad, t.total)
                    for window, t in ((w, totals.get(w, _NONE)) for w in _WINDOWS)
                }
                burning = fast_burn(counts, objective)
                if burning:
                    worst = max(burning, key=lambda b: b.long_rate)
                    found[(agreement.id, signal)] = (worst, objective)
        self._update(found, now)
        return self.active()

    def _update(self, found: dict[tuple[str, str], tuple[BurnAlert, float]], now: datetime) -> None:
        metrics = self._container.metrics
        for key in list(self._active):
            if key not in found:
                del self._active[key]
                metrics.fast_burn.labels(*key).set(0)
                _log.info("sla.fast_burn_stopped", partner_id=key[0], signal=key[1])
        for key, (burn, objective) in found.items():
            previous = self._active.get(key)
            alert = ActiveAlert(
                key[0], key[1], objective, previous.since if previous else now, burn
            )
            self._active[key] = alert
            metrics.fast_burn.labels(*key).set(1)
            if previous is None:
                _log.warning(
                    "sla.fast_burn",
                    partner_id=key[0],
                    signal=key[1],
                    detail=burn.describe(),
                    action="demoted in routing until the burn stops",
                )

    async def run(self, *, interval_seconds: float) -> None:
        """Check every interval (the first after one interval, once the process has settled);
        a failed round is logged and retried at the next."""
        while True:
            await asyncio.sleep(interval_seconds)
            try:
                await self.check()
            except asyncio.CancelledError:
                raise
            except Exception:
                _log.exception("sla.alerts_failed")
