"""FastAPI dependencies shared by the routers."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from gateway.bootstrap import Container

__all__ = ["ContainerDep", "problem_responses"]


async def _container(request: Request) -> Container:
    # async: a plain `def` dependency would run in the thread pool on every request.
    container: Container = request.app.state.container
    return container


ContainerDep = Annotated[Container, Depends(_container)]


_DESCRIPTIONS = {
    400: "Malformed request (problem document)",
    404: "Not found (problem document)",
    422: "Invalid fields, each listed in `errors` (problem document)",
    503: "A dependency is down; retry after `Retry-After` (problem document)",
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the problem answers an operation gives (schema set in openapi.py)."""
    return {status: {"description": _DESCRIPTIONS.get(status, "Problem")} for status in statuses}
