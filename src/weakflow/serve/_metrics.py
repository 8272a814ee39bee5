"""Prometheus metrics of the server, and the pure-ASGI middleware that times every request.

Each app gets its own :class:`~prometheus_client.CollectorRegistry`, so several apps in one
process (tests, notebooks) do not collide. With several uvicorn workers, ``weakflow serve``
sets ``PROMETHEUS_MULTIPROC_DIR`` before the workers start: prometheus-client then keeps the
values in files there and ``/metrics`` adds up every worker's (its multiprocess mode).

Labels are bounded on purpose: endpoints are route templates (``/v1/models/{name}/predict``),
versions and variants are the few the server loads, and feedback sources beyond the first
:data:`MAX_SOURCES` are counted as ``other``, so a client cannot blow up the series count.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["SERVED_KEY", "MetricsMiddleware", "ServeMetrics", "multiprocess_dir"]

#: Where a handler leaves ``(model_version, variant)`` in the ASGI scope for the middleware.
SERVED_KEY = "weakflow.served"
MAX_SOURCES = 50
#: Latency buckets (seconds): fine below 10 ms, where a one-row prediction lands.
BUCKETS = (0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
           2.5, 5.0, 10.0)  # fmt: skip
#: Rows per model call: 1 is a request that ran alone; more are requests micro-batched together.
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


def multiprocess_dir() -> str | None:
    """The folder of prometheus-client's multiprocess mode, when it is on."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


class ServeMetrics:
    """Every metric the server exports (see docs/serving.md for the list)."""

    def __init__(self) -> None:
        # The *_created series double the exposition for nothing a dashboard uses.
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "weakflow_requests", "HTTP requests by endpoint, status, model version and variant.",
            ["endpoint", "status", "model_version", "variant"], registry=r,
        )  # fmt: skip
        self.latency = Histogram(
            "weakflow_request_duration_seconds",
            "Time from request to response, by endpoint, model version and variant.",
            ["endpoint", "model_version", "variant"], buckets=BUCKETS, registry=r,
        )  # fmt: skip
        self.predictions = Counter(
            "weakflow_predictions", "Predicted rows by class, model version and variant.",
            ["model_version", "variant", "label"], registry=r,
        )  # fmt: skip
        self.feedback = Counter(
            "weakflow_feedback", "Feedback labels committed, by source.", ["source"], registry=r
        )
        self.log_failures = Counter(
            "weakflow_prediction_log_failures",
            "Failed writes of the prediction log (the requests still succeeded).", registry=r,
        )  # fmt: skip
        self.log_dropped = Counter(
            "weakflow_prediction_log_dropped",
            "Prediction records never written: queue_full, write_failed or error.",
            ["reason"], registry=r,
        )  # fmt: skip
        self.log_written = Counter(
            "weakflow_prediction_log_written", "Prediction records written to the store.",
            registry=r,
        )  # fmt: skip
        self.lf_errors = Counter(
            "weakflow_lf_errors",
            "Batches whose LF votes could not be computed (logged without votes).", registry=r,
        )  # fmt: skip
        self.shadow_dropped = Counter(
            "weakflow_shadow_dropped",
            "Requests not copied to the shadow version because its queue was full.", registry=r,
        )  # fmt: skip
        self.reloads = Counter(
            "weakflow_model_reloads",
            "Hot reloads after the served alias moved.",
            ["model"],
            registry=r,
        )
        self.served_version = Gauge(
            "weakflow_served_version", "The version served, by variant (primary, canary, shadow).",
            ["model", "variant"], registry=r, multiprocess_mode="livemostrecent",
        )  # fmt: skip
        self.batch_size = Histogram(
            "weakflow_batch_size",
            "Rows per model call (requests micro-batched together), by model version and variant.",
            ["model_version", "variant"], buckets=BATCH_BUCKETS, registry=r,
        )  # fmt: skip
        self._sources: set[str] = set()
        self._class_children: dict[tuple[str, str, str], Any] = {}
        self._batch_children: dict[tuple[int, str], Any] = {}

    def count_classes(self, version: int, variant: str, counts: dict[str, int]) -> None:
        for label, n in counts.items():
            key = (str(version), variant, label)
            child = self._class_children.get(key)
            if child is None:
                child = self._class_children[key] = self.predictions.labels(*key)
            child.inc(n)

    def observe_batch(self, version: int, variant: str, rows: int) -> None:
        """One model call of ``rows`` rows (the ``weakflow_batch_size`` histogram)."""
        key = (version, variant)
        child = self._batch_children.get(key)
        if child is None:
            child = self._batch_children[key] = self.batch_size.labels(str(version), variant)
        child.observe(rows)

    def count_feedback(self, source: str, n: int = 1) -> None:
        if source not in self._sources:
            if len(self._sources) >= MAX_SOURCES:
                source = "other"
            else:
                self._sources.add(source)
        self.feedback.labels(source).inc(n)

    def render(self) -> tuple[bytes, str]:
        """The exposition text (every worker's values in multiprocess mode)."""
        if multiprocess_dir():
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST

    def close(self) -> None:
        """A worker that exits must drop its live gauges from the shared files."""
        if multiprocess_dir():
            from prometheus_client import multiprocess

            multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


class MetricsMiddleware:
    """Counts and times every HTTP request (pure ASGI: no per-request task or copy)."""

    def __init__(self, app: ASGIApp, metrics: ServeMetrics) -> None:
        self.app = app
        self.metrics = metrics
        self._children: dict[tuple[str, str, str, str], tuple[Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = scope.get("route")
            endpoint = getattr(route, "path", None) or "unmatched"
            version, variant = scope.get(SERVED_KEY, ("", ""))
            key = (endpoint, str(status), version, variant)
            children = self._children.get(key)
            if children is None:
                children = (
                    self.metrics.requests.labels(*key),
                    self.metrics.latency.labels(endpoint, version, variant),
                )
                self._children[key] = children
            children[0].inc()
            children[1].observe(time.perf_counter() - start)
