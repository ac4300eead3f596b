"""Diversity over image embeddings: k-center greedy (core-set) and cluster-then-pick."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def _normalize(x: npt.ArrayLike) -> FloatArray:
    a = np.asarray(x, dtype=np.float64)
    norm = np.linalg.norm(a, axis=1, keepdims=True)
    return np.asarray(a / np.maximum(norm, 1e-12), dtype=np.float64)


def k_center_greedy(embeddings: npt.ArrayLike, k: int, rng: np.random.Generator,
                    covered: npt.ArrayLike | None = None) -> IntArray:
    """Pick ``k`` points that each lie farthest from everything picked (or covered) so far.

    Args:
        embeddings: ``(N, D)`` candidate embeddings (L2-normalized inside).
        k: how many to pick (clipped to ``N``).
        rng: picks the first point when nothing is covered.
        covered: ``(L, D)`` embeddings already labeled, which count as picked.

    Returns:
        ``(k,)`` indices into ``embeddings``, in pick order.
    """
    x = _normalize(embeddings)
    n = len(x)
    k = min(max(k, 0), n)
    if k == 0:
        return np.zeros(0, dtype=np.int64)
    dist = np.full(n, np.inf)
    if covered is not None and len(np.asarray(covered)):
        c = _normalize(covered)
        for start in range(0, len(c), 4096):
            block = c[start:start + 4096]
            d = np.maximum(2.0 - 2.0 * x @ block.T, 0.0).min(axis=1)
            dist = np.minimum(dist, d)
    picks = np.empty(k, dtype=np.int64)
    for i in range(k):
        j = int(rng.integers(n)) if np.isinf(dist).all() else int(np.argmax(dist))
        picks[i] = j
        dist = np.minimum(dist, np.maximum(2.0 - 2.0 * x @ x[j], 0.0))
        dist[j] = -1.0
    return picks


def kmeans(embeddings: npt.ArrayLike, k: int, rng: np.random.Generator,
           iterations: int = 20) -> IntArray:
    """Cluster labels ``(N,)`` from k-means (k-means++ start) on L2-normalized embeddings."""
    x = _normalize(embeddings)
    n = len(x)
    k = min(max(k, 1), n)
    centers = np.empty((k, x.shape[1]))
    centers[0] = x[rng.integers(n)]
    d2 = ((x - centers[0]) ** 2).sum(axis=1)
    for i in range(1, k):
        total = d2.sum()
        j = int(rng.choice(n, p=d2 / total)) if total > 0 else int(rng.integers(n))
        centers[i] = x[j]
        d2 = np.minimum(d2, ((x - centers[i]) ** 2).sum(axis=1))
    labels: npt.NDArray[np.int64] = np.zeros(n, dtype=np.int64)
    for _ in range(iterations):
        dots = x @ centers.T
        new = np.asarray(dots.argmax(axis=1), dtype=np.int64)
        if (new == labels).all() and _ > 0:
            break
        labels = new
        for c in range(k):
            members = x[labels == c]
            if len(members):
                centers[c] = members.mean(axis=0)
    return labels


def cluster_pick(embeddings: npt.ArrayLike, scores: npt.ArrayLike, k: int,
                 rng: np.random.Generator) -> IntArray:
    """k-means into ``k`` clusters, then the highest-scoring image of each cluster.

    Returns:
        Up to ``k`` indices (fewer if clusters come out empty), highest scores first.
    """
    s = np.asarray(scores, dtype=np.float64)
    labels = kmeans(embeddings, k, rng)
    best = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        best.append(int(members[np.argmax(s[members])]))
    chosen = np.asarray(best, dtype=np.int64)
    return chosen[np.argsort(-s[chosen], kind="stable")]
