"""Evaluation: metrics, slices, calibration and the run report.

The ``evaluate`` stage scores the label model and the end model on gold labels
(:func:`classification_metrics`), looks for slices where the end model does worse
(:func:`slice_metrics` over :func:`slicing_function` s and :func:`auto_slices`), measures and fixes
calibration (:func:`calibration_summary`, :func:`choose_calibration`), attacks the inputs
(:func:`evaluate_robustness`) and the training data's privacy (:func:`membership_inference`),
and renders every number
into ``report.json`` and a self-contained ``report.html`` (:func:`write_report`).
"""

from weakflow.evaluate._calibration import (
    CALIBRATORS,
    Calibrator,
    IsotonicCalibration,
    PlattScaling,
    TemperatureScaling,
    calibration_summary,
    make_calibrator,
)
from weakflow.evaluate._choose import CalibrationChoice, choose_calibration
from weakflow.evaluate._membership import membership_inference, membership_risk
from weakflow.evaluate._metrics import classification_metrics
from weakflow.evaluate._report import render_report_html, report_to_json, write_report
from weakflow.evaluate._robustness import (
    ATTACKS,
    HOMOGLYPHS,
    SYNONYMS,
    evaluate_robustness,
    perturb_frame,
    perturb_texts,
)
from weakflow.evaluate._slices import (
    SLICE_METRICS,
    SlicingFunction,
    apply_slicing_functions,
    auto_slices,
    slice_metrics,
    slicing_function,
)

__all__ = [
    "ATTACKS",
    "CALIBRATORS",
    "HOMOGLYPHS",
    "SLICE_METRICS",
    "SYNONYMS",
    "CalibrationChoice",
    "Calibrator",
    "IsotonicCalibration",
    "PlattScaling",
    "SlicingFunction",
    "TemperatureScaling",
    "apply_slicing_functions",
    "auto_slices",
    "calibration_summary",
    "choose_calibration",
    "classification_metrics",
    "evaluate_robustness",
    "make_calibrator",
    "membership_inference",
    "membership_risk",
    "perturb_frame",
    "perturb_texts",
    "render_report_html",
    "report_to_json",
    "slice_metrics",
    "slicing_function",
    "write_report",
]
