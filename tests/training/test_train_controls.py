"""Training controls (augmentation presets, optimizer, freeze, class subset, cache, --train-arg)
and critical classes with repeat-factor sampling: unit tests, then real training on real images
with a real mongod and real Ultralytics (CPU)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from workbench.errors import ConfigError, UnknownNameError
from workbench.training.augment import AUGMENT_PRESETS, augment_args
from workbench.training.config import OPTIMIZERS, TrainConfig, parse_names
from workbench.training.dataset import repeat_factors
from workbench.training.runner import MULTI_SCALE, ultralytics_args
from workbench.training.train_args import parse_train_args

# ---------------------------------------------------------------- unit: presets and arguments


def test_presets_are_registered_with_help() -> None:
    assert AUGMENT_PRESETS.names() == ["none", "default", "strong"]
    assert all(AUGMENT_PRESETS.meta(n)["help"] for n in AUGMENT_PRESETS.names())
    assert augment_args("default") == {}
    with pytest.raises(UnknownNameError, match="none, strong"):
        augment_args("wild")


def test_none_preset_switches_every_detection_augmentation_off() -> None:
    none = augment_args("none")
    for key in ("mosaic", "mixup", "cutmix", "hsv_h", "hsv_s", "hsv_v", "degrees", "translate",
                "scale", "shear", "perspective", "flipud", "fliplr", "bgr"):
        assert none[key] == 0.0, key


def test_strong_preset_is_stronger_than_ultralytics_defaults() -> None:
    from ultralytics.cfg import DEFAULT_CFG_DICT

    strong = augment_args("strong")
    for key in ("mixup", "degrees", "translate", "scale", "hsv_h", "hsv_s", "hsv_v"):
        assert strong[key] > DEFAULT_CFG_DICT[key], key
    assert strong["mosaic"] == 1.0 and strong["fliplr"] == 0.5


@pytest.mark.parametrize("preset", ["none", "default", "strong"])
def test_presets_pass_ultralytics_own_checks(preset: str) -> None:
    from ultralytics.cfg import DEFAULT_CFG_DICT, get_cfg

    args = augment_args(preset)
    assert set(args) <= set(DEFAULT_CFG_DICT)
    cfg = get_cfg(DEFAULT_CFG_DICT, args)
    assert all(getattr(cfg, k) == v for k, v in args.items())


def test_preset_dicts_are_fresh_copies() -> None:
    augment_args("none")["mosaic"] = 1.0
    assert augment_args("none")["mosaic"] == 0.0


# ---------------------------------------------------------------- unit: config validation

@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"augment": "wild"}, "not a preset; choose one of none | default | strong"),
        ({"optimizer": "Lion"}, "--optimizer 'Lion' is unknown"),
        ({"lr0": 0.0, "optimizer": "SGD"}, r"--lr0 must be in \(0, 1\]"),
        ({"lr0": 2.0, "optimizer": "SGD"}, r"--lr0 must be in \(0, 1\]"),
        ({"lr0": 0.01}, "ignored by --optimizer auto"),
        ({"freeze": -1}, "--freeze must be >= 0"),
        ({"oversample": 0, "critical": ["fish"]}, "--oversample must be >= 1"),
        ({"oversample": 3}, "also pass --critical"),
        ({"critical": ["fish", "fish"]}, r"--critical names \['fish'\] more than once"),
        ({"classes": ["shark", "fish", "shark"]}, r"--classes names \['shark'\]"),
        ({"classes": ["fish"], "critical": ["shark"]}, "not among --classes"),
    ],
)
def test_config_rejects(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        TrainConfig(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "check"),
    [
        ({}, {"augment": "default", "optimizer": "auto", "oversample": 1, "critical": None}),
        ({"optimizer": "adamw", "lr0": 0.002}, {"optimizer": "adamw", "lr0": 0.002}),
        ({"optimizer": "RMSProp"}, {"optimizer": "RMSProp"}),
        ({"classes": [" fish ", "", "shark"]}, {"classes": ["fish", "shark"]}),
        ({"critical": []}, {"critical": None}),
        ({"critical": ("shark",), "oversample": 3}, {"critical": ["shark"], "oversample": 3}),
        ({"critical": ["shark"]}, {"oversample": 1}),
        ({"freeze": 0, "cache": True, "multi_scale": True}, {"freeze": 0, "cache": True}),
    ],
)
def test_config_accepts(kwargs: dict[str, Any], check: dict[str, Any]) -> None:
    cfg = TrainConfig(**kwargs)
    assert {k: getattr(cfg, k) for k in check} == check


def test_every_optimizer_is_one_ultralytics_accepts() -> None:
    import inspect

    from ultralytics.engine.trainer import BaseTrainer

    source = inspect.getsource(BaseTrainer.build_optimizer).lower()
    for name in OPTIMIZERS:
        assert f'"{name.lower()}"' in source, name


def test_parse_names_and_train_args() -> None:
    assert parse_names("lionfish, urchin") == ["lionfish", "urchin"]
    assert parse_names(None) is None and parse_names("") is None
    assert parse_train_args(["lr0=0.002", "cos_lr=true", "name=x"]) == {
        "lr0": 0.002, "cos_lr": True, "name": "x"}
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        parse_train_args(["lr0"])
    from workbench.loop.config import parse_train_args as loop_parse

    assert loop_parse is parse_train_args  # one implementation, re-exported by the loop


def test_ultralytics_args_precedence() -> None:
    cfg = TrainConfig(augment="none", multi_scale=True, optimizer="SGD", lr0=0.02, freeze=3,
                      cache=True, overrides={"fliplr": 0.25, "cos_lr": True})
    args = ultralytics_args(cfg, data="d.yaml", project=Path("/p"), name="r", class_ids=[0, 4])
    assert args["mosaic"] == 0.0 and args["hsv_v"] == 0.0  # the preset
    assert args["fliplr"] == 0.25 and args["cos_lr"] is True  # --train-arg wins over it
    assert (args["optimizer"], args["lr0"], args["freeze"]) == ("SGD", 0.02, 3)
    assert args["classes"] == [0, 4] and args["cache"] == "ram"
    assert args["multi_scale"] == MULTI_SCALE
    assert (args["data"], args["project"], args["name"]) == ("d.yaml", "/p", "r")
    plain = ultralytics_args(TrainConfig(), data="d.yaml", project=Path("/p"), name="r")
    for key in ("mosaic", "lr0", "freeze", "classes", "cache", "multi_scale"):
        assert key not in plain, key
    over = ultralytics_args(TrainConfig(lr0=0.01, optimizer="SGD", overrides={"lr0": 0.05}),
                            data="d", project=Path("/p"), name="r")
    assert over["lr0"] == 0.05


def test_repeat_factors() -> None:
    data = {"ids": np.array(["a", "b", "c", "d"]),
            "label": np.array(["fish", "shark", "fish", "ray", "shark"]),
            "sample_index": np.array([0, 0, 1, 2, 3])}
    np.testing.assert_array_equal(repeat_factors(data, ["shark"], 3), [3, 1, 1, 3])
    np.testing.assert_array_equal(repeat_factors(data, ["ray", "fish"], 2), [2, 2, 2, 1])
    np.testing.assert_array_equal(repeat_factors(data, ["shark"], 1), [1, 1, 1, 1])
    np.testing.assert_array_equal(repeat_factors(data, None, 3), [1, 1, 1, 1])
    empty = {"ids": np.array(["a"]), "label": np.array([], dtype=str),
             "sample_index": np.array([], dtype=np.int64)}
    np.testing.assert_array_equal(repeat_factors(empty, ["shark"], 3), [1])


# ---------------------------------------------------------------- integration: real data

def _critical_ids(ws: Any, view_split: str, cls: str) -> set[str]:
    from fiftyone import ViewField as F

    view = ws.dataset.match({"split": view_split}).filter_labels("ground_truth",
                                                                 F("label") == cls)
    return set(view.values("id"))


@pytest.mark.integration
def test_export_repeats_critical_images(small_ws) -> None:  # type: ignore[no-untyped-def]
    from workbench.training.dataset import export_yolo, label_hash

    classes = small_ws.classes
    plain = export_yolo(small_ws, "split:train", "split:val", classes)
    crit = _critical_ids(small_ws, "train", "penguin")
    assert 0 < len(crit) < plain.train.images
    ds = export_yolo(small_ws, "split:train", "split:val", classes, ["penguin"], 3)
    assert ds.label_hash != plain.label_hash and ds.root != plain.root
    assert ds.label_hash == label_hash(small_ws, "split:train", "split:val", classes,
                                       ["penguin"], 3)
    twice = export_yolo(small_ws, "split:train", "split:val", classes, ["penguin"], 2)
    assert twice.label_hash not in (ds.label_hash, plain.label_hash)
    images = sorted((ds.root / "images" / "train").iterdir())
    labels = sorted((ds.root / "labels" / "train").glob("*.txt"))
    assert len(images) == len(labels) == plain.train.images + 2 * len(crit)
    assert ds.train.repeated == len(crit)
    assert ds.train.images_after_repeats == len(images) and ds.train.images == plain.train.images
    reps = {p.stem.split("__rep")[0] for p in images if "__rep" in p.stem}
    assert reps == crit
    for sid in crit:
        text = (ds.root / "labels" / "train" / f"{sid}.txt").read_text()
        for rep in (1, 2):
            assert (ds.root / "labels" / "train" / f"{sid}__rep{rep}.txt").read_text() == text
            link = next((ds.root / "images" / "train").glob(f"{sid}__rep{rep}.*"))
            assert link.is_symlink() and link.resolve() == next(
                (ds.root / "images" / "train").glob(f"{sid}.*")).resolve()
    # boxes per class after repeats, counted from the written label files
    counted = np.zeros(len(classes), dtype=np.int64)
    for f in labels:
        rows = np.loadtxt(f, ndmin=2)
        if rows.size:
            counted += np.bincount(rows[:, 0].astype(int), minlength=len(classes))
    assert {c: int(n) for c, n in zip(classes, counted, strict=True) if n} == \
        ds.train.boxes_per_class_after_repeats
    assert ds.train.boxes_per_class_after_repeats["penguin"] == \
        3 * plain.train.boxes_per_class["penguin"]
    assert len(list((ds.root / "images" / "val").iterdir())) == plain.val.images  # no repeats
    again = export_yolo(small_ws, "split:train", "split:val", classes, ["penguin"], 3)
    assert again.reused and again.train.repeated == len(crit)
    with pytest.raises(ConfigError, match=r"unknown classes \['lionfish'\].*fish, jellyfish"):
        export_yolo(small_ws, "split:train", "split:val", classes, ["lionfish"], 3)


@pytest.mark.integration
@pytest.mark.slow
def test_training_with_controls_records_and_reaches_ultralytics(small_ws) -> None:  # type: ignore[no-untyped-def]
    from workbench.store import runs
    from workbench.training.runner import train

    run = f"ctl-{uuid.uuid4().hex[:8]}"
    subset = ["fish", "penguin", "shark"]
    cfg = TrainConfig(model="micro-relu", imgsz=96, epochs=1, batch=8, workers=0, run=run,
                      augment="none", optimizer="SGD", lr0=0.02, freeze=1, cache=True,
                      classes=subset, critical=["penguin"], oversample=3,
                      overrides={"fliplr": 0.25, "close_mosaic": 0})
    result = train(small_ws, cfg)
    crit = _critical_ids(small_ws, "train", "penguin")
    assert result.train_images_repeated == len(crit) > 0
    assert result.train_images_after_repeats == result.train_images + 2 * len(crit)
    doc = runs.get_run(small_ws, run, kind="train")
    assert doc and doc["status"] == "completed"
    params, inputs = doc["params"], doc["inputs"]
    assert params["augment"] == "none" and params["critical"] == ["penguin"]
    assert params["oversample"] == 3 and params["train_classes"] == subset
    assert params["classes"] == small_ws.classes  # the model's class order, unchanged
    ids = [small_ws.classes.index(c) for c in subset]
    assert params["ultralytics_args"]["classes"] == ids
    assert inputs["train_images_repeated"] == len(crit)
    assert inputs["train_images_after_repeats"] == result.train_images_after_repeats
    after = inputs["train_boxes_per_class_after_repeats"]
    assert after["penguin"] == 3 * inputs["train_boxes_per_class"]["penguin"]
    # what Ultralytics' trainer really got: the args.yaml it writes into the run folder
    args = yaml.safe_load((Path(result.run_dir) / "args.yaml").read_text())
    for key in ("mosaic", "mixup", "hsv_h", "hsv_s", "hsv_v", "degrees", "translate", "scale"):
        assert args[key] == 0.0, key
    assert args["fliplr"] == 0.25  # --train-arg wins over the preset
    assert (args["optimizer"], args["lr0"], args["freeze"]) == ("SGD", 0.02, 1)
    assert args["classes"] == ids and args["cache"] == "ram"
    n_train = len(list((Path(result.dataset) / "images" / "train").iterdir()))
    assert n_train == result.train_images_after_repeats


@pytest.mark.integration
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"classes": ["fish", "lionfish"]}, r"--classes: unknown classes \['lionfish'\]"),
        ({"critical": ["urchin"], "oversample": 2}, r"--critical: unknown classes \['urchin'\]"),
        ({"overrides": {"mosaic": 3.0}}, "invalid training argument: 'mosaic=3.0'"),
    ],
)
def test_training_refuses_before_recording(small_ws, kwargs: dict[str, Any],  # type: ignore[no-untyped-def]
                                           message: str) -> None:
    from workbench.store import runs
    from workbench.training.runner import train

    run = f"bad-{uuid.uuid4().hex[:8]}"
    with pytest.raises(ConfigError, match=message):
        train(small_ws, TrainConfig(model="micro-relu", imgsz=64, epochs=1, run=run, **kwargs))
    assert runs.get_run(small_ws, run) is None
