"""Request and response bodies as pydantic models, so ``/openapi.json`` says what is accepted.

The input of a prediction is the model's training schema, which depends on the project: one
text field for a text model, one number per feature column for a tabular one. So the instance
model is built at start-up from :class:`InputSchema` (a ``TypedDict`` that allows extra fields:
validating it returns plain dicts, which is cheaper on the hot path than model objects and is
what the LFs and the log need). Everything else is static.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal, NotRequired, Required

from fastapi.exceptions import RequestValidationError
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StrictInt,
    StrictStr,
    Tag,
    ValidationError,
)
from typing_extensions import TypedDict

from weakflow.errors import ConfigError

__all__ = [
    "ErrorOut",
    "FeedbackIn",
    "FeedbackItem",
    "FeedbackOut",
    "InferenceRequest",
    "InferenceResponse",
    "InputSchema",
    "ModelMetadata",
    "OIPError",
    "PredictOut",
    "PredictionOut",
    "RequestInput",
    "ResponseOutput",
    "ServerMetadata",
    "component_schemas",
    "instance_type",
    "json_body_doc",
    "parse_body",
    "predict_in_model",
]

#: Longest identifier kept from a request (``id``/``subject_id``, ``X-Client-Key``).
MAX_ID_LENGTH = 200


@dataclass(frozen=True)
class InputSchema:
    """What a served model reads: its text column, or its feature columns, and its classes.

    Built from the configuration a version was trained with (its lineage), so every version
    the server holds can be checked to read the same fields.
    """

    kind: Literal["text", "tabular"]
    text_column: str | None
    feature_columns: tuple[str, ...]
    label_names: tuple[str, ...]

    @property
    def fields(self) -> tuple[str, ...]:
        """The request fields the model reads."""
        if self.kind == "text":
            assert self.text_column is not None
            return (self.text_column,)
        return self.feature_columns

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> InputSchema:
        """From a ``weakflow.toml`` as a dict (``ProjectConfig.to_dict()`` or a lineage's)."""
        data = config.get("data", {})
        end_model = config.get("end_model", {})
        features = tuple(data.get("feature_columns") or ())
        kind = end_model.get("type", "text")
        names = tuple(data.get("label_names") or ())
        if kind == "tabular" or (kind == "sklearn" and features):
            if not features:
                raise ConfigError(
                    "A tabular end model needs data.feature_columns in weakflow.toml to be served."
                )
            return cls("tabular", None, features, names)
        text = data.get("text_column", "text")
        if not text:
            raise ConfigError(
                "The end model reads text, but data.text_column is empty; set it in "
                "weakflow.toml to the column the model was trained on."
            )
        return cls("text", str(text), (), names)

    def describe(self) -> str:
        if self.kind == "text":
            return f"text field {self.text_column!r}"
        return f"feature fields {', '.join(self.feature_columns)}"


def instance_type(schema: InputSchema) -> Any:
    """The ``TypedDict`` of one instance: the model's fields, optional ids, extras allowed."""
    fields: dict[str, Any] = {}
    if schema.kind == "text":
        assert schema.text_column is not None
        fields[schema.text_column] = Required[
            Annotated[str, Field(description="The text to classify (the training text column).")]
        ]
    else:
        for col in schema.feature_columns:
            fields[col] = Required[
                Annotated[
                    float | None,
                    Field(
                        allow_inf_nan=False,
                        description=f"Feature {col!r} (a finite number; null when missing).",
                    ),
                ]
            ]
    ident = Annotated[
        StrictStr | StrictInt | None,
        Field(
            description="Who the row is about; logged as subject_id (for erasure requests).",
            union_mode="left_to_right",
        ),
    ]
    for key in ("id", "subject_id"):
        if key not in fields:
            fields[key] = NotRequired[ident]
    make: Any = TypedDict  # built from a runtime dict, which static checkers cannot follow
    td: Any = make("Instance", fields)
    td.__pydantic_config__ = ConfigDict(extra="allow")
    td.__doc__ = (
        f"One row to classify: the {schema.describe()} the model was trained on. Other fields "
        "are allowed (the labeling functions may read them); `id` or `subject_id` is kept in "
        "the prediction log as the subject's id."
    )
    return td


def predict_in_model(schema: InputSchema, max_instances: int) -> type[BaseModel]:
    """The body of ``POST /v1/models/{name}/predict``."""
    instance = instance_type(schema)

    class PredictIn(BaseModel):
        """Rows to classify, and whether to return each row's labeling-function votes."""

        model_config = ConfigDict(extra="forbid")

        instances: list[instance] = Field(  # type: ignore[valid-type]
            min_length=1,
            max_length=max_instances,
            description=f"1 to {max_instances} rows ([serve] max_instances).",
        )
        lf_votes: bool = Field(
            False, description="Also return each row's LF votes ({lf name: class name or null})."
        )

    return PredictIn


class PredictionOut(BaseModel):
    """One prediction. Send ``id`` back with the true label to ``POST /v1/feedback``."""

    id: str = Field(description="Unique id of this prediction (uuid4 hex).")
    label: int = Field(description="Index of the most likely class.")
    label_name: str
    probabilities: dict[str, float] = Field(
        description=(
            "Probability of each class, by name; with [serve] top_k only the k most likely "
            "(most likely first), with [serve] probability_decimals rounded."
        )
    )
    model_version: int = Field(description="The registered version that made the prediction.")
    lf_votes: dict[str, str | None] | None = Field(
        None, description="Only when requested: each LF's vote (class name, null = abstain)."
    )


class PredictOut(BaseModel):
    predictions: list[PredictionOut]


class ErrorOut(BaseModel):
    """What went wrong and how to fix it."""

    detail: str


def parse_body(model: type[BaseModel], raw: bytes) -> Any:
    """Validate a JSON body straight from its bytes (pydantic's parser: no ``json.loads``).

    The hot endpoints parse their body themselves, which skips FastAPI's dependency
    resolution; errors come out exactly as FastAPI's would (``loc`` starts with ``body``).
    """
    if not raw:
        raise RequestValidationError(
            [{"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}]
        )
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
        raise RequestValidationError(errors) from None


def json_body_doc(component: str) -> dict[str, Any]:
    """``openapi_extra`` for an endpoint that parses its body with :func:`parse_body`."""
    ref = {"$ref": f"#/components/schemas/{component}"}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": ref}}}}


def component_schemas(models: dict[str, type[BaseModel]]) -> dict[str, Any]:
    """OpenAPI component schemas of those models (and of the models they use)."""
    out: dict[str, Any] = {}
    for name, model in models.items():
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        out.update(schema.pop("$defs", {}))
        out[name] = schema
    return out


#: The ``X-Client-Key`` header, for endpoints that read it themselves.
CLIENT_KEY_DOC = {
    "name": "X-Client-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string"},
    "description": "Sticky canary routing: requests with the same key get the same version.",
}


# -- feedback ------------------------------------------------------------------------------------
class FeedbackItem(BaseModel):
    """The true label of a served prediction."""

    model_config = ConfigDict(extra="forbid")

    prediction_id: str = Field(min_length=1, max_length=64, description="A prediction's id.")
    label: StrictInt | StrictStr = Field(description="The class name, or its index.")
    source: str = Field(
        "api", min_length=1, max_length=200, description="Who labeled it (user, review, ...)."
    )


def _feedback_shape(value: Any) -> str:
    return "items" if isinstance(value, list) else "item"


#: One item or a list of them (a callable discriminator: errors name only the shape sent).
FeedbackIn = Annotated[
    Annotated[FeedbackItem, Tag("item")]
    | Annotated[list[FeedbackItem], Tag("items"), Field(min_length=1)],
    Discriminator(_feedback_shape),
]


class FeedbackOut(BaseModel):
    accepted: int = Field(description="How many labels were committed.")
    ids: list[int] = Field(description="Their ids in the feedback table.")


# -- Open Inference Protocol v2 --------------------------------------------------------------------
class TensorMetadata(BaseModel):
    name: str
    datatype: str
    shape: list[int]


class ModelMetadata(BaseModel):
    name: str
    versions: list[str]
    platform: str
    inputs: list[TensorMetadata]
    outputs: list[TensorMetadata]


class ServerMetadata(BaseModel):
    name: str
    version: str
    extensions: list[str]


class RequestInput(BaseModel):
    """One input tensor: ``data`` flat (row-major) or nested, ``shape`` ``[n]`` or ``[n, 1]``."""

    name: str
    shape: list[int]
    datatype: str
    parameters: dict[str, Any] | None = None
    data: list[Any]


class RequestOutput(BaseModel):
    name: str
    parameters: dict[str, Any] | None = None


class InferenceRequest(BaseModel):
    id: str | None = None
    parameters: dict[str, Any] | None = None
    inputs: list[RequestInput] = Field(min_length=1)
    outputs: list[RequestOutput] | None = None


class ResponseOutput(BaseModel):
    name: str
    shape: list[int]
    datatype: str
    data: list[Any]


class InferenceResponse(BaseModel):
    model_name: str
    model_version: str
    id: str
    outputs: list[ResponseOutput]


class OIPError(BaseModel):
    """Open Inference Protocol error body."""

    error: str
