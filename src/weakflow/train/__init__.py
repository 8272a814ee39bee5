"""Train: end models fitted on the label model's probabilistic labels."""

from weakflow.train._models import (
    build_end_model,
    portable_text_model,
    tabular_model,
    text_model,
)
from weakflow.train._noise_aware import NoiseAwareFit, end_model_proba, fit_noise_aware

__all__ = [
    "NoiseAwareFit",
    "build_end_model",
    "end_model_proba",
    "fit_noise_aware",
    "portable_text_model",
    "tabular_model",
    "text_model",
]
