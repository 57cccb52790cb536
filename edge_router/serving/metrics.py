"""The server's Prometheus metrics, with prometheus_client (one registry per app, so apps never share)."""

from __future__ import annotations

from typing import Any

LATENCY_BUCKETS_MS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 30000, 60000)


class ServerMetrics:
    """Requests by route and status, fallbacks by kind, decision and answer latency, tokens, cost, errors."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("edge_router_requests", "Chat requests by route answered and status.",
                                ["route", "status"], registry=r)
        self.fallbacks = Counter("edge_router_fallbacks", "Fallbacks by kind.", ["reason"], registry=r)
        self.decision_ms = Histogram("edge_router_decision_ms", "Routing decision latency in milliseconds.",
                                     buckets=LATENCY_BUCKETS_MS, registry=r)
        self.answer_ms = Histogram("edge_router_answer_ms", "Answer latency in milliseconds by route.", ["route"],
                                   buckets=LATENCY_BUCKETS_MS, registry=r)
        self.tokens = Counter("edge_router_tokens", "Tokens by route and kind.", ["kind", "route"], registry=r)
        self.cost = Counter("edge_router_cost_usd", "Cloud cost in USD.", registry=r)
        self.circuit_open = Gauge("edge_router_cloud_circuit_open", "1 while the cloud circuit breaker is open.",
                                  registry=r)
        self.errors = Counter("edge_router_errors", "Rejected or failed requests by HTTP status.", ["status"],
                              registry=r)

    def render(self) -> tuple[bytes, str]:
        """The exposition text and its content type."""
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return generate_latest(self.registry), CONTENT_TYPE_LATEST

    def record(self, answer: Any) -> None:
        """One answered request."""
        route = answer.decision.route
        self.requests.labels(route=route, status="200").inc()
        self.decision_ms.observe(answer.decision.timings_ms["total"])
        self.answer_ms.labels(route=route).observe(answer.answer_ms)
        if answer.usage:
            self.tokens.labels(kind="prompt", route=route).inc(answer.usage.prompt_tokens)
            self.tokens.labels(kind="completion", route=route).inc(answer.usage.completion_tokens)
        if answer.cost_usd:
            self.cost.inc(answer.cost_usd)
        if answer.decision.fallback_kind is not None:
            self.fallbacks.labels(reason=answer.decision.fallback_kind.value).inc()
