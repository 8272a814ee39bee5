"""``POST /v1/models/{name}/predict``, and the prediction core the OIP endpoint shares.

The hot path is kept short on purpose: the body is validated once by pydantic into plain dicts,
a text model gets a list of strings (no pandas), the response is built from Python lists and
serialized with orjson, and everything slow (LF votes, PII redaction, the database) happens in
the background log writer. The model runs on a worker thread through the variant's micro-batcher
(:mod:`weakflow.serve._batching`): requests that arrive while it is busy share the next call, and
the event loop keeps accepting requests meanwhile. With ``[serve] max_batch_size = 1`` (no
batching) small requests run on the event loop (a thread hop would cost more than the
prediction) and larger ones on the thread pool, so health checks stay responsive.
"""

# No ``from __future__ import annotations`` here: the request body's model is built at start-up
# and FastAPI reads the endpoint's annotations as objects.

import datetime as dt
import time
import uuid
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from weakflow.errors import SchemaError
from weakflow.serve._auth import authenticate, security_doc
from weakflow.serve._logging import LogRecord
from weakflow.serve._metrics import SERVED_KEY
from weakflow.serve._models import LoadedVersion
from weakflow.serve._schemas import (
    CLIENT_KEY_DOC,
    MAX_ID_LENGTH,
    ErrorOut,
    InputSchema,
    PredictOut,
    json_body_doc,
    parse_body,
    predict_in_model,
)
from weakflow.serve._state import ServingState, get_state

__all__ = ["Served", "check_model_name", "predict_router", "serve_rows", "shown_probabilities"]

#: Without batching, requests with more rows than this predict on the thread pool instead of
#: the event loop.
INLINE_ROWS = 32


class JSONBytes(Response):
    media_type = "application/json"


@dataclass(slots=True)
class Served:
    """The outcome of one prediction request."""

    served: LoadedVersion
    variant: str
    ids: list[str]
    labels: list[int]
    proba: list[list[float]]
    votes: np.ndarray | None


def check_model_name(state: ServingState, name: str) -> None:
    if name != state.model_name:
        raise HTTPException(
            404,
            f"No model {name!r} here: this server serves {state.model_name!r} "
            f"(POST /v1/models/{state.model_name}/predict).",
        )


def _subject(row: dict[str, Any]) -> str | None:
    sid = row.get("subject_id")
    if sid is None:
        sid = row.get("id")
    return None if sid is None else str(sid)[:MAX_ID_LENGTH]


async def serve_rows(
    state: ServingState,
    request: Request,
    rows: list[dict[str, Any]],
    *,
    client_key: str | None,
    want_votes: bool = False,
) -> Served:
    """Predict ``rows`` with the version the client is routed to; log and shadow them."""
    manager = state.manager
    if manager.canary is None:
        served, variant = manager.primary_or_raise(), "primary"
    else:
        key = client_key or request.headers.get("x-request-id") or uuid.uuid4().hex
        served, variant = manager.choose(key)
    request.scope[SERVED_KEY] = (str(served.version), variant)
    start = time.perf_counter()
    batcher = state.batches.get(variant)
    if batcher is not None:
        proba = await batcher.predict(served, rows)
    else:
        if len(rows) <= INLINE_ROWS:
            proba = served.predict_proba(rows)
        else:
            proba = await run_in_threadpool(served.predict_proba, rows)
        state.metrics.observe_batch(served.version, variant, len(rows))
    votes = None
    if want_votes:
        votes = await _votes(served, rows)
    labels = proba.argmax(axis=1).tolist()
    rows_proba = proba.tolist()
    ids = [uuid.uuid4().hex for _ in rows]
    latency_ms = (time.perf_counter() - start) * 1e3
    names = served.label_names
    counts: dict[str, int] = {}
    for lab in labels:
        counts[names[lab]] = counts.get(names[lab], 0) + 1
    state.metrics.count_classes(served.version, variant, counts)
    if state.log is not None or state.shadow is not None:
        now = dt.datetime.now(dt.UTC)
        kept_key = None if client_key is None else client_key[:MAX_ID_LENGTH]
        subjects = [_subject(row) for row in rows]
        if state.log is not None:
            vote_rows: list[Any] = [None] * len(rows) if votes is None else votes.tolist()
            state.log.submit(
                [
                    LogRecord(pid, now, served, variant, row, lab, p, latency_ms, kept_key, sid, v)
                    for pid, row, lab, p, sid, v in zip(
                        ids, rows, labels, rows_proba, subjects, vote_rows, strict=True
                    )
                ]
            )
        if state.shadow is not None:
            state.shadow.submit(rows, ids, subjects, kept_key, now)
    return Served(served, variant, ids, labels, rows_proba, votes)


async def _votes(served: LoadedVersion, rows: list[dict[str, Any]]) -> np.ndarray:
    if served.lfs is None:
        raise HTTPException(
            422,
            f"v{served.version} has no labeling functions loaded (see the server log), so "
            "lf_votes cannot be returned; send the request without lf_votes.",
        )
    try:
        if len(rows) <= INLINE_ROWS:
            return served.lfs.votes(rows)
        return await run_in_threadpool(served.lfs.votes, rows)
    except SchemaError as exc:
        raise HTTPException(
            422, f"The labeling functions cannot read these instances: {exc} Add the field."
        ) from None


def shown_probabilities(
    proba: list[list[float]], *, decimals: int | None = None, top_k: int | None = None
) -> list[list[tuple[int, float]]]:
    """What a response shows of each row's probabilities: (class index, probability) pairs.

    ``[serve] probability_decimals`` rounds them; ``[serve] top_k`` keeps the ``top_k`` most
    likely classes, most likely first (ties: lower class index first). Neither: every class in
    index order, unrounded. Only responses go through this; the prediction log, the shadow and
    the metrics keep the full probabilities (monitoring needs them).

    Examples
    --------
    >>> shown_probabilities([[0.1234, 0.2, 0.6766]], decimals=2, top_k=2)
    [[(2, 0.68), (1, 0.2)]]
    """
    k = len(proba[0]) if proba else 0
    if top_k is None or top_k >= k:
        rows = [list(enumerate(p)) for p in proba]
    else:
        rows = [sorted(enumerate(p), key=lambda c: -c[1])[:top_k] for p in proba]
    if decimals is not None:
        rows = [[(c, round(v, decimals)) for c, v in row] for row in rows]
    return rows


def _body(result: Served, decimals: int | None = None, top_k: int | None = None) -> bytes:
    served = result.served
    names = served.label_names
    version = served.version
    if decimals is None and top_k is None:
        shown = [dict(zip(names, p, strict=True)) for p in result.proba]
    else:
        shown = [
            {names[c]: v for c, v in row}
            for row in shown_probabilities(result.proba, decimals=decimals, top_k=top_k)
        ]
    preds = [
        {
            "id": pid,
            "label": lab,
            "label_name": names[lab],
            "probabilities": probs,
            "model_version": version,
        }
        for pid, lab, probs in zip(result.ids, result.labels, shown, strict=True)
    ]
    if result.votes is not None and served.lfs is not None:
        lf_names = served.lfs.names
        for pred, vrow in zip(preds, result.votes.tolist(), strict=True):
            pred["lf_votes"] = {
                lf: (names[v] if v >= 0 else None) for lf, v in zip(lf_names, vrow, strict=True)
            }
    return orjson.dumps({"predictions": preds})


def predict_router(
    schema: InputSchema,
    max_instances: int,
    *,
    dev: bool,
    responses: dict[int | str, Any],
    bodies: dict[str, type[BaseModel]],
) -> APIRouter:
    """The v1 prediction router for a model that reads ``schema``.

    The endpoint authenticates and parses its body itself (see :func:`parse_body`); its
    request schema is added to ``bodies`` for the OpenAPI document.
    """
    predict_in: Any = predict_in_model(schema, max_instances)
    bodies["PredictIn"] = predict_in
    router = APIRouter(prefix="/v1/models", tags=["predict"])
    extra = {**json_body_doc("PredictIn"), "parameters": [CLIENT_KEY_DOC], **security_doc(dev)}

    @router.post(
        "/{name}/predict",
        response_model=PredictOut,
        responses={404: {"model": ErrorOut, "description": "Not the served model."}, **responses},
        summary="Classify rows",
        openapi_extra=extra,
    )
    async def predict(name: str, request: Request) -> Response:
        """Predict each instance's class with the served version (or the canary).

        Every prediction has an `id`: send it back with the true label to `POST /v1/feedback`.
        """
        state = get_state(request)
        await authenticate(request, "predict", dev=dev)
        check_model_name(state, name)
        body = parse_body(predict_in, await request.body())
        result = await serve_rows(
            state, request, body.instances, client_key=request.headers.get("x-client-key"),
            want_votes=body.lf_votes,
        )  # fmt: skip
        config = state.config
        return JSONBytes(_body(result, config.probability_decimals, config.top_k))

    return router
