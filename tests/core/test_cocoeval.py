"""COCO metrics in numpy: hand-worked cases, properties, and a literal port of pycocotools'
``COCOeval.evaluateImg`` / ``accumulate`` as the reference (pycocotools is not a dependency)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.core.cocoeval import (
    AREA_RANGES,
    IOU_THRESHOLDS,
    RECALL_POINTS,
    coco_evaluate,
    recall_at_conf,
    recall_at_precision,
)
from workbench.core.detmetrics import map_at

NAN = float("nan")


def _box(x: float, y: float, w: float, h: float) -> list[float]:
    return [x, y, x + w, y + h]


def _eval(preds: list[tuple[int, list[float], float, int]],
          gts: list[tuple[int, list[float], int]], k: int = 1, max_det: int = 100):  # type: ignore[no-untyped-def]
    pi = [p[0] for p in preds]
    pb = np.array([p[1] for p in preds], dtype=float).reshape(-1, 4)
    pc = [p[2] for p in preds]
    pk = [p[3] for p in preds]
    gi = [g[0] for g in gts]
    gb = np.array([g[1] for g in gts], dtype=float).reshape(-1, 4)
    gk = [g[2] for g in gts]
    return coco_evaluate(pi, pb, pc, pk, gi, gb, gk, k, max_det=max_det)


SMALL, LARGE = _box(0, 0, 10, 10), _box(100, 100, 200, 200)
HALF = 51 / 101  # precision 1 up to recall 0.5, then nothing

CASES = [
    # id, preds (image, box, conf, class), gts (image, box, class), k, max_det, expected
    ("perfect", [(0, SMALL, 0.9, 0), (1, LARGE, 0.8, 0)], [(0, SMALL, 0), (1, LARGE, 0)], 1, 100,
     {"ap": 1, "ap50": 1, "ap75": 1, "ap_small": 1, "ap_medium": NAN, "ap_large": 1, "ar": 1}),
    ("no predictions", [], [(0, SMALL, 0), (0, LARGE, 0)], 1, 100,
     {"ap": 0, "ap50": 0, "ap75": 0, "ap_small": 0, "ap_medium": NAN, "ap_large": 0, "ar": 0}),
    ("no ground truth", [(0, SMALL, 0.9, 0)], [], 1, 100,
     {"ap": NAN, "ap50": NAN, "ap75": NAN, "ap_small": NAN, "ar": NAN}),
    # IoU 100*62/10000... a 100x100 box against one shifted by 23.5 px: IoU = 76.5/123.5 = 0.62
    ("IoU 0.62: matched at 0.50-0.60 only", [(0, _box(23.5, 0, 100, 100), 0.9, 0)],
     [(0, _box(0, 0, 100, 100), 0)], 1, 100,
     {"ap50": 1, "ap75": 0, "ap": 0.3, "ar": 0.3}),
    ("small found, large missed", [(0, SMALL, 0.9, 0)], [(0, SMALL, 0), (0, LARGE, 0)], 1, 100,
     {"ap50": HALF, "ap": HALF, "ap_small": 1, "ap_medium": NAN, "ap_large": 0, "ar": 0.5}),
    ("a false positive ranked first", [(0, LARGE, 0.9, 0), (0, SMALL, 0.8, 0)],
     [(0, SMALL, 0)], 1, 100, {"ap50": 0.5, "ap": 0.5, "ar": 1, "ap_small": 1}),
    ("max_det keeps the most confident", [(0, LARGE, 0.9, 0), (0, SMALL, 0.8, 0)],
     [(0, SMALL, 0)], 1, 1, {"ap50": 0, "ar": 0}),
    ("wrong class", [(0, SMALL, 0.9, 1)], [(0, SMALL, 0)], 2, 100, {"ap50": 0, "ar": 0}),
    ("one GT, two boxes on it", [(0, SMALL, 0.9, 0), (0, SMALL, 0.8, 0)], [(0, SMALL, 0)], 1,
     100, {"ap50": 1, "ar": 1}),
]


@pytest.mark.parametrize(("preds", "gts", "k", "max_det", "expected"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_hand_worked_cases(preds, gts, k, max_det, expected) -> None:  # type: ignore[no-untyped-def]
    m = _eval(preds, gts, k, max_det)
    for name, want in expected.items():
        got = getattr(m, name)
        if math.isnan(want):
            assert math.isnan(got), (name, got)
        else:
            assert got == pytest.approx(want, abs=1e-9), (name, got, want)


RECALL_CASES = [
    # tp, conf, cls, n_gt, threshold, target, recall@threshold, recall@target, conf@target
    ([1, 0, 1, 0], [0.9, 0.8, 0.7, 0.6], [0, 0, 0, 0], [4], 0.75, 0.6, [0.25], [0.5], [0.7]),
    ([1, 0, 1, 0], [0.9, 0.8, 0.7, 0.6], [0, 0, 0, 0], [4], 0.0, 0.9, [0.5], [0.25], [0.9]),
    ([1, 0], [0.5, 0.5], [0, 0], [1], 0.5, 0.9, [1.0], [0.0], [NAN]),  # a tie is one cut
    ([1, 1], [0.9, 0.4], [0, 1], [1, 0], 0.5, 0.9, [1.0, NAN], [1.0, NAN], [0.9, NAN]),
    ([], [], [], [2], 0.25, 0.9, [0.0], [0.0], [NAN]),
    ([1, 1, 0], [0.9, 0.8, 0.3], [0, 0, 0], [2], 0.5, 0.5, [1.0], [1.0], [0.8]),  # fewest boxes
]


@pytest.mark.parametrize(("tp", "conf", "cls", "n_gt", "thr", "target", "r_thr", "r_target",
                          "c_target"), RECALL_CASES)
def test_recall_at_conf_and_precision(tp, conf, cls, n_gt, thr, target, r_thr, r_target,  # type: ignore[no-untyped-def]
                                      c_target) -> None:
    np.testing.assert_allclose(recall_at_conf(tp, conf, cls, n_gt, thr), r_thr)
    recall, cut = recall_at_precision(tp, conf, cls, n_gt, target)
    np.testing.assert_allclose(recall, r_target)
    np.testing.assert_allclose(cut, c_target)


# ---- reference: pycocotools' evaluateImg + accumulate, ported line by line ----------------

def _ref_iou(d: np.ndarray, g: np.ndarray) -> np.ndarray:
    out = np.zeros((len(d), len(g)))
    for i, a in enumerate(d):
        for j, b in enumerate(g):
            iw = min(a[2], b[2]) - max(a[0], b[0])
            ih = min(a[3], b[3]) - max(a[1], b[1])
            if iw <= 0 or ih <= 0:
                continue
            inter = iw * ih
            out[i, j] = inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1])
                                 - inter)
    return out


def _reference(pi, pb, pc, pk, gi, gb, gk, n_classes, max_det=100):  # type: ignore[no-untyped-def]
    def area(b: np.ndarray) -> float:
        return float((b[2] - b[0]) * (b[3] - b[1]))

    n_t, n_r, ranges = len(IOU_THRESHOLDS), len(RECALL_POINTS), list(AREA_RANGES.values())
    precision = -np.ones((n_t, n_classes, n_r, len(ranges)))
    recall = -np.ones((n_t, n_classes, len(ranges)))
    images = sorted(set(pi) | set(gi))
    for k in range(n_classes):
        for a, (lo, hi) in enumerate(ranges):
            scores, dtms, dtigs, npig = [], [], [], 0
            for img in images:
                g = [j for j in range(len(gk)) if gi[j] == img and gk[j] == k]
                d = [j for j in range(len(pk)) if pi[j] == img and pk[j] == k]
                if not g and not d:
                    continue
                gig = [0 if lo <= area(gb[j]) < hi else 1 for j in g]
                order = sorted(range(len(g)), key=lambda x: gig[x])
                g, gig = [g[x] for x in order], [gig[x] for x in order]
                d = sorted(d, key=lambda j: -pc[j])[:max_det]
                ious = _ref_iou(pb[d], gb[g])
                dtm = np.zeros((n_t, len(d)))
                gtm = np.zeros((n_t, len(g)))
                dtig = np.zeros((n_t, len(d)))
                for t, th in enumerate(IOU_THRESHOLDS):
                    for di in range(len(d)):
                        best, m = min(th, 1 - 1e-10), -1
                        for gj in range(len(g)):
                            if gtm[t, gj] > 0:
                                continue
                            if m > -1 and gig[m] == 0 and gig[gj] == 1:
                                break
                            if ious[di, gj] < best:
                                continue
                            best, m = ious[di, gj], gj
                        if m == -1:
                            continue
                        dtig[t, di], dtm[t, di], gtm[t, m] = gig[m], 1, 1
                out = np.array([not (lo <= area(pb[j]) < hi) for j in d], dtype=bool)
                dtig = np.logical_or(dtig, np.logical_and(dtm == 0, out[None]))
                scores += [pc[j] for j in d]
                dtms.append(dtm)
                dtigs.append(dtig)
                npig += sum(1 for x in gig if x == 0)
            if npig == 0:
                continue
            inds = np.argsort(-np.asarray(scores, dtype=float), kind="mergesort")
            dtm = np.concatenate(dtms, axis=1)[:, inds] if dtms else np.zeros((n_t, 0))
            dtig = np.concatenate(dtigs, axis=1)[:, inds] if dtigs else np.zeros((n_t, 0))
            tps = np.logical_and(dtm, np.logical_not(dtig))
            fps = np.logical_and(np.logical_not(dtm), np.logical_not(dtig))
            for t in range(n_t):
                tp = np.cumsum(tps[t]).astype(float)
                fp = np.cumsum(fps[t]).astype(float)
                nd = len(tp)
                rc = tp / npig
                pr = list(tp / (fp + tp + np.spacing(1)))
                recall[t, k, a] = rc[-1] if nd else 0
                for i in range(nd - 1, 0, -1):
                    if pr[i] > pr[i - 1]:
                        pr[i - 1] = pr[i]
                q = np.zeros(n_r)
                for ri, p in enumerate(np.searchsorted(rc, RECALL_POINTS, side="left")):
                    if p >= nd:
                        break
                    q[ri] = pr[p]
                precision[t, k, :, a] = q
    return precision, recall


@st.composite
def scenes(draw: st.DrawFn) -> tuple[np.ndarray, ...]:
    """Random images with ground truth of mixed sizes and noisy, partly spurious detections."""
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    n_gt, n_fp, n_img, k = (draw(st.integers(0, 25)), draw(st.integers(0, 15)),
                            draw(st.integers(1, 4)), draw(st.integers(1, 3)))
    xy = rng.uniform(0, 300, (n_gt, 2))
    wh = np.exp(rng.uniform(np.log(4), np.log(250), (n_gt, 2)))
    gb = np.c_[xy, xy + wh]
    gi, gk = rng.integers(0, n_img, n_gt), rng.integers(0, k, n_gt)
    found = rng.random(n_gt) < 0.8
    jitter = rng.normal(0, 0.15, (n_gt, 4)) * np.c_[wh, wh]
    pb = np.r_[(gb + jitter)[found], np.c_[(f := rng.uniform(0, 300, (n_fp, 2))),
                                           f + rng.uniform(4, 150, (n_fp, 2))]]
    pb = np.c_[np.minimum(pb[:, :2], pb[:, 2:] - 1), np.maximum(pb[:, 2:], pb[:, :2] + 1)]
    pi = np.r_[gi[found], rng.integers(0, n_img, n_fp)]
    pk = np.r_[np.where(rng.random(found.sum()) < 0.9, gk[found],
                        rng.integers(0, k, found.sum())), rng.integers(0, k, n_fp)]
    pc = rng.random(len(pi))
    return pi, pb, pc, pk, gi, gb, gk, np.array([k])


@settings(max_examples=40, deadline=None)
@given(scenes())
def test_matches_the_pycocotools_reference(scene: tuple[np.ndarray, ...]) -> None:
    pi, pb, pc, pk, gi, gb, gk, k = scene
    m = coco_evaluate(pi, pb, pc, pk, gi, gb, gk, int(k[0]), max_det=3)
    precision, recall = _reference(list(pi), pb, list(pc), list(pk), list(gi), gb, list(gk),
                                   int(k[0]), max_det=3)
    np.testing.assert_allclose(np.nan_to_num(m.precision, nan=-1), precision, atol=1e-9)
    np.testing.assert_allclose(np.nan_to_num(m.recall, nan=-1), recall, atol=1e-9)


@settings(max_examples=60, deadline=None)
@given(scenes())
def test_properties(scene: tuple[np.ndarray, ...]) -> None:
    pi, pb, pc, pk, gi, gb, gk, k = scene
    n = int(k[0])
    m = coco_evaluate(pi, pb, pc, pk, gi, gb, gk, n)
    if len(gk) == 0:
        assert math.isnan(m.ap) and math.isnan(m.ar)
        return
    for v in (m.ap, m.ap50, m.ap75, m.ar):
        assert 0.0 <= v <= 1.0
    assert m.ap75 <= m.ap50 + 1e-12
    assert m.ap <= m.ap50 + 1e-12
    map50, _ = map_at(pi, pb, pc, pk, gi, gb, gk, n)  # the project's older single-IoU mAP
    assert m.ap50 == pytest.approx(map50, abs=1e-9)
    perfect = coco_evaluate(gi, gb, np.linspace(1, 0.5, len(gi)), gk, gi, gb, gk, n)
    for v in (perfect.ap, perfect.ap50, perfect.ap75, perfect.ar):
        assert v == pytest.approx(1.0)
    none = coco_evaluate([], np.zeros((0, 4)), [], [], gi, gb, gk, n)
    assert none.ap == none.ap50 == none.ar == 0.0
    # recall at a threshold never grows as the threshold rises
    tp = np.zeros(len(pc), dtype=bool)
    tp[: int(np.sum(np.isin(pi, gi)) // 2)] = True
    n_gt = np.bincount(gk, minlength=n)
    low = recall_at_conf(tp, pc, pk, n_gt, 0.2)
    high = recall_at_conf(tp, pc, pk, n_gt, 0.7)
    assert np.all(np.nan_to_num(high) <= np.nan_to_num(low) + 1e-12)
    recall, cut = recall_at_precision(tp, pc, pk, n_gt, 0.9)
    ok = ~np.isnan(cut)
    assert np.all(np.nan_to_num(recall[~ok]) == 0.0)
    for j in np.flatnonzero(ok):  # the reported threshold reaches the reported recall
        assert recall_at_conf(tp, pc, pk, n_gt, cut[j])[j] == pytest.approx(recall[j])
