"""The files every export folder carries beside its model: classes, deploy settings, report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from workbench.deployment.thresholds import SCORE_THRESHOLD, ThresholdChoice, per_class


def write_artifacts(folder: Path, classes: list[str], deploy: dict[str, Any],
                    report: dict[str, Any]) -> None:
    """``classes.txt`` (one name per line, model order), ``deploy.yaml`` and ``report.json``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "classes.txt").write_text("\n".join(classes) + "\n")
    (folder / "deploy.yaml").write_text(yaml.safe_dump(deploy, sort_keys=False))
    (folder / "report.json").write_text(json.dumps(report, indent=1) + "\n")


def deploy_settings(target: str, imgsz: int, classes: list[str], source_run: str,
                    calibration: str | None, model_file: str,
                    head: dict[str, Any] | None = None,
                    thresholds: ThresholdChoice | None = None) -> dict[str, Any]:
    """What a device runtime needs to feed the model and read its output.

    ``head`` (device targets: the :class:`~workbench.deployment.rawhead.HeadInfo` as a dict) says
    the model takes uint8 pixels and emits the raw per-level maps that the host decodes.
    ``thresholds``: the per-class operating thresholds (``thresholds``: every class of the
    model, in its order; classes without one at ``postprocess.score_threshold``) and where
    they come from (``thresholds_source``; ``thresholds_run``: the calibrate run); None: every
    class at the global threshold.
    """
    choice = thresholds or ThresholdChoice()
    settings: dict[str, Any] = {
        "target": target, "model": model_file, "source_run": source_run,
        "input": {"name": "images", "shape": [1, 3, imgsz, imgsz], "layout": "NCHW",
                  "color": "RGB", "dtype": "float32", "scale": 1 / 255, "mean": [0, 0, 0],
                  "letterbox": {"pad_value": 114, "keep_ratio": True}},
        "output": {"name": "detections", "shape": [1, 4 + len(classes), "anchors"],
                   "format": "per anchor: cx, cy, w, h in input pixels, then one sigmoid "
                             "score per class"},
        "classes": list(classes),
        "postprocess": {"score_threshold": SCORE_THRESHOLD, "nms_iou": 0.7,
                        "max_detections": 100},
        "thresholds": per_class(list(classes), choice.values, SCORE_THRESHOLD),
        "thresholds_source": choice.source, "thresholds_run": choice.run,
        "calibration": calibration,
    }
    if head is not None:
        settings["input"].update({"dtype": "uint8", "scale": 1,  # normalized inside the model
                                  "note": "RGB pixels 0-255; the compiled model divides by 255"})
        settings["output"] = {
            "names": [f"level{i}" for i in range(len(head["shapes"]))],
            "shapes": [[1, *shape] for shape in head["shapes"]],
            "format": "per level and cell: 4 x reg_max box-side logits (left, top, right, "
                      "bottom), then one logit per class; decode: softmax over reg_max bins, "
                      "expected bin = distance in cells from the cell centre, times the "
                      "stride; sigmoid on the class logits",
            "strides": head["strides"], "reg_max": head["reg_max"]}
    return settings
