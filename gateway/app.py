"""The FastAPI application factory."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from adapters import ADAPTERS
from gateway import __version__
from gateway.api import (
    agreements,
    exports,
    feedback,
    health,
    orders,
    partners,
    privacy,
    scorecards,
    settlements,
    webhooks,
)
from gateway.api.oauth import router as oauth_router
from gateway.api.openapi import install_openapi
from gateway.bootstrap import Container, build_container
from gateway.console.pages import run_scorecard_refresh
from gateway.console.routes import install as install_console
from gateway.dispatch.breaker import CircuitBreakers
from gateway.dispatch.clients import PartnerClients
from gateway.dispatch.idempotency import IdempotencyKeys
from gateway.dispatch.resilience import ResilientCaller
from gateway.dispatch.sandboxes import mount_sandboxes
from gateway.dispatch.service import Dispatcher
from gateway.ledger import run_accrual
from gateway.logs import get_logger
from gateway.middleware import RequestEnvelopeMiddleware
from gateway.oauth.credentials import webhook_secrets
from gateway.persistence.migrate import current_revision, head_revision, upgrade
from gateway.problems import install_problem_handlers
from gateway.scorecards.routing import TierCache
from gateway.settings import Settings
from gateway.slo.alerts import AlertMonitor
from gateway.slo.calls import CallRecorder
from gateway.slo.sweep import run_sweep
from gateway.webhooks.intake import WebhookIntake

__all__ = ["create_app"]

_log = get_logger("gateway.app")

_DESCRIPTION = """
The partner ecosystem integration gateway of the OEM: partners post signed
status webhooks, the OEM app triggers partner services through one canonical
contract, customer data leaves masked to each partner's tier, and SLAs,
scorecards and commission statements are kept for partnership managers.

Every error is `application/problem+json` (RFC 9457) with a stable `type`,
a `title`, and a `detail` saying what to fix; validation errors list every
offending field in `errors`. Send `X-Request-ID` to correlate logs; the
gateway returns it (or one it generated) on every answer.
"""


async def _prepare_database(container: Container) -> None:
    settings = container.settings
    if settings.uses_embedded_database:
        # The embedded default must work from a fresh checkout with one command.
        await upgrade(container.engine)
        _log.info("database.migrated", revision=head_revision(), embedded=True)
        return
    current = await current_revision(container.engine)
    if current != head_revision():
        _log.warning(
            "database.schema_behind",
            current=current,
            expected=head_revision(),
            fix="run `pgw db upgrade`",
        )


def create_app(settings: Settings | None = None, *, container: Container | None = None) -> FastAPI:
    """Build the gateway app; raises `RegistryError` when the partner registry is invalid."""
    settings = settings or Settings()
    container = container or build_container(settings)
    if settings.uses_embedded_hot_state:
        _log.warning(
            "hot_state.in_process",
            detail="PGW_REDIS_URL is unset: hot state lives in this process; run one process only",
        )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await _prepare_database(container)
        _log.info(
            "gateway.started",
            partners=len(container.registry),
            database="sqlite" if settings.uses_embedded_database else "postgresql",
            hot_state="memory" if settings.uses_embedded_hot_state else "redis",
        )
        background = [
            asyncio.create_task(
                run_sweep(container, interval_seconds=settings.sla_sweep_interval_seconds),
                name="sla-sweep",
            ),
            asyncio.create_task(call_recorder.run(), name="partner-call-recorder"),
            asyncio.create_task(
                run_scorecard_refresh(
                    container, interval_seconds=settings.scorecard_refresh_interval_seconds
                ),
                name="scorecard-refresh",
            ),
            asyncio.create_task(
                run_accrual(container, interval_seconds=settings.fee_accrual_interval_seconds),
                name="fee-accrual",
            ),
            asyncio.create_task(
                alert_monitor.run(interval_seconds=settings.burn_check_interval_seconds),
                name="burn-alerts",
            ),
        ]
        recovery = asyncio.create_task(
            intake.run_recovery(
                interval_seconds=settings.inbox_recovery_interval_seconds,
                grace_seconds=settings.inbox_recovery_grace_seconds,
            ),
            name="inbox-recovery",
        )
        try:
            yield
        finally:
            recovery.cancel()
            for task in background:
                task.cancel()
            await asyncio.gather(recovery, *background, return_exceptions=True)
            for sandbox in sandboxes.values():
                await sandbox.aclose()
            await partner_clients.aclose()
            await container.aclose()

    app = FastAPI(
        title="Partner gateway",
        version=__version__,
        description=_DESCRIPTION,
        lifespan=lifespan,
        openapi_tags=[
            {"name": "operations", "description": "Health, readiness and metrics."},
            {"name": "partners", "description": "The partner registry and agreements."},
            {"name": "orders", "description": "The OEM app: partner services and orders."},
            {"name": "feedback", "description": "Ratings, complaints and SLA alerts."},
            {"name": "scorecards", "description": "Partner scorecards, tiers, month close."},
            {
                "name": "settlements",
                "description": "Commission ledger, KPI values, monthly settlement statements.",
            },
            {
                "name": "privacy",
                "description": "Consents, the disclosure audit and relay numbers.",
            },
        ],
    )
    app.state.container = container
    intake = WebhookIntake(
        container,
        secrets=lambda partner_id, now: webhook_secrets(container, partner_id, now),
        clock=container.clock,
    )
    app.state.webhook_intake = intake
    # The sandboxes are reached, and post back, through this app itself (no network needed).
    in_process = (
        httpx.ASGITransport(app=app, raise_app_exceptions=False)
        if settings.sandbox_enabled
        else None
    )
    partner_clients = PartnerClients.build(
        container.registry,
        settings,
        hot_state=container.hot_state,
        keys=container.keys,
        sandbox_transport=in_process,
    )
    sandboxes = mount_sandboxes(app, container, in_process) if in_process is not None else {}
    app.state.sandboxes = sandboxes
    tier_cache = TierCache(container)
    app.state.tiers = tier_cache
    call_recorder = CallRecorder(container)
    alert_monitor = AlertMonitor(container)
    app.state.alerts = alert_monitor
    app.state.dispatcher = Dispatcher(
        container,
        partner_clients,
        ResilientCaller(
            CircuitBreakers(container.hot_state, container.keys, container.metrics),
            container.metrics,
            on_attempt=call_recorder.record,
        ),
        ADAPTERS,
        demoted=alert_monitor.demoted,
        tiers=tier_cache,
    )
    app.state.idempotency = IdempotencyKeys(
        container.hot_state,
        container.keys,
        ttl_seconds=settings.idempotency_ttl_hours * 3600,
        lock_seconds=settings.dispatch_deadline_seconds + 30,
    )
    install_problem_handlers(app)
    install_openapi(app)
    app.include_router(health.router)
    app.include_router(partners.router)
    app.include_router(agreements.router)
    app.include_router(oauth_router)
    app.include_router(webhooks.router)
    app.include_router(orders.router)
    app.include_router(feedback.router)
    app.include_router(privacy.router)
    app.include_router(exports.router)
    app.include_router(scorecards.router)
    app.include_router(settlements.router)
    install_console(app)
    app.add_middleware(
        RequestEnvelopeMiddleware,
        metrics=container.metrics,
        known_partners=lambda: container.registry,
    )
    return app
