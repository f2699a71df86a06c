"""Running an adapter against recorded answers and reading back exactly what it sent."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import unquote

import httpx

from adapters.protocol import OutboundCall, PartnerAdapter
from contracts import ServiceResult

__all__ = ["Run", "flatten", "key_paths", "run_recorded", "without"]

_BASE: Final = "https://partner.conformance.invalid"
# Headers httpx or the transport set by themselves; they say nothing about the payload.
_TRANSPORT_HEADERS: Final = frozenset(
    {"host", "content-length", "user-agent", "accept", "accept-encoding", "connection"}
)


@dataclass
class Run:
    """One adapter call against a recorded answer: the requests sent and what came of it."""

    requests: list[httpx.Request] = field(default_factory=list)
    result: ServiceResult | None = None
    error: Exception | None = None

    @property
    def sent_anything(self) -> bool:
        """Whether at least one request left the adapter."""
        return bool(self.requests)

    def body(self, index: int = 0) -> Any:
        """The parsed JSON body of request ``index`` (text when not JSON, None when empty)."""
        content = self.requests[index].content
        if not content:
            return None
        try:
            return json.loads(content)
        except ValueError:
            return content.decode("utf-8", "replace")

    def shape(self) -> dict[str, Any]:
        """Every request flattened to ``path -> value``, and the outcome (equal runs: equal)."""
        out: dict[str, Any] = {}
        for index, request in enumerate(self.requests):
            at = f"#{index}"
            out[f"{at}.method"] = request.method
            out[f"{at}.path"] = unquote(request.url.path)
            for key, value in request.url.params.multi_items():
                out[f"{at}.query.{key}"] = value
            for key, value in request.headers.items():
                if key.lower() not in _TRANSPORT_HEADERS:
                    out[f"{at}.header.{key.lower()}"] = value
            out.update(flatten(self.body(index), f"{at}.body"))
        out["outcome"] = (
            type(self.error).__name__ + f": {self.error}" if self.error is not None else "ok"
        )
        return out

    def text(self) -> str:
        """Everything sent as one searchable text: URLs (decoded), headers and bodies."""
        parts: list[str] = []
        for index, request in enumerate(self.requests):
            parts.append(unquote(str(request.url)))
            parts.extend(f"{k}: {v}" for k, v in request.headers.items())
            body = self.body(index)
            parts.append(body if isinstance(body, str) else json.dumps(body, ensure_ascii=False))
        return "\n".join(parts)


async def run_recorded(
    adapter: PartnerAdapter, call: OutboundCall, answer: Any, *, status: int = 200
) -> Run:
    """Perform ``call`` with every request answered by ``answer`` (JSON); never raises."""
    run = Run()

    def respond(request: httpx.Request) -> httpx.Response:
        run.requests.append(request)
        return httpx.Response(status, json=answer)

    transport = httpx.MockTransport(respond)
    async with httpx.AsyncClient(base_url=_BASE, transport=transport) as http:
        try:
            run.result = await adapter.call(http, call)
        except Exception as exc:  # the kit reports any failure of the adapter as a finding
            run.error = exc
    return run


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Leaves of a JSON value by path: ``a.b``, ``a.items[0].c`` (masking's notation)."""
    out: dict[str, Any] = {}
    if isinstance(value, Mapping):
        for key, child in value.items():
            out.update(flatten(child, f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            out.update(flatten(child, f"{prefix}[{index}]"))
    elif value is not None or prefix:
        out[prefix] = value
    return out


def key_paths(value: Any, prefix: str = "") -> set[str]:
    """The paths of every object key in a JSON value, list positions written ``[]``."""
    out: set[str] = set()
    if isinstance(value, Mapping):
        for key, child in value.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            out.add(path)
            out |= key_paths(child, path)
    elif isinstance(value, list):
        for child in value:
            out |= key_paths(child, f"{prefix}[]")
    return out


def without(value: Any, path: str) -> Any:
    """A copy of a JSON value with the leaf at ``path`` (``flatten``'s notation) removed."""
    steps = _steps(path)
    return _drop(value, steps)


def _steps(path: str) -> list[str | int]:
    steps: list[str | int] = []
    for part in path.split("."):
        name, _, rest = part.partition("[")
        if name:
            steps.append(name)
        while rest:
            index, _, rest = rest.partition("]")
            steps.append(int(index))
            rest = rest.removeprefix("[")
    return steps


def _drop(value: Any, steps: list[str | int]) -> Any:
    if not steps:
        return value
    head, *tail = steps
    if isinstance(value, Mapping) and isinstance(head, str) and head in value:
        if not tail:
            return {k: v for k, v in value.items() if k != head}
        return {k: (_drop(v, tail) if k == head else v) for k, v in value.items()}
    if isinstance(value, list) and isinstance(head, int) and 0 <= head < len(value):
        if not tail:
            return value[:head] + value[head + 1 :]
        return [(_drop(v, tail) if i == head else v) for i, v in enumerate(value)]
    return value
