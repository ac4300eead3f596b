"""loop --simulate's summary: label saving against random in images and in boxes, the tables
and the plot over both axes, and the resume rule for points without boxes (no store needed)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from workbench.errors import ConfigError
from workbench.loop.config import SimConfig, saving_text
from workbench.loop.simulation import summarize
from workbench.loop.ui import simulation_summary

IMAGES = [10, 20, 30]
#: random's curve of seed 0: 150 boxes and mAP50 0.3 at the end
RANDOM = ([50, 100, 150], [0.1, 0.2, 0.3])


def _points(images: list[int], boxes: list[int], map50: list[float]) -> list[dict[str, Any]]:
    return [{"round": r, "labeled_images": i, "labeled_boxes": b, "map50": m, "map50_95": m / 2}
            for r, (i, b, m) in enumerate(zip(images, boxes, map50, strict=True))]


def _curves(entropy: list[tuple[list[int], list[float]]],
            random: list[tuple[list[int], list[float]]]) -> dict[str, Any]:
    """strategy -> seed -> points from ``(boxes, map50)`` per seed (images: :data:`IMAGES`)."""
    return {name: {str(s): _points(IMAGES, boxes, m) for s, (boxes, m) in enumerate(seeds)}
            for name, seeds in (("entropy", entropy), ("random", random))}


def _summary(entropy: list[tuple[list[int], list[float]]],
             random: list[tuple[list[int], list[float]]]) -> dict[str, Any]:
    cfg = SimConfig(rounds=3, initial=10, budget=10, seeds=len(random))
    return summarize(_curves(entropy, random), cfg).to_dict()["strategies"]


@pytest.mark.parametrize(("entropy", "random", "images", "boxes"), [
    # reaches random's 0.3 at round 2 (20 of 30 images) but with 140 of 150 boxes
    ([([50, 140, 230], [0.1, 0.3, 0.35])], [RANDOM], [0.6667], [0.9333]),
    # interpolated: 0.3 lies a third of the way from 0.25 to 0.4
    ([([50, 120, 200], [0.1, 0.25, 0.4])], [RANDOM], [0.7778], [0.9778]),
    # the same images as random but box-heavy images: more boxes than random needed
    ([([50, 200, 400], [0.1, 0.2, 0.3])], [RANDOM], [1.0], [2.6667]),
    # box-light images: fewer boxes than images would say
    ([([20, 40, 60], [0.1, 0.2, 0.3])], [RANDOM], [1.0], [0.4]),
    # never reached, on either axis
    ([([50, 100, 150], [0.1, 0.15, 0.2])], [RANDOM], [None], [None]),
    # random did not improve: undefined on both axes
    ([([50, 100, 150], [0.1, 0.2, 0.3])], [([50, 100, 150], [0.3, 0.2, 0.3])], [None], [None]),
    # per seed: each seed against its own random curve
    ([([50, 140, 230], [0.1, 0.3, 0.35]), ([40, 60, 90], [0.2, 0.4, 0.5])],
     [RANDOM, ([40, 80, 120], [0.1, 0.2, 0.4])], [0.6667, 0.6667], [0.9333, 0.5]),
])
def test_label_saving_in_images_and_in_boxes(
        entropy: list[tuple[list[int], list[float]]], random: list[tuple[list[int], list[float]]],
        images: list[float | None], boxes: list[float | None]) -> None:
    row = _summary(entropy, random)["entropy"]
    assert row["label_saving"]["fractions"] == pytest.approx(images)
    assert row["label_saving_boxes"]["fractions"] == pytest.approx(boxes)
    got = [f for f in boxes if f is not None]
    saving = row["label_saving_boxes"]
    assert saving["reached"] == len(got) and saving["seeds"] == len(boxes)
    if got:
        assert saving["mean"] == pytest.approx(sum(got) / len(got), abs=1e-4)
    else:
        assert saving["mean"] is None and saving["std"] is None


def test_summary_rows_carry_final_boxes_and_both_savings() -> None:
    rows = _summary([([50, 140, 230], [0.1, 0.3, 0.35]), ([40, 60, 90], [0.2, 0.4, 0.5])],
                    [RANDOM, ([40, 80, 120], [0.1, 0.2, 0.4])])
    assert list(rows["entropy"]) == ["final_labeled_images", "final_map50_mean",
                                     "final_map50_std", "final_labeled_boxes_mean",
                                     "final_labeled_boxes_std", "label_saving",
                                     "label_saving_boxes"]
    assert rows["entropy"]["final_labeled_boxes_mean"] == 160.0
    assert rows["entropy"]["final_labeled_boxes_std"] == 70.0
    assert "label_saving" not in rows["random"] and "label_saving_boxes" not in rows["random"]
    assert rows["random"]["final_labeled_boxes_mean"] == 135.0


@pytest.mark.parametrize(("saving", "text"), [
    (None, "—"),
    ({"mean": 0.5, "std": 0.1, "reached": 2, "undefined": 0, "seeds": 2}, "50% ± 10%"),
    ({"mean": None, "std": None, "reached": 0, "undefined": 0, "seeds": 2}, "not reached"),
    ({"mean": None, "std": None, "reached": 0, "undefined": 2, "seeds": 2},
     "undefined: random did not improve"),
])
def test_saving_text_reads_either_saving(saving: dict[str, Any] | None, text: str) -> None:
    other = {"mean": 0.9, "std": 0.0, "reached": 1, "undefined": 0, "seeds": 1}
    assert saving_text({"label_saving_boxes": saving, "label_saving": other},
                       "label_saving_boxes") == text
    assert saving_text({"label_saving": saving}) == text


def test_the_app_summary_shows_both_savings() -> None:
    rows = _summary([([50, 140, 230], [0.1, 0.3, 0.35])], [RANDOM])
    text = simulation_summary({"strategies": rows, "curves": "c.json", "plot": "p.png"})
    header, _, entropy, random = text.splitlines()[:4]
    for column in ("labels to match random (images)", "labels to match random (boxes)"):
        assert column in header
    assert entropy.split(" | ")[-2:] == ["67% ± 0%", "93% ± 0% |"]
    assert "230 ± 0" in entropy and "150 ± 0" in random
    # a summary.json written before boxes were counted still renders
    old = {k: v for k, v in rows["entropy"].items() if "boxes" not in k}
    assert "| — |" in simulation_summary({"strategies": {"entropy": old}})


def test_the_plot_has_a_row_per_metric_and_a_column_per_axis(tmp_path: Path) -> None:
    import matplotlib.image

    from workbench.plots import learning_curves

    curves = _curves([([50, 140, 230], [0.1, 0.3, 0.35]), ([40, 60, 90], [0.2, 0.4, 0.5])],
                     [RANDOM, ([40, 80, 120], [0.1, 0.2, 0.4])])
    one = learning_curves(curves, tmp_path / "one.png", metrics=("map50",))
    two = learning_curves(curves, tmp_path / "two.png")
    h1, w1 = matplotlib.image.imread(one).shape[:2]
    h2, w2 = matplotlib.image.imread(two).shape[:2]
    assert w1 > 1.8 * h1  # two panels side by side: images, boxes
    assert w2 == w1 and h2 > 1.8 * h1


def test_points_without_boxes_and_no_workspace_are_refused(tmp_path: Path) -> None:
    from workbench.loop.simulation import _check_resumable

    old = [{k: v for k, v in p.items() if k != "labeled_boxes"}
           for p in _points(IMAGES, [1, 2, 3], [0.1, 0.2, 0.3])]
    (tmp_path / "curves.json").write_text(json.dumps({"entropy": {"0": old}}))
    with pytest.raises(ConfigError, match=r"no labeled_boxes .*entropy-s0 is gone"):
        _check_resumable(tmp_path, "entropy", 0, old)
    _check_resumable(tmp_path, "entropy", 0, _points(IMAGES, [1, 2, 3], [0.1, 0.2, 0.3]))
    (tmp_path / "work" / "entropy-s0").mkdir(parents=True)
    (tmp_path / "work" / "entropy-s0" / "workbench.yaml").write_text("name: x\n")
    _check_resumable(tmp_path, "entropy", 0, old)  # recounted from the store instead
