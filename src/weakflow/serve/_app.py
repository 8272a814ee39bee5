"""The FastAPI app: routers assembled, errors that say how to fix them, the lifespan.

:func:`create_app` builds the app for a project; nothing is loaded until the app starts (its
lifespan opens the store and loads the served versions), so building it is cheap and has no
side effects. The routers come from their modules: ``/v1`` predictions and feedback, ``/v2``
the Open Inference Protocol, ``/metrics`` for Prometheus.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

import weakflow
from weakflow.pipeline import Project
from weakflow.serve._auth import caller_dependency
from weakflow.serve._errors import http_error, server_error, validation_error_handler
from weakflow.serve._feedback import feedback_router
from weakflow.serve._limits import BodyLimitMiddleware
from weakflow.serve._metrics import MetricsMiddleware, ServeMetrics
from weakflow.serve._oip import oip_router
from weakflow.serve._predict import predict_router
from weakflow.serve._schemas import ErrorOut, InputSchema, OIPError, component_schemas
from weakflow.serve._settings import DEFAULT_TOKEN_TTL, ServeSettings
from weakflow.serve._state import ServingState

__all__ = ["create_app"]

log = logging.getLogger("weakflow.serve")

DESCRIPTION = """\
Predictions of a weakflow project's registered model, with the labeling functions' votes
logged beside each one, feedback labels, the Open Inference Protocol (v2) and Prometheus
metrics. Authenticate with `Authorization: Bearer <token>` (`weakflow tokens create`).
"""


def _error_responses(
    settings: ServeSettings, rate_limited: bool, oip: bool
) -> dict[int | str, Any]:
    model = OIPError if oip else ErrorOut
    out: dict[int | str, Any] = {
        413: {"model": model, "description": "Body over [serve] max_request_bytes."}
    }
    if not settings.dev:
        out[401] = {"model": model, "description": "Missing, unknown or revoked token."}
        out[403] = {"model": model, "description": "The token lacks the scope."}
    if rate_limited:
        out[429] = {"model": model, "description": "Rate limit exceeded (see Retry-After)."}
    return out


def freeze_gc() -> None:
    """Exempt everything alive now (modules, the loaded models) from the cyclic GC.

    Why: a served process holds a few hundred thousand long-lived objects (scikit-learn,
    pandas, FastAPI, the models), and every full collection walks all of them: about 50-100 ms
    here, during which no request is answered, so every request in flight (64 of them at
    concurrency 64) gets that much slower, often enough to set the p99. Frozen objects are
    still freed by reference counting; only the cycles among them are never collected, which
    is what a server's start-up state should be. ``weakflow serve`` does this once its versions
    are loaded (not :func:`create_app` in general: the GC is the whole process's).
    """
    gc.collect()
    gc.freeze()


def create_app(
    project: str | Path | ServeSettings,
    *,
    alias: str | None = None,
    dev: bool = False,
    token_ttl: float = DEFAULT_TOKEN_TTL,
) -> FastAPI:
    """The serving app of a project (see docs/serving.md).

    Parameters
    ----------
    project : path or ServeSettings
        The project folder, or complete settings (then the other arguments are ignored).
    alias : str, optional
        Serve this alias instead of ``[serve] alias``.
    dev : bool
        No authentication; rate limits per client IP.
    token_ttl : float
        Seconds a token lookup is cached.

    Returns
    -------
    FastAPI
        Loads the model when it starts (``with TestClient(app)``, or under uvicorn).
    """
    if isinstance(project, ServeSettings):
        settings = project
    else:
        settings = ServeSettings(project=Path(project), alias=alias, dev=dev, token_ttl=token_ttl)
    proj = Project.load(settings.project)
    config = proj.config.serve
    schema = InputSchema.from_config(proj.config.to_dict())
    metrics = ServeMetrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = await run_in_threadpool(ServingState.open, settings, proj, schema, metrics)
        if getattr(app.state, "freeze_gc", False):
            freeze_gc()
        app.state.serving = state
        primary = state.manager.primary
        log.info(
            "Serving %s v%s (alias %s)%s.", state.model_name,
            None if primary is None else primary.version, state.manager.alias,
            ", authentication OFF (--dev)" if settings.dev else "",
        )  # fmt: skip
        try:
            yield
        finally:
            app.state.serving = None
            await run_in_threadpool(state.close)

    app = FastAPI(
        title=f"weakflow: {proj.config.project.name}",
        version=weakflow.__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.serving = None
    rate_limited = config.rate_limit > 0
    v1_errors = _error_responses(settings, rate_limited, oip=False)
    v2_errors = _error_responses(settings, rate_limited, oip=True)
    predict_caller = caller_dependency("predict", dev=settings.dev)
    feedback_caller = caller_dependency("feedback", dev=settings.dev)
    bodies: dict[str, type[BaseModel]] = {}
    app.include_router(
        predict_router(
            schema, config.max_instances, dev=settings.dev, responses=v1_errors, bodies=bodies
        )
    )
    app.include_router(feedback_router(config.max_instances, feedback_caller, v1_errors))
    app.include_router(
        oip_router(
            config.max_instances, dev=settings.dev, caller=predict_caller, responses=v2_errors,
            bodies=bodies,
        )
    )  # fmt: skip

    @app.get(
        "/metrics",
        tags=["monitoring"],
        summary="Prometheus metrics",
        response_class=Response,
        responses={200: {"content": {"text/plain": {}}, "description": "Exposition format."}},
    )
    async def prometheus_metrics() -> Response:
        """Requests, latency, predicted classes, feedback, log health, served versions."""
        body, content_type = await run_in_threadpool(metrics.render)
        return Response(body, media_type=content_type)

    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error_handler(schema))
    app.add_exception_handler(Exception, server_error)
    app.add_middleware(BodyLimitMiddleware, max_bytes=config.max_request_bytes)
    app.add_middleware(MetricsMiddleware, metrics=metrics)  # outermost: sees 413s too

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = get_openapi(
                title=app.title, version=app.version, description=app.description,
                routes=app.routes, tags=None,
            )  # fmt: skip
            components = doc.setdefault("components", {}).setdefault("schemas", {})
            components.update(component_schemas(bodies))
            for path, operations in doc.get("paths", {}).items():
                if path.startswith("/v2"):  # OIP answers 400, never FastAPI's 422
                    for op in operations.values():
                        op.get("responses", {}).pop("422", None)
            app.openapi_schema = doc
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
