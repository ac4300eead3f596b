"""Per-class operating thresholds of an export: where they come from and what they keep.

``workbench export --thresholds`` takes ``auto`` (the newest ``calibrate`` run of the exported
weights that picked thresholds, else ``none``), ``none`` (every class at the global score
threshold), the name of a ``calibrate`` run, or a YAML / JSON file mapping class names to
thresholds. The choice is resolved and checked before anything is written
(:func:`resolve`), and every export's ``deploy.yaml`` carries one threshold per class of the
model (:func:`per_class`), which the device scripts, ``run_trt.py`` and ``workbench benchmark``
apply to the decoded detections (:func:`counts_at`).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import yaml

from workbench.errors import ConfigError

if TYPE_CHECKING:
    from workbench.core.types import Predictions
    from workbench.store.workspace import Workspace

#: The global score threshold: every class without a threshold of its own uses it.
SCORE_THRESHOLD = 0.25
#: The ``--thresholds`` words; anything else is a ``calibrate`` run or a file.
KEYWORDS = ("auto", "none")
#: Suffixes that make ``--thresholds`` a file.
FILE_SUFFIXES = (".yaml", ".yml", ".json")


@dataclass(frozen=True)
class ThresholdChoice:
    """What ``--thresholds`` resolved to.

    Attributes:
        source: ``none``, ``auto`` (a calibrate run found for these weights), the calibrate
            run's name, or the file's absolute path (``thresholds_source`` in ``deploy.yaml``).
        run: the calibrate run the values come from (``auto`` or a run name), else None.
        values: class name -> threshold as given (classes left out use the global one).
    """

    source: str = "none"
    run: str | None = None
    values: dict[str, float] = field(default_factory=dict)

    def to_dict(self, classes: list[str], conf: float = SCORE_THRESHOLD) -> dict[str, Any]:
        """The report's ``thresholds`` entry: source, run, global threshold and per class."""
        return {"source": self.source, "run": self.run, "global": conf,
                "values": per_class(classes, self.values, conf)}


def per_class(classes: list[str], values: dict[str, float],
              conf: float = SCORE_THRESHOLD) -> dict[str, float]:
    """Every class of the model, in its order, with its threshold (``conf`` when not given)."""
    return {c: float(values.get(c, conf)) for c in classes}


def check_values(values: Any, origin: str) -> dict[str, float]:
    """A mapping of class name -> threshold, each a number in ``[0, 1]``.

    Raises:
        ConfigError: not a mapping, a value that is no number or out of range (all named).
    """
    if not isinstance(values, dict) or not values:
        raise ConfigError(f"{origin}: expected a mapping of class name to threshold "
                          "(e.g. `fish: 0.3`), got " + (type(values).__name__ if values
                                                        else "nothing"))
    bad = [f"{k}: {v!r}" for k, v in values.items()
           if isinstance(v, bool) or not isinstance(v, int | float)
           or not (math.isfinite(v) and 0.0 <= v <= 1.0)]
    if bad:
        raise ConfigError(f"{origin}: thresholds must be numbers in [0, 1]; got "
                          + ", ".join(bad))
    return {str(k): float(v) for k, v in values.items()}


def check_classes(choice: ThresholdChoice, classes: list[str]) -> None:
    """Refuse thresholds of classes the model does not predict.

    Raises:
        ConfigError: naming the unknown classes and the model's classes.
    """
    unknown = sorted(set(choice.values) - set(classes))
    if unknown:
        origin = f"calibrate run {choice.run!r}" if choice.run else choice.source
        raise ConfigError(f"--thresholds {origin}: classes the model does not predict: "
                          f"{', '.join(unknown)}; the model's classes are "
                          f"{', '.join(classes)} (fix the names, or pass --thresholds none)")


def read_file(path: Path) -> dict[str, float]:
    """The thresholds of a YAML / JSON file: ``{class: value}``, or a document with such a
    mapping under ``thresholds`` (an export's ``deploy.yaml``, a calibrate report).

    Raises:
        ConfigError: unreadable, not a mapping, bad values.
    """
    try:
        text = path.read_text()
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise ConfigError(f"--thresholds {path}: cannot read it ({exc})") from exc
    if isinstance(data, dict) and isinstance(data.get("thresholds"), dict):
        data = data["thresholds"]
    return check_values(data, f"--thresholds {path}")


def _same_file(a: Any, b: str) -> bool:
    return isinstance(a, str) and bool(a) and Path(a).expanduser().resolve() == Path(b).resolve()


def _calibrate_runs(ws: Workspace) -> list[dict[str, Any]]:
    from workbench.store import runs
    from workbench.store.runs import RunKind

    return [d for d in runs.list_runs(ws, RunKind.CALIBRATE)
            if d.get("status", "completed") == "completed"]


def _auto(ws: Workspace, weights: str) -> ThresholdChoice:
    """The newest calibrate run of ``weights`` with thresholds, else ``none``."""
    for doc in reversed(_calibrate_runs(ws)):
        values = (doc.get("outputs") or {}).get("thresholds")
        if values and _same_file((doc.get("params") or {}).get("model"), weights):
            run = str(doc["_id"])
            return ThresholdChoice("auto", run, check_values(values, f"calibrate run {run!r}"))
    return ThresholdChoice()


def _from_run(ws: Workspace, name: str) -> ThresholdChoice:
    from workbench.store import runs
    from workbench.store.runs import RunKind

    doc = runs.get_run(ws, name, RunKind.CALIBRATE)
    if doc is None:
        other = runs.get_run(ws, name)
        known = [str(d["_id"]) for d in _calibrate_runs(ws)]
        what = (f"run {name!r} is a {other.get('kind')} run, not a calibrate run"
                if other else f"no run named {name!r} in this workspace")
        raise ConfigError(f"--thresholds: {what}; pass auto, none, a calibrate run ("
                          + (", ".join(known) if known else "none recorded yet: "
                             "`workbench calibrate --run PREDICTION_RUN --thresholds f1`")
                          + ") or a .yaml/.json file of {class: threshold}")
    values = (doc.get("outputs") or {}).get("thresholds")
    if not values:
        predicted = (doc.get("params") or {}).get("run") or "PREDICTION_RUN"
        raise ConfigError(f"--thresholds: calibrate run {name!r} picked no thresholds; "
                          f"`workbench calibrate --run {predicted} --thresholds f1` makes "
                          "them (or pass --thresholds none)")
    return ThresholdChoice(name, name, check_values(values, f"calibrate run {name!r}"))


def resolve(ws: Workspace, spec: str, weights: str) -> ThresholdChoice:
    """What ``--thresholds spec`` means for an export of ``weights`` (not yet checked against
    the model's classes: :func:`check_classes`).

    Args:
        ws: the workspace whose calibrate runs are searched.
        spec: ``auto``, ``none``, a calibrate run name, or a ``.yaml`` / ``.yml`` / ``.json``
            file (relative to the working directory, else to the workspace).
        weights: the exported weights (``auto`` matches the calibrate runs' ``params.model``).

    Raises:
        ConfigError: an unknown run, a run without thresholds, a missing or bad file.
    """
    spec = spec.strip()
    if spec == "none":
        return ThresholdChoice()
    if spec == "auto":
        return _auto(ws, weights)
    if Path(spec).suffix.lower() in FILE_SUFFIXES:
        path = Path(spec).expanduser()
        if not path.is_file() and not path.is_absolute() and (ws.root / path).is_file():
            path = ws.root / path
        if not path.is_file():
            raise ConfigError(f"--thresholds {spec}: no such file (give a .yaml or .json "
                              "mapping of class name to threshold)")
        path = path.resolve()
        return ThresholdChoice(str(path), None, read_file(path))
    return _from_run(ws, spec)


def from_deploy(deploy: dict[str, Any], classes: list[str]) -> tuple[dict[str, float], str]:
    """The per-class thresholds an export folder's ``deploy.yaml`` says to apply, and their
    source (an export written before per-class thresholds: every class at its
    ``postprocess.score_threshold``)."""
    conf = float((deploy.get("postprocess") or {}).get("score_threshold", SCORE_THRESHOLD))
    values = deploy.get("thresholds")
    if isinstance(values, dict):
        return per_class(classes, {str(k): float(v) for k, v in values.items()}, conf), str(
            deploy.get("thresholds_source", "deploy.yaml"))
    return per_class(classes, {}, conf), "score_threshold"


def counts_at(preds: Predictions, names: list[str], thresholds: dict[str, float],
              gt_image: np.ndarray, gt_xyxy: np.ndarray, gt_cls: np.ndarray,
              classes: list[str]) -> dict[str, Any]:
    """Detections, true positives, precision and recall at per-class thresholds (IoU 0.5).

    Args:
        preds: ``M`` detections; ``class_id`` indexes ``names`` (the model's classes).
        names: the model's classes; ``thresholds``: class name -> threshold (missing:
            :data:`SCORE_THRESHOLD`).
        gt_image, gt_xyxy, gt_cls: ``(G,)``, ``(G, 4)``, ``(G,)`` ground truth in the same box
            unit; ``gt_cls`` indexes ``classes`` (the workspace's).
        classes: the workspace's classes.

    Returns:
        ``{"detections", "true_positives", "precision", "recall", "per_class": [{"class",
        "threshold", "detections", "true_positives", "ground_truth", "recall"}]}``
        (``recall`` None for a class without ground truth).
    """
    from workbench.core.cocoeval import coco_evaluate

    thr = np.array([thresholds.get(n, SCORE_THRESHOLD) for n in names], dtype=np.float64)
    keep = preds.confidence >= thr[preds.class_id]
    index = {c: k for k, c in enumerate(classes)}
    to_ws = np.array([index.get(n, -1) for n in names], dtype=np.int64)
    cls = to_ws[preds.class_id[keep]]
    known = cls >= 0  # a class outside the workspace's list never matches
    n_gt = np.bincount(gt_cls[gt_cls >= 0], minlength=len(classes))[:len(classes)]
    metrics = coco_evaluate(preds.image_index[keep][known], preds.xyxy[keep][known],
                            preds.confidence[keep][known], cls[known], gt_image, gt_xyxy,
                            gt_cls, len(classes))
    recall = metrics.recall[0, :, 0]  # IoU 0.5, every area: the recall of all kept boxes
    tp = np.rint(np.nan_to_num(recall) * n_gt).astype(np.int64)
    dets = np.bincount(cls[known], minlength=len(classes))[:len(classes)]
    total, hits, gt_total = int(keep.sum()), int(tp.sum()), int(n_gt.sum())
    rows = [{"class": c, "threshold": round(float(thresholds.get(c, SCORE_THRESHOLD)), 6),
             "detections": int(dets[k]), "true_positives": int(tp[k]),
             "ground_truth": int(n_gt[k]),
             "recall": None if n_gt[k] == 0 else round(float(tp[k] / n_gt[k]), 6)}
            for k, c in enumerate(classes)]
    return {"detections": total, "true_positives": hits,
            "precision": round(hits / total, 6) if total else 0.0,
            "recall": round(hits / gt_total, 6) if gt_total else 0.0, "per_class": rows}


def markdown(entry: dict[str, Any]) -> str:
    """A report's ``thresholds`` entry as a Markdown table (the App's export report)."""
    where = entry.get("source", "none")
    if entry.get("run") and entry["run"] != where:
        where += f" (calibrate run `{entry['run']}`)"
    lines = [f"**Operating thresholds** ({where}; global {entry.get('global')})", "",
             "| class | threshold |", "|---|---|"]
    lines += [f"| {c} | {v:.3f} |" for c, v in (entry.get("values") or {}).items()]
    return "\n".join(lines)
