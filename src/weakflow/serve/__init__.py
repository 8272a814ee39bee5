"""Serve: a project's registered model over HTTP (FastAPI under uvicorn).

``weakflow serve`` answers predictions with the version an alias points at (following it when
it moves), runs the version's labeling functions beside the model and logs both, takes feedback
labels, speaks the Open Inference Protocol v2, exports Prometheus metrics, and can split
traffic with a canary or copy it to a shadow version. See docs/serving.md.
"""

from weakflow.serve._app import create_app
from weakflow.serve._models import LoadedVersion, ModelManager, bucket
from weakflow.serve._schemas import InputSchema
from weakflow.serve._server import app_from_env, preflight, run_server
from weakflow.serve._settings import ServeSettings, get_settings

__all__ = [
    "InputSchema",
    "LoadedVersion",
    "ModelManager",
    "ServeSettings",
    "app_from_env",
    "bucket",
    "create_app",
    "get_settings",
    "preflight",
    "run_server",
]
