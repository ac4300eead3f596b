"""k-nearest-neighbour classification on embeddings (numpy only): the linear-free probe of
whether features carry class information."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


def knn_predict(train: npt.NDArray[np.floating], train_labels: npt.NDArray[np.int64],
                query: npt.NDArray[np.floating], k: int, n_classes: int,
                chunk: int = 1024) -> npt.NDArray[np.int64]:
    """Predict a class per query row by a similarity-weighted vote of its ``k`` nearest
    training rows (cosine similarity).

    Args:
        train: ``(N, D)`` training embeddings.
        train_labels: ``(N,)`` class ids in ``[0, n_classes)``.
        query: ``(M, D)`` embeddings to classify.
        k: neighbours (at most ``N`` are used).
        n_classes: number of classes.
        chunk: query rows per similarity block (bounds memory at ``chunk x N``).

    Returns:
        ``(M,)`` predicted class ids (ties: the lowest id).
    """
    if len(train) == 0:
        raise ValueError("knn_predict needs at least one training row")
    k = min(k, len(train))
    a = _unit(train)
    out = np.empty(len(query), dtype=np.int64)
    for start in range(0, len(query), chunk):
        sims = _unit(query[start:start + chunk]) @ a.T  # (m, N)
        nearest = np.argpartition(-sims, k - 1, axis=1)[:, :k]  # (m, k)
        weights = np.take_along_axis(sims, nearest, axis=1) + 1.0  # cosine in [-1, 1] -> >= 0
        votes = np.zeros((len(sims), n_classes))
        rows = np.repeat(np.arange(len(sims)), k)
        np.add.at(votes, (rows, train_labels[nearest].ravel()), weights.ravel())
        out[start:start + len(sims)] = votes.argmax(axis=1)
    return out


def _unit(x: npt.NDArray[np.floating]) -> npt.NDArray[np.float64]:
    x = np.asarray(x, dtype=np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def accuracy(pred: npt.NDArray[np.int64], truth: npt.NDArray[np.int64]) -> float:
    """Fraction of equal entries (0.0 for empty arrays)."""
    return float(np.mean(pred == truth)) if len(truth) else 0.0
