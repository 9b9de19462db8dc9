"""Prometheus metrics of one hub: requests, latency, and the health of every source.

Each :class:`Hub` owns a :class:`HubMetrics` on its own registry (no process-global state, so
tests and several hubs in one process stay independent). Labels are operation names, outcome
words, source names and error codes only — never an argument, a value or anything personal.

Every label set is bounded: an operation name gets its own series only when it is known (the
hub's example queries, the persisted allow-list, ``[http].metrics_operations``); any other name
is counted as ``other`` and an operation without a name as ``anonymous``, so a client sending a
new ``operationName`` with every request cannot grow ``/metrics`` without end.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

if TYPE_CHECKING:
    from hub.engine.sources import SourceRegistry

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_BREAKER_VALUE = {"closed": 0, "half_open": 1, "open": 2}


class HubMetrics:
    """The metric families of one hub."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self, operations: frozenset[str] = frozenset()) -> None:
        #: Operation names that get their own series (see the module docstring).
        self.operations = operations
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "tppo_hub_requests",
            "GraphQL operations by name and outcome.",
            ["operation", "outcome"],
            registry=self.registry,
        )
        self.request_seconds = Histogram(
            "tppo_hub_request_seconds",
            "GraphQL operation latency.",
            ["operation"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.source_calls = Counter(
            "tppo_hub_source_calls",
            "Calls into an agency source by outcome.",
            ["source", "outcome"],
            registry=self.registry,
        )
        self.source_seconds = Histogram(
            "tppo_hub_source_seconds",
            "Latency of calls into an agency source.",
            ["source"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.source_errors = Counter(
            "tppo_hub_source_errors",
            "Source failures by error code.",
            ["source", "code"],
            registry=self.registry,
        )
        self.source_statements = Counter(
            "tppo_hub_source_statements",
            "SQL statements sent to an agency source.",
            ["source"],
            registry=self.registry,
        )
        self.breaker = Gauge(
            "tppo_hub_source_breaker_state",
            "Circuit breaker: 0 closed, 1 half-open, 2 open.",
            ["source"],
            registry=self.registry,
        )
        self.source_up = Gauge(
            "tppo_hub_source_up", "1 when the source is serving, else 0.", ["source"], registry=self.registry
        )
        self.pool_checked_out = Gauge(
            "tppo_hub_source_pool_checked_out",
            "Connections in use in the source's pool.",
            ["source"],
            registry=self.registry,
        )
        self.pool_size = Gauge(
            "tppo_hub_source_pool_size",
            "Connections held by the source's pool.",
            ["source"],
            registry=self.registry,
        )
        self.totals = Gauge(
            "tppo_hub_source_totals",
            "Totals (totalCount) a PostgreSQL source read since it opened: reused while the "
            "database proved nothing had committed, or counted.",
            ["source", "how"],
            registry=self.registry,
        )
        #: (source, outcome) → the series one source call updates. ``labels()`` hashes and
        #: validates its values under a lock on every call; a portal page makes four calls
        #: (issue 13). Series are never removed, so a child once made stays valid.
        self._call_series: dict[tuple[str, str], tuple[Any, Any, Any]] = {}

    def observe_call(self, source: str, outcome: str, seconds: float, statements: int) -> None:
        series = self._call_series.get((source, outcome))
        if series is None:
            series = self._call_series[(source, outcome)] = (
                self.source_calls.labels(source, outcome),
                self.source_seconds.labels(source),
                self.source_statements.labels(source),
            )
        calls, latency, sent = series
        calls.inc()
        latency.observe(seconds)
        if statements:
            sent.inc(statements)

    def observe_failure(self, source: str, code: str) -> None:
        self.source_errors.labels(source, code).inc()

    def observe_request(self, operation: str, outcome: str, seconds: float) -> None:
        name = self.operation_label(operation)
        self.requests.labels(name, outcome).inc()
        self.request_seconds.labels(name).observe(seconds)

    def operation_label(self, operation: str | None) -> str:
        """The bounded label of an operation name: itself if known, ``anonymous`` or ``other``."""
        if not operation:
            return "anonymous"
        return operation if operation in self.operations else "other"

    def render(self, sources: SourceRegistry) -> bytes:
        """The exposition text, with source gauges refreshed from the registry."""
        for entry in sources.all():
            self.breaker.labels(entry.name).set(_BREAKER_VALUE[entry.breaker.state.value])
            self.source_up.labels(entry.name).set(1 if entry.state.value == "up" else 0)
            pool = getattr(entry.source, "pool_status", None)
            status = pool() if callable(pool) else None
            if status is not None:
                self.pool_checked_out.labels(entry.name).set(status[0])
                self.pool_size.labels(entry.name).set(status[1])
            totals = getattr(entry.source, "totals_status", None)
            read = totals() if callable(totals) else None
            if read is not None:
                self.totals.labels(entry.name, "reused").set(read[0])
                self.totals.labels(entry.name, "counted").set(read[1])
        return generate_latest(self.registry)
