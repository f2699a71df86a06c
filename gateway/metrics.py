"""Prometheus metrics of the gateway, one registry per app so tests and workers stay apart."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["CONTENT_TYPE_LATEST", "GatewayMetrics"]

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass
class GatewayMetrics:
    """The collectors every part of the gateway records into."""

    registry: CollectorRegistry = field(
        default_factory=lambda: CollectorRegistry(auto_describe=True)
    )

    def __post_init__(self) -> None:
        self.http_requests = Counter(
            "pgw_http_requests",
            "HTTP requests answered, by route template, method, status and partner.",
            ["route", "method", "status", "partner"],
            registry=self.registry,
        )
        self.http_latency = Histogram(
            "pgw_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template, method and partner.",
            ["route", "method", "partner"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )

    def observe_request(
        self, *, route: str, method: str, status: int, partner: str, seconds: float
    ) -> None:
        """Record one answered request."""
        self.http_requests.labels(route, method, str(status), partner).inc()
        self.http_latency.labels(route, method, partner).observe(seconds)

    def render(self) -> bytes:
        """The exposition text of every collector."""
        return generate_latest(self.registry)
