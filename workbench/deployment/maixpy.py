"""The MaixPy script that runs a K210 export on the board (camera, KPU, decode, boxes).

The template (``templates/maixpy_k210.py``) carries the decode in plain MicroPython; the
export writes the model's classes, input size, strides and thresholds into its ``CONFIG``:
``score_threshold`` (the global one), ``thresholds`` (one per class, in the model's class
order, applied to the decoded boxes) and ``nms_iou``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from workbench.deployment.rawhead import HeadInfo

TEMPLATE = Path(__file__).resolve().parent / "templates" / "maixpy_k210.py"
MARKER = "CONFIG = {}  # written by `workbench export --target k210`"


def maixpy_config(info: HeadInfo, deploy: dict[str, Any]) -> dict[str, Any]:
    """What the script needs: the head's decode parameters and the post-processing."""
    post = deploy["postprocess"]
    per_class = deploy.get("thresholds") or {}
    return {**info.to_dict(), "score_threshold": post["score_threshold"],
            "thresholds": [float(per_class.get(n, post["score_threshold"]))
                           for n in info.names],
            "nms_iou": post["nms_iou"]}


def write_maixpy_script(folder: Path, info: HeadInfo, deploy: dict[str, Any]) -> Path:
    """Write ``folder/maixpy_k210.py`` with this model's settings filled in."""
    text = TEMPLATE.read_text()
    if MARKER not in text:
        raise RuntimeError("the MaixPy template lost its CONFIG line")
    config = json.dumps(maixpy_config(info, deploy))
    path = folder / "maixpy_k210.py"
    path.write_text(text.replace(MARKER, f"CONFIG = {config}"))
    return path
