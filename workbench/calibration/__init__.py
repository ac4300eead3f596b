"""Confidence calibration and per-class operating thresholds of prediction runs."""
