"""Prometheus metrics of the gateway, one registry per app so tests and workers stay apart.

With several worker processes (`pgw serve --workers N`), each worker counts only what it
served, and a scrape reaches one worker. `pgw serve` then sets `PROMETHEUS_MULTIPROC_DIR`
(prometheus_client's multiprocess mode): every worker writes its values to memory-mapped
files there, and `/metrics` answers the sum over all workers, whichever one is asked.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.multiprocess import MultiProcessCollector

__all__ = ["CONTENT_TYPE_LATEST", "MULTIPROCESS_ENV", "GatewayMetrics", "prepare_multiprocess"]

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"


def prepare_multiprocess(directory: Path) -> Path:
    """Make `directory` the workers' shared metrics directory, emptied of an earlier run's
    files (stale counters would be added to the new ones); set before workers start."""
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()
    os.environ[MULTIPROCESS_ENV] = str(directory)
    return directory


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

        self.webhook_deliveries = Counter(
            "pgw_webhook_deliveries",
            "Webhook deliveries handled, by partner and outcome (applied, stale, "
            "duplicate_event, recorded, dead_lettered, rejected, refused).",
            ["partner", "outcome"],
            registry=self.registry,
        )
        self.webhook_signature_failures = Counter(
            "pgw_webhook_signature_failures",
            "Deliveries refused because their Standard Webhooks signature did not verify.",
            ["partner", "reason"],
            registry=self.registry,
        )
        self.webhook_replays = Counter(
            "pgw_webhook_replays",
            "Deliveries whose webhook-id was already stored (answered with the first answer).",
            ["partner"],
            registry=self.registry,
        )
        self.dead_letters = Counter(
            "pgw_dead_letters",
            "Deliveries kept as dead letters, by partner and reason.",
            ["partner", "reason"],
            registry=self.registry,
        )
        self.dead_letter_replays = Counter(
            "pgw_dead_letter_replays",
            "Dead letters replayed, by partner and result (resolved, failed).",
            ["partner", "result"],
            registry=self.registry,
        )
        self.webhook_intake_latency = Histogram(
            "pgw_webhook_intake_duration_seconds",
            "Time from receiving a delivery to answering it, by partner.",
            ["partner"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )

        self.partner_calls = Counter(
            "pgw_partner_calls",
            "Calls to partner APIs, by partner, operation and outcome (ok, rejected, "
            "unavailable, timed_out, rate_limited, auth_failed, circuit_open).",
            ["partner", "operation", "outcome"],
            registry=self.registry,
        )
        self.partner_call_latency = Histogram(
            "pgw_partner_call_duration_seconds",
            "Time of one call attempt to a partner API, by partner and operation.",
            ["partner", "operation"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.circuit_transitions = Counter(
            "pgw_circuit_transitions",
            "Circuit breaker state changes seen by this process, by partner and new state.",
            ["partner", "state"],
            registry=self.registry,
        )
        self.failovers = Counter(
            "pgw_dispatch_failovers",
            "Service requests moved on from a partner to the next, by partner left and reason.",
            ["partner", "reason"],
            registry=self.registry,
        )

        self.sla_breaches = Counter(
            "pgw_sla_breaches",
            "SLA clocks breached, by partner and term.",
            ["partner", "term"],
            registry=self.registry,
        )
        self.sla_clocks_resolved = Counter(
            "pgw_sla_clocks_resolved",
            "SLA clocks stopped by the partner's event, by partner, term and result.",
            ["partner", "term", "result"],
            registry=self.registry,
        )
        self.fast_burn = Gauge(
            "pgw_sla_fast_burn",
            "1 while a partner burns its monthly error budget fast, by partner and signal "
            "(on_time, availability).",
            ["partner", "signal"],
            registry=self.registry,
            # across workers: 1 if any live worker saw the fast burn
            multiprocess_mode="livemax",
        )

    def observe_request(
        self, *, route: str, method: str, status: int, partner: str, seconds: float
    ) -> None:
        """Record one answered request."""
        self.http_requests.labels(route, method, str(status), partner).inc()
        self.http_latency.labels(route, method, partner).observe(seconds)

    def render(self) -> bytes:
        """The exposition text of every collector (of every worker in multiprocess mode)."""
        if os.environ.get(MULTIPROCESS_ENV):
            merged = CollectorRegistry()
            MultiProcessCollector(merged)  # type: ignore[no-untyped-call]
            return generate_latest(merged)
        return generate_latest(self.registry)
