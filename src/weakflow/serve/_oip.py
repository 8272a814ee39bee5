"""Open Inference Protocol (v2, the KServe/Triton REST API): health, metadata and infer.

So that standard tooling (KServe, Seldon, Triton clients, load balancers' health checks) can
talk to a weakflow server unchanged. Inputs are the model's fields as tensors: one ``BYTES``
tensor named after the text column, or one numeric tensor per feature column, each of shape
``[n]`` or ``[n, 1]``. Outputs are ``probabilities`` (``FP64``, ``[n, k]``), ``label``
(``INT64``, ``[n]``) and ``prediction_id`` (``BYTES``, ``[n]``: the ids ``/v1/feedback``
takes). ``[serve] probability_decimals`` rounds the probabilities and ``[serve] top_k`` zeroes
all but each row's k most likely. Errors are ``{"error": "..."}`` as the protocol asks, with
status 400 for a bad request.
"""

# No ``from __future__ import annotations``: FastAPI reads the endpoints' annotations as objects.

import math
import uuid
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

import weakflow
from weakflow.serve._auth import Caller, authenticate, security_doc
from weakflow.serve._predict import JSONBytes, serve_rows, shown_probabilities
from weakflow.serve._schemas import (
    CLIENT_KEY_DOC,
    InferenceRequest,
    InferenceResponse,
    InputSchema,
    ModelMetadata,
    OIPError,
    ServerMetadata,
    json_body_doc,
    parse_body,
)
from weakflow.serve._state import ServingState, get_state

__all__ = ["oip_router", "rows_from_oip"]

NUMERIC = ("FP64", "FP32", "FP16", "INT64", "INT32", "INT16", "INT8",
           "UINT64", "UINT32", "UINT16", "UINT8")  # fmt: skip
#: Optional BYTES inputs kept in the prediction log as the subject's id.
ID_INPUTS = ("id", "subject_id")
OUTPUTS = ("probabilities", "label", "prediction_id")


class OIPBadRequest(HTTPException):
    def __init__(self, message: str) -> None:
        super().__init__(400, message)


def _flatten(data: list[Any]) -> list[Any]:
    if not any(isinstance(x, list) for x in data):
        return data
    out: list[Any] = []
    stack = [iter(data)]
    while stack:
        for x in stack[-1]:
            if isinstance(x, list):
                stack.append(iter(x))
                break
            out.append(x)
        else:
            stack.pop()
    return out


def _column(inp: Any, schema: InputSchema) -> list[Any]:
    data = _flatten(inp.data)
    shape = inp.shape
    if not shape or len(shape) > 2 or (len(shape) == 2 and shape[1] != 1) or shape[0] < 0:
        raise OIPBadRequest(
            f"Input {inp.name!r} has shape {shape}; use [n] or [n, 1] (one value per row)."
        )
    if math.prod(shape) != len(data):
        raise OIPBadRequest(
            f"Input {inp.name!r} has shape {shape} but {len(data)} values; they must agree."
        )
    text = schema.kind == "text" or inp.name in ID_INPUTS
    if text:
        if inp.datatype != "BYTES":
            raise OIPBadRequest(f"Input {inp.name!r} must have datatype BYTES, got {inp.datatype}.")
        bad = next((i for i, x in enumerate(data) if not isinstance(x, str)), None)
        if bad is not None:
            raise OIPBadRequest(f"Input {inp.name!r}: value {bad} is not a string.")
        return data
    if inp.datatype not in NUMERIC:
        raise OIPBadRequest(
            f"Input {inp.name!r} must be numeric (FP64, FP32, INT64, ...), got {inp.datatype}."
        )
    out: list[float | None] = []
    for i, x in enumerate(data):
        value = _finite(x)
        if value is None and x is not None:
            shown = repr(x) if len(repr(x)) < 40 else repr(x)[:37] + "..."
            raise OIPBadRequest(
                f"Input {inp.name!r}: value {i} ({shown}) is not a finite number (null = missing)."
            )
        out.append(value)
    return out


def _finite(x: Any) -> float | None:
    if isinstance(x, bool) or not isinstance(x, int | float):
        return None
    try:
        value = float(x)
    except OverflowError:
        return None
    return value if math.isfinite(value) else None


def rows_from_oip(
    schema: InputSchema, body: InferenceRequest, max_rows: int
) -> list[dict[str, Any]]:
    """The request's tensors as rows (dicts of the model's fields), validated."""
    expected = schema.fields
    by_name: dict[str, Any] = {}
    for inp in body.inputs:
        if inp.name in by_name:
            raise OIPBadRequest(f"Input {inp.name!r} is given twice; send each input once.")
        by_name[inp.name] = inp
    unknown = [n for n in by_name if n not in expected and n not in ID_INPUTS]
    missing = [n for n in expected if n not in by_name]
    if unknown or missing:
        parts = []
        if missing:
            parts.append(f"missing input(s) {', '.join(map(repr, missing))}")
        if unknown:
            parts.append(f"unknown input(s) {', '.join(map(repr, unknown))}")
        raise OIPBadRequest(
            f"{'; '.join(parts).capitalize()}. This model takes the inputs "
            f"{', '.join(map(repr, expected))} (GET /v2/models/NAME describes them)."
        )
    columns = {n: _column(inp, schema) for n, inp in by_name.items()}
    lengths = {n: len(c) for n, c in columns.items()}
    n_rows = next(iter(lengths.values()))
    if len(set(lengths.values())) > 1:
        raise OIPBadRequest(f"Inputs have different numbers of rows {lengths}; they must agree.")
    if not 1 <= n_rows <= max_rows:
        raise OIPBadRequest(
            f"The request has {n_rows} rows; send 1 to {max_rows} ([serve] max_instances)."
        )
    names = list(columns)
    return [dict(zip(names, values, strict=True)) for values in zip(*columns.values(), strict=True)]


def _metadata(state: ServingState) -> dict[str, Any]:
    schema = state.schema
    manager = state.manager
    versions = sorted({v.version for v in (manager.primary, manager.canary) if v is not None})
    if schema.kind == "text":
        inputs = [{"name": schema.text_column, "datatype": "BYTES", "shape": [-1]}]
    else:
        inputs = [{"name": c, "datatype": "FP64", "shape": [-1]} for c in schema.feature_columns]
    k = len(schema.label_names)
    return {
        "name": state.model_name,
        "versions": [str(v) for v in versions],
        "platform": "weakflow",
        "inputs": inputs,
        "outputs": [
            {"name": "probabilities", "datatype": "FP64", "shape": [-1, k]},
            {"name": "label", "datatype": "INT64", "shape": [-1]},
            {"name": "prediction_id", "datatype": "BYTES", "shape": [-1]},
        ],
    }


def _probabilities(proba: list[list[float]], k: int, config: Any) -> list[float]:
    """The ``probabilities`` tensor's data, row-major: ``[serve] probability_decimals`` rounds
    it; with ``[serve] top_k`` the classes outside a row's top k read 0 (the tensor keeps its
    ``[n, k]`` shape, so clients index it by class as always)."""
    decimals, top_k = config.probability_decimals, config.top_k
    if decimals is None and top_k is None:
        return [p for row in proba for p in row]
    out: list[float] = []
    for row in shown_probabilities(proba, decimals=decimals, top_k=top_k):
        full = [0.0] * k
        for c, v in row:
            full[c] = v
        out.extend(full)
    return out


def _check_name(state: ServingState, name: str) -> None:
    if name != state.model_name:
        raise HTTPException(
            404, f"No model {name!r} here: this server serves {state.model_name!r}."
        )


def oip_router(
    max_instances: int,
    *,
    dev: bool,
    caller: Any,
    responses: dict[int | str, Any],
    bodies: dict[str, type[BaseModel]],
) -> APIRouter:
    """The OIP v2 endpoints; ``caller`` authenticates the model metadata endpoint."""
    router = APIRouter(prefix="/v2", tags=["Open Inference Protocol v2"])
    not_found: dict[int | str, Any] = {
        404: {"model": OIPError, "description": "Not the served model."}
    }

    @router.get("", response_model=ServerMetadata, summary="Server metadata")
    async def server_metadata() -> dict[str, Any]:
        return {"name": "weakflow", "version": weakflow.__version__, "extensions": []}

    @router.get("/health/live", summary="Liveness")
    async def live() -> dict[str, bool]:
        """200 while the process serves HTTP."""
        return {"live": True}

    @router.get(
        "/health/ready",
        summary="Readiness",
        responses={503: {"description": "No model loaded yet (starting) or stopping."}},
    )
    async def ready(request: Request) -> Response:
        """200 once a model is loaded, else 503 (route traffic only when this is 200)."""
        state = getattr(request.app.state, "serving", None)
        ok = state is not None and state.manager.primary is not None
        return JSONResponse({"ready": ok}, status_code=200 if ok else 503)

    @router.get(
        "/models/{name}/ready",
        summary="Model readiness",
        responses={**not_found, 503: {"description": "Not loaded yet."}},
    )
    async def model_ready(name: str, request: Request) -> dict[str, Any]:
        state = get_state(request)
        _check_name(state, name)
        return {"name": name, "ready": state.manager.primary is not None}

    @router.get(
        "/models/{name}",
        response_model=ModelMetadata,
        responses={**not_found, **responses},
        summary="Model metadata",
    )
    async def model_metadata(
        name: str, request: Request, who: Annotated[Caller, Depends(caller)]
    ) -> dict[str, Any]:
        """The model's versions, inputs (the training schema) and outputs."""
        state = get_state(request)
        _check_name(state, name)
        return _metadata(state)

    extra = {**json_body_doc("InferenceRequest"), "parameters": [CLIENT_KEY_DOC],
             **security_doc(dev)}  # fmt: skip
    bodies["InferenceRequest"] = InferenceRequest

    @router.post(
        "/models/{name}/infer",
        response_model=InferenceResponse,
        responses={
            400: {"model": OIPError, "description": "The request does not fit the model."},
            **not_found,
            **responses,
        },
        summary="Inference",
        openapi_extra=extra,
    )
    async def infer(name: str, request: Request) -> Response:
        """Classify the rows given as input tensors (one per model field)."""
        state = get_state(request)
        await authenticate(request, "predict", dev=dev)
        _check_name(state, name)
        body: InferenceRequest = parse_body(InferenceRequest, await request.body())
        rows = rows_from_oip(state.schema, body, max_instances)
        wanted = [o.name for o in body.outputs] if body.outputs else list(OUTPUTS)
        bad = [w for w in wanted if w not in OUTPUTS]
        if bad:
            raise OIPBadRequest(f"Unknown output(s) {bad}; this model has {', '.join(OUTPUTS)}.")
        result = await serve_rows(
            state, request, rows, client_key=request.headers.get("x-client-key")
        )
        n = len(rows)
        k = len(result.served.label_names)
        tensors = {
            "probabilities": {"name": "probabilities", "datatype": "FP64", "shape": [n, k],
                              "data": _probabilities(result.proba, k, state.config)},
            "label": {"name": "label", "datatype": "INT64", "shape": [n], "data": result.labels},
            "prediction_id": {"name": "prediction_id", "datatype": "BYTES", "shape": [n],
                              "data": result.ids},
        }  # fmt: skip
        payload = {
            "model_name": state.model_name,
            "model_version": str(result.served.version),
            "id": body.id or uuid.uuid4().hex,
            "outputs": [tensors[w] for w in wanted],
        }
        return JSONBytes(orjson.dumps(payload))

    return router
