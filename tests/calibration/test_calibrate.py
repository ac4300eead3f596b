"""``workbench calibrate`` on real demo predictions: the seed model's boxes on 40 demo
validation images (and 10 pool images predicted in the same run), matched to the ground truth.

The seed model (``datasets/aquarium-mini/weights/yolov8n-224-seed.pt``) stores boxes down to
confidence 0.01; most of them are wrong and its confidences are not probabilities, so every map
has something to correct: D-ECE on the held-out half must drop.
"""

from __future__ import annotations

import json
import uuid
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.conftest import DEMO, demo_images
from tests.test_cli_e2e import wb
from tests.training.conftest import covering_workspace

SEED = DEMO / "weights" / "yolov8n-224-seed.pt"


@pytest.fixture(scope="module")
def cal_ws(tmp_path_factory: pytest.TempPathFactory, mongo_uri: str) -> Any:
    """A workspace with 40 labeled val images, 10 pool images and run ``pv`` over all."""
    from workbench.ingestion.ingest import ingest
    from workbench.prediction.api import PredictConfig, predict

    root = tmp_path_factory.mktemp("cal")
    ws = covering_workspace(root, mongo_uri, 4, 40)
    pool = root / "pool"
    pool.mkdir()
    for img in demo_images("test", 10):
        (pool / img.name).symlink_to(img)
    ingest(ws, pool, "images", source="pool")
    run = f"pv-{uuid.uuid4().hex[:6]}"
    predict(ws, PredictConfig(model=str(SEED), run=run, view="all", imgsz=224))
    return ws, run


@pytest.mark.parametrize("method", ["temperature", "platt", "isotonic"])
def test_dece_drops_on_the_held_out_half(cal_ws: Any, method: str) -> None:
    from workbench.calibration.api import CalibrateConfig, calibrate

    ws, run = cal_ws
    result = calibrate(ws, CalibrateConfig(run=run, method=method, name=f"c-{method}",
                                           replace=True))
    assert result.images == {"fit": 20, "held_out": 20}
    assert result.boxes["held_out"] > 500 and result.positives["held_out"] > 5
    assert result.after["dece"] < result.before["dece"], result.to_dict()
    assert result.methods[method] == result.after
    assert set(result.per_class) == set(ws.classes)


def test_per_class_position_and_stored_map(cal_ws: Any) -> None:
    from workbench.calibration.api import CalibrateConfig, calibrate, for_model, for_run, load
    from workbench.store import runs

    ws, run = cal_ws
    result = calibrate(ws, CalibrateConfig(run=run, method="platt", per_class=True,
                                           min_per_class=20, name="c-pc", replace=True))
    assert result.per_class_maps  # fish has far more than 20 boxes of both outcomes
    assert result.after["dece"] < result.before["dece"]
    placed = calibrate(ws, CalibrateConfig(run=run, method="platt", per_class=True,
                                           min_per_class=20, position=True, name="c-pos",
                                           replace=True))
    # bins over confidence x centre refine the confidence bins: D-ECE can only grow
    assert placed.before["dece"] >= result.before["dece"]
    assert placed.after["dece"] >= result.after["dece"]
    runs.delete_run(ws, "c-pos")
    calibrate(ws, CalibrateConfig(run=run, method="platt", per_class=True, min_per_class=20,
                                  name="c-pc", replace=True))  # the newest again
    doc = runs.get_run(ws, "c-pc")
    assert doc is not None and doc["kind"] == "calibrate"
    assert doc["params"]["run"] == run and doc["params"]["model"] == str(SEED.resolve())
    _, calibrator = load(ws, "c-pc")
    assert calibrator.method == "platt" and calibrator.per_class
    assert for_run(ws, run) is not None and for_run(ws, run)[0] == "c-pc"  # newest
    found = for_model(ws, str(SEED.resolve()))
    assert found is not None and found[0] == "c-pc"


def test_thresholds(cal_ws: Any) -> None:
    from workbench.calibration.api import CalibrateConfig, calibrate

    ws, run = cal_ws
    f1 = calibrate(ws, CalibrateConfig(run=run, thresholds="f1", name="c-f1", replace=True))
    recall = calibrate(ws, CalibrateConfig(run=run, thresholds="recall:0.5", name="c-r",
                                           replace=True))
    assert f1.thresholds is not None and set(f1.thresholds) == set(ws.classes)
    assert all(0.0 <= v <= 1.0 for v in f1.thresholds.values())
    assert recall.thresholds is not None
    for name, met in recall.thresholds_met.items():
        if met:  # the most precise threshold that still finds half of the class
            assert recall.thresholds[name] <= max(f1.thresholds[name], 1.0)
    unmet = [n for n, ok in f1.thresholds_met.items() if not ok]
    assert not unmet or any("could not be met" in w for w in f1.warnings)


def test_cli_json_and_plot(cal_ws: Any) -> None:
    ws, run = cal_ws
    proc = wb("calibrate", "--run", run, "--method", "isotonic", "--thresholds",
              "precision:0.5", "--name", "c-cli", "--replace", "-w", str(ws.root), "--json")
    data = json.loads(proc.stdout)
    assert {"method", "before", "after", "per_class", "plot", "thresholds"} <= set(data)
    assert {"dece", "brier"} <= set(data["before"]) and {"dece", "brier"} <= set(data["after"])
    assert data["method"] == "isotonic"
    assert Path(data["plot"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = wb("calibrate", "--run", run, "--name", "c-cli", "--replace", "-w", str(ws.root))
    assert "D-ECE" in text.stdout and "reliability diagram" in text.stdout


@pytest.mark.parametrize(("args", "message"), [
    (["--run", "no-such-run"], "is not a prediction run"),
    (["--run", "RUN", "--method", "bayes"], "unknown calibration method"),
    (["--run", "RUN", "--thresholds", "precision:2"], "--thresholds"),
    (["--run", "RUN", "--view", "pool"], "no predictions on the labeled images"),
    (["--run", "RUN", "--name", "c-cli"], "exists"),
])
def test_cli_refusals(cal_ws: Any, args: list[str], message: str) -> None:
    from workbench.store import runs

    ws, run = cal_ws
    wb("calibrate", "--run", run, "--name", "c-cli", "--replace", "-w", str(ws.root))
    before = len(runs.list_runs(ws, "calibrate"))
    proc = wb("calibrate", *[run if a == "RUN" else a for a in args], "-w", str(ws.root),
              check=False)
    assert proc.returncode != 0, args
    assert message in proc.stderr + proc.stdout, proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(runs.list_runs(ws, "calibrate")) == before


def test_select_calibrated(cal_ws: Any) -> None:
    from workbench.calibration.api import CalibrateConfig, calibrate, for_run
    from workbench.core import scoring
    from workbench.errors import ConfigError
    from workbench.selection.api import SelectConfig, select
    from workbench.store import pool
    from workbench.store.predictions import field_name

    ws, run = cal_ws
    calibrate(ws, CalibrateConfig(run=run, method="temperature", name="c-sel", replace=True))
    found = for_run(ws, run)
    assert found is not None
    raw = select(ws, SelectConfig(n=5, run=run, dry_run=True))
    cal = select(ws, SelectConfig(n=5, run=run, dry_run=True, calibrated=True))
    data = pool.candidate_boxes(ws, field_name("pred", run))
    probs = found[1].apply_probs(np.asarray(data["class_probs"], dtype=np.float64))
    per_image = scoring.aggregate(scoring.entropy(probs), data["sample_index"],
                                  len(data["ids"]), "max", empty=1.0)
    order = np.argsort(-per_image, kind="stable")[:5]
    assert cal.sample_ids == [str(data["ids"][i]) for i in order]
    assert cal.scores == pytest.approx(per_image[order].tolist())
    assert cal.scores != pytest.approx(raw.scores)
    other = f"pu-{uuid.uuid4().hex[:6]}"
    from workbench.prediction.api import PredictConfig, predict

    predict(ws, PredictConfig(model=str(SEED), run=other, view="pool", imgsz=224,
                              calibration="none"))
    with pytest.raises(ConfigError, match="workbench calibrate"):
        select(ws, SelectConfig(n=5, run=other, dry_run=True, calibrated=True))


def test_app_operators(cal_ws: Any) -> None:
    from tests.ui.plugin_ctx import execute

    ws, run = cal_ws
    for _ in range(2):  # run again from the App: the calibration is replaced
        out, _ = execute(ws, "wb_calibrate", run=run, method="temperature")
        assert out["ok"], out
    assert out["result"]["name"] == f"cal-{run}"
    assert "data:image/png;base64," in json.dumps(out)
    out, _ = execute(ws, "wb_thresholds", run=run, thresholds="f1")
    assert out["ok"] and out["result"]["thresholds"], out
    out, _ = execute(ws, "wb_calibration", calibration=f"cal-{run}")
    assert out["ok"] and "Operating thresholds" in json.dumps(out), out


def test_predict_applies_the_model_calibration(cal_ws: Any) -> None:
    from workbench.calibration.api import CalibrateConfig, calibrate, class_ids, load
    from workbench.prediction.api import PredictConfig, predict
    from workbench.store import query, runs
    from workbench.store.predictions import field_name

    ws, run = cal_ws
    calibrate(ws, CalibrateConfig(run=run, method="isotonic", name="c-model", replace=True))
    new = f"pc-{uuid.uuid4().hex[:6]}"
    result = predict(ws, PredictConfig(model=str(SEED), run=new, view="split:val", imgsz=224))
    assert result.calibration == "c-model"
    assert (runs.get_run(ws, new) or {})["params"]["calibration"] == "c-model"
    boxes = query.box_arrays(ws, {"split": "val"}, field_name("pred", new),
                             attrs=("confidence", "raw_confidence"))
    calibrator = load(ws, "c-model")[1]
    expected = calibrator.apply(boxes["raw_confidence"], class_ids(boxes["label"], ws.classes))
    assert boxes["confidence"] == pytest.approx(expected, abs=1e-9)
    assert not np.allclose(boxes["confidence"], boxes["raw_confidence"])
    # the raw confidences are those of an uncalibrated run of the same model
    plain = query.box_arrays(ws, {"split": "val"}, field_name("pred", run),
                             attrs=("confidence",))
    assert np.sort(boxes["raw_confidence"]) == pytest.approx(np.sort(plain["confidence"]),
                                                             abs=1e-6)
    # calibrating the calibrated run fits on its raw confidences again
    again = calibrate(ws, CalibrateConfig(run=new, method="isotonic", name="c-again"))
    first = load(ws, "c-model")
    assert again.before == calibrate(ws, CalibrateConfig(
        run=run, method="isotonic", name="c-model", replace=True)).before
    assert first[0] == "c-model"
    runs.delete_run(ws, "c-again")


def test_pre_annotations_are_calibrated(cal_ws: Any, tmp_path: Path) -> None:
    """Last: the package moves the pool images to in_annotation."""
    from workbench.annotation.api import PackageConfig, export_package
    from workbench.calibration.api import CalibrateConfig, calibrate, class_ids, load
    from workbench.store import query
    from workbench.store.predictions import field_name

    ws, run = cal_ws
    calibrate(ws, CalibrateConfig(run=run, method="platt", per_class=True, min_per_class=20,
                                  name="c-pre", replace=True))
    calibrator = load(ws, "c-pre")[1]
    boxes = query.box_arrays(ws, {"split": "pool"}, field_name("pred", run),
                             attrs=("confidence",))
    expected = np.sort(calibrator.apply(boxes["confidence"],
                                        class_ids(boxes["label"], ws.classes)))
    out = tmp_path / "pkg.zip"
    export_package(ws, PackageConfig(out=out, view="pool", pre_annotations=run,
                                     pre_annotation_conf=0.0))
    with zipfile.ZipFile(out) as zf:
        coco = json.loads(zf.read("predictions.coco.json"))
    assert coco["info"]["calibration"] == "c-pre"
    scores = np.sort([a["score"] for a in coco["annotations"]])
    assert scores == pytest.approx(expected, abs=1e-6)
    assert not np.allclose(np.sort(boxes["confidence"]), scores)
