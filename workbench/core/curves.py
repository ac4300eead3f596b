"""Learning curves of active-learning simulations: aggregation over seeds and label saving."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


def labels_to_reach(labels: Sequence[float], scores: Sequence[float], target: float
                    ) -> float | None:
    """Labels at which a curve first reaches ``target``, linearly interpolated.

    Args:
        labels: ``(R,)`` labeled-image counts per round, ascending.
        scores: ``(R,)`` the metric after each round.
        target: the value to reach.

    Returns:
        The interpolated label count, or None if the curve never reaches ``target``.
    """
    x = np.asarray(labels, dtype=np.float64)
    y = np.asarray(scores, dtype=np.float64)
    hit = np.flatnonzero(y >= target)
    if len(hit) == 0:
        return None
    k = int(hit[0])
    if k == 0 or y[k] == y[k - 1]:
        return float(x[k])
    t = (target - y[k - 1]) / (y[k] - y[k - 1])
    return float(x[k - 1] + t * (x[k] - x[k - 1]))


@dataclass
class Saving:
    """Label saving of one strategy against random, over seeds.

    Attributes:
        fractions: per seed, labels needed to reach random's final score divided by
            random's final label count (None: never reached, or undefined).
        mean, std: over the seeds that reached it (NaN if none did).
        reached: how many seeds reached it.
        undefined: seeds where random ended no higher than it started, so there is no
            improvement to match (the curves are noise at that scale).
    """

    fractions: list[float | None]
    mean: float
    std: float
    reached: int
    undefined: int = 0

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form (NaN as None)."""
        def clean(v: float) -> float | None:
            return None if math.isnan(v) else round(v, 4)

        return {"fractions": [None if f is None else round(f, 4) for f in self.fractions],
                "mean": clean(self.mean), "std": clean(self.std), "reached": self.reached,
                "undefined": self.undefined, "seeds": len(self.fractions)}


def label_saving(strategy: Sequence[tuple[Sequence[float], Sequence[float]]],
                 random: Sequence[tuple[Sequence[float], Sequence[float]]]) -> Saving:
    """Fraction of random's labels a strategy needs to match random's final score.

    Args:
        strategy: per seed, ``(labels (R,), scores (R,))`` of the strategy.
        random: per seed (same order), the same for random selection.
    """
    fractions: list[float | None] = []
    undefined = 0
    for (sx, sy), (rx, ry) in zip(strategy, random, strict=True):
        if float(ry[-1]) <= float(ry[0]):
            undefined += 1
            fractions.append(None)
            continue
        needed = labels_to_reach(sx, sy, float(ry[-1]))
        fractions.append(None if needed is None else needed / float(rx[-1]))
    got = np.array([f for f in fractions if f is not None], dtype=np.float64)
    mean = float(got.mean()) if len(got) else math.nan
    std = float(got.std()) if len(got) else math.nan
    return Saving(fractions, mean, std, len(got), undefined)


def mean_std(curves: Sequence[Sequence[float]]) -> tuple[np.ndarray, np.ndarray]:
    """Per-round mean and standard deviation over seeds of ``(S, R)`` curves (ragged: the
    rounds all seeds have)."""
    r = min(len(c) for c in curves)
    arr = np.asarray([list(c)[:r] for c in curves], dtype=np.float64)
    return arr.mean(axis=0), arr.std(axis=0)
