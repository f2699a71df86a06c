"""The tiers routing uses: those in force this month, read at most every few seconds.

Tiers change only when a month is closed (effective from the next month), so
each process reads them once per ``ttl_seconds`` instead of once per order.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Final

from contracts import PartnerTier
from gateway.bootstrap import Container
from gateway.scorecards.service import tiers_in_force

__all__ = ["TierCache"]

_TTL_SECONDS: Final = 30.0


class TierCache:
    """``TierSource`` for the dispatcher, over the closed scorecards."""

    def __init__(self, container: Container, *, ttl_seconds: float = _TTL_SECONDS) -> None:
        self._container = container
        self._ttl = ttl_seconds
        self._cached: dict[str, tuple[float, Mapping[str, PartnerTier]]] = {}

    async def tiers(self, month: str) -> Mapping[str, PartnerTier]:
        """Partner id -> tier in force in ``month``."""
        hit = self._cached.get(month)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        tiers = await tiers_in_force(self._container, month)
        self._cached = {month: (time.monotonic() + self._ttl, tiers)}
        return tiers

    def forget(self) -> None:
        """Drop what is cached (after a month is closed in this process)."""
        self._cached.clear()
