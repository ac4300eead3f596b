"""Confidence calibration of detections: fitted maps, calibration errors, operating thresholds.

A detection's confidence is calibrated when, of the boxes scored ``p``, a fraction ``p`` are
true positives (matched to ground truth, see :func:`workbench.core.cocoeval.match_detections`).
Three maps from raw to calibrated confidence, all monotone non-decreasing (the ranking of the
boxes, hence AP, is kept up to ties):

- ``temperature``: ``sigmoid(logit(p) / T)``, one parameter fitted by minimising the NLL;
- ``platt``: ``sigmoid(a * logit(p) + b)`` (``a >= 0``), logistic regression by Newton steps;
- ``isotonic``: the pool-adjacent-violators fit of ``y`` on ``p``, a step function stored as
  breakpoints and applied by linear interpolation between them.

The calibration error is the detection ECE of Küppers et al. (2020, "Multivariate Confidence
Calibration for Object Detection"): bins over confidence, optionally jointly with the box
centre, each weighted by its share of the boxes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

#: The calibration maps :func:`fit_calibrator` knows.
METHODS = ("temperature", "platt", "isotonic")
#: Confidences are clipped to ``[EPS, 1 - EPS]`` before taking logits.
EPS = 1e-7
#: The accepted forms of an operating-threshold rule.
THRESHOLD_RULES = ("f1", "precision:P", "recall:R")

_LOG_T_RANGE = (-3.0, 3.0)
_PLATT_L2 = 1e-4


def _check_method(method: str) -> None:
    if method not in METHODS:
        raise ValueError(f"unknown calibration method {method!r}; valid methods: "
                         f"{', '.join(METHODS)}")


def _logit(p: np.ndarray) -> np.ndarray:
    q = np.clip(p, EPS, 1.0 - EPS)
    return np.asarray(np.log(q) - np.log1p(-q))


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * z)))


def _identity(method: str) -> dict[str, Any]:
    """The parameters of the map that leaves confidences as they are."""
    if method == "temperature":
        return {"temperature": 1.0}
    if method == "platt":
        return {"a": 1.0, "b": 0.0}
    return {"x": [0.0, 1.0], "y": [0.0, 1.0]}


def _apply_map(method: str, params: dict[str, Any], p: np.ndarray) -> np.ndarray:
    """One map applied elementwise to confidences of any shape."""
    p = np.clip(np.asarray(p, dtype=np.float64), 0.0, 1.0)
    if method == "temperature":
        return _sigmoid(_logit(p) / float(params["temperature"]))
    if method == "platt":
        return _sigmoid(float(params["a"]) * _logit(p) + float(params["b"]))
    x = np.asarray(params["x"], dtype=np.float64)
    y = np.asarray(params["y"], dtype=np.float64)
    return np.asarray(np.interp(p, x, y))


@dataclass
class Calibrator:
    """A fitted confidence map, optionally one per class.

    Attributes:
        method: one of :data:`METHODS`.
        global_map: JSON-ready parameters of the map fitted on every class's boxes
            (``{"temperature": T}``, ``{"a": a, "b": b}`` or ``{"x": [...], "y": [...]}``).
        per_class: class id -> parameters of that class's own map; empty when not fitted per
            class. Classes without an entry use ``global_map``.
    """

    method: str
    global_map: dict[str, Any]
    per_class: dict[int, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_method(self.method)

    def apply(self, conf: npt.ArrayLike, cls: npt.ArrayLike | None = None) -> np.ndarray:
        """Calibrated confidences.

        Args:
            conf: ``(M,)`` raw confidences in ``[0, 1]``.
            cls: ``(M,)`` class ids, or None to use the global map for every box.

        Returns:
            ``(M,)`` calibrated confidences in ``[0, 1]``.
        """
        p = np.asarray(conf, dtype=np.float64).reshape(-1)
        out = _apply_map(self.method, self.global_map, p)
        if cls is None or not self.per_class:
            return out
        k = np.asarray(cls, dtype=np.int64).reshape(-1)
        if len(k) != len(p):
            raise ValueError(f"cls has {len(k)} entries, conf has {len(p)}; give one per box")
        for c, params in self.per_class.items():  # a loop over classes, not boxes
            rows = k == c
            if rows.any():
                out[rows] = _apply_map(self.method, params, p[rows])
        return out

    def apply_probs(self, probs: npt.ArrayLike) -> np.ndarray:
        """Calibrated per-class scores (each an independent sigmoid score, as in YOLOv8).

        Args:
            probs: ``(M, C)`` scores in ``[0, 1]``; column ``c`` is mapped with class ``c``'s map.

        Returns:
            ``(M, C)`` calibrated scores in ``[0, 1]``.
        """
        p = np.asarray(probs, dtype=np.float64)
        if p.ndim != 2:
            raise ValueError(f"probs must be (M, C), got shape {p.shape}")
        out = _apply_map(self.method, self.global_map, p)
        for c, params in self.per_class.items():
            if 0 <= c < p.shape[1]:
                out[:, c] = _apply_map(self.method, params, p[:, c])
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (plain floats and lists; class ids as string keys)."""
        return {"method": self.method, "global_map": _plain(self.global_map),
                "per_class": {str(c): _plain(v) for c, v in sorted(self.per_class.items())}}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Calibrator:
        """The inverse of :meth:`to_dict`."""
        return cls(method=str(d["method"]), global_map=_plain(d["global_map"]),
                   per_class={int(c): _plain(v) for c, v in (d.get("per_class") or {}).items()})


def _plain(params: dict[str, Any]) -> dict[str, Any]:
    return {k: ([float(x) for x in v] if isinstance(v, list | tuple | np.ndarray) else float(v))
            for k, v in params.items()}


def _nll(s: np.ndarray, y: np.ndarray) -> float:
    """Mean Bernoulli negative log-likelihood of labels ``y`` under logits ``s``."""
    return float(np.mean(np.logaddexp(0.0, s) - y * s))


def _fit_temperature(p: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """``T`` minimising the NLL: golden-section search on ``log T`` (the NLL is convex in
    ``1 / T``, hence unimodal in ``log T``)."""
    z = _logit(p)
    lo, hi = _LOG_T_RANGE
    ratio = (math.sqrt(5.0) - 1.0) / 2.0
    a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
    fa, fb = _nll(z * math.exp(-a), y), _nll(z * math.exp(-b), y)
    while hi - lo > 1e-6:
        if fa <= fb:
            hi, b, fb = b, a, fa
            a = hi - ratio * (hi - lo)
            fa = _nll(z * math.exp(-a), y)
        else:
            lo, a, fa = a, b, fb
            b = lo + ratio * (hi - lo)
            fb = _nll(z * math.exp(-b), y)
    return {"temperature": math.exp((lo + hi) / 2.0)}


def _platt_loss(theta: np.ndarray, x: np.ndarray, y: np.ndarray) -> float:
    return _nll(x @ theta, y) + 0.5 * _PLATT_L2 * float(theta @ theta)


def _newton(x: np.ndarray, y: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """L2-regularised logistic regression by Newton steps with step halving."""
    m = len(y)
    loss = _platt_loss(theta, x, y)
    for _ in range(100):
        q = _sigmoid(x @ theta)
        grad = x.T @ (q - y) / m + _PLATT_L2 * theta
        hess = (x * (q * (1.0 - q))[:, None]).T @ x / m + _PLATT_L2 * np.eye(len(theta))
        step = np.linalg.solve(hess, grad)
        scale = 1.0
        while scale > 1e-10:
            new = theta - scale * step
            new_loss = _platt_loss(new, x, y)
            if new_loss <= loss:
                break
            scale /= 2.0
        else:
            break
        done = float(np.abs(new - theta).max()) < 1e-10 or loss - new_loss < 1e-14
        theta, loss = new, new_loss
        if done:
            break
    return theta


def _fit_platt(p: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """``sigmoid(a * logit(p) + b)``; ``a`` is held at ``>= 0`` so that the map is monotone
    (where the unconstrained fit has ``a < 0``, the constrained optimum has ``a = 0``)."""
    z = _logit(p)
    a, b = _newton(np.column_stack([z, np.ones_like(z)]), y, np.array([1.0, 0.0]))
    if a < 0.0:
        a, (b,) = 0.0, _newton(np.ones((len(y), 1)), y, np.zeros(1))
    return {"a": float(a), "b": float(b)}


def _pool_stack(sums: np.ndarray, counts: np.ndarray, first: np.ndarray, last: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Stack-based pool adjacent violators over blocks (``O(B)``): the fallback when the
    vectorised passes stop paying off."""
    st_s: list[float] = []
    st_n: list[float] = []
    st_f: list[float] = []
    st_l: list[float] = []
    for s, n, f, la in zip(sums.tolist(), counts.tolist(), first.tolist(), last.tolist(),
                           strict=True):
        while st_s and st_s[-1] * n > s * st_n[-1]:  # the previous block's mean is higher
            s, n, f = s + st_s.pop(), n + st_n.pop(), st_f.pop()
            st_l.pop()
        st_s.append(s)
        st_n.append(n)
        st_f.append(f)
        st_l.append(la)
    return np.array(st_s), np.array(st_n), np.array(st_f), np.array(st_l)


def _fit_isotonic(p: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """Pool adjacent violators on ``(p, y)``. Vectorised passes each merge every maximal run
    of decreasing block means (pooling in any order reaches the same isotonic fit); when a
    pass no longer removes a tenth of the blocks, a stack-based pass over the blocks ends it."""
    x, inverse = np.unique(p, return_inverse=True)
    sums: np.ndarray = np.bincount(inverse, weights=y).astype(np.float64)
    counts: np.ndarray = np.bincount(inverse).astype(np.float64)
    first, last = x.copy(), x.copy()  # the x range of each block
    while len(sums) > 1:
        violates = sums[:-1] * counts[1:] > sums[1:] * counts[:-1]  # mean[i] > mean[i + 1]
        if not violates.any():
            break
        n_before = len(sums)
        starts = np.flatnonzero(np.r_[True, ~violates])
        block = np.cumsum(np.r_[True, ~violates]) - 1
        ends = np.r_[starts[1:], len(sums)] - 1
        sums, counts = np.bincount(block, weights=sums), np.bincount(block, weights=counts)
        first, last = first[starts], last[ends]
        if len(sums) > 0.9 * n_before:
            sums, counts, first, last = _pool_stack(sums, counts, first, last)
            break
    values = np.clip(sums / counts, 0.0, 1.0)
    bx = np.column_stack([first, last]).reshape(-1)
    by = np.repeat(values, 2)
    keep = np.r_[True, bx[1:] != bx[:-1]]  # a one-value block needs one breakpoint
    return {"x": bx[keep].tolist(), "y": by[keep].tolist()}


_FITTERS = {"temperature": _fit_temperature, "platt": _fit_platt, "isotonic": _fit_isotonic}


def _fit_one(method: str, p: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    if len(p) == 0 or y.all() or not y.any():
        return _identity(method)
    params = _FITTERS[method](p, y)
    return _plain(params)


def fit_calibrator(conf: npt.ArrayLike, positive: npt.ArrayLike, method: str,
                   cls: npt.ArrayLike | None = None, n_classes: int | None = None,
                   min_per_class: int = 30) -> Calibrator:
    """Fit a confidence map on boxes whose outcome (true positive or not) is known.

    Args:
        conf: ``(M,)`` raw confidences in ``[0, 1]``.
        positive: ``(M,)`` bool, the box matched ground truth.
        method: one of :data:`METHODS`.
        cls: ``(M,)`` class ids to also fit one map per class, or None for one global map.
        n_classes: ``K`` (class ids ``0..K-1``); by default the classes present in ``cls``.
        min_per_class: a class gets its own map only with at least this many boxes and both
            outcomes among them; the others use the global map.

    Returns:
        The :class:`Calibrator`. With no boxes or a single outcome a map is the identity.

    Raises:
        ValueError: an unknown method, mismatched lengths, non-finite confidences or class ids
            outside ``0..K-1``.
    """
    _check_method(method)
    p: np.ndarray = np.asarray(conf, dtype=np.float64).reshape(-1)
    y = np.asarray(positive, dtype=bool).reshape(-1)
    if len(y) != len(p):
        raise ValueError(f"positive has {len(y)} entries, conf has {len(p)}; give one per box")
    if not np.isfinite(p).all():
        raise ValueError("conf has NaN or infinite values; drop those boxes before fitting")
    p = np.clip(p, 0.0, 1.0)
    yf = y.astype(np.float64)
    calibrator = Calibrator(method, _fit_one(method, p, yf))
    if cls is None:
        return calibrator
    k = np.asarray(cls, dtype=np.int64).reshape(-1)
    if len(k) != len(p):
        raise ValueError(f"cls has {len(k)} entries, conf has {len(p)}; give one per box")
    if n_classes is not None and len(k) and (k.min() < 0 or k.max() >= n_classes):
        raise ValueError(f"class ids must be in 0..{n_classes - 1}, got {k.min()}..{k.max()}")
    if len(k) and k.min() < 0:
        raise ValueError(f"class ids must be >= 0, got {k.min()}")
    n_k = n_classes if n_classes is not None else int(k.max(initial=-1)) + 1
    boxes = np.bincount(k, minlength=n_k)
    hits = np.bincount(k, weights=yf, minlength=n_k)
    for c in np.flatnonzero((boxes >= max(min_per_class, 1)) & (hits > 0) & (hits < boxes)):
        rows = k == c
        calibrator.per_class[int(c)] = _fit_one(method, p[rows], yf[rows])
    return calibrator


def _pair(conf: npt.ArrayLike, positive: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(conf, dtype=np.float64).reshape(-1)
    y = np.asarray(positive, dtype=np.float64).reshape(-1)
    if len(y) != len(p):
        raise ValueError(f"positive has {len(y)} entries, conf has {len(p)}; give one per box")
    return p, y


def _bin(values: np.ndarray, bins: int) -> np.ndarray:
    """Equal-width bin of each value in ``[0, 1]`` (1 falls in the last bin)."""
    if bins < 1:
        raise ValueError(f"bins must be >= 1, got {bins}")
    return np.clip(np.floor(values * bins), 0, bins - 1).astype(np.int64)


def brier(conf: npt.ArrayLike, positive: npt.ArrayLike) -> float:
    """Brier score: mean of ``(conf - positive)²`` over ``(M,)`` boxes; NaN when ``M = 0``."""
    p, y = _pair(conf, positive)
    return float(np.mean((p - y) ** 2)) if len(p) else float("nan")


def dece(conf: npt.ArrayLike, positive: npt.ArrayLike, bins: int = 10,
         position: npt.ArrayLike | None = None, position_bins: int = 5) -> float:
    """Detection expected calibration error (Küppers et al. 2020).

    ``sum over non-empty bins of (count / M) * |precision(bin) - mean conf(bin)|``, precision
    being the fraction of the bin's boxes that are true positives.

    Args:
        conf: ``(M,)`` confidences; ``positive``: ``(M,)`` bool outcomes.
        bins: equal-width confidence bins on ``[0, 1]``.
        position: ``(M, 2)`` normalised box centres ``(cx, cy)`` in ``[0, 1]`` to bin jointly
            over confidence x cx x cy, or None for confidence only.
        position_bins: bins per centre coordinate.

    Returns:
        The error in ``[0, 1]``; NaN when ``M = 0``.
    """
    p, y = _pair(conf, positive)
    if len(p) == 0:
        return float("nan")
    flat, n_bins = _bin(p, bins), bins
    if position is not None:
        xy = np.asarray(position, dtype=np.float64).reshape(-1, 2)
        if len(xy) != len(p):
            raise ValueError(f"position has {len(xy)} rows, conf has {len(p)}; give one per box")
        flat = (flat * position_bins + _bin(xy[:, 0], position_bins)) * position_bins \
            + _bin(xy[:, 1], position_bins)
        n_bins = bins * position_bins**2
    gap = np.bincount(flat, weights=y, minlength=n_bins) \
        - np.bincount(flat, weights=p, minlength=n_bins)
    return float(np.abs(gap).sum() / len(p))


def reliability(conf: npt.ArrayLike, positive: npt.ArrayLike, bins: int = 10
                ) -> dict[str, np.ndarray]:
    """The reliability curve: per equal-width confidence bin, mean confidence and precision.

    Args:
        conf: ``(M,)`` confidences; ``positive``: ``(M,)`` bool outcomes.
        bins: ``B``.

    Returns:
        ``edges (B+1,)``, ``mean_conf (B,)``, ``precision (B,)`` (NaN where a bin is empty)
        and ``count (B,)``.
    """
    p, y = _pair(conf, positive)
    b = _bin(p, bins)
    count = np.bincount(b, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.where(count > 0, np.bincount(b, weights=p, minlength=bins) / count,
                             np.nan)
        precision = np.where(count > 0, np.bincount(b, weights=y, minlength=bins) / count,
                             np.nan)
    return {"edges": np.linspace(0.0, 1.0, bins + 1), "mean_conf": mean_conf,
            "precision": precision, "count": count}


def image_halves(n_images: int, rng: np.random.Generator) -> np.ndarray:
    """A random split of images in two: ``(N,)`` bool, exactly ``N // 2`` True (the half to
    fit on; the rest evaluates)."""
    mask = np.zeros(n_images, dtype=bool)
    mask[rng.permutation(n_images)[:n_images // 2]] = True
    return mask


def parse_threshold_rule(rule: str) -> tuple[str, float | None]:
    """``"f1"`` -> ``("f1", None)``; ``"precision:0.9"`` -> ``("precision", 0.9)``; likewise
    ``"recall:R"``. Targets are in ``(0, 1]``.

    Raises:
        ValueError: any other text.
    """
    text = rule.strip().lower()
    if text == "f1":
        return "f1", None
    kind, _, value = text.partition(":")
    if kind in ("precision", "recall"):
        try:
            target = float(value)
        except ValueError:
            target = float("nan")
        if 0.0 < target <= 1.0:
            return kind, target
    raise ValueError(f"unknown threshold rule {rule!r}; use {', '.join(THRESHOLD_RULES)} "
                     "(P and R in (0, 1], e.g. precision:0.9)")


def _cuts(tp: np.ndarray, conf: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """At each distinct confidence (descending): TP count, box count and the confidence."""
    order = np.argsort(-conf, kind="stable")
    c = conf[order]
    tps = np.cumsum(tp[order])
    last = np.r_[c[1:] != c[:-1], True]  # a threshold keeps every box of equal confidence
    return tps[last], np.flatnonzero(last) + 1.0, c[last]


def operating_thresholds(conf: npt.ArrayLike, positive: npt.ArrayLike, cls: npt.ArrayLike,
                         n_gt: npt.ArrayLike, rule: str, default: float = 0.25
                         ) -> tuple[np.ndarray, np.ndarray]:
    """A confidence threshold per class (a box counts when ``conf >= t``) chosen by a rule.

    - ``f1``: the threshold of highest F1 (recall = TP / ground truth; ties: the highest);
    - ``precision:P``: the lowest threshold whose precision is ``>= P`` (most recall at P);
    - ``recall:R``: the highest threshold whose recall is ``>= R``.

    Args:
        conf: ``(M,)`` confidences; ``positive``: ``(M,)`` bool, the box is a true positive;
            ``cls``: ``(M,)`` class ids ``0..K-1``.
        n_gt: ``(K,)`` ground-truth boxes per class.
        rule: see :func:`parse_threshold_rule`.
        default: the threshold of a class with no true positive.

    Returns:
        ``(K,)`` thresholds, and ``(K,)`` bool whether the rule could be met (the class has
        ground truth and predictions and the target is reachable). Where it cannot, the class
        gets its F1 threshold if it has a true positive, else ``default``.
    """
    kind, target = parse_threshold_rule(rule)
    p, y = _pair(conf, positive)
    k = np.asarray(cls, dtype=np.int64).reshape(-1)
    gt = np.asarray(n_gt, dtype=np.float64).reshape(-1)
    if len(k) != len(p):
        raise ValueError(f"cls has {len(k)} entries, conf has {len(p)}; give one per box")
    if len(k) and (k.min() < 0 or k.max() >= len(gt)):
        raise ValueError(f"class ids must be in 0..{len(gt) - 1} (n_gt has {len(gt)} entries), "
                         f"got {k.min()}..{k.max()}")
    thresholds = np.full(len(gt), float(default))
    met = np.zeros(len(gt), dtype=bool)
    tol = 1e-12
    for c in np.flatnonzero(gt > 0):  # a loop over classes, not boxes
        rows = k == c
        if not rows.any():
            continue
        tps, boxes, cuts = _cuts(y[rows], p[rows])
        f1 = 2.0 * tps / (boxes + gt[c])
        if tps[-1] > 0:
            thresholds[c] = cuts[int(np.argmax(f1))]
        if target is None:  # f1
            met[c] = tps[-1] > 0
            continue
        if kind == "precision":
            ok = np.flatnonzero(tps / boxes >= target - tol)
            pick = ok[-1] if len(ok) else -1
        else:
            ok = np.flatnonzero(tps / gt[c] >= target - tol)
            pick = ok[0] if len(ok) else -1
        if pick >= 0:
            thresholds[c], met[c] = cuts[pick], True
    return thresholds, met
