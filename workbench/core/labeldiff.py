"""What changed between two box sets of the same images: added, removed, moved, relabeled.

Identical boxes are paired first; the rest are matched per image by mutual best IoU (a
same-label match is preferred over a relabel at equal IoU), repeated on what is left, all
images at once: every (old, new) pair within an image is built with a ragged arange and
scored, and each side keeps its best partner.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from workbench.core.boxes import FloatArray

IntArray = npt.NDArray[np.int64]


@dataclass
class LabelDiff:
    """Per-image change counts; every array is ``(N,)`` for the ``N`` images compared.

    Attributes:
        added: new boxes with no partner in the old set.
        removed: old boxes with no partner in the new set.
        moved: matched, same label, some coordinate differs by more than the tolerance.
        relabeled: matched, different label (whether or not the box moved).
        unchanged: matched, same label, same coordinates.
    """

    added: IntArray
    removed: IntArray
    moved: IntArray
    relabeled: IntArray
    unchanged: IntArray

    @property
    def changed(self) -> npt.NDArray[np.bool_]:
        """``(N,)`` whether anything about the image's boxes changed."""
        changed: npt.NDArray[np.bool_] = (self.added + self.removed + self.moved
                                          + self.relabeled) > 0
        return changed

    def totals(self) -> dict[str, int]:
        """Sums over all images."""
        return {"added": int(self.added.sum()), "removed": int(self.removed.sum()),
                "moved": int(self.moved.sum()), "relabeled": int(self.relabeled.sum()),
                "unchanged": int(self.unchanged.sum())}


def _pairs(old_image: IntArray, new_image: IntArray, n_images: int) -> tuple[IntArray, IntArray]:
    """Every (old, new) index pair whose boxes are on the same image."""
    new_order = np.argsort(new_image, kind="stable")
    new_counts = np.bincount(new_image, minlength=n_images)
    new_starts = np.concatenate([[0], np.cumsum(new_counts)[:-1]])
    reps = new_counts[old_image]
    old_idx = np.repeat(np.arange(len(old_image)), reps)
    # ragged arange: 0..reps[k]-1 for every old box k
    offsets = np.arange(int(reps.sum())) - np.repeat(np.cumsum(reps) - reps, reps)
    new_idx = new_order[np.repeat(new_starts[old_image], reps) + offsets]
    return old_idx.astype(np.int64), new_idx.astype(np.int64)


def _iou(a: FloatArray, b: FloatArray) -> FloatArray:
    """Row-wise IoU of ``(P, 4)`` corner boxes."""
    iw = np.clip(np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]), 0, None)
    ih = np.clip(np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]), 0, None)
    inter = iw * ih
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a + area_b - inter
    out: FloatArray = np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)
    return out


def _best(key: IntArray, partner: IntArray, score: FloatArray, size: int) -> IntArray:
    """For each ``key`` value, the partner with the highest score (-1 where none)."""
    best = np.full(size, -1, dtype=np.int64)
    if len(key) == 0:
        return best
    order = np.lexsort((-score, key))
    first = np.ones(len(order), dtype=bool)
    first[1:] = key[order][1:] != key[order][:-1]
    best[key[order][first]] = partner[order][first]
    return best


def _exact(oi: IntArray, ol: npt.NDArray[np.str_], ob: FloatArray, ni: IntArray,
           nl: npt.NDArray[np.str_], nb: FloatArray, tolerance: float) -> tuple[IntArray, IntArray]:
    """Pair identical boxes (same image, label and coordinates on a ``tolerance`` grid): the
    k-th copy in the old set with the k-th copy in the new set."""
    _, label_id = np.unique(np.concatenate([ol, nl]), return_inverse=True)
    grid = np.round(np.concatenate([ob, nb]) / max(tolerance, 1e-12)).astype(np.int64)
    rows = np.column_stack([np.concatenate([oi, ni]), label_id, grid])
    if len(rows) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    _, group = np.unique(rows, axis=0, return_inverse=True)
    group = group.reshape(-1)

    def ranked(g: IntArray) -> IntArray:
        order = np.argsort(g, kind="stable")
        first = np.searchsorted(g[order], g[order], side="left")
        rank = np.empty(len(g), dtype=np.int64)
        rank[order] = np.arange(len(g)) - first
        return g * (len(rows) + 1) + rank

    _, io, inn = np.intersect1d(ranked(group[:len(oi)]), ranked(group[len(oi):]),
                                assume_unique=True, return_indices=True)
    return io.astype(np.int64), inn.astype(np.int64)


def diff_boxes(
    old_image: npt.ArrayLike, old_label: npt.ArrayLike, old_xyxy: npt.ArrayLike,
    new_image: npt.ArrayLike, new_label: npt.ArrayLike, new_xyxy: npt.ArrayLike,
    n_images: int, iou: float = 0.5, tolerance: float = 1e-6,
) -> LabelDiff:
    """Compare two box sets over the same ``N`` images.

    Args:
        old_image: ``(A,)`` image index (0..N-1) of each old box; ``old_label``: ``(A,)``;
            ``old_xyxy``: ``(A, 4)`` corners (any unit, the same for both sets).
        new_image, new_label, new_xyxy: the same for the ``B`` new boxes.
        n_images: ``N``.
        iou: minimum IoU for two boxes to be the same object.
        tolerance: largest coordinate difference that still counts as unchanged.
    """
    oi = np.asarray(old_image, dtype=np.int64)
    ni = np.asarray(new_image, dtype=np.int64)
    ol = np.asarray(old_label, dtype=str)
    nl = np.asarray(new_label, dtype=str)
    ob = np.asarray(old_xyxy, dtype=np.float64).reshape(-1, 4)
    nb = np.asarray(new_xyxy, dtype=np.float64).reshape(-1, 4)
    mo, mn = _exact(oi, ol, ob, ni, nl, nb, tolerance)
    matched_old = np.zeros(len(oi), dtype=bool)
    matched_old[mo] = True
    matched_new = np.zeros(len(ni), dtype=bool)
    matched_new[mn] = True
    po, pn = _pairs(oi, ni, n_images)
    overlap = _iou(ob[po], nb[pn])
    # prefer same-label partners, then the closer index (ties among identical boxes)
    score = overlap + 0.01 * (ol[po] == nl[pn]) - 1e-9 * np.abs(po - pn)
    keep = overlap >= iou
    po, pn, score = po[keep], pn[keep], score[keep]
    found_o, found_n = [mo], [mn]
    while True:  # mutual best partners among the unmatched, until none is left
        free = ~matched_old[po] & ~matched_new[pn]
        po, pn, score = po[free], pn[free], score[free]
        if len(po) == 0:
            break
        best_new = _best(po, pn, score, len(oi))
        best_old = _best(pn, po, score, len(ni))
        mutual = (best_old[pn] == po) & (best_new[po] == pn)
        if not mutual.any():  # only exact ties are left: nothing more to pair safely
            break
        found_o.append(po[mutual])
        found_n.append(pn[mutual])
        matched_old[po[mutual]] = True
        matched_new[pn[mutual]] = True
    mo, mn = np.concatenate(found_o), np.concatenate(found_n)
    msame = ol[mo] == nl[mn]
    still = np.abs(ob[mo] - nb[mn]).max(axis=1, initial=0.0) <= tolerance
    image = oi[mo]

    def count(idx: IntArray) -> IntArray:
        return np.bincount(idx, minlength=n_images).astype(np.int64)

    return LabelDiff(
        added=count(ni[~matched_new]),
        removed=count(oi[~matched_old]),
        moved=count(image[msame & ~still]),
        relabeled=count(image[~msame]),
        unchanged=count(image[msame & still]),
    )
