"""The end model and its calibrator as one object: what a registered model version serves.

The pipeline evaluates ``calibrator.transform(end_model_proba(estimator, X, k))``, not the bare
estimator. Registering the two separately would let a deployment serve the estimator without
its calibrator (or with another run's), and the probabilities it returned would not be the ones
the report and the promotion gates judged. :class:`PackagedModel` holds both, plus the class
names, so the one artifact a version points at predicts exactly what was evaluated.

It is saved like any end model, with skops through :class:`~weakflow.store.ArtifactStore`: its
state is plain attributes (the estimator, the calibrator or ``None``, a list of strings), and
its type lives in ``weakflow.``, one of the modules the store trusts when loading.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.base import BaseEstimator

from weakflow._types import FloatArray, IntArray
from weakflow.errors import SchemaError
from weakflow.train import end_model_proba

__all__ = ["PackagedModel"]


class PackagedModel(BaseEstimator):  # type: ignore[misc]
    """A fitted end model, its (optional) calibrator and the names of its classes.

    Follows scikit-learn's conventions for a fitted classifier: ``predict_proba`` returns one
    column per class of ``label_names`` (in that order), ``predict`` the index of the most
    likely class, and ``classes_`` is ``arange(k)``.

    Parameters
    ----------
    estimator : fitted scikit-learn classifier or Pipeline
        The end model. Classes it never saw in training (missing from its ``classes_``) get
        probability 0, as in :func:`weakflow.train.end_model_proba`.
    calibrator : weakflow.evaluate.Calibrator, optional
        A fitted :class:`~weakflow.evaluate.TemperatureScaling`,
        :class:`~weakflow.evaluate.PlattScaling` or :class:`~weakflow.evaluate.IsotonicCalibration`
        applied to the estimator's probabilities; ``None`` serves them uncalibrated.
    label_names : list of str
        The name of each class, by class index (``weakflow.toml``'s ``data.label_names``).

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> clf = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
    >>> model = PackagedModel(clf, label_names=["ham", "spam"])
    >>> model.predict([[0.2], [2.9]]).tolist(), model.classes_.tolist()
    ([0, 1], [0, 1])
    """

    def __init__(self, estimator: Any, calibrator: Any = None, *, label_names: list[str]) -> None:
        names = list(label_names)
        if len(names) < 2 or not all(isinstance(n, str) and n for n in names):
            raise SchemaError(
                f"label_names must list the name of every class (at least two non-empty "
                f"strings, e.g. ['ham', 'spam']), got {label_names!r}."
            )
        if len(set(names)) != len(names):
            raise SchemaError(f"label_names has duplicates: {names!r}. Give each class its name.")
        if not hasattr(estimator, "predict_proba"):
            raise SchemaError(
                f"The end model {type(estimator).__name__} has no predict_proba; package a "
                "classifier that returns class probabilities."
            )
        if calibrator is not None:
            if not hasattr(calibrator, "transform"):
                raise SchemaError(
                    "calibrator must be a fitted weakflow calibrator (TemperatureScaling, "
                    "PlattScaling or IsotonicCalibration) or None, got "
                    f"{type(calibrator).__name__}."
                )
            fitted_k = getattr(calibrator, "n_classes_", None)
            if fitted_k is None:
                raise SchemaError(
                    f"The {type(calibrator).__name__} is not fitted; fit it on dev-set "
                    "probabilities first, or package the model without a calibrator."
                )
            if int(fitted_k) != len(names):
                raise SchemaError(
                    f"The calibrator was fitted on {fitted_k} classes but label_names has "
                    f"{len(names)} ({names!r}); package the calibrator fitted for this model."
                )
        self.estimator = estimator
        self.calibrator = calibrator
        self.label_names = names

    @property
    def n_classes(self) -> int:
        """Number of classes ``k`` (the length of ``label_names``)."""
        return len(self.label_names)

    @property
    def classes_(self) -> IntArray:
        """Class indices ``0 .. k-1``; ``label_names[i]`` names class ``i``."""
        return np.arange(self.n_classes, dtype=np.int64)

    def predict_proba(self, X: Any) -> FloatArray:
        """Calibrated class probabilities, shape (n, k); columns follow ``label_names``."""
        proba = end_model_proba(self.estimator, X, self.n_classes)
        if self.calibrator is None:
            return proba
        out: FloatArray = np.asarray(self.calibrator.transform(proba), dtype=np.float64)
        return out

    def predict(self, X: Any) -> IntArray:
        """Index of the most likely class for each row (the argmax of :meth:`predict_proba`)."""
        pred: IntArray = np.asarray(self.predict_proba(X).argmax(axis=1), dtype=np.int64)
        return pred

    def predict_labels(self, X: Any) -> npt.NDArray[np.str_]:
        """Name of the most likely class for each row."""
        return np.asarray(self.label_names)[self.predict(X)]

    @property
    def calibration(self) -> str | None:
        """Which calibration is applied: ``"temperature"``, ``"platt"``, ``"isotonic"`` or None."""
        if self.calibrator is None:
            return None
        name = type(self.calibrator).__name__
        return {
            "TemperatureScaling": "temperature",
            "PlattScaling": "platt",
            "IsotonicCalibration": "isotonic",
        }.get(name, name)
