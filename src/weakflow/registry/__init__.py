"""Registry: model versions with lineage, aliases with history, gates, model cards, export.

A trained model becomes a *version* of the project's registered model, packaged with its
calibrator (:class:`PackagedModel`) so that what is served and exported is exactly what was
evaluated. *Aliases* (``production``, ``staging``, any name) point at versions; every move is
kept, so rollback is one step and "what was live on March 3rd" has an answer. *Gates* decide
whether ``weakflow run`` may move the project's alias; every decision lands in the audit log.
"""

from weakflow.registry._card import build_model_card, render_model_card
from weakflow.registry._gates import GateResult, evaluate_gates, metrics_from_report, parse_gate
from weakflow.registry._onnx import ExportError, OnnxExport, export_onnx
from weakflow.registry._open import current_actor, open_registry, store_url
from weakflow.registry._packaged import PackagedModel
from weakflow.registry._registry import AliasMove, Registry, VersionInfo

__all__ = [
    "AliasMove",
    "ExportError",
    "GateResult",
    "OnnxExport",
    "PackagedModel",
    "Registry",
    "VersionInfo",
    "build_model_card",
    "current_actor",
    "evaluate_gates",
    "export_onnx",
    "metrics_from_report",
    "open_registry",
    "parse_gate",
    "render_model_card",
    "store_url",
]
