"""Prometheus metrics of one app: requests by operation, latency, policy decisions by result.

Each app owns a :class:`prometheus_client.CollectorRegistry`, so two apps
(two tests, two mounted instances) never share counters, and nothing is
registered globally at import.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from artifact_plane.models import PolicyDecision, PolicyInput
from artifact_plane.ports.policy import PolicyEngine

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class ApiMetrics:
    """The app's collectors and its registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "artifact_plane_api_requests",
            "API requests by operation (GraphQL root fields, REST endpoint) and outcome.",
            ["operation", "outcome"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "artifact_plane_api_request_seconds",
            "API request latency by operation.",
            ["operation"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.decisions = Counter(
            "artifact_plane_policy_decisions",
            "Policy decisions by action and result (allow / deny).",
            ["action", "result"],
            registry=self.registry,
        )

    def observe(self, operation: str, outcome: str, started: float) -> None:
        """Count one request that began at ``started`` (``time.perf_counter()``)."""
        self.requests.labels(operation=operation, outcome=outcome).inc()
        self.latency.labels(operation=operation).observe(time.perf_counter() - started)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class CountingPolicyEngine(PolicyEngine):
    """The plane's policy engine, counting each decision it makes by action and result.

    Counted where decisions are made rather than where they are logged: a
    write commits its allow decisions with its record, past the decision log.
    """

    def __init__(self, inner: PolicyEngine, metrics: ApiMetrics) -> None:
        self.inner = inner
        self.name = inner.name
        self._metrics = metrics

    def _count(self, requests: Sequence[PolicyInput], decisions: Sequence[PolicyDecision]) -> None:
        for request, decision in zip(requests, decisions, strict=True):
            result = "allow" if decision.allow else "deny"
            self._metrics.decisions.labels(action=request.action, result=result).inc()

    async def decide(self, request: PolicyInput) -> PolicyDecision:
        decision = await self.inner.decide(request)
        self._count([request], [decision])
        return decision

    async def decide_many(self, requests: Sequence[PolicyInput]) -> list[PolicyDecision]:
        decisions = await self.inner.decide_many(requests)
        self._count(requests, decisions)
        return decisions

    @property
    def revision(self) -> str:
        return self.inner.revision

    @property
    def resource_fields(self) -> frozenset[str] | None:
        return self.inner.resource_fields

    async def ping(self) -> None:
        await self.inner.ping()

    async def close(self) -> None:
        await self.inner.close()


async def metrics_endpoint(request: Request) -> Response:
    """``GET /metrics`` in the Prometheus text format (public, like the probes)."""
    metrics: ApiMetrics = request.app.state.metrics
    return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)


def routes() -> list[Route]:
    return [Route("/metrics", metrics_endpoint, methods=["GET"])]
