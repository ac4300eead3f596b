"""Detector backends behind one :class:`~workbench.prediction.backends.base.Predictor` interface."""
