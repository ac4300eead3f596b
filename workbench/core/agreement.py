"""Disagreement between several predictions of the same images (TTA passes, ensemble members).

For one image, each pass is matched to the reference pass (greedy, same class, by IoU); the
pass's agreement is ``sum(matched IoU) / max(n_ref, n_pass)``, so missing, extra, moved and
relabeled boxes all lower it. Disagreement is ``1 - mean agreement`` over the other passes, in
``[0, 1]``; an image on which every pass finds nothing scores 0.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from workbench.core.nms import box_iou

FloatArray = npt.NDArray[np.float64]


def pass_agreement(ref_xyxy: npt.ArrayLike, ref_cls: npt.ArrayLike, xyxy: npt.ArrayLike,
                   cls: npt.ArrayLike) -> float:
    """Agreement of one pass with the reference on one image, in ``[0, 1]``."""
    a = np.asarray(ref_xyxy, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4)
    if len(a) == 0 and len(b) == 0:
        return 1.0
    if len(a) == 0 or len(b) == 0:
        return 0.0
    iou = box_iou(a, b)
    iou[np.asarray(ref_cls)[:, None] != np.asarray(cls)[None, :]] = 0.0
    total = 0.0
    # greedy: best remaining pair first
    flat = np.argsort(-iou, axis=None)
    used_a: set[int] = set()
    used_b: set[int] = set()
    for f in flat.tolist():
        i, j = divmod(f, iou.shape[1])
        if iou[i, j] <= 0:
            break
        if i in used_a or j in used_b:
            continue
        used_a.add(i)
        used_b.add(j)
        total += float(iou[i, j])
    return total / max(len(a), len(b))


def disagreement(passes: Sequence[tuple[npt.ArrayLike, npt.ArrayLike, npt.ArrayLike]],
                 n_images: int) -> FloatArray:
    """Per-image disagreement of several passes over the same ``n_images`` images.

    Args:
        passes: one ``(xyxy (M, 4), class_id (M,), image_index (M,))`` per pass; the first is
            the reference.

    Returns:
        ``(n_images,)`` scores in ``[0, 1]``.
    """
    if len(passes) < 2:
        return np.zeros(n_images)
    split = []
    for xyxy, cls, idx in passes:
        i = np.asarray(idx, dtype=np.int64)
        order = np.argsort(i, kind="stable")
        bounds = np.searchsorted(i[order], np.arange(n_images + 1))
        split.append((np.asarray(xyxy, np.float64).reshape(-1, 4)[order],
                      np.asarray(cls)[order], bounds))
    out = np.zeros(n_images)
    ref_xyxy, ref_cls, ref_b = split[0]
    for n in range(n_images):
        ra, rc = ref_xyxy[ref_b[n]:ref_b[n + 1]], ref_cls[ref_b[n]:ref_b[n + 1]]
        agree = [pass_agreement(ra, rc, x[b[n]:b[n + 1]], c[b[n]:b[n + 1]])
                 for x, c, b in split[1:]]
        out[n] = 1.0 - float(np.mean(agree))
    return out
