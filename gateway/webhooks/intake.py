"""The webhook intake service: store durably first, then apply once, whatever happens between.

Two transactions per delivery:

1. `store`: the raw delivery goes into the inbox (unique per partner and
   webhook id) and is committed. From here on nothing is lost: a crash is
   repaired by `recover`, a retry by the partner finds the stored row.
2. `process`: the row is claimed with a conditional UPDATE, the event applied,
   the answer recorded, all in one transaction. A concurrent duplicate waits
   for the claim and then reads the recorded answer; a crash rolls the claim
   back so the row is taken again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from gateway.bootstrap import Container
from gateway.logs import get_logger
from gateway.persistence.repositories import StoredDelivery
from gateway.problems import ServiceUnavailable
from gateway.webhooks.apply import apply_delivery, dead_letter
from gateway.webhooks.outcomes import DeliveryOutcome, InboxStatus

__all__ = ["Answer", "SecretsProvider", "WebhookIntake", "utc_now"]

SecretsProvider = Callable[[str, datetime], Awaitable[list[str]]]
_SECRETS_CACHE_SECONDS = 2.0
_log = get_logger("gateway.webhooks")


def utc_now() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class Answer:
    """What the partner gets for a delivery; `replay` when the webhook id was seen before."""

    status: int
    body: dict[str, Any]
    outcome: str
    replay: bool = False


class WebhookIntake:
    """Stores, applies, recovers and replays partner deliveries."""

    def __init__(
        self,
        container: Container,
        secrets: SecretsProvider,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._container = container
        self._secrets = secrets
        self._clock = clock
        self._secret_cache: dict[str, tuple[float, list[str]]] = {}

    async def secrets_for(self, partner_id: str, *, fresh: bool = False) -> list[str]:
        """The partner's valid webhook secrets, cached for two seconds per process.

        A signature that fails against the cache is checked again with `fresh=True`,
        so a just-rotated secret works on its first delivery.
        """
        cached = self._secret_cache.get(partner_id)
        if not fresh and cached and time.monotonic() - cached[0] < _SECRETS_CACHE_SECONDS:
            return cached[1]
        secrets = await self._secrets(partner_id, self._clock())
        self._secret_cache[partner_id] = (time.monotonic(), secrets)
        return secrets

    async def store(
        self, *, partner_id: str, webhook_id: str, headers: dict[str, str], body: bytes
    ) -> StoredDelivery:
        """Commit the raw delivery; 503 when the database cannot take it."""
        try:
            async with self._container.uow() as uow:
                stored = await uow.inbox.store(
                    partner_id=partner_id,
                    webhook_id=webhook_id,
                    headers=headers,
                    body=body,
                    received_at=self._clock(),
                )
                await uow.commit()
                return stored
        except (SQLAlchemyError, OSError) as exc:
            _log.error("webhook.store_failed", partner_id=partner_id, error=type(exc).__name__)
            raise ServiceUnavailable(
                "The delivery could not be stored; it was not accepted. Retry it.",
                retry_after_seconds=5,
            ) from exc

    async def process(self, inbox_id: int, *, replay: bool = False) -> Answer:
        """Apply a stored delivery once and return its answer (the recorded one if done)."""
        try:
            async with self._container.uow() as uow:
                row = await uow.inbox.claim(inbox_id)
                if row is not None:
                    outcome = await apply_delivery(
                        uow, self._container.registry, row, self._clock()
                    )
                    await self._record(uow, inbox_id, outcome)
                    await uow.commit()
                    self._count(row.partner_id, outcome)
                    return Answer(outcome.http_status, outcome.body, outcome.outcome, replay)
                done = await uow.inbox.get(inbox_id)
        except (SQLAlchemyError, OSError) as exc:
            # Stored but not applied: recovery will apply it, and a retry finds it.
            _log.error("webhook.apply_failed", inbox_id=inbox_id, error=type(exc).__name__)
            return Answer(202, _pending_body(), "pending", replay)
        except Exception:
            # A defect, not bad input: keep the delivery as a dead letter rather than
            # retrying it forever or losing it; `pgw events replay` takes it once fixed.
            _log.exception("webhook.apply_error", inbox_id=inbox_id)
            return await self._dead_letter_after_error(inbox_id, replay)
        assert done is not None
        if done.response_status is None or done.response_body is None:
            return Answer(202, _pending_body(), "pending", True)
        return Answer(done.response_status, done.response_body, "replay", True)

    async def _dead_letter_after_error(self, inbox_id: int, replay: bool) -> Answer:
        async with self._container.uow() as uow:
            row = await uow.inbox.claim(inbox_id)
            if row is None:
                done = await uow.inbox.get(inbox_id)
                assert done is not None
                return Answer(
                    done.response_status or 202,
                    done.response_body or _pending_body(),
                    "replay",
                    True,
                )
            outcome = await dead_letter(
                uow, row, "apply_error", "the gateway failed to apply it", self._clock()
            )
            await self._record(uow, inbox_id, outcome)
            await uow.commit()
        self._count(row.partner_id, outcome)
        return Answer(outcome.http_status, outcome.body, outcome.outcome, replay)

    @staticmethod
    async def _record(uow: Any, inbox_id: int, outcome: DeliveryOutcome) -> None:
        await uow.inbox.record_outcome(
            inbox_id,
            status=outcome.inbox_status.value,
            response_status=outcome.http_status,
            response_body=outcome.body,
            processed_at=utc_now(),
        )

    def _count(self, partner_id: str, outcome: DeliveryOutcome) -> None:
        metrics = self._container.metrics
        if outcome.inbox_status is InboxStatus.DEAD_LETTERED:
            metrics.dead_letters.labels(partner_id, outcome.body.get("reason", "unknown")).inc()

    async def recover(self, *, grace_seconds: float, limit: int = 500) -> int:
        """Apply deliveries stored but never applied; returns how many were taken."""
        cutoff = self._clock() - timedelta(seconds=grace_seconds)
        async with self._container.uow() as uow:
            pending = await uow.inbox.unprocessed(received_before=cutoff, limit=limit)
        for inbox_id in pending:
            answer = await self.process(inbox_id)
            _log.info("webhook.recovered", inbox_id=inbox_id, outcome=answer.outcome)
        return len(pending)

    async def run_recovery(self, *, interval_seconds: float, grace_seconds: float) -> None:
        """Recover at start-up and then every `interval_seconds`, until cancelled."""
        while True:
            try:
                await self.recover(grace_seconds=grace_seconds)
            except asyncio.CancelledError:
                raise
            except Exception:
                # One bad round must not end recovery for the life of the process.
                _log.exception("webhook.recovery_failed")
            await asyncio.sleep(interval_seconds)


def _pending_body() -> dict[str, Any]:
    return {
        "status": "accepted",
        "detail": "stored durably; it will be applied shortly (no need to resend)",
    }
