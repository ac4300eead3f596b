"""The selection capability's public surface: select, its config/result, the registries of
strategies and diversity methods, and the per-image scores written with predictions."""

from __future__ import annotations

from workbench.selection.config import SelectConfig, SelectResult, parse_class_weights
from workbench.selection.diversity import DIVERSITY
from workbench.selection.precompute import image_scores, indexed_keys
from workbench.selection.select import latest_prediction_run
from workbench.selection.select import select as _select
from workbench.selection.strategies import STRATEGIES, image_level, strategy_help
from workbench.store import lock

#: ``select(ws, config)``: choose and (unless ``dry_run``) queue a round, under the write lock.
select = lock.writes(_select)

__all__ = ["DIVERSITY", "STRATEGIES", "SelectConfig", "SelectResult", "image_level",
           "image_scores", "indexed_keys", "latest_prediction_run", "parse_class_weights",
           "select", "strategy_help"]
