"""Prediction: detectors run over a view (``backends``), and predictions imported from elsewhere."""
