"""Detector backends behind one :class:`~workbench.models.base.Predictor` interface."""
