"""Per-class stratified, group-aware, deterministic train/val/test assignment.

Groups (e.g. all frames of one capture session) are the units that get assigned: all images
of a group land in one split. Units are taken rarest class first; each goes to the split where
its rarest class is furthest below its target count. A split that has none of a class yet is
served first, so every class with at least as many units as there are splits (with a
non-zero ratio) appears in every split. Units with a fixed split (images already assigned)
stay where they are and count towards the targets.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

UNASSIGNED = -1
IntArray = npt.NDArray[np.int64]


def assign_splits(
    class_matrix: npt.ArrayLike,
    ratios: npt.ArrayLike,
    rng: np.random.Generator,
    groups: npt.ArrayLike | None = None,
    fixed: npt.ArrayLike | None = None,
) -> IntArray:
    """Assign each image to a split.

    Args:
        class_matrix: ``(N, C)`` bool/int, image ``i`` contains class ``c``.
        ratios: ``(S,)`` target fractions of images per split, summing to 1.
        rng: the source of randomness for tie-breaks (a seed reproduces the result).
        groups: ``(N,)`` int group ids; ``-1`` means the image is its own group.
        fixed: ``(N,)`` int split index already held by the image, ``-1`` if free.

    Returns:
        ``(N,)`` split index per image, in ``[0, S)``. Fixed images keep theirs; free images
        of a group that already has a fixed image join that image's split.
    """
    m = np.asarray(class_matrix).astype(bool)
    n = m.shape[0]
    if m.ndim != 2:
        m = m.reshape(n, -1)
    r = np.asarray(ratios, dtype=np.float64)
    s_count = r.shape[0]
    g = np.full(n, -1, dtype=np.int64) if groups is None else np.asarray(groups, dtype=np.int64)
    f = np.full(n, UNASSIGNED, dtype=np.int64) if fixed is None else np.asarray(fixed, np.int64)
    if n == 0:
        return np.zeros(0, dtype=np.int64)

    # Units: one per group id, one per ungrouped image.
    own = g < 0
    keys = np.where(own, -(np.arange(n) + 1), g)
    _, unit = np.unique(keys, return_inverse=True)
    n_units = int(unit.max()) + 1
    unit_classes = np.zeros((n_units, m.shape[1]), dtype=np.int64)
    np.add.at(unit_classes, unit, m.astype(np.int64))
    unit_size = np.bincount(unit, minlength=n_units)

    # A unit with fixed members goes where most of them are.
    unit_split = np.full(n_units, UNASSIGNED, dtype=np.int64)
    has_fixed = f >= 0
    if has_fixed.any():
        votes = np.zeros((n_units, s_count), dtype=np.int64)
        np.add.at(votes, (unit[has_fixed], f[has_fixed]), 1)
        fixed_units = votes.sum(axis=1) > 0
        unit_split[fixed_units] = votes[fixed_units].argmax(axis=1)

    class_totals = unit_classes.sum(axis=0)
    class_units = (unit_classes > 0).sum(axis=0)
    target_c = np.outer(r, class_totals)  # (S, C)
    target_n = r * n  # (S,)
    cur_c = np.zeros((s_count, m.shape[1]), dtype=np.float64)
    cur_n = np.zeros(s_count, dtype=np.float64)
    done = unit_split >= 0
    np.add.at(cur_c, unit_split[done], unit_classes[done])
    np.add.at(cur_n, unit_split[done], unit_size[done])
    allowed = r > 0

    free = np.flatnonzero(~done)
    # Rarest class of each free unit (by number of units holding it); negatives last.
    rarity = np.where(unit_classes[free] > 0, class_units[None, :], np.iinfo(np.int64).max)
    rarest = rarity.argmin(axis=1)
    key_rarity = rarity.min(axis=1)
    shuffle = rng.permutation(len(free))
    order = free[np.lexsort((shuffle, key_rarity))]
    order_rarest = dict(zip(free.tolist(), rarest.tolist(), strict=True))
    for u in order.tolist():
        tie = rng.random(s_count) * 1e-6
        if unit_classes[u].any():
            c = order_rarest[u]
            need = target_c[:, c] - cur_c[:, c]
            missing = (cur_c[:, c] == 0) & (class_units[c] >= allowed.sum())
            score = need / max(class_totals[c], 1) + missing * 10.0
            score = score + 1e-3 * (target_n - cur_n) / max(n, 1)
        else:
            score = (target_n - cur_n) / max(n, 1)
        score = np.where(allowed, score + tie, -np.inf)
        s = int(score.argmax())
        unit_split[u] = s
        cur_c[s] += unit_classes[u]
        cur_n[s] += unit_size[u]
    out = unit_split[unit]
    out[has_fixed] = f[has_fixed]
    return out
