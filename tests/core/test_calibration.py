"""Confidence calibration in numpy: detection matching against a brute-force greedy matcher,
fitted maps on synthetic mis-calibrated data, D-ECE, operating thresholds, the reliability plot."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.core.calibration import (
    METHODS,
    Calibrator,
    brier,
    dece,
    fit_calibrator,
    image_halves,
    operating_thresholds,
    parse_threshold_rule,
    reliability,
)
from workbench.core.cocoeval import match_detections
from workbench.core.nms import box_iou


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-9, 1 - 1e-9)
    return np.log(p / (1 - p))


# --- match_detections ----------------------------------------------------------------------


def _brute_match(pi, pb, pc, pk, gi, gb, gk, thr):
    """Greedy COCO matching, one detection at a time (ties: first box in input order)."""
    matched = np.zeros(len(pc), dtype=bool)
    taken = np.zeros(len(gk), dtype=bool)
    for d in sorted(range(len(pc)), key=lambda i: -pc[i]):
        best, best_iou = -1, -1.0
        for g in range(len(gk)):
            if gi[g] != pi[d] or gk[g] != pk[d] or taken[g]:
                continue
            iou = float(box_iou(pb[d:d + 1], gb[g:g + 1])[0, 0])
            if iou >= thr and iou > best_iou:
                best, best_iou = g, iou
        if best >= 0:
            taken[best] = matched[d] = True
    return matched


def _box(x: float, y: float, w: float, h: float) -> list[float]:
    return [x, y, x + w, y + h]


MATCH_CASES = [
    # id, preds (image, box, conf, class), gts (image, box, class), iou, expected
    ("exact hit", [(0, _box(0, 0, 10, 10), 0.9, 0)], [(0, _box(0, 0, 10, 10), 0)], 0.5, [True]),
    ("wrong class", [(0, _box(0, 0, 10, 10), 0.9, 1)], [(0, _box(0, 0, 10, 10), 0)], 0.5,
     [False]),
    ("other image", [(1, _box(0, 0, 10, 10), 0.9, 0)], [(0, _box(0, 0, 10, 10), 0)], 0.5,
     [False]),
    ("duplicate: the more confident wins", [(0, _box(0, 0, 10, 10), 0.6, 0),
                                            (0, _box(0, 0, 10, 10), 0.9, 0)],
     [(0, _box(0, 0, 10, 10), 0)], 0.5, [False, True]),
    # IoU of a 10x10 box shifted by 5: 50 / 150 = 1/3
    ("IoU 1/3 below 0.5", [(0, _box(5, 0, 10, 10), 0.9, 0)], [(0, _box(0, 0, 10, 10), 0)], 0.5,
     [False]),
    ("IoU 1/3 at 0.3", [(0, _box(5, 0, 10, 10), 0.9, 0)], [(0, _box(0, 0, 10, 10), 0)], 0.3,
     [True]),
    # the more confident detection takes the box even with the lower IoU (0.6 against 1)
    ("greedy by confidence", [(0, _box(0, 0, 10, 10), 0.8, 0), (0, _box(2.5, 0, 10, 10), 0.9, 0)],
     [(0, _box(0, 0, 10, 10), 0)], 0.5, [False, True]),
    # the first detection takes the box of highest IoU (B), leaving A to the second
    ("best IoU first", [(0, _box(2, 0, 10, 10), 0.9, 0), (0, _box(0, 0, 10, 10), 0.8, 0)],
     [(0, _box(0, 0, 10, 10), 0), (0, _box(3, 0, 10, 10), 0)], 0.5, [True, True]),
    ("no ground truth", [(0, _box(0, 0, 10, 10), 0.9, 0)], [], 0.5, [False]),
    ("no detections", [], [(0, _box(0, 0, 10, 10), 0)], 0.5, []),
]


def _arrays(preds, gts) -> tuple[list, np.ndarray, list, list, list, np.ndarray, list]:
    return ([p[0] for p in preds], np.array([p[1] for p in preds], dtype=float).reshape(-1, 4),
            [p[2] for p in preds], [p[3] for p in preds], [g[0] for g in gts],
            np.array([g[1] for g in gts], dtype=float).reshape(-1, 4), [g[2] for g in gts])


@pytest.mark.parametrize(("preds", "gts", "iou", "expected"),
                         [c[1:] for c in MATCH_CASES], ids=[c[0] for c in MATCH_CASES])
def test_match_detections_cases(preds, gts, iou, expected) -> None:
    got = match_detections(*_arrays(preds, gts), iou=iou)
    assert got.dtype == bool
    assert got.tolist() == expected


@pytest.mark.parametrize("iou", [0.0, -0.1, 1.5])
def test_match_detections_rejects_iou(iou: float) -> None:
    with pytest.raises(ValueError, match="iou"):
        match_detections([0], [[0, 0, 1, 1]], [0.5], [0], [0], [[0, 0, 1, 1]], [0], iou=iou)


_coord = st.integers(0, 6)  # small boxes on a small canvas: many overlaps to compete for
_rect = st.tuples(_coord, _coord, st.integers(2, 6), st.integers(2, 6))


@settings(max_examples=200, deadline=None)
@given(preds=st.lists(st.tuples(st.integers(0, 1), _rect, st.integers(1, 20), st.integers(0, 1)),
                      max_size=14),
       gts=st.lists(st.tuples(st.integers(0, 1), _rect, st.integers(0, 1)), max_size=10),
       iou=st.sampled_from([0.1, 0.3, 0.5, 0.75]))
def test_match_detections_equals_brute_force(preds, gts, iou) -> None:
    p = [(i, _box(*r), c / 20, k) for i, r, c, k in preds]
    g = [(i, _box(*r), k) for i, r, k in gts]
    arrays = _arrays(p, g)
    pi, pb, pc, pk, gi, gb, gk = (np.asarray(a) for a in arrays)
    expected = _brute_match(pi, pb, pc, pk, gi, gb, gk, iou)
    np.testing.assert_array_equal(match_detections(*arrays, iou=iou), expected)


# --- fitted maps ----------------------------------------------------------------------------


def _hot(p: np.ndarray) -> np.ndarray:
    return _sigmoid(_logit(p) / 2.5)  # over-confident by a temperature of 2.5


def _squared(p: np.ndarray) -> np.ndarray:
    return p**2  # over-confident, not a pure temperature effect


def _draw(truth, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    p = rng.random(n)
    return p, rng.random(n) < truth(p)


FIT_CASES = [(m, _hot) for m in METHODS] + [("platt", _squared), ("isotonic", _squared)]


@pytest.mark.parametrize(("method", "truth"), FIT_CASES,
                         ids=[f"{m}-{t.__name__}" for m, t in FIT_CASES])
def test_calibration_lowers_dece_and_brier_held_out(method: str, truth) -> None:
    p_fit, y_fit = _draw(truth, 20_000, 0)
    p_eval, y_eval = _draw(truth, 20_000, 1)
    cal = fit_calibrator(p_fit, y_fit, method)
    q = cal.apply(p_eval)
    assert dece(q, y_eval) < 0.5 * dece(p_eval, y_eval)
    assert dece(q, y_eval) < 0.03
    assert brier(q, y_eval) < brier(p_eval, y_eval)


def test_temperature_recovers_the_temperature() -> None:
    p, y = _draw(_hot, 50_000, 2)
    assert fit_calibrator(p, y, "temperature").global_map["temperature"] == pytest.approx(2.5,
                                                                                         rel=0.1)


def test_platt_on_separable_data_stays_finite() -> None:
    p = np.linspace(0.01, 0.99, 200)
    cal = fit_calibrator(p, p > 0.5, "platt")
    assert np.isfinite([cal.global_map["a"], cal.global_map["b"]]).all()
    assert cal.global_map["a"] > 1
    q = cal.apply(np.array([0.0, 0.2, 0.8, 1.0]))
    assert q[1] < 0.1 < 0.9 < q[2]


def test_platt_on_anti_correlated_data_is_flat_not_decreasing() -> None:
    p = np.linspace(0.01, 0.99, 400)
    y = p < 0.3
    cal = fit_calibrator(p, y, "platt")
    assert cal.global_map["a"] == 0.0
    np.testing.assert_allclose(cal.apply(p), y.mean(), atol=1e-3)


def _reference_pav(p: np.ndarray, y: np.ndarray) -> dict[float, float]:
    """Textbook pool-adjacent-violators, one unique x at a time: x -> fitted value."""
    xs = sorted(set(p.tolist()))
    blocks: list[list[float]] = []  # [sum, count, n_xs]
    for x in xs:
        rows = p == x
        blocks.append([float(y[rows].sum()), float(rows.sum()), 1])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] > blocks[-1][0] / blocks[-1][1]:
            s, n, k = blocks.pop()
            blocks[-1] = [blocks[-1][0] + s, blocks[-1][1] + n, blocks[-1][2] + k]
    values = [b[0] / b[1] for b in blocks for _ in range(int(b[2]))]
    return dict(zip(xs, values, strict=True))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 30), st.booleans()), min_size=2, max_size=60))
def test_isotonic_equals_reference_pav(rows) -> None:
    p = np.array([r[0] / 30 for r in rows])
    y = np.array([r[1] for r in rows])
    if y.all() or not y.any():
        return  # a single outcome is the identity map (tested below)
    cal = fit_calibrator(p, y, "isotonic")
    ref = _reference_pav(p, y.astype(float))
    xs = np.array(sorted(ref))
    np.testing.assert_allclose(cal.apply(xs), [ref[x] for x in xs], atol=1e-12)


def test_isotonic_on_anti_correlated_data_is_one_pooled_block() -> None:
    p = np.linspace(0, 1, 5000)
    cal = fit_calibrator(p, p < 0.5, "isotonic")  # every pass would merge one block only
    np.testing.assert_allclose(cal.apply(p), 0.5)


_confs = st.lists(st.floats(0, 1, allow_nan=False), min_size=0, max_size=40)


@settings(max_examples=60, deadline=None)
@given(conf=_confs, seed=st.integers(0, 2**16), method=st.sampled_from(METHODS))
def test_maps_are_monotone_in_range_and_nan_free(conf, seed, method) -> None:
    rng = np.random.default_rng(seed)
    p = np.array(conf, dtype=float)
    y = rng.random(len(p)) < p
    cls = rng.integers(0, 2, len(p))
    cal = fit_calibrator(p, y, method, cls=cls, n_classes=2, min_per_class=3)
    grid = np.sort(np.r_[0.0, 1.0, 1e-12, 1 - 1e-12, np.linspace(0, 1, 101), p])
    for k in (None, 0, 1):
        q = cal.apply(grid, None if k is None else np.full(len(grid), k))
        assert np.isfinite(q).all()
        assert ((q >= 0) & (q <= 1)).all()
        assert (np.diff(q) >= 0).all()
    probs = cal.apply_probs(np.column_stack([grid, grid[::-1]]))
    assert probs.shape == (len(grid), 2)
    assert ((probs >= 0) & (probs <= 1)).all()
    assert (np.diff(probs[:, 0]) >= 0).all() and (np.diff(probs[:, 1]) <= 0).all()


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("positive", [[], [True, True, True], [False, False]],
                         ids=["empty", "all positive", "all negative"])
def test_degenerate_input_gives_identity(method: str, positive: list[bool]) -> None:
    p = np.linspace(0.2, 0.8, len(positive))
    cal = fit_calibrator(p, np.array(positive, dtype=bool), method, cls=np.zeros(len(p), int))
    assert cal.per_class == {}
    grid = np.linspace(0, 1, 11)
    np.testing.assert_allclose(cal.apply(grid), grid, atol=1e-6)


@pytest.mark.parametrize("method", METHODS)
def test_round_trip_through_json(method: str) -> None:
    p, y = _draw(_squared, 3000, 3)
    cls = (p * 1000).astype(int) % 3
    cal = fit_calibrator(p, y, method, cls=cls, n_classes=3)
    assert sorted(cal.per_class) == [0, 1, 2]
    d = json.loads(json.dumps(cal.to_dict()))
    back = Calibrator.from_dict(d)
    assert back == cal
    np.testing.assert_array_equal(back.apply(p, cls), cal.apply(p, cls))


def test_per_class_maps_and_fallback_for_a_rare_class() -> None:
    rng = np.random.default_rng(4)
    p = rng.random(4000)
    cls = np.r_[np.zeros(2000, int), np.ones(1990, int), np.full(10, 2)]
    truth = np.where(cls == 0, p**3, np.where(cls == 1, np.sqrt(p), p))
    y = rng.random(len(p)) < truth
    cal = fit_calibrator(p, y, "isotonic", cls=cls, n_classes=4, min_per_class=30)
    assert sorted(cal.per_class) == [0, 1]  # class 2: 10 boxes; class 3: none
    grid = np.linspace(0, 1, 50)
    glob = cal.apply(grid)
    for k in (2, 3):
        np.testing.assert_array_equal(cal.apply(grid, np.full(50, k)), glob)
    low, high = cal.apply(np.full(1, 0.5), [0]), cal.apply(np.full(1, 0.5), [1])
    assert low[0] < 0.3 < 0.55 < high[0]  # 0.5**3 and sqrt(0.5), roughly
    probs = cal.apply_probs(np.tile(grid[:, None], (1, 4)))
    np.testing.assert_array_equal(probs[:, 0], cal.apply(grid, np.zeros(50, int)))
    np.testing.assert_array_equal(probs[:, 1], cal.apply(grid, np.ones(50, int)))
    np.testing.assert_array_equal(probs[:, 2], glob)
    np.testing.assert_array_equal(probs[:, 3], glob)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"method": "beta"}, "temperature, platt, isotonic"),
    ({"method": "platt", "cls": [0, 5]}, "class ids"),
    ({"method": "platt", "cls": [0]}, "cls has 1"),
])
def test_fit_rejects_bad_input(kwargs, match) -> None:
    with pytest.raises(ValueError, match=match):
        fit_calibrator([0.2, 0.7], [False, True], n_classes=2, **kwargs)


def test_from_dict_rejects_unknown_method() -> None:
    with pytest.raises(ValueError, match="valid methods"):
        Calibrator.from_dict({"method": "beta", "global_map": {}, "per_class": {}})


# --- errors and curves ----------------------------------------------------------------------


def test_brier() -> None:
    assert brier([1.0, 0.0, 0.5], [True, False, True]) == pytest.approx(0.25 / 3)
    assert np.isnan(brier([], []))


def test_dece_of_calibrated_data_is_small() -> None:
    rng = np.random.default_rng(5)
    p = rng.random(200_000)
    assert dece(p, rng.random(len(p)) < p) < 0.01


@pytest.mark.parametrize(("conf", "accuracy"), [(0.9, 0.6), (0.3, 0.75), (0.55, 0.55)])
def test_dece_of_constant_confidence_is_the_gap(conf: float, accuracy: float) -> None:
    y = np.arange(400) < round(accuracy * 400)
    assert dece(np.full(400, conf), y) == pytest.approx(abs(accuracy - conf))
    assert dece(np.full(400, conf), y, position=np.full((400, 2), 0.5)) == pytest.approx(
        abs(accuracy - conf))


def test_dece_position_bins_separate_what_confidence_bins_average() -> None:
    conf = np.full(1000, 0.5)
    cx = np.r_[np.full(500, 0.1), np.full(500, 0.9)]
    y = cx < 0.5  # left boxes all right, right boxes all wrong: 50 % precision overall
    position = np.column_stack([cx, np.full(1000, 0.5)])
    assert dece(conf, y) == pytest.approx(0.0)
    assert dece(conf, y, position=position) == pytest.approx(0.5)
    assert dece(conf, y, position=position, position_bins=1) == pytest.approx(0.0)
    assert np.isnan(dece([], []))


def test_reliability_bins() -> None:
    r = reliability([0.05, 0.15, 0.95, 1.0, 0.12], [False, True, True, True, False], bins=10)
    np.testing.assert_allclose(r["edges"], np.linspace(0, 1, 11))
    assert r["count"].tolist() == [1, 2, 0, 0, 0, 0, 0, 0, 0, 2]
    np.testing.assert_allclose(r["mean_conf"][[0, 1, 9]], [0.05, 0.135, 0.975])
    np.testing.assert_allclose(r["precision"][[0, 1, 9]], [0.0, 0.5, 1.0])
    assert np.isnan(r["mean_conf"][2:9]).all() and np.isnan(r["precision"][2:9]).all()


@pytest.mark.parametrize("n", [0, 1, 2, 7, 100])
def test_image_halves(n: int) -> None:
    a = image_halves(n, np.random.default_rng(0))
    assert a.shape == (n,) and a.dtype == bool and a.sum() == n // 2
    np.testing.assert_array_equal(a, image_halves(n, np.random.default_rng(0)))
    if n == 100:
        assert not np.array_equal(a, image_halves(n, np.random.default_rng(1)))


# --- operating thresholds -------------------------------------------------------------------


@pytest.mark.parametrize(("rule", "expected"), [
    ("f1", ("f1", None)), (" F1 ", ("f1", None)), ("precision:0.9", ("precision", 0.9)),
    ("recall:1", ("recall", 1.0)), ("recall:0.05", ("recall", 0.05)),
])
def test_parse_threshold_rule(rule: str, expected) -> None:
    assert parse_threshold_rule(rule) == expected


@pytest.mark.parametrize("rule", ["", "f2", "precision", "precision:", "precision:0",
                                  "recall:1.2", "recall:-0.5", "precision:high", "ap:0.5"])
def test_parse_threshold_rule_rejects(rule: str) -> None:
    with pytest.raises(ValueError, match="f1, precision:P, recall:R"):
        parse_threshold_rule(rule)


# class 0 (4 ground truth): conf 0.9 T, 0.8 T, 0.7 F, 0.6 T, 0.5 F, 0.4 F
#   cut:   0.9   0.8   0.7   0.6   0.5   0.4
#   P:     1     1     .67   .75   .6    .5
#   R:     .25   .5    .5    .75   .75   .75
#   F1:    .4    .67   .57   .75   .67   .6
# class 1: 2 ground truth, no predictions; class 2: 1 ground truth, one false positive;
# class 3: no ground truth, one prediction.
_CONF = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.95, 0.3]
_POS = [True, True, False, True, False, False, False, False]
_CLS = [0, 0, 0, 0, 0, 0, 2, 3]
_NGT = [4, 2, 1, 0]
D = 0.25

THRESHOLD_CASES = [
    ("f1", [0.6, D, D, D], [True, False, False, False]),
    ("precision:0.75", [0.6, D, D, D], [True, False, False, False]),
    ("precision:0.7", [0.6, D, D, D], [True, False, False, False]),
    ("precision:0.9", [0.8, D, D, D], [True, False, False, False]),
    ("precision:1", [0.8, D, D, D], [True, False, False, False]),
    ("recall:0.25", [0.9, D, D, D], [True, False, False, False]),
    ("recall:0.5", [0.8, D, D, D], [True, False, False, False]),
    ("recall:0.75", [0.6, D, D, D], [True, False, False, False]),
    ("recall:1", [0.6, D, D, D], [False, False, False, False]),  # unreachable: F1 threshold
]


@pytest.mark.parametrize(("rule", "thresholds", "met"), THRESHOLD_CASES,
                         ids=[c[0] for c in THRESHOLD_CASES])
def test_operating_thresholds_table(rule: str, thresholds: list[float], met: list[bool]) -> None:
    t, ok = operating_thresholds(_CONF, _POS, _CLS, _NGT, rule)
    np.testing.assert_allclose(t, thresholds)
    assert ok.tolist() == met


def test_operating_thresholds_keep_ties_together_and_default() -> None:
    # two boxes at 0.7 (one right, one wrong): no cut separates them, precision 1 is unreachable
    t, ok = operating_thresholds([0.7, 0.7], [True, False], [0, 0], [1], "precision:1",
                                 default=0.1)
    assert t.tolist() == [0.7] and ok.tolist() == [False]
    t, ok = operating_thresholds([], [], [], [3, 0], "f1", default=0.1)
    assert t.tolist() == [0.1, 0.1] and ok.tolist() == [False, False]
    with pytest.raises(ValueError, match="class ids"):
        operating_thresholds([0.5], [True], [2], [1, 1], "f1")


def _at(conf: np.ndarray, pos: np.ndarray, t: float, n_gt: int) -> tuple[float, float, float]:
    kept = conf >= t
    tp = float((pos & kept).sum())
    precision = tp / max(kept.sum(), 1)
    recall = tp / n_gt
    return precision, recall, 2 * tp / (kept.sum() + n_gt)


@settings(max_examples=80, deadline=None)
@given(rows=st.lists(st.tuples(st.integers(1, 10), st.booleans()), min_size=1, max_size=25),
       extra_gt=st.integers(0, 5),
       rule=st.sampled_from(["f1", "precision:0.5", "precision:0.8", "precision:1",
                             "recall:0.3", "recall:0.6", "recall:1"]))
def test_operating_thresholds_against_brute_force(rows, extra_gt, rule) -> None:
    conf = np.array([r[0] / 10 for r in rows])
    pos = np.array([r[1] for r in rows])
    n_gt = int(pos.sum()) + extra_gt
    if n_gt == 0:
        return
    t, ok = operating_thresholds(conf, pos, np.zeros(len(conf), int), [n_gt], rule)
    cuts = np.unique(conf)
    stats = {float(c): _at(conf, pos, c, n_gt) for c in cuts}
    best_f1 = max(s[2] for s in stats.values())
    kind, target = parse_threshold_rule(rule)
    target = target or 0.0
    if kind == "f1":
        meets = [c for c, s in stats.items() if best_f1 > 0 and s[2] == best_f1]
        pick = max(meets) if meets else None
    elif kind == "precision":
        meets = [c for c, s in stats.items() if s[0] >= target]
        pick = min(meets) if meets else None
    else:
        meets = [c for c, s in stats.items() if s[1] >= target]
        pick = max(meets) if meets else None
    assert ok[0] == (pick is not None)
    if pick is not None:
        assert t[0] == pytest.approx(pick)
    elif best_f1 > 0:
        assert stats[float(t[0])][2] == pytest.approx(best_f1)
    else:
        assert t[0] == 0.25


# --- the plot -------------------------------------------------------------------------------


def test_reliability_diagram_writes_a_png(tmp_path) -> None:
    pytest.importorskip("matplotlib")
    import matplotlib.image

    from workbench.plots import reliability_diagram

    p, y = _draw(_hot, 5000, 6)
    cal = fit_calibrator(p, y, "temperature")
    curves = {"before": reliability(p, y), "after temperature": reliability(cal.apply(p), y),
              "empty": reliability([], [])}
    out = reliability_diagram(curves, tmp_path / "sub" / "reliability.png", "val: calibration")
    assert out == tmp_path / "sub" / "reliability.png"
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    h, w = matplotlib.image.imread(out).shape[:2]
    assert h > 400 and w > 400
