"""Export a model version to ONNX, proven to compute what weakflow evaluated.

A model served from ONNX (onnxruntime, Triton, a browser, a phone) is only the model weakflow
evaluated if it computes the same probabilities. Converters do not promise that: skl2onnx has
no converter for ``HashingVectorizer``, approximates ``char_wb`` n-grams, accent stripping,
Unicode token patterns and sublinear TF, and computes in float32. So :func:`export_onnx`

1. refuses, before converting, any step known not to convert exactly, naming the step and the
   fix (for text: ``[end_model] portable = true``, see
   :func:`weakflow.train.portable_text_model`);
2. converts the estimator with skl2onnx, then appends the rest of what
   :class:`~weakflow.registry.PackagedModel` computes as ONNX operators in float64: the
   estimator's link function (sigmoid or softmax on its raw scores, as scikit-learn computes
   it), the layout of classes the estimator never saw, and the calibrator (temperature, Platt
   or isotonic). The exported graph outputs calibrated probabilities, not raw ones;
3. runs the graph with onnxruntime on the test inputs and compares its probabilities with
   ``model.predict_proba``. Above ``tolerance`` the export fails with the numbers, and no file
   is written. This is the guarantee, the checks before it only give earlier and clearer
   errors: some differences depend on the data (a vectorizer that lowercases diverges on
   Turkish "İ"; an isotonic calibrator's steep steps amplify float32 rounding);
4. writes the file atomically and measures its single-row latency.

The graph has one input (``text``: strings of shape ``[n, 1]``; or ``features``: float32 of
shape ``[n, n_features]``, columns in the training order) and two outputs: ``label`` (int64
class index, shape ``[n]``) and ``probabilities`` (float32, ``[n, k]``, one column per label
name). Label names, feature names and the calibration are in the model's metadata.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from weakflow._types import FloatArray
from weakflow.errors import MissingDependencyError, StoreError, WeakflowError
from weakflow.store import atomic_write

__all__ = ["ExportError", "OnnxExport", "export_onnx"]

#: ONNX opsets of the exported graph: onnxruntime >= 1.13 runs opset 17.
_OPSET = 17
_ML_OPSET = 3
#: Locale for ONNX's StringNormalizer when a vectorizer lowercases. onnxruntime's default,
#: en_US.UTF-8, is missing on many Linux images; C.UTF-8 is built into glibc >= 2.35.
_TEXT_LOCALE = "C.UTF-8"
#: Probabilities are clipped to these before taking logs, as the calibrators do.
_TEMPERATURE_EPS = 1e-12
_PLATT_EPS = 1e-7
_LATENCY_WARMUP = 20
_LATENCY_RUNS = 200

_TEXT_FIX = (
    "To get an end model that exports exactly, set `portable = true` under `[end_model]` in "
    "weakflow.toml and run `weakflow run` again, then export the new version."
)
_TABULAR_FIX = (
    'Use `type = "tabular"` under `[end_model]` in weakflow.toml (histogram gradient boosting '
    "exports exactly), or an estimator skl2onnx converts, and run `weakflow run` again."
)
# Regex escapes whose meaning differs between Python's re (Unicode) and RE2 (ASCII), which
# onnxruntime's Tokenizer uses.
_UNICODE_REGEX = re.compile(r"\\[wWbBdDsS]|\(\?[a-zA-Z]*u")


class ExportError(WeakflowError, ValueError):
    """The model cannot be exported as asked; the message says which part and how to fix it."""


@dataclass(frozen=True)
class OnnxExport:
    """What :func:`export_onnx` wrote and measured.

    Attributes
    ----------
    path : Path
        The ONNX file.
    size_bytes : int
        Its size.
    parity : dict
        ``n`` (test rows compared), ``max_abs_proba_diff`` (largest absolute difference between
        onnxruntime's and ``model.predict_proba``'s probabilities), ``label_agreement``
        (fraction of rows with the same predicted class), ``tolerance`` and ``passed``.
    latency_ms : dict
        Single-row inference time in onnxruntime (one thread): ``p50``, ``p90``, ``mean``
        over ``runs`` runs after a warm-up.
    input_name : str
        The graph's input: ``"text"`` or ``"features"``.
    input_kind : {"text", "tabular"}
        Strings of shape ``[n, 1]``, or float32 features of shape ``[n, n_features]``.
    feature_names : tuple of str
        Tabular only: the column of each feature, in input order.
    calibration : str or None
        The calibration built into the graph (``"temperature"``, ``"platt"``, ``"isotonic"``).
    """

    path: Path
    size_bytes: int
    parity: dict[str, Any]
    latency_ms: dict[str, float]
    input_name: str
    input_kind: Literal["text", "tabular"]
    feature_names: tuple[str, ...] = field(default=())
    calibration: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field (``path`` as a string)."""
        return {
            "path": str(self.path),
            "size_bytes": self.size_bytes,
            "parity": dict(self.parity),
            "latency_ms": dict(self.latency_ms),
            "input_name": self.input_name,
            "input_kind": self.input_kind,
            "feature_names": list(self.feature_names),
            "calibration": self.calibration,
        }


# -- inputs --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Inputs:
    kind: Literal["text", "tabular"]
    feed: npt.NDArray[Any]
    feature_names: tuple[str, ...]


def _text_inputs(values: list[Any]) -> _Inputs:
    for i, v in enumerate(values):
        if not isinstance(v, str):
            raise ExportError(
                f"Text input {i} is a {type(v).__name__} ({v!r}), not a string. The ONNX graph "
                "takes strings: fill missing texts with '' (as `weakflow run` does) before "
                "exporting."
            )
    return _Inputs("text", np.array(values, dtype=object).reshape(-1, 1), ())


def _tabular_inputs(X: Any, estimator: Any) -> _Inputs:
    trained = getattr(estimator, "feature_names_in_", None)
    if isinstance(X, pd.DataFrame):
        columns = list(trained) if trained is not None else list(X.columns)
        missing = [c for c in columns if c not in X.columns]
        if missing:
            raise ExportError(
                f"The test inputs lack feature columns the model was trained on: {missing}. "
                "Export with the same columns as training."
            )
        frame = X[columns]
        names = [str(c) for c in columns]
        bad = [c for c in columns if not pd.api.types.is_numeric_dtype(frame[c])]
        if bad:
            raise ExportError(
                f"Feature columns {bad} are not numeric; the ONNX graph takes one float32 matrix. "
                "Encode them as numbers in your data (or drop them from data.feature_columns) "
                "and run `weakflow run` again."
            )
        feed = frame.to_numpy(dtype=np.float32, na_value=np.nan)
    else:
        arr = np.asarray(X)
        if arr.ndim != 2:
            raise ExportError(f"Tabular test inputs must be 2-D, got shape {arr.shape}.")
        try:
            feed = arr.astype(np.float32)
        except (TypeError, ValueError):
            raise ExportError(
                f"Tabular test inputs must be numeric, got dtype {arr.dtype}; the ONNX graph "
                "takes one float32 matrix."
            ) from None
        n = feed.shape[1]
        names = [str(c) for c in trained] if trained is not None else [f"x{i}" for i in range(n)]
    expected = getattr(estimator, "n_features_in_", feed.shape[1])
    if feed.shape[1] != expected:
        raise ExportError(
            f"The test inputs have {feed.shape[1]} feature columns but the model was trained on "
            f"{expected}. Export with the same columns as training."
        )
    return _Inputs("tabular", np.ascontiguousarray(feed), tuple(names))


def _inputs(X: Any, estimator: Any) -> _Inputs:
    if isinstance(X, pd.DataFrame) or (isinstance(X, np.ndarray) and X.ndim == 2):
        data = _tabular_inputs(X, estimator)
    elif isinstance(X, pd.Series | list | tuple) or (isinstance(X, np.ndarray) and X.ndim == 1):
        data = _text_inputs(list(X))
    else:
        raise ExportError(
            f"X_test must be the end model's test inputs: a Series or list of texts, or a "
            f"DataFrame or 2-D array of features; got {type(X).__name__}."
        )
    if data.feed.shape[0] == 0:
        raise ExportError(
            "X_test has no rows; the parity check needs the test inputs the model was evaluated on."
        )
    return data


# -- what converts -------------------------------------------------------------------------------
def _components(obj: Any, path: str) -> list[tuple[str, Any]]:
    """``(path, estimator)`` for ``obj`` and every step inside it, depth first."""
    out = [(path, obj)]
    children: list[tuple[str, Any]] = []
    if hasattr(obj, "steps") and isinstance(obj.steps, list):
        children = [(name, step) for name, step in obj.steps]
    elif hasattr(obj, "transformer_list"):
        children = [(name, t) for name, t in obj.transformer_list]
    elif hasattr(obj, "transformers_"):
        children = [(name, t) for name, t, _ in obj.transformers_]
    for name, child in children:
        if child is None or isinstance(child, str):  # "drop" / "passthrough"
            continue
        out.extend(_components(child, f"{path}/{name}" if path else name))
    return out


def _inexact(obj: Any) -> str | None:
    """Why ``obj`` has no exact ONNX form, or None when it has one (as far as weakflow knows)."""
    name = type(obj).__name__
    if name in ("CountVectorizer", "TfidfVectorizer"):
        if callable(obj.analyzer):
            return "a custom analyzer function cannot be converted"
        if obj.analyzer == "char_wb":
            return 'analyzer="char_wb" has no ONNX converter'
        if obj.analyzer == "char":
            return (
                'analyzer="char" collapses runs of whitespace before counting n-grams; ONNX does '
                "not, so texts with two spaces in a row get other features"
            )
        if obj.tokenizer is not None or obj.preprocessor is not None:
            return "a custom tokenizer or preprocessor cannot be converted"
        if obj.strip_accents is not None:
            return f"strip_accents={obj.strip_accents!r} has no ONNX form"
        if obj.analyzer == "word" and _UNICODE_REGEX.search(obj.token_pattern or ""):
            return (
                f"token_pattern {obj.token_pattern!r} uses \\w, \\b, \\d or \\s, which mean "
                "Unicode classes in Python and ASCII ones in onnxruntime's tokenizer (RE2); use "
                "an explicit ASCII class such as [A-Za-z0-9]"
            )
    if name in ("TfidfVectorizer", "TfidfTransformer") and getattr(obj, "sublinear_tf", False):
        return "sublinear_tf=True does not convert exactly"
    return None


def _has_converter(obj: Any, skl2onnx: Any) -> bool:
    try:
        skl2onnx.get_model_alias(type(obj))
    except RuntimeError:
        return False
    return True


def _check_convertible(estimator: Any, kind: str, skl2onnx: Any) -> None:
    fix = _TEXT_FIX if kind == "text" else _TABULAR_FIX
    for path, obj in _components(estimator, ""):
        where = f"step '{path}' ({type(obj).__name__})" if path else type(obj).__name__
        if not _has_converter(obj, skl2onnx):
            raise ExportError(
                f"The end model cannot be exported to ONNX: {where} has no converter in "
                f"skl2onnx. {fix}"
            )
        reason = _inexact(obj)
        if reason:
            raise ExportError(
                f"The end model cannot be exported to ONNX exactly: in {where}, {reason}. {fix}"
            )


def _final_step(estimator: Any) -> Any:
    return estimator.steps[-1][1] if hasattr(estimator, "steps") else estimator


def _link(final: Any) -> Literal["logistic", "softmax"] | None:
    """How scikit-learn turns ``final``'s raw scores into probabilities, when weakflow knows.

    Computing that in float64 from the raw scores, rather than taking the converter's float32
    probabilities, keeps a small probability such as 1e-9 from rounding to 0, which calibration
    (a log, then a division by the temperature) would blow up into a visible difference.
    """
    name = type(final).__name__
    if name == "LogisticRegression":
        return "logistic" if len(final.classes_) == 2 else "softmax"
    if name == "HistGradientBoostingClassifier":
        return "logistic" if int(final.n_trees_per_iteration_) == 1 else "softmax"
    return None


class _IntAttributes:
    """A skl2onnx container that turns booleans in list attributes into ints.

    skl2onnx 1.20 writes HistGradientBoosting leaves' ``nodes_missing_value_tracks_true`` as
    Python ``False``, which onnx >= 1.18 rejects in an integer attribute.
    """

    def __init__(self, container: Any) -> None:
        self._container = container

    def __getattr__(self, name: str) -> Any:
        return getattr(self._container, name)

    def add_node(self, *args: Any, **attrs: Any) -> Any:
        fixed = {
            key: [int(v) if isinstance(v, bool | np.bool_) else v for v in value]
            if isinstance(value, list)
            else value
            for key, value in attrs.items()
        }
        return self._container.add_node(*args, **fixed)


def _convert(estimator: Any, data: _Inputs, link: str | None, skl2onnx: Any) -> Any:
    from skl2onnx.common._registration import get_converter
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType
    from sklearn.ensemble import HistGradientBoostingClassifier

    options: dict[int, dict[str, Any]] = {}
    for _, obj in _components(estimator, ""):
        if type(obj).__name__ in ("CountVectorizer", "TfidfVectorizer") and obj.lowercase:
            options[id(obj)] = {"locale": _TEXT_LOCALE}
    final = _final_step(estimator)
    options[id(final)] = {"zipmap": False, **({"raw_scores": True} if link else {})}
    if data.kind == "text":
        initial = [("text", StringTensorType([None, 1]))]
    else:
        initial = [("features", FloatTensorType([None, data.feed.shape[1]]))]

    hgb = get_converter("SklearnHistGradientBoostingClassifier")

    def convert_hgb(scope: Any, operator: Any, container: Any) -> Any:
        return hgb(scope, operator, _IntAttributes(container))

    fix = _TEXT_FIX if data.kind == "text" else _TABULAR_FIX
    try:
        return skl2onnx.convert_sklearn(
            estimator,
            initial_types=initial,
            options=options,
            target_opset={"": _OPSET, "ai.onnx.ml": _ML_OPSET},
            custom_conversion_functions={HistGradientBoostingClassifier: convert_hgb},
        )
    except Exception as exc:  # skl2onnx raises RuntimeError, NotImplementedError, TypeError...
        detail = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
        raise ExportError(
            f"skl2onnx could not convert the end model ({type(exc).__name__}: {detail}). {fix}"
        ) from exc


# -- the graph after the estimator ---------------------------------------------------------------
class _Head:
    """Nodes and constants appended after the converted estimator (all named ``wf_*``)."""

    def __init__(self, onnx: Any) -> None:
        self.onnx = onnx
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self._count = 0

    def _name(self, base: str) -> str:
        self._count += 1
        return f"wf_{base}_{self._count}"

    def const(self, value: Any, dtype: Any = np.float64) -> str:
        name = self._name("const")
        arr = np.asarray(value, dtype=dtype)
        self.initializers.append(self.onnx.numpy_helper.from_array(arr, name=name))
        return name

    def op(self, op_type: str, *inputs: str, output: str | None = None, **attrs: Any) -> str:
        out = output or self._name(op_type.lower())
        node = self.onnx.helper.make_node(
            op_type, list(inputs), [out], name=self._name(op_type), **attrs
        )
        self.nodes.append(node)
        return out

    def column(self, x: str, j: int) -> str:
        """Column ``j`` of ``x`` as an ``[n, 1]`` tensor."""
        return self.op("Gather", x, self.const([j], np.int64), axis=1)

    def binary(self, p1: str) -> str:
        """``[1 - p1, p1]``, as scikit-learn builds binary probabilities."""
        return self.op("Concat", self.op("Sub", self.const(1.0), p1), p1, axis=1)

    def scatter(self, x: str, classes: npt.NDArray[np.int64], k: int) -> str:
        """Columns of ``x`` moved to ``classes`` among ``k`` (the others 0): exact in float."""
        if classes.size == k and np.array_equal(classes, np.arange(k)):
            return x
        S = np.zeros((classes.size, k))
        S[np.arange(classes.size), classes] = 1.0
        return self.op("MatMul", x, self.const(S))

    def log_clipped(self, x: str, eps: float) -> str:
        return self.op("Log", self.op("Clip", x, self.const(eps), self.const(1.0)))

    def normalize_rows(self, x: str, k: int) -> str:
        """As weakflow's calibrators: clip to [0, 1], rows sum to 1, empty rows uniform."""
        x = self.op("Clip", x, self.const(0.0), self.const(1.0))
        sums = self.op("ReduceSum", x, self.const([1], np.int64), keepdims=1)
        empty = self.op("LessOrEqual", sums, self.const(0.0))
        x = self.op("Where", empty, self.const(1.0 / k), x)
        sums = self.op("Where", empty, self.const(1.0), sums)
        return self.op("Div", x, sums)

    def logistic_regression(self, f: str, lr: Any) -> str:
        """``lr.predict_proba`` on features ``f`` (a fitted scikit-learn LogisticRegression)."""
        coef = np.asarray(lr.coef_, dtype=np.float64)
        d = self.op(
            "Add", self.op("MatMul", f, self.const(coef.T)), self.const(lr.intercept_[None, :])
        )
        if len(lr.classes_) == 2:
            return self.binary(self.op("Sigmoid", d))
        return self.op("Softmax", d, axis=1)

    def isotonic(self, x: str, reg: Any) -> str:
        """``reg.predict`` on the ``[n, 1]`` tensor ``x``: piecewise-linear interpolation.

        ``y0 + sum_i slope_i * (clip(x, lo_i, hi_i) - lo_i)`` equals linear interpolation
        between the thresholds, and the clip to the outermost thresholds, for any ``x``.
        """
        xt = np.asarray(reg.X_thresholds_, dtype=np.float64)
        yt = np.asarray(reg.y_thresholds_, dtype=np.float64)
        if xt.size == 1:
            return self.op("Add", self.op("Mul", x, self.const(0.0)), self.const(yt[0]))
        lo, hi = xt[:-1][None, :], xt[1:][None, :]
        slope = (np.diff(yt) / np.diff(xt))[None, :]
        ramp = self.op(
            "Sub",
            self.op("Min", self.op("Max", x, self.const(lo)), self.const(hi)),
            self.const(lo),
        )
        total = self.op(
            "ReduceSum",
            self.op("Mul", ramp, self.const(slope)),
            self.const([1], np.int64),
            keepdims=1,
        )
        return self.op("Add", total, self.const(yt[0]))


def _calibrate(head: _Head, p: str, calibrator: Any, k: int) -> str:
    """Append ``calibrator.transform`` (a weakflow calibrator fitted on ``k`` classes)."""
    name = type(calibrator).__name__
    if name == "TemperatureScaling":
        logits = head.log_clipped(p, _TEMPERATURE_EPS)
        scaled = head.op("Div", logits, head.const(float(calibrator.temperature_)))
        out = head.op("Softmax", scaled, axis=1)
    elif name == "PlattScaling":
        logp = head.log_clipped(p, _PLATT_EPS)
        f = head.op("Sub", head.column(logp, 1), head.column(logp, 0)) if k == 2 else logp
        lr = calibrator.model_
        q = head.logistic_regression(f, lr)
        out = head.scatter(q, np.asarray(lr.classes_, dtype=np.int64), k)
    elif name == "IsotonicCalibration":
        regs = calibrator.regressors_
        if k == 2:
            out = head.binary(head.isotonic(head.column(p, 1), regs[0]))
        else:
            cols = [head.isotonic(head.column(p, c), r) for c, r in enumerate(regs)]
            out = head.op("Concat", *cols, axis=1)
    else:
        raise ExportError(
            f"The calibrator {name} has no ONNX form in weakflow (temperature, Platt and "
            "isotonic do). Register the model with one of those, or without calibration."
        )
    return head.normalize_rows(out, k)


def _rename_outputs(graph: Any) -> list[str]:
    """Rename the converter's outputs to ``wf_model_*``, freeing ``label``, ``probabilities``."""
    mapping = {o.name: f"wf_model_{o.name}" for o in graph.output}
    for node in graph.node:
        node.input[:] = [mapping.get(n, n) for n in node.input]
        node.output[:] = [mapping.get(n, n) for n in node.output]
    return [mapping[o.name] for o in graph.output]


def _prune(graph: Any) -> None:
    """Drop nodes none of whose outputs is used (the converter's own label output)."""
    while True:
        used = {o.name for o in graph.output}
        for node in graph.node:
            used.update(node.input)
        keep = [n for n in graph.node if any(o in used for o in n.output)]
        if len(keep) == len(graph.node):
            return
        del graph.node[:]
        graph.node.extend(keep)


def _build(
    converted: Any,
    onnx: Any,
    *,
    link: str | None,
    classes: npt.NDArray[np.int64],
    k: int,
    calibrator: Any,
    metadata: dict[str, str],
) -> Any:
    graph = converted.graph
    _, scores = _rename_outputs(graph)
    head = _Head(onnx)
    x = head.op("Cast", scores, to=onnx.TensorProto.DOUBLE)
    if link == "logistic":
        p = head.binary(head.op("Sigmoid", head.column(x, 1)))
    elif link == "softmax":
        p = head.op("Softmax", x, axis=1)
    else:
        p = x
    p = head.scatter(p, classes, k)
    if calibrator is not None:
        p = _calibrate(head, p, calibrator, k)
    head.op("ArgMax", p, output="label", axis=1, keepdims=0)
    head.op("Cast", p, output="probabilities", to=onnx.TensorProto.FLOAT)
    graph.node.extend(head.nodes)
    graph.initializer.extend(head.initializers)
    del graph.output[:]
    graph.output.extend(
        [
            onnx.helper.make_tensor_value_info("label", onnx.TensorProto.INT64, [None]),
            onnx.helper.make_tensor_value_info("probabilities", onnx.TensorProto.FLOAT, [None, k]),
        ]
    )
    _prune(graph)
    # The appended nodes need opset 17 (skl2onnx declares only what its nodes need, which for
    # the same target opset never differs in meaning), and one entry per domain.
    versions: dict[str, int] = {}
    for imp in converted.opset_import:
        domain = "" if imp.domain == "ai.onnx" else imp.domain
        versions[domain] = max(versions.get(domain, 0), int(imp.version))
    versions[""] = max(versions.get("", 0), _OPSET)
    del converted.opset_import[:]
    converted.opset_import.extend(onnx.helper.make_opsetid(d, v) for d, v in versions.items())
    for key, value in metadata.items():
        prop = converted.metadata_props.add()
        prop.key, prop.value = key, value
    converted.doc_string = (
        "Exported by weakflow. Input: one text per row ([n, 1] strings) or one row of float32 "
        "features. Outputs: label (class index) and probabilities (calibrated, one column per "
        "label name; see the weakflow.label_names metadata)."
    )
    try:
        onnx.checker.check_model(converted)
    except Exception as exc:
        raise ExportError(
            f"The exported graph is invalid ({type(exc).__name__}: {str(exc).strip()[:300]}). "
            "This is a weakflow bug; please report it."
        ) from exc
    return converted


# -- running it ----------------------------------------------------------------------------------
def _session(data: bytes, ort: Any) -> Any:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    try:
        return ort.InferenceSession(data, opts, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise ExportError(
            f"onnxruntime cannot load the converted model ({type(exc).__name__}: "
            f"{str(exc).strip()[:300]}). This is a weakflow or skl2onnx bug; please report it."
        ) from exc


def _parity(
    session: Any, feed: npt.NDArray[Any], reference: FloatArray, tolerance: float
) -> tuple[dict[str, Any], list[int]]:
    """The parity numbers, and the positions of the (up to 5) rows that differ most."""
    label, proba = session.run(["label", "probabilities"], {session.get_inputs()[0].name: feed})
    proba = np.asarray(proba, dtype=np.float64)
    if proba.shape != reference.shape:
        raise ExportError(
            f"The ONNX model outputs probabilities of shape {proba.shape}, the model "
            f"{reference.shape}. This is a weakflow bug; please report it."
        )
    row_diff = np.abs(proba - reference).max(axis=1)
    ref_label = reference.argmax(axis=1)
    agree = np.asarray(label) == ref_label
    # A row whose top two classes are within 2 * tolerance may flip with a difference that is
    # within tolerance: that is a tie, not a mismatch.
    top2 = np.sort(reference, axis=1)[:, -2:]
    tie = (top2[:, -1] - top2[:, 0]) <= 2 * tolerance
    diff = float(row_diff.max())
    parity = {
        "n": int(feed.shape[0]),
        "max_abs_proba_diff": diff,
        "label_agreement": float(agree.mean()),
        "tolerance": float(tolerance),
        "passed": bool(diff <= tolerance and bool(np.all(agree | tie))),
    }
    worst = np.argsort(-row_diff, kind="stable")[:5]
    return parity, [int(i) for i in worst if row_diff[i] > tolerance or not agree[i]]


def _parity_hint(kind: str, calibration: str | None) -> str:
    if calibration == "isotonic":
        return (
            "Isotonic calibration is a step function with steep steps where the dev set is dense, "
            "so the tiny float32 differences in the model's probabilities can move its output. "
            'Set `methods = ["platt", "temperature"]` under `[calibration]` in weakflow.toml and '
            "run `weakflow run` again."
        )
    if kind == "text":
        return (
            "A text vectorizer that lowercases splits words differently in ONNX on a few "
            "characters (e.g. Turkish 'İ'); the portable text model does not lowercase. Set "
            "`portable = true` under `[end_model]` in weakflow.toml and run `weakflow run` "
            "again, then export the new version."
        )
    return (
        "The graph reads features as float32, so a value within float32 rounding of a split "
        "threshold can take the other branch. " + _TABULAR_FIX
    )


def _latency(session: Any, row: npt.NDArray[Any]) -> dict[str, float]:
    feed = {session.get_inputs()[0].name: row}
    for _ in range(_LATENCY_WARMUP):
        session.run(None, feed)
    times = np.empty(_LATENCY_RUNS)
    for i in range(_LATENCY_RUNS):
        start = time.perf_counter()
        session.run(None, feed)
        times[i] = time.perf_counter() - start
    ms = times * 1000.0
    return {
        "p50": float(np.percentile(ms, 50)),
        "p90": float(np.percentile(ms, 90)),
        "mean": float(ms.mean()),
        "runs": float(_LATENCY_RUNS),
    }


def _import_onnx() -> tuple[Any, Any, Any]:
    try:
        import onnx
        import onnxruntime
        import skl2onnx
    except ImportError as exc:
        raise MissingDependencyError(
            f"ONNX export needs skl2onnx, onnx and onnxruntime ({exc.name} is missing). Install "
            'them with: pip install "weakflow[onnx]"'
        ) from None
    return onnx, onnxruntime, skl2onnx


def _unpack(model: Any) -> tuple[Any, Any, int, npt.NDArray[np.int64], list[str] | None]:
    """``(estimator, calibrator, k, estimator's class indices among k, label names)``."""
    from weakflow.registry._packaged import PackagedModel

    if isinstance(model, PackagedModel):
        estimator, k = model.estimator, model.n_classes
        raw = np.asarray(getattr(estimator, "classes_", np.arange(k)))
        try:
            classes = raw.astype(np.int64)
        except (TypeError, ValueError):
            classes = np.array([-1])
        if (
            not np.array_equal(classes, raw)
            or np.unique(classes).size != classes.size
            or (classes.min() < 0 or classes.max() >= k)
        ):
            raise ExportError(
                f"The packaged estimator's classes_ {raw.tolist()} are not class indices "
                f"0..{k - 1}; PackagedModel expects an estimator trained on class indices."
            )
        return estimator, model.calibrator, k, classes, list(model.label_names)
    if not hasattr(model, "predict_proba") or not hasattr(model, "classes_"):
        raise ExportError(
            f"{type(model).__name__} is not a fitted classifier with predict_proba; export a "
            "PackagedModel or a fitted scikit-learn classifier."
        )
    k = len(model.classes_)
    return model, None, k, np.arange(k, dtype=np.int64), None


def export_onnx(
    model: Any, X_test: Any, out_path: str | Path, *, tolerance: float = 1e-5
) -> OnnxExport:
    """Convert ``model`` to ONNX, check it against ``model`` on ``X_test``, write it, time it.

    Parameters
    ----------
    model : PackagedModel or fitted scikit-learn classifier
        What to export. A :class:`~weakflow.registry.PackagedModel`'s calibrator is built into
        the graph, so the file outputs exactly what ``model.predict_proba`` returns.
    X_test : Series or list of str, or DataFrame or 2-D array of numbers
        The end model's test inputs (texts, or feature columns); the parity check runs on them
        and the latency is measured on the first row.
    out_path : str or Path
        Where to write the ``.onnx`` file (parent folders are created). Written only when the
        parity check passes, through a temporary file and a rename.
    tolerance : float
        Largest absolute difference in any probability allowed between onnxruntime and
        ``model.predict_proba``.

    Returns
    -------
    OnnxExport

    Raises
    ------
    ExportError
        A step of the model cannot be converted exactly (the message names it and says how to
        fix it), or the converted model's probabilities differ by more than ``tolerance``.
    MissingDependencyError
        skl2onnx, onnx or onnxruntime is not installed (``pip install "weakflow[onnx]"``).
    """
    if not tolerance >= 0:
        raise ExportError(f"tolerance must be a non-negative number, got {tolerance!r}.")
    onnx, ort, skl2onnx = _import_onnx()
    estimator, calibrator, k, classes, label_names = _unpack(model)
    data = _inputs(X_test, estimator)
    _check_convertible(estimator, data.kind, skl2onnx)
    link = _link(_final_step(estimator))
    converted = _convert(estimator, data, link, skl2onnx)
    calibration = None
    if calibrator is not None:
        calibration = {
            "TemperatureScaling": "temperature",
            "PlattScaling": "platt",
            "IsotonicCalibration": "isotonic",
        }.get(type(calibrator).__name__, type(calibrator).__name__)
    metadata = {
        "weakflow.input_kind": data.kind,
        "weakflow.label_names": json.dumps(
            label_names if label_names is not None else [str(c) for c in estimator.classes_]
        ),
        "weakflow.calibration": calibration or "none",
    }
    if data.kind == "tabular":
        metadata["weakflow.feature_names"] = json.dumps(list(data.feature_names))
    built = _build(
        converted,
        onnx,
        link=link,
        classes=classes,
        k=k,
        calibrator=calibrator,
        metadata=metadata,
    )
    payload: bytes = built.SerializeToString()
    session = _session(payload, ort)
    reference = np.asarray(model.predict_proba(X_test), dtype=np.float64)
    try:
        parity, worst = _parity(session, data.feed, reference, tolerance)
    except ExportError:
        raise
    except Exception as exc:
        raise ExportError(
            f"onnxruntime failed on the test inputs ({type(exc).__name__}: "
            f"{str(exc).strip()[:300]}); the model was not exported."
        ) from exc
    if not parity["passed"]:
        raise ExportError(
            f"The ONNX model does not compute what was evaluated: on {parity['n']} test rows "
            f"its probabilities differ by up to {parity['max_abs_proba_diff']:.3g} (tolerance "
            f"{tolerance:g}) and its predicted class agrees on "
            f"{100 * parity['label_agreement']:.2f}% of rows; the rows that differ most are at "
            f"positions {worst} of the test inputs. Nothing was written. "
            + _parity_hint(data.kind, calibration)
        )
    path = Path(out_path)
    try:
        atomic_write(path, payload)
    except OSError as exc:
        raise StoreError(f"Could not write the ONNX model to {path}: {exc}.") from exc
    latency = _latency(session, data.feed[:1])
    return OnnxExport(
        path=path,
        size_bytes=len(payload),
        parity=parity,
        latency_ms=latency,
        input_name=session.get_inputs()[0].name,
        input_kind=data.kind,
        feature_names=data.feature_names,
        calibration=calibration,
    )
