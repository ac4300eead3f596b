"""``evaluate --predictions RUN``: stored prediction runs (imported JSONL with known boxes), an
ensemble-kind run and a TTA-fused run beside their members, errors, and the CLI, on real demo
images and a real mongod."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.test_cli_e2e import wb
from tests.training.conftest import covering_workspace

pytestmark = [pytest.mark.slow, pytest.mark.integration]


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory, mongo_uri: str):  # type: ignore[no-untyped-def]
    """A workspace with 4 train and 8 val real images."""
    ws = covering_workspace(tmp_path_factory.mktemp("stored"), mongo_uri, 4, 8)
    yield ws
    ws.dataset.delete()
    ws.runs.delete_many({"dataset": ws.config.name})


def _val_truth(ws: Any, split: str = "val") -> list[tuple[str, list[str], list[list[float]]]]:
    """``(filepath, labels, [x, y, w, h] relative)`` of each labeled image of ``split``."""
    view = ws.dataset.match({"split": split, "status": "labeled"}).sort_by("filepath")
    paths, labels, boxes = view.values(["filepath", "ground_truth.detections.label",
                                        "ground_truth.detections.bounding_box"])
    return [(p, lab or [], box or []) for p, lab, box in zip(paths, labels, boxes, strict=True)]


def _shrunk(box: list[float]) -> list[float]:
    """The box halved in width and height about its centre (IoU 0.25 with it)."""
    x, y, w, h = box
    return [x + w / 4, y + h / 4, w / 2, h / 2]


def _detections(images: list[tuple[str, list[str], list[list[float]]]], shrink_odd: bool,
                drop_first: bool) -> list[tuple[str, list[dict[str, Any]]]]:
    """The ground truth of ``images`` as predictions: exact boxes, every other box shrunk
    (``shrink_odd``), the very first box left out (``drop_first``); confidences distinct and
    descending."""
    rows, n = [], 0
    for path, labels, boxes in images:
        dets = []
        for label, box in zip(labels, boxes, strict=True):
            n += 1
            if drop_first and n == 1:
                continue
            shrunk = shrink_odd and n % 2 == 1
            dets.append({"label": label, "box": _shrunk(box) if shrunk else box,
                         "confidence": round(0.99 - 0.001 * n, 4)})
        rows.append((path, dets))
    return rows


def _import(ws: Any, tmp: Path, run: str, images: list[tuple[str, list[str], list[list[float]]]],
            shrink_odd: bool = False, drop_first: bool = False) -> None:
    """``predictions import`` of :func:`_detections` as a JSONL file, as run ``run``."""
    from workbench.prediction.api import PredictionsImportConfig, import_predictions

    file = tmp / f"{run}.jsonl"
    file.write_text("".join(json.dumps({"filepath": p, "detections": d}) + "\n"
                            for p, d in _detections(images, shrink_odd, drop_first)))
    import_predictions(ws, PredictionsImportConfig(file, run))


def _write(ws: Any, run: str, images: list[tuple[str, list[str], list[list[float]]]],
           shrink_odd: bool = False, members: list[str] | None = None) -> None:
    """Store :func:`_detections` as run ``run`` straight into the store (no per-image score
    indexes: MongoDB allows 64 indexes a collection), an ensemble of ``members`` if given."""
    from workbench.core.types import Predictions
    from workbench.store import predictions, runs
    from workbench.store.runs import RunKind

    by_path = predictions.ids_by_filepath(ws)
    rows = _detections(images, shrink_odd, False)
    dets = [(i, d) for i, (_, per) in enumerate(rows) for d in per]
    xywh = np.array([d["box"] for _, d in dets], dtype=np.float64).reshape(-1, 4)
    preds = Predictions(np.c_[xywh[:, :2], xywh[:, :2] + xywh[:, 2:]],
                        np.array([d["confidence"] for _, d in dets], dtype=np.float64),
                        np.array([ws.classes.index(d["label"]) for _, d in dets], dtype=np.int64),
                        np.array([i for i, _ in dets], dtype=np.int64))
    predictions.write_predictions(ws, run, [by_path[p] for p, _ in rows], preds, ws.classes)
    kind = RunKind.PREDICTIONS_IMPORT if members is None else RunKind.ENSEMBLE
    runs.record_run(ws, kind, run, {"members": members} if members else {},
                    {"boxes": len(preds)}, dt.datetime.now(dt.UTC))


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


@pytest.fixture(scope="module")
def imported(ws, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Imported runs ``exact`` (the ground truth), ``shifted`` (every other box shrunk) and
    ``fused`` (the ground truth less one box: made an ensemble of the first two), and
    ``partial`` (exact, on 6 of the 8 val images)."""
    tmp = tmp_path_factory.mktemp("jsonl")
    truth = _val_truth(ws)
    names = {k: _name(k) for k in ("exact", "shifted", "fused", "partial")}
    _import(ws, tmp, names["exact"], truth)
    _import(ws, tmp, names["shifted"], truth, shrink_odd=True)
    _import(ws, tmp, names["fused"], truth, drop_first=True)
    _record_ensemble(ws, names["fused"], [names["exact"], names["shifted"]])
    _write(ws, names["partial"], truth[2:])
    return names


def _record_ensemble(ws: Any, run: str, members: list[str]) -> None:
    """Make the imported run ``run`` an ensemble of ``members`` (what ``ensemble`` records)."""
    from workbench.store import runs
    from workbench.store.runs import RunKind

    doc = runs.get_run(ws, run)
    assert doc is not None
    runs.delete_run(ws, run)
    runs.record_run(ws, RunKind.ENSEMBLE, run, {"members": members, "method": "wbf"},
                    doc.get("outputs") or {}, dt.datetime.now(dt.UTC))


def test_exact_run_scores_one_and_shifted_less(ws, imported) -> None:  # type: ignore[no-untyped-def]
    from workbench.store import runs
    from workbench.training.api import EvalConfig, evaluate, evaluate_predictions

    exact = evaluate(ws, EvalConfig(predictions=imported["exact"]))
    assert exact.images == 8 and exact.view == "split:val" and exact.members == []
    assert exact.pred_field == f"pred_{imported['exact'].replace('-', '_')}"
    assert exact.map50 == pytest.approx(1.0) and exact.map50_95 == pytest.approx(1.0)
    assert exact.ap75 == pytest.approx(1.0) and exact.ar == pytest.approx(1.0)
    assert exact.precision == pytest.approx(1.0) and exact.recall == pytest.approx(1.0)
    for row in exact.per_class.values():
        if row["support"]:
            assert row["ap50"] == pytest.approx(1.0) and row["recall"] == pytest.approx(1.0)
    shifted = evaluate_predictions(ws, imported["shifted"], critical=["fish"], min_recall=1.0)
    assert 0.0 < shifted.map50 < 1.0
    assert shifted.recall < 1.0 and shifted.critical == ["fish"]
    # the per-box verdicts are stored in the run's own field: half the boxes are misses
    ds = ws.dataset.match({"split": "val"})
    verdicts = [v for per in ds.values(f"{shifted.pred_field}.detections.{shifted.eval_key}")
                for v in per or []]
    assert verdicts.count("tp") and verdicts.count("fp")
    assert Path(shifted.report_dir, "report.json").is_file()
    record = [r for r in runs.list_runs(ws, "evaluate")
              if r["params"].get("predictions") == imported["shifted"]]
    assert len(record) == 1 and record[0]["outputs"]["map50"] == shifted.map50
    doc = runs.get_run(ws, imported["shifted"])
    assert doc is not None and doc["evaluations"]["val"]["map50"] == shifted.map50


def test_numpy_coco_matches_fiftyone_on_stored_boxes(ws, imported) -> None:  # type: ignore[no-untyped-def]
    from workbench.core.cocoeval import coco_evaluate
    from workbench.store.run_boxes import view_field_arrays
    from workbench.training.api import evaluate_predictions

    rep = evaluate_predictions(ws, imported["shifted"])
    data = view_field_arrays(ws, "split:val", ["ground_truth", rep.pred_field], labeled=True)
    wh = np.c_[data["width"], data["height"]]
    gt, pr = data["ground_truth"], data[rep.pred_field]
    index = {c: k for k, c in enumerate(ws.classes)}
    m = coco_evaluate(pr["sample_index"], pr["xyxyn"] * np.tile(wh[pr["sample_index"]], 2),
                      pr["confidence"], [index[x] for x in pr["label"]], gt["sample_index"],
                      gt["xyxyn"] * np.tile(wh[gt["sample_index"]], 2),
                      [index[x] for x in gt["label"]], len(ws.classes))
    assert rep.ap75 == pytest.approx(m.ap75, abs=1e-6) and rep.ar == pytest.approx(m.ar, abs=1e-6)
    assert rep.map50 == pytest.approx(m.ap50, abs=1e-6)
    assert rep.map50_95 == pytest.approx(m.ap, abs=1e-6)


def test_ensemble_lists_members_beside_the_fusion(ws, imported) -> None:  # type: ignore[no-untyped-def]
    from workbench.store import runs
    from workbench.training.api import evaluate_predictions

    members = [imported["exact"], imported["shifted"]]
    alone = {m: evaluate_predictions(ws, m) for m in members}
    rep = evaluate_predictions(ws, imported["fused"])
    assert rep.member_images == 8 == rep.images
    assert [(r["run"], r["role"]) for r in rep.members] == [
        (members[0], "member"), (members[1], "member"), (imported["fused"], "fusion")]
    for row in rep.members[:2]:
        assert row["map50"] == pytest.approx(alone[row["run"]].map50, abs=1e-6), row
        assert row["map50_95"] == pytest.approx(alone[row["run"]].map50_95, abs=1e-6), row
    fusion = rep.members[-1]
    assert fusion["map50"] == pytest.approx(rep.map50, abs=1e-6)
    assert rep.members[0]["map50"] == pytest.approx(1.0)
    assert rep.members[1]["map50"] < fusion["map50"] < 1.0
    n_gt = sum(len(labels) for _, labels, _ in _val_truth(ws))
    assert [r["boxes"] for r in rep.members] == [n_gt, n_gt, n_gt - 1]
    doc = runs.get_run(ws, imported["fused"])
    assert doc is not None and doc["evaluations"]["val"]["members"] == rep.members
    record = [r for r in runs.list_runs(ws, "evaluate")
              if r["params"].get("predictions") == imported["fused"]]
    assert record[-1]["outputs"]["members"] == rep.members


def test_members_are_compared_on_the_images_they_share(ws, imported) -> None:  # type: ignore[no-untyped-def]
    from workbench.training.api import evaluate_predictions

    ens = _name("ens")
    truth = _val_truth(ws)
    shared = [p for p, _, _ in truth[2:]]
    tag = _name("shared")
    ws.dataset.select_by("filepath", shared).tag_samples(tag)
    # an ensemble whose members are the exact run and the partial one (6 of 8 images)
    _write(ws, ens, truth, shrink_odd=True, members=[imported["exact"], imported["partial"]])
    rep = evaluate_predictions(ws, ens)
    assert rep.images == 8 and rep.member_images == 6
    on_shared = evaluate_predictions(ws, ens, view=f"split:val,tag:{tag}")
    assert on_shared.images == 6
    assert rep.members[-1]["map50"] == pytest.approx(on_shared.map50, abs=1e-6)
    assert rep.members[-1]["map50_95"] == pytest.approx(on_shared.map50_95, abs=1e-6)
    assert [r["map50"] for r in rep.members[:2]] == [pytest.approx(1.0), pytest.approx(1.0)]
    n_shared = sum(len(labels) for _, labels, _ in truth[2:])
    assert [r["boxes"] for r in rep.members] == [n_shared] * 3


def test_tta_fused_run_lists_its_passes(ws, imported) -> None:  # type: ignore[no-untyped-def]
    from workbench.core.types import Predictions
    from workbench.store import predictions, runs
    from workbench.store.run_boxes import view_field_arrays
    from workbench.store.runs import RunKind
    from workbench.training.api import evaluate_predictions

    exact_field = predictions.field_name("pred", imported["exact"])
    shifted_field = predictions.field_name("pred", imported["shifted"])
    data = view_field_arrays(ws, "split:val", [exact_field, shifted_field], labeled=True)
    index = {c: k for k, c in enumerate(ws.classes)}

    def preds(field: str) -> Predictions:
        b = data[field]
        return Predictions(b["xyxyn"], b["confidence"],
                           np.array([index[x] for x in b["label"]], dtype=np.int64),
                           b["sample_index"])

    plain, flipped = preds(exact_field), preds(shifted_field)
    order = np.argsort(np.r_[plain.image_index, flipped.image_index], kind="stable")
    both = Predictions(np.r_[plain.xyxy, flipped.xyxy][order],
                       np.r_[plain.confidence, flipped.confidence][order],
                       np.r_[plain.class_id, flipped.class_id][order],
                       np.r_[plain.image_index, flipped.image_index][order])
    pass_id = np.r_[np.zeros(len(plain), np.int64), np.ones(len(flipped), np.int64)][order]
    run = _name("tta")
    predictions.write_predictions(ws, run, data["ids"], flipped, ws.classes,
                                  tta=(both, pass_id))
    runs.record_run(ws, RunKind.PREDICT, run, {"tta": True, "fuse": True,
                                                "tta_passes": ["hflip"],
                                                "tta_pass_names": ["plain", "hflip"]},
                    {}, dt.datetime.now(dt.UTC))
    rep = evaluate_predictions(ws, run)
    assert [r["run"] for r in rep.members] == ["pass 0 (plain)", "pass 1 (hflip)", run]
    shifted = evaluate_predictions(ws, imported["shifted"])
    assert rep.members[0]["map50"] == pytest.approx(1.0)
    assert rep.members[1]["map50"] == pytest.approx(shifted.map50, abs=1e-6)
    assert rep.members[2]["map50"] == pytest.approx(shifted.map50, abs=1e-6)
    assert [r["boxes"] for r in rep.members] == [len(plain), len(flipped), len(flipped)]


@pytest.mark.parametrize(("params", "names"), [
    ({"tta_pass_names": ["plain", "hflip", "scale:0.83", "scale:1.17"]},
     ["plain", "hflip", "scale:0.83", "scale:1.17"]),
    ({"tta_passes": ["hflip", "vflip"]}, ["plain", "hflip", "vflip"]),
    ({"tta_passes": ["plain", "hflip"]}, ["plain", "hflip"]),
    ({"tta_passes": [{"name": "rot90"}]}, ["plain", "rot90"]),
    ({}, ["plain"]),
])
def test_tta_pass_names(params: dict[str, Any], names: list[str]) -> None:
    from workbench.training.stored_eval import pass_names

    assert pass_names(params) == names


def test_errors(ws, imported) -> None:  # type: ignore[no-untyped-def]
    from workbench.errors import ConfigError, WorkbenchError
    from workbench.training.api import EvalConfig, evaluate, evaluate_predictions

    with pytest.raises(WorkbenchError, match="no prediction run named 'nope'"):
        evaluate_predictions(ws, "nope")
    with pytest.raises(ConfigError, match="cannot be combined with --run"):
        EvalConfig(run="r1", predictions=imported["exact"])
    with pytest.raises(ConfigError, match="cannot be combined"):
        EvalConfig(model="m.pt", predictions=imported["exact"])
    with pytest.raises(WorkbenchError, match="--predictions RUN"):
        EvalConfig()
    on_train = _name("train-only")
    _write(ws, on_train, _val_truth(ws, "train"))
    with pytest.raises(WorkbenchError, match="has no boxes on the 8 labeled images"):
        evaluate(ws, EvalConfig(predictions=on_train))
    assert evaluate_predictions(ws, on_train, split="train").map50 == pytest.approx(1.0)
    with pytest.raises(WorkbenchError, match="no labeled images"):
        evaluate_predictions(ws, imported["exact"], view="source:nowhere")
    with pytest.raises(ConfigError, match="lionfish"):
        evaluate_predictions(ws, imported["exact"], critical=["lionfish"])
    # an ensemble whose member stored nothing on the view: nothing to compare, nothing written
    broken = _name("broken")
    _write(ws, broken, _val_truth(ws), members=[imported["exact"], on_train])
    with pytest.raises(WorkbenchError, match="cannot be compared"):
        evaluate_predictions(ws, broken)
    assert not ws.dataset.has_evaluation(f"eval_{broken.replace('-', '_')}_val")


def test_cli_end_to_end(ws, imported) -> None:  # type: ignore[no-untyped-def]
    root = str(ws.root)
    members, ens = [imported["exact"], imported["shifted"]], imported["fused"]
    rep = json.loads(wb("evaluate", "--predictions", ens, "-w", root, "--json").stdout)
    assert rep["run"] == ens and rep["images"] == 8 and rep["member_images"] == 8
    assert [r["run"] for r in rep["members"]] == [*members, ens]
    assert rep["members"][0]["map50"] == pytest.approx(1.0)
    table = wb("evaluate", "--predictions", ens, "-w", root).stdout
    assert "AP75" in table and "fusion" in table and "best mAP50" in table
    for member in members:
        assert member in table
    for args, message in [(["--predictions", "nope"], "no prediction run named"),
                          (["--predictions", ens, "--run", "r1"], "cannot be combined")]:
        bad = wb("evaluate", *args, "-w", root, check=False)
        assert bad.returncode != 0, args
        assert message in bad.stderr and "Traceback" not in bad.stderr


def test_app_operator_offers_and_evaluates_prediction_runs(ws, imported) -> None:  # type: ignore[no-untyped-def]
    from tests.ui.plugin_ctx import execute
    from workbench.ui.catalog import operators

    spec = operators().get("wb_evaluate")
    field = next(f for f in spec.form(ws) if f.name == "predictions")
    assert {imported["exact"], imported["fused"]} <= set(field.choices)
    out, _ = execute(ws, "wb_evaluate", delegated=True, predictions=imported["fused"])
    assert out["ok"], out
    assert [r["run"] for r in out["result"]["members"]] == [
        imported["exact"], imported["shifted"], imported["fused"]]
