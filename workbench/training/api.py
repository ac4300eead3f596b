"""The training capability's public surface: train, size sweeps, evaluate, model resolution."""

from __future__ import annotations

from workbench.training.evaluation import EvalResult, evaluate
from workbench.training.runner import TrainConfig, TrainResult, last_checkpoint, train
from workbench.training.sweep import sweep
from workbench.training.weights import offline_environment, resolve_model

__all__ = ["EvalResult", "TrainConfig", "TrainResult", "evaluate", "last_checkpoint",
           "offline_environment", "resolve_model", "sweep", "train"]
