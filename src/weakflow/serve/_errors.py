"""Error responses that say what was wrong and what to send instead.

Validation errors keep FastAPI's shape (``{"detail": [{"loc", "msg", "type"}]}``, ``loc``
naming the row and the field) with messages rewritten for the request at hand; on the Open
Inference Protocol endpoints (``/v2``) every error is ``{"error": "..."}`` as the protocol asks,
with 400 for a request that does not fit. An unexpected exception is a 500 that says it is the
server's fault, never the client's.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from weakflow.serve._schemas import InputSchema

__all__ = ["describe", "http_error", "server_error", "validation_error_handler"]

log = logging.getLogger("weakflow.serve")

FEEDBACK_PATH = "/v1/feedback"
Handler = Callable[[Request, Exception], Awaitable[Response]]


def is_oip_path(path: str) -> bool:
    return path.startswith("/v2")


def is_oip(request: Request) -> bool:
    return is_oip_path(request.url.path)


async def http_error(request: Request, exc: Exception) -> Response:
    """An ``HTTPException`` in the endpoint's style (its headers kept: Retry-After, ...)."""
    assert isinstance(exc, StarletteHTTPException)
    if is_oip(request):
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        body: dict[str, Any] = {"error": detail}
    else:
        body = {"detail": exc.detail}
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)


async def server_error(request: Request, exc: Exception) -> Response:
    log.exception("Unexpected error on %s %s", request.method, request.url.path)
    message = (
        f"Internal error ({type(exc).__name__}: {exc}). This is a bug in weakflow serve, not "
        "in your request; the server log has the traceback."
    )
    return JSONResponse({"error" if is_oip(request) else "detail": message}, status_code=500)


def _feedback(loc: list[Any], kind: str, msg: str, schema: InputSchema) -> tuple[list[Any], str]:
    if len(loc) > 1 and loc[1] in ("item", "items"):
        del loc[1]  # the branch tag of "one item or a list": the shape sent, not a field
    if len(loc) >= 2 and loc[-2] == "label" and loc[-1] in ("int", "str"):
        del loc[-1]  # the int | str union's branches: one error about the label
        return loc, f"must be a class name ({', '.join(schema.label_names)}) or its index"
    if kind == "missing":
        return loc, "field required: each item has a prediction_id and a label (source optional)"
    if kind == "extra_forbidden":
        return loc, f"unknown field {loc[-1]!r}: an item takes prediction_id, label and source"
    if kind in ("model_attributes_type", "model_type", "dict_type") and len(loc) <= 2:
        return loc, (
            f"{msg}: send {{'prediction_id': ..., 'label': ...}} or a list of such objects"
        )
    return loc, msg


def _predict(loc: list[Any], kind: str, error: dict[str, Any], schema: InputSchema) -> str:
    msg = str(error.get("msg", "invalid value"))
    field = loc[-1] if loc else None
    in_instance = len(loc) == 4 and loc[:2] == ["body", "instances"]
    expected = "a string" if schema.kind == "text" else "a finite number, or null when missing"
    if kind == "missing" and in_instance:
        if schema.kind == "text":
            return f"field required: {expected} (the text to classify, in {schema.text_column!r})"
        return f"field required: {expected}"
    if in_instance and field in schema.fields:
        return f"must be {expected}, got {type(error.get('input')).__name__} ({msg})"
    if kind == "missing" and loc == ["body"]:
        example = schema.fields[0] if schema.fields else "text"
        return f'field required: a JSON body, e.g. {{"instances": [{{"{example}": ...}}]}}'
    if kind == "too_long" and loc[-1:] == ["instances"]:
        return f"{msg}: split the rows into several requests ([serve] max_instances)"
    if kind == "too_short" and loc[-1:] == ["instances"]:
        return "send at least one instance"
    if kind == "extra_forbidden" and len(loc) == 2:
        return f"unknown field {loc[1]!r}: the body takes 'instances' and 'lf_votes'"
    return msg


def describe(error: dict[str, Any], schema: InputSchema, path: str) -> dict[str, Any]:
    """One validation error as ``{"loc", "msg", "type"}``, its message saying what to send."""
    loc = list(error.get("loc", ()))
    kind = str(error.get("type", "value_error"))
    msg = str(error.get("msg", "invalid value"))
    if kind == "json_invalid":
        ctx = error.get("ctx") or {}
        msg = f"the body is not valid JSON ({ctx.get('error', 'decode error')}); send JSON"
    elif path == FEEDBACK_PATH:
        loc, msg = _feedback(loc, kind, msg, schema)
    elif not is_oip_path(path):
        msg = _predict(loc, kind, error, schema)
    return {"loc": loc, "msg": msg, "type": kind}


def validation_error_handler(schema: InputSchema) -> Handler:
    """422 with every problem (400 ``{"error"}`` on the OIP endpoints)."""

    async def validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        errors: list[dict[str, Any]] = []
        for e in exc.errors():
            described = describe(dict(e), schema, request.url.path)
            if described not in errors:
                errors.append(described)
        if is_oip(request):
            text = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'][1:]) or 'body'}: {e['msg']}" for e in errors
            )
            return JSONResponse({"error": f"Invalid request: {text}."}, status_code=400)
        return JSONResponse({"detail": errors}, status_code=422)

    return validation_error
