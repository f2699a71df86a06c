"""Operator endpoints: liveness, readiness, Prometheus metrics."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import BaseModel, Field

from gateway.api.deps import ContainerDep, problem_responses
from gateway.bootstrap import Container
from gateway.logs import get_logger
from gateway.metrics import CONTENT_TYPE_LATEST
from gateway.persistence.db import ping as ping_database
from gateway.persistence.migrate import current_revision, head_revision
from gateway.problems import ServiceUnavailable

__all__ = ["router"]

router = APIRouter(tags=["operations"])
_log = get_logger("gateway.health")


class Liveness(BaseModel):
    """The process is up."""

    status: str = Field(examples=["ok"])


class Check(BaseModel):
    """Outcome of one dependency check."""

    ok: bool
    detail: str
    duration_ms: float


class Readiness(BaseModel):
    """Every dependency the gateway needs answered."""

    status: str = Field(examples=["ready"])
    checks: dict[str, Check]


@router.get("/healthz", response_model=Liveness, summary="Liveness: the process is up")
async def healthz() -> dict[str, str]:
    """Answers as long as the process serves requests; checks no dependency."""
    return {"status": "ok"}


async def _check_database(container: Container) -> str:
    await ping_database(container.engine)
    current = await current_revision(container.engine)
    head = head_revision()
    if current != head:
        raise RuntimeError(
            f"schema at {current or 'nothing'}, code expects {head}: run `pgw db upgrade`"
        )
    return f"reachable, schema at {head}"


async def _check_hot_state(container: Container) -> str:
    probe = container.keys.readiness_probe()
    token = str(time.time_ns()).encode()
    await container.hot_state.set(probe, token)
    if await container.hot_state.get(probe) != token:
        raise RuntimeError("wrote a probe value and read back something else")
    kind = "in-process" if container.settings.uses_embedded_hot_state else "redis"
    return f"{kind}, read and write ok"


async def _check_registry(container: Container) -> str:
    if len(container.registry) == 0:
        raise RuntimeError(f"no partner agreements in {container.settings.partners_dir}")
    return f"{len(container.registry)} partner agreements loaded"


async def _run_check(
    check: Callable[[Container], Awaitable[str]], container: Container, budget: float
) -> Check:
    started = time.perf_counter()
    try:
        async with asyncio.timeout(budget):
            detail = await check(container)
        ok = True
    except TimeoutError:
        ok, detail = False, f"no answer within {budget:g} s"
    except Exception as exc:
        ok, detail = False, f"{type(exc).__name__}: {exc}"
    return Check(ok=ok, detail=detail, duration_ms=round((time.perf_counter() - started) * 1000, 2))


@router.get(
    "/readyz",
    response_model=Readiness,
    summary="Readiness: database, hot state and partner registry usable",
    responses=problem_responses(503),
)
async def readyz(container: ContainerDep) -> dict[str, Any]:
    """200 when the database (at the current schema), hot state and registry all work; else 503."""
    timeout = container.settings.readiness_timeout_seconds
    names = ("database", "hot_state", "registry")
    results = await asyncio.gather(
        _run_check(_check_database, container, timeout),
        _run_check(_check_hot_state, container, timeout),
        _run_check(_check_registry, container, timeout),
    )
    checks = dict(zip(names, results, strict=True))
    failing = [name for name, check in checks.items() if not check.ok]
    if failing:
        _log.warning("readiness.failed", failing=failing)
        raise ServiceUnavailable(
            "; ".join(f"{name}: {checks[name].detail}" for name in failing),
            title="Not ready",
            slug="not-ready",
            extensions={"checks": {k: v.model_dump() for k, v in checks.items()}},
        )
    return {"status": "ready", "checks": checks}


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}},
)
async def metrics(container: ContainerDep) -> Response:
    """Request counts and latency histograms by route and partner, in the text format."""
    return Response(container.metrics.render(), media_type=CONTENT_TYPE_LATEST)
