"""``ssl probe`` on demo data and the k-NN classifier under it."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from workbench.errors import ConfigError, WorkbenchError
from workbench.ssl.api import ProbeConfig, probe
from workbench.ssl.knn import accuracy, knn_predict


def test_knn_separates_separable_classes_and_not_shuffled_ones() -> None:
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 16)) * 5
    y = np.repeat(np.arange(3), 40)
    x = centres[y] + rng.normal(size=(120, 16))
    q_y = np.repeat(np.arange(3), 10)
    q = centres[q_y] + rng.normal(size=(30, 16))
    assert accuracy(knn_predict(x, y, q, 5, 3), q_y) == 1.0
    shuffled = rng.permutation(y)
    assert accuracy(knn_predict(x, shuffled, q, 5, 3), q_y) < 0.7


def test_knn_weights_votes_by_similarity() -> None:
    train = np.array([[1.0, 0.0], [0.0, 1.0], [0.1, 1.0]])
    labels = np.array([0, 1, 1])
    # k=1: the nearest row decides; k=3: two near votes for 1 outweigh one far vote for 0
    assert knn_predict(train, labels, np.array([[1.0, 0.05]]), 1, 2).tolist() == [0]
    assert knn_predict(train, labels, np.array([[0.0, 1.0]]), 3, 2).tolist() == [1]


@pytest.mark.integration
@pytest.mark.slow
def test_probe_runs_on_demo_boxes_beside_its_baselines(ssl_ws: Any, pretrained: Any) -> None:
    """The probe on the fixture run (2 SimCLR epochs on 16 images at 96 px).

    It must run end to end and report accuracies with their baselines; it is *not* asserted
    to beat the random backbone: two epochs over 16 images are a few optimiser steps, far
    too little to learn features, and a randomly initialised conv net is itself a strong
    k-NN baseline on colour/texture. The figures of a real run on aquarium-mini are in
    docs (benchmarks/ssl)."""
    result = probe(ssl_ws, ProbeConfig(run=pretrained.run, k=3, crop_size=64))
    labeled = ssl_ws.samples.count_documents({"split": "val", "status": "labeled"})
    assert labeled == 10 and result.val_boxes > 10 and result.train_boxes > 10
    for value in (result.accuracy, result.random_accuracy, result.majority_accuracy):
        assert 0.0 <= value <= 1.0
    assert sum(int(c["support"]) for c in result.per_class.values()) == result.val_boxes
    assert result.accuracy > 0.0


@pytest.mark.integration
def test_probe_refuses_views_without_boxes(ssl_ws: Any, pretrained: Any) -> None:
    with pytest.raises(WorkbenchError, match="no labeled boxes"):
        probe(ssl_ws, ProbeConfig(run=pretrained.run, val="split:pool"))


@pytest.mark.parametrize("options", [{"k": 0}, {"crop_size": 50}, {"context": -1.0}])
def test_bad_probe_options_are_refused(options: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        ProbeConfig(run="r", **options)
