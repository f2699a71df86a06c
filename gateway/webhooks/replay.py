"""Replaying dead letters once their cause is fixed (`pgw events replay`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from gateway.bootstrap import Container
from gateway.logs import get_logger
from gateway.persistence.repositories import Delivery
from gateway.webhooks.apply import apply_delivery
from gateway.webhooks.intake import utc_now
from gateway.webhooks.outcomes import InboxStatus

__all__ = ["ReplayReport", "replay_dead_letters"]

_log = get_logger("gateway.webhooks")


@dataclass
class ReplayReport:
    """What a replay run did, letter by letter."""

    resolved: list[tuple[int, str]] = field(default_factory=list)
    still_failing: list[tuple[int, str]] = field(default_factory=list)


async def replay_dead_letters(
    container: Container,
    *,
    partner_id: str | None = None,
    since: datetime | None = None,
    limit: int = 1000,
) -> ReplayReport:
    """Re-apply unresolved dead letters, each in its own transaction; safe to run twice.

    A letter whose event now applies (or is now refused for a reason the partner
    must fix) is resolved; one that still cannot be applied stays, with its
    replay counted.
    """
    report = ReplayReport()
    async with container.uow() as uow:
        letters = await uow.dead_letters.unresolved(partner_id=partner_id, since=since, limit=limit)
        ids = [letter.id for letter in letters]
    for letter_id in ids:
        now = utc_now()
        async with container.uow() as uow:
            letter = await uow.dead_letters.get(letter_id)
            if letter is None or letter.resolved_at is not None or letter.inbox_id is None:
                continue
            row = await uow.inbox.get(letter.inbox_id)
            assert row is not None
            delivery = Delivery(row.id, row.partner_id, row.webhook_id, row.body)
            outcome = await apply_delivery(
                uow, container.registry, delivery, now, existing_letter_id=letter.id
            )
            resolved = outcome.inbox_status is not InboxStatus.DEAD_LETTERED
            await uow.dead_letters.record_replay(letter.id, at=now, resolved=resolved)
            if resolved:
                await uow.inbox.set_status(row.id, outcome.inbox_status.value, processed_at=now)
            await uow.commit()
        summary = str(outcome.body.get("detail") or outcome.body.get("warning") or "")
        (report.resolved if resolved else report.still_failing).append((letter_id, summary))
        container.metrics.dead_letter_replays.labels(
            row.partner_id, "resolved" if resolved else "failed"
        ).inc()
        _log.info("dead_letter.replayed", dead_letter_id=letter_id, resolved=resolved)
    return report
