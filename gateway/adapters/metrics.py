"""Prometheus metrics of one gateway process (`GET /_consent/metrics`), on a registry of its
own (never the library's global one: two apps in one process, as in the tests, must not
share or clash).

The hot path pays one dict lookup and one lock-protected add per request: the labelled
children are made once and kept. Everything that is a state rather than an event (writer
queues, the pool, retention, the chain head) is read only when Prometheus scrapes.
No label ever holds an address, a path, a consent id or a secret.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Final, Protocol

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"
# Upstream answers are usually tens of milliseconds; a slow upstream shows in the top buckets.
UPSTREAM_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
ROUTE_CLASSES: Final = ("page", "consent", "collect", "admin", "health", "asset")


class WatchedWriter(Protocol):
    """What a scrape reads of one batch writer (`adapters/writer.py`)."""

    @property
    def name(self) -> str: ...
    @property
    def waiting(self) -> int: ...
    @property
    def failing(self) -> bool: ...
    @property
    def failed_batches(self) -> int: ...
    @property
    def written(self) -> int: ...
    @property
    def unwritable(self) -> int: ...


@dataclass
class StateSources:
    """Read at scrape time only. `pool_in_use` is None for a store without a pool (SQLite);
    `chain_head` is set by the endpoint, which reads the head before it renders."""

    writers: list[WatchedWriter] = field(default_factory=list)
    pool_in_use: Callable[[], int] | None = None
    retention_last_run: Callable[[], float | None] = lambda: None
    retention_removed: Callable[[], dict[str, int]] = dict
    chain_head: int | None = None


class GatewayMetrics:
    def __init__(self, prefix: str = "/_consent") -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.sources = StateSources()
        self._prefix = prefix
        self._requests = Counter(
            "consent_gateway_requests", "HTTP requests answered, by route class and status",
            ["route", "status"], registry=self.registry)
        self._request_children: dict[tuple[str, int], Counter] = {}
        self._upstream = Histogram(
            "consent_gateway_upstream_seconds", "Seconds until the upstream's response "
            "headers arrived (reverse proxy)", buckets=UPSTREAM_BUCKETS, registry=self.registry)
        self._decisions = Counter(
            "consent_gateway_decisions", "Consent decisions committed to the log, by action",
            ["action"], registry=self.registry)
        self._beacons = Counter(
            "consent_gateway_beacons", "Analytics beacons: accepted, or dropped by reason, "
            "or refused (503: queue_full, store_failing)", ["outcome", "reason"],
            registry=self.registry)
        self.registry.register(_StateCollector(self.sources))

    def route_class(self, path: str) -> str:
        """A fixed, small set: never the path itself (unbounded, and it may be personal)."""
        prefix = self._prefix
        if not path.startswith(prefix):
            return "page"
        rest = path[len(prefix):]
        if rest.startswith("/admin/") or rest == "/metrics":
            return "admin"
        if rest.startswith("/health"):
            return "health"
        if rest == "/collect":
            return "collect"
        if rest in ("/consent.js", "/consent.css"):
            return "asset"
        return "consent"

    def request(self, path: str, status: int) -> None:
        key = (self.route_class(path), status)
        child = self._request_children.get(key)
        if child is None:
            child = self._request_children[key] = self._requests.labels(key[0], str(status))
        child.inc()

    def upstream_seconds(self, seconds: float) -> None:
        self._upstream.observe(seconds)

    def decision(self, action: str) -> None:
        self._decisions.labels(action).inc()

    def beacon(self, outcome: str, reason: str = "") -> None:
        self._beacons.labels(outcome, reason).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _StateCollector(Collector):
    def __init__(self, sources: StateSources) -> None:
        self.sources = sources

    def describe(self) -> list[Metric]:
        return []  # families vary with what is wired; described when collected

    def collect(self) -> Iterator[Metric]:
        yield from self._writers()
        sources = self.sources
        if sources.pool_in_use is not None:
            pool = GaugeMetricFamily("consent_gateway_store_pool_in_use",
                                     "Store connections of this process in use")
            pool.add_metric([], sources.pool_in_use())
            yield pool
        last = sources.retention_last_run()
        if last is not None:
            yield GaugeMetricFamily("consent_gateway_retention_last_run_timestamp_seconds",
                                    "When this process last ran the retention purge",
                                    value=last)
        removed = CounterMetricFamily("consent_gateway_retention_removed",
                                      "Rows removed (consent records: made tombstones) by "
                                      "this process's retention runs", labels=["table"])
        for table, count in sorted(sources.retention_removed().items()):
            removed.add_metric([table], count)
        yield removed
        if sources.chain_head is not None:
            yield GaugeMetricFamily("consent_gateway_chain_head_seq",
                                    "Sequence number of the consent log's chain head",
                                    value=sources.chain_head)

    def _writers(self) -> Iterator[Metric]:
        waiting = GaugeMetricFamily("consent_gateway_writer_queue_depth",
                                    "Rows accepted but not yet committed", labels=["writer"])
        failing = GaugeMetricFamily("consent_gateway_writer_failing",
                                    "1 while the store refuses the writer's batches",
                                    labels=["writer"])
        failed = CounterMetricFamily("consent_gateway_writer_failed_batches",
                                     "Batches the store refused (retried)", labels=["writer"])
        written = CounterMetricFamily("consent_gateway_writer_written_rows",
                                      "Rows committed", labels=["writer"])
        unwritable = CounterMetricFamily("consent_gateway_writer_unwritable_rows",
                                         "Rows left out because writing them raised a bug",
                                         labels=["writer"])
        for writer in self.sources.writers:
            waiting.add_metric([writer.name], writer.waiting)
            failing.add_metric([writer.name], 1 if writer.failing else 0)
            failed.add_metric([writer.name], writer.failed_batches)
            written.add_metric([writer.name], writer.written)
            unwritable.add_metric([writer.name], writer.unwritable)
        yield from (waiting, failing, failed, written, unwritable)
