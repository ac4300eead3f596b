"""TTA passes (flips, quarter turns, scales) and ``predict --tta --fuse`` on real demo images."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import CLASSES, DEMO, demo_images
from workbench.core.fusion import nms_fusion, weighted_boxes_fusion
from workbench.core.nms import decode_yolo
from workbench.core.types import Predictions
from workbench.errors import ConfigError, UnknownNameError
from workbench.ingestion.ingest import ingest
from workbench.media.preprocess import load_batch
from workbench.prediction.backends.base import PredictOptions
from workbench.prediction.backends.torch import TorchPredictor
from workbench.prediction.predict import PredictConfig
from workbench.prediction.tta import FUSION_METHODS, TTA_PASSES, Transform, plan_passes
from workbench.store import runs
from workbench.ui.catalog import operators
from workbench.ui.forms import build_config

CHECKPOINT = str(DEMO / "weights" / "yolov8n-224.pt")
TURNS = [name for name in TTA_PASSES.names() if TTA_PASSES.get(name).transform is not None]


def _transform(name: str) -> Transform:
    transform = TTA_PASSES.get(name).transform
    assert transform is not None
    return transform


@st.composite
def _boxes(draw: st.DrawFn) -> np.ndarray:
    """``(K, 4)`` normalised xyxy boxes with ``x1 <= x2``, ``y1 <= y2``."""
    k = draw(st.integers(0, 20))
    unit = st.floats(0.0, 1.0, allow_nan=False)
    corners = np.asarray(draw(st.lists(st.tuples(unit, unit, unit, unit), min_size=k,
                                       max_size=k)), dtype=np.float64).reshape(-1, 4)
    return np.c_[np.minimum(corners[:, 0], corners[:, 2]), np.minimum(corners[:, 1], corners[:, 3]),
                 np.maximum(corners[:, 0], corners[:, 2]), np.maximum(corners[:, 1], corners[:, 3])]


@pytest.mark.parametrize("name", TURNS)
@settings(max_examples=60, deadline=None)
@given(boxes=_boxes())
def test_inverse_undoes_forward(name: str, boxes: np.ndarray) -> None:
    transform = _transform(name)
    moved = transform.forward(boxes)
    assert moved.shape == boxes.shape
    assert (moved >= 0).all() and (moved <= 1).all()
    assert (moved[:, 0] <= moved[:, 2]).all() and (moved[:, 1] <= moved[:, 3]).all()
    np.testing.assert_allclose(transform.inverse(moved), boxes, rtol=0, atol=1e-12)
    np.testing.assert_allclose(transform.forward(transform.inverse(boxes)), boxes, rtol=0,
                               atol=1e-12)


@pytest.mark.parametrize("name", TURNS)
@settings(max_examples=40, deadline=None)
@given(w=st.integers(2, 9), h=st.integers(2, 9), data=st.data())
def test_box_maps_follow_the_pixels(name: str, w: int, h: int, data: st.DataObject) -> None:
    """A box drawn on a ``w`` x ``h`` image lands where ``forward`` says after the transform."""
    x1, x2 = sorted(data.draw(st.lists(st.integers(0, w), min_size=2, max_size=2, unique=True)))
    y1, y2 = sorted(data.draw(st.lists(st.integers(0, h), min_size=2, max_size=2, unique=True)))
    mask = np.zeros((h, w, 3), dtype=np.uint8)
    mask[y1:y2, x1:x2] = 255
    transform = _transform(name)
    moved = transform.image(mask)
    hh, ww = moved.shape[:2]
    assert (hh, ww) == ((w, h) if name in ("rot90", "rot270") else (h, w))
    rows, cols = np.nonzero(moved[..., 0])
    seen = [cols.min() / ww, rows.min() / hh, (cols.max() + 1) / ww, (rows.max() + 1) / hh]
    box = np.array([[x1 / w, y1 / h, x2 / w, y2 / h]])
    np.testing.assert_allclose(transform.forward(box)[0], seen, atol=1e-12)


@pytest.fixture(scope="module")
def torch_model() -> TorchPredictor:
    return TorchPredictor(CHECKPOINT)


def _read(path: str | Path) -> np.ndarray:
    img = cv2.imread(str(path))
    assert img is not None
    return img


def _mixed_images() -> list[str]:
    """Portrait and landscape demo images (quarter turns swap their sides)."""
    images = demo_images("valid", n=200)
    shapes = {p: _read(p).shape[:2] for p in images}
    tall = [p for p in images if shapes[p][0] > shapes[p][1]][:2]
    wide = [p for p in images if shapes[p][0] < shapes[p][1]][:2]
    assert len(tall) == len(wide) == 2
    return [str(p) for p in tall + wide]


@pytest.mark.slow
@pytest.mark.parametrize("name", TURNS)
def test_a_pass_equals_predicting_the_transformed_file(name: str, torch_model: TorchPredictor,
                                                       tmp_path: Path) -> None:
    paths = _mixed_images()
    transform = _transform(name)
    written = []
    for k, path in enumerate(paths):
        out = tmp_path / f"{k}.png"  # lossless: the same pixels the pass sees
        assert cv2.imwrite(str(out), transform.image(_read(path)))
        written.append(str(out))
    options = PredictOptions(conf=0.02, batch=4)
    on_file, _ = torch_model.predict(written, options)
    by_pass, _ = torch_model.predict(paths, options, transform=transform)
    assert len(by_pass) == len(on_file) > 0
    np.testing.assert_array_equal(by_pass.image_index, on_file.image_index)
    np.testing.assert_array_equal(by_pass.class_id, on_file.class_id)
    np.testing.assert_allclose(by_pass.xyxy, transform.inverse(on_file.xyxy), atol=1e-4)
    np.testing.assert_allclose(by_pass.confidence, on_file.confidence, atol=1e-5)
    plain, _ = torch_model.predict(paths, options)
    assert not np.array_equal(plain.xyxy[:5], by_pass.xyxy[:5])  # the pass did something


@pytest.mark.slow
def test_default_passes_are_today_s(torch_model: TorchPredictor) -> None:
    """Default ``hflip`` + ``scale``: the same passes and boxes as the flip of the letterboxed
    input and the 0.83x / 1.17x sizes before passes were configurable."""
    assert PredictConfig(model="m.pt").tta_passes == ["hflip", "scale"]
    assert not PredictConfig(model="m.pt").fuse
    plans = plan_passes(PredictConfig(model="m.pt").tta_passes, 224, fixed_size=False)
    assert [(p.label, p.imgsz) for p in plans] == [("hflip", 224), ("scale:0.83", 192),
                                                   ("scale:1.17", 256)]
    assert [p.label for p in plan_passes(["hflip", "scale"], 224, fixed_size=True)] == ["hflip"]
    paths = _mixed_images()
    size = torch_model.imgsz
    x, boxes, sizes = load_batch(paths, size)
    out, _ = torch_model.forward(np.ascontiguousarray(x[..., ::-1]), False)
    old = []
    for k in range(len(paths)):
        b = decode_yolo(out[k], 0.02, 0.7, 300)[0]
        b = np.c_[size - b[:, 2], b[:, 1], size - b[:, 0], b[:, 3]]
        old.append(boxes[k].to_image(b, *sizes[k]))
    new, _ = torch_model.predict(paths, PredictOptions(conf=0.02, batch=4),
                                 transform=plans[0].transform)
    np.testing.assert_allclose(new.xyxy, np.concatenate(old), atol=1e-6)


@pytest.mark.parametrize(("options", "error", "message"), [
    ({"tta": True, "tta_passes": ["hflip", "spin"]}, UnknownNameError,
     r"unknown TTA pass name 'spin'; valid TTA pass names: hflip, rot180, rot270, rot90, "
     r"scale, vflip"),
    ({"tta": True, "tta_passes": ["rot90", "rot90"]}, ConfigError, "more than once"),
    ({"tta": True, "tta_passes": []}, ConfigError, "at least one pass"),
    ({"fuse": True}, ConfigError, "--fuse .* needs --tta"),
    ({"tta": True, "fuse": True, "fuse_method": "vote"}, UnknownNameError,
     "valid fusion methods: nms, wbf"),
    ({"tta": True, "fuse": True, "fuse_iou": 0.0}, ConfigError, r"fuse_iou must be in \(0, 1\]"),
])
def test_config_refuses(options: dict[str, Any], error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        PredictConfig(model="m.pt", **options)


def test_the_app_form_offers_the_registries() -> None:
    spec = operators().get("wb_predict")
    assert spec.config is PredictConfig
    form = {f.name: f for f in spec.form(None)}
    assert list(form["tta_passes"].choices) == TTA_PASSES.names()
    assert form["tta_passes"].kind == "list" and form["tta_passes"].default == ["hflip", "scale"]
    assert list(form["fuse_method"].choices) == FUSION_METHODS.names()
    assert (form["fuse"].kind, form["fuse_iou"].default) == ("bool", 0.55)
    config = build_config(PredictConfig, {"model": "m.pt", "tta": True, "fuse": True,
                                        "tta_passes": "vflip, rot90", "fuse_method": "nms"},
                          list(form.values()))
    assert (config.tta_passes, config.fuse_method) == (["vflip", "rot90"], "nms")
    with pytest.raises(ConfigError, match="needs --tta"):
        build_config(PredictConfig, {"model": "m.pt", "fuse": True}, list(form.values()))


@pytest.mark.slow
def test_cli_refuses_bad_passes_and_fuse_without_tta(tmp_path: Path) -> None:
    from tests.test_cli_e2e import wb

    ws = str(tmp_path / "nowhere")  # refused before the workspace is opened
    bad = wb("predict", "--model", CHECKPOINT, "--tta", "--tta-passes", "hflip,spin", "-w", ws,
             check=False)
    assert bad.returncode != 0 and "Traceback" not in bad.stderr
    assert "unknown TTA pass name 'spin'" in bad.stderr
    assert "hflip, rot180, rot270, rot90, scale, vflip" in bad.stderr
    alone = wb("predict", "--model", CHECKPOINT, "--fuse", "-w", ws, check=False)
    assert alone.returncode != 0 and "Traceback" not in alone.stderr
    assert "--fuse" in alone.stderr and "needs --tta" in alone.stderr
    no_tta = wb("predict", "--model", CHECKPOINT, "--tta-passes", "rot90", "-w", ws, check=False)
    assert no_tta.returncode != 0 and "Traceback" not in no_tta.stderr
    assert "add --tta" in no_tta.stderr


def _stored(ds: Any, field: str) -> tuple[Predictions, dict[str, np.ndarray]]:
    """The boxes of ``field`` over the dataset (image index = sample order), and their per-box
    attributes ``tta_pass`` / ``agreement`` / ``class_probs`` where present."""
    dets = ds.values(f"{field}.detections")
    flat = [d for per_image in dets for d in (per_image or [])]
    index = np.repeat(np.arange(len(dets)), [len(d or []) for d in dets])
    xywh = np.asarray([d.bounding_box for d in flat], dtype=np.float64).reshape(-1, 4)
    xyxy = np.c_[xywh[:, :2], xywh[:, :2] + xywh[:, 2:]]
    cls = np.asarray([CLASSES.index(d.label) for d in flat], dtype=np.int64)
    extra = {key: np.asarray([d[key] for d in flat]) for key in ("tta_pass", "agreement",
                                                                  "class_probs")
             if flat and flat[0].has_field(key)}
    preds = Predictions(xyxy, np.asarray([d.confidence for d in flat], dtype=np.float64), cls,
                        index)
    return preds, extra


def _params(ws: Any, run: str) -> dict[str, Any]:
    doc = runs.get_run(ws, run)
    assert doc is not None
    return dict(doc["params"])


@pytest.mark.slow
@pytest.mark.integration
def test_tta_fuse_end_to_end_through_the_cli(workspace: Any, tmp_path: Path) -> None:
    from tests.test_cli_e2e import wb

    workspace.add_classes(CLASSES)
    pool = tmp_path / "pool"
    pool.mkdir()
    for p in demo_images("valid", n=6):
        shutil.copy(p, pool / p.name)
    ingest(workspace, pool, "images")
    ws = str(workspace.root)
    res = json.loads(wb("predict", "--model", CHECKPOINT, "--backend", "ultralytics", "--tta",
                        "--fuse", "--run", "tta_fuse_wbf", "--batch", "4", "-w", ws,
                        "--json").stdout)
    params = _params(workspace, "tta_fuse_wbf")
    assert params["tta_passes"] == ["hflip", "scale"]  # the default passes
    assert params["tta_pass_names"] == ["plain", "hflip", "scale:0.83", "scale:1.17"]
    assert params["tta_sizes"] == [224, 192, 256]
    assert (params["fuse"], params["fuse_method"], params["fuse_iou"]) == (True, "wbf", 0.55)
    ds = workspace.dataset
    ds.reload()
    raw, raw_extra = _stored(ds, "pred_tta_fuse_wbf_tta")
    fused, extra = _stored(ds, "pred_tta_fuse_wbf")
    assert set(raw_extra["tta_pass"].tolist()) == {0, 1, 2, 3}
    assert res["boxes"] == len(fused) > 0
    agreement = extra["agreement"]
    assert agreement.min() >= 1 and agreement.max() <= 4 and agreement.max() > 1
    assert ((fused.confidence >= 0) & (fused.confidence <= 1)).all()
    probs = extra["class_probs"]
    assert probs.shape == (len(fused), len(CLASSES)) and (probs >= 0).all()
    # pred_RUN is the WBF of the stored passes (the plain one is pass 0), boxes by confidence
    members = [Predictions(raw.xyxy[raw_extra["tta_pass"] == k],
                           raw.confidence[raw_extra["tta_pass"] == k],
                           raw.class_id[raw_extra["tta_pass"] == k],
                           raw.image_index[raw_extra["tta_pass"] == k]) for k in range(4)]
    expected, expected_agreement = weighted_boxes_fusion(members, iou=0.55)
    np.testing.assert_array_equal(fused.image_index, expected.image_index)
    np.testing.assert_allclose(fused.confidence, expected.confidence, atol=1e-9)
    np.testing.assert_allclose(fused.xyxy, expected.xyxy, atol=1e-9)
    np.testing.assert_array_equal(agreement, expected_agreement)
    plain = members[0]
    assert len(plain) != len(fused) or not np.allclose(plain.confidence, fused.confidence)
    # the per-image scores are the fused set's; the disagreement is still the raw passes'
    scores = ds.values("scores_tta_fuse_wbf")
    best = np.zeros(len(scores))
    np.maximum.at(best, fused.image_index, fused.confidence)
    np.testing.assert_allclose([s["max_conf"] for s in scores], best)
    np.testing.assert_array_equal([s["n_boxes"] for s in scores],
                                  np.bincount(fused.image_index, minlength=len(scores)))
    assert all(0.0 <= s["tta_disagreement"] <= 1.0 for s in scores)
    # turns and NMS fusion
    wb("predict", "--model", CHECKPOINT, "--backend", "ultralytics", "--tta", "--tta-passes",
       "vflip,rot90,rot270", "--fuse", "--fuse-method", "nms", "--fuse-iou", "0.6", "--run",
       "tta_fuse_nms", "--batch", "4", "-w", ws)
    params = _params(workspace, "tta_fuse_nms")
    assert params["tta_pass_names"] == ["plain", "vflip", "rot90", "rot270"]
    assert (params["fuse_method"], params["fuse_iou"]) == ("nms", 0.6)
    ds.reload()
    raw, raw_extra = _stored(ds, "pred_tta_fuse_nms_tta")
    kept, extra = _stored(ds, "pred_tta_fuse_nms")
    assert set(raw_extra["tta_pass"].tolist()) == {0, 1, 2, 3}
    assert extra["agreement"].min() >= 1 and extra["agreement"].max() <= 4
    members = [Predictions(raw.xyxy[raw_extra["tta_pass"] == k],
                           raw.confidence[raw_extra["tta_pass"] == k],
                           raw.class_id[raw_extra["tta_pass"] == k],
                           raw.image_index[raw_extra["tta_pass"] == k]) for k in range(4)]
    expected, expected_agreement = nms_fusion(members, iou=0.6)
    np.testing.assert_allclose(kept.xyxy, expected.xyxy, atol=1e-9)
    np.testing.assert_array_equal(extra["agreement"], expected_agreement)
