"""Device exports of trained models: targets, calibration, fidelity, artifacts."""
