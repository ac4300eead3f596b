"""Label Studio documents workbench writes: the labeling config and tasks with predictions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from xml.sax.saxutils import quoteattr

_PALETTE = ("#e6194b", "#3cb44b", "#ffe119", "#4363d8", "#f58231", "#911eb4", "#46f0f0",
            "#f032e6", "#bcf60c", "#fabebe", "#008080", "#e6beff", "#9a6324", "#800000")
FROM_NAME = "label"
TO_NAME = "image"


def label_config(classes: Sequence[str]) -> str:
    """A rectangle labeling config with one ``<Label>`` per class, in class-list order."""
    labels = "\n".join(
        f"    <Label value={quoteattr(c)} background={quoteattr(_PALETTE[k % len(_PALETTE)])}/>"
        for k, c in enumerate(classes))
    return (f'<View>\n  <Image name="{TO_NAME}" value="$image" zoom="true"/>\n'
            f'  <RectangleLabels name="{FROM_NAME}" toName="{TO_NAME}">\n{labels}\n'
            "  </RectangleLabels>\n</View>\n")


def rect_results(labels: Sequence[str], xywhn: Sequence[Sequence[float]], width: int,
                 height: int) -> list[dict[str, Any]]:
    """``rectanglelabels`` results (percent coordinates) for ``K`` boxes of one image."""
    return [{"type": "rectanglelabels", "from_name": FROM_NAME, "to_name": TO_NAME,
             "original_width": width, "original_height": height, "image_rotation": 0,
             "value": {"x": b[0] * 100, "y": b[1] * 100, "width": b[2] * 100,
                       "height": b[3] * 100, "rotation": 0, "rectanglelabels": [label]}}
            for label, b in zip(labels, xywhn, strict=True)]


def task(image_url: str, sample_id: str, file_name: str, prediction: dict[str, Any] | None
         ) -> dict[str, Any]:
    """One task: the image, the ids that map it back, and pre-annotations as a prediction."""
    doc: dict[str, Any] = {"data": {"image": image_url, "sample_id": sample_id,
                                    "file_name": file_name}}
    if prediction is not None:
        doc["predictions"] = [prediction]
    return doc


def prediction(model_version: str, results: list[dict[str, Any]], scores: Sequence[float]
               ) -> dict[str, Any]:
    """A task prediction; each result carries its box's score, the task its mean."""
    for r, s in zip(results, scores, strict=True):
        r["score"] = float(s)
    mean = float(sum(scores) / len(scores)) if len(scores) else 0.0
    return {"model_version": model_version, "score": mean, "result": results}
