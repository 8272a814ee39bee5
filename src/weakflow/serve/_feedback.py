"""``POST /v1/feedback``: the true label of served predictions, committed before the answer.

A label is acknowledged only once it is committed to the store, so a 200 means it will be
there for monitoring and retraining. It must name a prediction this service made. Because the
prediction log is written in batches off the request path, a prediction can still be in memory
when its feedback arrives: the local writer is flushed first, and since another worker may
have served it, the log is re-checked for up to :data:`RECHECK_SECONDS` before answering 404.
With ``[serve] log_predictions = false`` nothing is logged, so ids cannot be checked and every
well-formed label is accepted.
"""

# No ``from __future__ import annotations``: FastAPI reads the endpoint's annotations as objects.

import time
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Body, Depends, HTTPException, Request

from weakflow.data import redact_pii
from weakflow.errors import StoreError
from weakflow.serve._auth import Caller
from weakflow.serve._schemas import ErrorOut, FeedbackIn, FeedbackItem, FeedbackOut
from weakflow.serve._state import ServingState, get_state
from weakflow.store import add_feedback, existing_predictions

__all__ = ["feedback_router", "resolve_label"]

#: How long unknown prediction ids are re-checked (other workers' log writers) before a 404.
RECHECK_SECONDS = 2.0


def resolve_label(label: int | str, names: tuple[str, ...]) -> int | None:
    """The class index of a label given by name or index, or None when it is not a class."""
    if isinstance(label, int):
        return label if 0 <= label < len(names) else None
    if label in names:
        return names.index(label)
    if label.isdigit() and int(label) < len(names):
        return int(label)
    return None


def _store_error(exc: StoreError) -> HTTPException:
    return HTTPException(
        503, f"The store is unavailable, nothing was written: {exc}", headers={"Retry-After": "1"}
    )


def _missing(state: ServingState, ids: list[str]) -> list[str]:
    try:
        found = existing_predictions(state.registry.db, ids)
    except StoreError as exc:
        raise _store_error(exc) from None
    return [i for i in dict.fromkeys(ids) if i not in found]


def _unknown_ids(state: ServingState, ids: list[str]) -> list[str]:
    missing = _missing(state, ids)
    if missing and state.log is not None and state.log.pending:
        state.log.flush(timeout=5.0)
        missing = _missing(state, missing)
    deadline = time.monotonic() + RECHECK_SECONDS
    while missing and time.monotonic() < deadline:
        time.sleep(0.1)
        missing = _missing(state, missing)
    return missing


def feedback_router(max_items: int, caller: Any, responses: dict[int | str, Any]) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["feedback"])

    @router.post(
        "/feedback",
        response_model=FeedbackOut,
        responses={
            404: {"model": ErrorOut, "description": "Unknown prediction id(s)."},
            503: {"model": ErrorOut, "description": "The store is unavailable; retry."},
            **responses,
        },
        summary="Send true labels",
    )
    def feedback(
        body: Annotated[FeedbackIn, Body()],
        request: Request,
        who: Annotated[Caller, Depends(caller)],
    ) -> dict[str, Any]:
        """Record the true label of one prediction, or of a list of them, in one transaction.

        `label` is a class name or its index; `source` says who labeled it (default `api`).
        The answer comes only after the labels are committed.
        """
        state = get_state(request)
        single = isinstance(body, FeedbackItem)
        items: list[FeedbackItem] = [body] if isinstance(body, FeedbackItem) else list(body)
        if len(items) > max_items:
            raise HTTPException(
                422,
                [{"loc": ["body"], "type": "too_long",
                  "msg": f"{len(items)} items; send at most {max_items} per request "
                         "([serve] max_instances)."}],
            )  # fmt: skip
        names = state.schema.label_names
        resolved: list[int] = []
        errors: list[dict[str, Any]] = []
        for i, item in enumerate(items):
            index = resolve_label(item.label, names)
            if index is None:
                errors.append({
                    "loc": ["body", "label"] if single else ["body", i, "label"],
                    "msg": f"Unknown label {item.label!r}: use one of {', '.join(names)} "
                           f"(or the class index 0..{len(names) - 1}).",
                    "type": "value_error",
                })  # fmt: skip
            else:
                resolved.append(index)
        if errors:
            raise HTTPException(422, errors)
        ids = [item.prediction_id for item in items]
        if state.log is not None:
            unknown = _unknown_ids(state, ids)
            if unknown:
                shown = ", ".join(unknown[:20]) + (" ..." if len(unknown) > 20 else "")
                raise HTTPException(
                    404,
                    f"Unknown prediction id(s): {shown}. Send the `id` of a prediction this "
                    f"service returned for {state.model_name!r}.",
                )
        sources = [item.source for item in items]
        if state.config.redact_pii:  # a client may put an email in `source`: never store it
            cfg = state.project.config.data
            sources = redact_pii(pd.Series(sources), region=cfg.pii_region).tolist()
        try:
            committed = add_feedback(
                state.registry.db,
                [(item.prediction_id, index, source)
                 for item, index, source in zip(items, resolved, sources, strict=True)],
                token_name=who.name,
            )  # fmt: skip
        except StoreError as exc:
            raise _store_error(exc) from None
        for source in sources:
            state.metrics.count_feedback(source)
        return {"accepted": len(committed), "ids": committed}

    return router
