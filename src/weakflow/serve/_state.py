"""What a running server holds: the registry, the loaded versions, the log, the caches.

It is built in the app's lifespan (never at import), stored on ``app.state.serving``, and
closed on shutdown in the order that loses nothing: stop following the alias, finish the model
calls in flight, finish the shadow copies, then drain the prediction log into the store.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fastapi import HTTPException, Request

from weakflow.pipeline import Project
from weakflow.registry import Registry, open_registry
from weakflow.serve._batching import BatchExecutor
from weakflow.serve._limits import RateLimiter
from weakflow.serve._logging import PredictionLog
from weakflow.serve._models import ModelManager
from weakflow.serve._shadow import ShadowRunner

if TYPE_CHECKING:
    from weakflow.pipeline._config import ServeConfig
    from weakflow.serve._auth import TokenCache
    from weakflow.serve._metrics import ServeMetrics
    from weakflow.serve._schemas import InputSchema
    from weakflow.serve._settings import ServeSettings

__all__ = ["ServingState", "get_state"]

log = logging.getLogger("weakflow.serve")


@dataclass
class ServingState:
    """Everything the endpoints share (one per app, built at start-up)."""

    settings: ServeSettings
    project: Project
    config: ServeConfig
    schema: InputSchema
    metrics: ServeMetrics
    registry: Registry
    manager: ModelManager
    tokens: TokenCache
    limiter: RateLimiter
    log: PredictionLog | None
    shadow: ShadowRunner | None
    batches: BatchExecutor

    @property
    def model_name(self) -> str:
        return self.manager.name

    @classmethod
    def open(
        cls,
        settings: ServeSettings,
        project: Project,
        schema: InputSchema,
        metrics: ServeMetrics,
    ) -> ServingState:
        """Open the store, load the versions, start the background threads."""
        from weakflow.serve._auth import TokenCache

        config = project.config.serve
        registry = open_registry(project.state_dir, project.config.store.url)
        name = project.config.project.name

        def changed(variant: str, version: int) -> None:
            metrics.served_version.labels(name, variant).set(version)

        manager = ModelManager(
            registry, project, settings.alias or config.alias, schema, on_change=changed
        )
        try:
            manager.start()
        except BaseException:
            registry.db.close()
            raise
        prediction_log = None
        if config.log_predictions:
            prediction_log = PredictionLog(
                registry.db, metrics, batch_size=config.log_batch_size,
                flush_interval=config.log_flush_interval, lf_votes=config.lf_votes,
                redact=config.redact_pii, pii_region=project.config.data.pii_region,
            )  # fmt: skip
        shadow = None
        if manager.shadow is not None:
            shadow = ShadowRunner(manager, prediction_log, metrics)
        manager.start_polling(config.reload_interval, metrics.reloads.labels(name).inc)
        batches = BatchExecutor(
            config.max_batch_size,
            lambda served, variant, rows: metrics.observe_batch(served.version, variant, rows),
        )
        return cls(
            settings=settings, project=project, config=config, schema=schema, metrics=metrics,
            registry=registry, manager=manager, tokens=TokenCache(registry.db, settings.token_ttl),
            limiter=RateLimiter(config.rate_limit, config.rate_burst), log=prediction_log,
            shadow=shadow, batches=batches,
        )  # fmt: skip

    def close(self) -> None:
        self.manager.stop()
        self.batches.close()
        if self.shadow is not None:
            self.shadow.close()
        if self.log is not None:
            self.log.close()
        self.metrics.close()
        self.registry.db.close()


def get_state(request: Request) -> ServingState:
    """The server's state; 503 while it is starting or stopping."""
    state: ServingState | None = getattr(request.app.state, "serving", None)
    if state is None:
        raise HTTPException(503, "The server is starting or stopping; retry in a moment.")
    return state
