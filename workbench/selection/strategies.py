"""Selection strategies: the registry the CLI, the App and the loop read their choices from.

Each strategy is one :func:`register_strategy` call. Its facts (``meta``):

- ``help``: one line for the App and the docs; ``requires``: what it needs, shown in the
  ``--strategy`` help (``predict --tta``).
- ``per_box``: scores boxes (aggregated per image; combines with ``--aggregate``,
  ``--class-weight``, ``--conf-band``, ``--class-balance``, ``--diversity``).
- ``score_key``: key in ``scores_<run>`` precomputed when predictions are written (per-box
  strategies: max over boxes), or None.
- ``needs_tta``: needs ``predict --tta``; ``multi_run``: scores several runs (``--run A,B``).
- ``baseline``: not a strategy to beat but the reference (``random``; ``select --random N``).
- ``hand_picked``: queues the images given as ``sample_ids`` (the App's selection).
"""

from __future__ import annotations

from workbench.core import scoring
from workbench.registry import Registry
from workbench.selection.choosers import Strategy, at_random, by_hand, by_scores, ensemble

STRATEGIES: Registry[Strategy] = Registry("strategy")


def register_strategy(name: str, strategy: Strategy, *, help: str, requires: str = "",
                      per_box: bool = False, score_key: str | None = None,
                      needs_tta: bool = False, multi_run: bool = False,
                      baseline: bool = False, hand_picked: bool = False) -> Strategy:
    """Register a strategy with every fact the CLI, the App and the loop read (see module)."""
    return STRATEGIES.register(name, strategy, help=help, requires=requires, per_box=per_box,
                               score_key=score_key, needs_tta=needs_tta, multi_run=multi_run,
                               baseline=baseline, hand_picked=hand_picked)


register_strategy("least-confidence", Strategy(by_scores, scoring.least_confidence),
                  per_box=True, score_key="least_confidence",
                  help="1 - the top class probability of each box.")
register_strategy("margin", Strategy(by_scores, scoring.margin),
                  per_box=True, score_key="margin",
                  help="1 - the gap between the two most probable classes of each box.")
register_strategy("entropy", Strategy(by_scores, scoring.entropy),
                  per_box=True, score_key="entropy",
                  help="Normalized entropy of each box's class probabilities.")
register_strategy("tta-disagreement", Strategy(by_scores), score_key="tta_disagreement",
                  needs_tta=True, requires="predict --tta",
                  help="Disagreement between test-time-augmented passes, per image.")
register_strategy("ensemble-disagreement", Strategy(ensemble), multi_run=True,
                  requires="--run A,B,...",
                  help="Disagreement between the prediction runs of ensemble members, per image.")
register_strategy("random", Strategy(at_random), baseline=True,
                  help="Uniformly at random (the baseline).")
register_strategy("hand-picked", Strategy(by_hand), hand_picked=True,
                  requires="--sample-id ID ... or the App's selection",
                  help="The images you chose (the App's lasso or grid selection), in that order.")


def image_level(name: str) -> bool:
    """Whether strategy ``name`` scores whole images (no per-box options apply)."""
    meta = STRATEGIES.meta(name)
    return not meta["per_box"] and not meta["baseline"]


def strategy_help() -> str:
    """The ``--strategy`` help: every strategy but the baseline, with what it requires."""
    return " | ".join(e.name + (f" ({e.meta['requires']})" if e.meta["requires"] else "")
                      for e in STRATEGIES if not e.meta["baseline"])
