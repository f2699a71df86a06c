"""FastAPI dependencies shared by the routers."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from gateway.bootstrap import Container
from gateway.oauth.resource import Principal, require_scopes

__all__ = [
    "MANAGER_SCOPES",
    "MAX_ROW_ID",
    "ContainerDep",
    "ManagerDep",
    "problem_responses",
    "wants_csv",
]

# Partnership managers' tools hold at least one of these; any one reads the registry.
MANAGER_SCOPES = ("scorecards:read", "settlements:read", "admin")

# The largest row id (a signed 64-bit integer on both databases): an id or cursor beyond
# it names nothing and would overflow the query, so parameters are bounded by it (422).
MAX_ROW_ID = 2**63 - 1


async def _container(request: Request) -> Container:
    # async: a plain `def` dependency would run in the thread pool on every request.
    container: Container = request.app.state.container
    return container


ContainerDep = Annotated[Container, Depends(_container)]
ManagerDep = Annotated[Principal, Depends(require_scopes(*MANAGER_SCOPES, any_of=True))]


_DESCRIPTIONS = {
    400: "Malformed request (problem document)",
    401: "No, expired or revoked access token (problem document)",
    403: "The token lacks a needed scope (problem document)",
    404: "Not found (problem document)",
    422: "Invalid fields, each listed in `errors` (problem document)",
    503: "A dependency is down; retry after `Retry-After` (problem document)",
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the problem answers an operation gives (schema set in openapi.py)."""
    return {status: {"description": _DESCRIPTIONS.get(status, "Problem")} for status in statuses}


def wants_csv(accept: str | None) -> bool:
    """Whether an ``Accept`` header asks for ``text/csv``."""
    return any(
        part.split(";")[0].strip().lower() == "text/csv" for part in (accept or "").split(",")
    )
