"""Tests of the evaluate stage: metrics, slices, calibration, report."""
