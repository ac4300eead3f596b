"""Diversity methods: spread a selection over embedding space (the ``--diversity`` choices).

Each method picks ``n`` of a shortlist of the most uncertain candidates from their embeddings
(and scores). ``none`` ranks by score alone. A method is added with one :meth:`register` call.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from workbench.core import diversity
from workbench.registry import Registry

#: ``(embeddings (P, D), scores (P,), n, rng) -> (n,) indices into the shortlist``
Diversify = Callable[[npt.NDArray[np.float64], npt.NDArray[np.float64], int,
                      np.random.Generator], npt.NDArray[np.int64]]


def coreset(x: npt.NDArray[np.float64], scores: npt.NDArray[np.float64], n: int,
            rng: np.random.Generator) -> npt.NDArray[np.int64]:
    """k-center greedy over the embeddings ``(P, D)``; ``scores`` are not used."""
    return np.asarray(diversity.k_center_greedy(x, n, rng), dtype=np.int64)


def cluster(x: npt.NDArray[np.float64], scores: npt.NDArray[np.float64], n: int,
            rng: np.random.Generator) -> npt.NDArray[np.int64]:
    """Cluster the embeddings ``(P, D)``, then pick the highest-scoring image of each cluster."""
    return np.asarray(diversity.cluster_pick(x, scores, n, rng), dtype=np.int64)


#: Diversity methods; ``none`` has no function (rank by score alone).
DIVERSITY: Registry[Diversify | None] = Registry("diversity method")
DIVERSITY.register("none", None, help="Rank by score alone.", needs_embeddings=False)
DIVERSITY.register("coreset", coreset, needs_embeddings=True,
                   help="k-center greedy over the embeddings of the most uncertain images.")
DIVERSITY.register("cluster", cluster, needs_embeddings=True,
                   help="Cluster the most uncertain images; take the best of each cluster.")
