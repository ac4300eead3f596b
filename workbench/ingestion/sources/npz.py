"""Robot calibration captures: ``.npz`` files with ``rgb`` (H, W, 3) uint8, ``depth`` (H, W)
float32 and ``proprio`` (6,) float32.

The RGB frame is written once as a PNG named by its content hash under the workspace's
``media/npz/`` and becomes the sample's image; depth statistics and the proprioceptive vector
become sample fields, and the ``.npz`` path is kept. Captures are unlabeled pool images.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import numpy as np

from workbench.errors import SourceError
from workbench.media.records import ImageRecord, SourceBatch, SourceOptions

EXTRA_FIELDS = {"depth_min": "float", "depth_max": "float", "depth_mean": "float",
                "depth_valid_fraction": "float", "proprio": "float_list", "npz_path": "string"}


def parse(path: Path, options: SourceOptions) -> SourceBatch:
    """Parse ``.npz`` captures (a file, or a folder searched recursively)."""
    from PIL import Image  # imported when a capture is parsed: the CLI loads this at start-up

    files = [path] if path.is_file() else sorted(path.rglob("*.npz"))
    if not files:
        raise SourceError(f"{path}: no .npz files found")
    if options.workspace_root is None:
        raise SourceError("npz ingest needs a workspace to write the RGB frames into")
    media = options.workspace_root / "media" / "npz"
    base = path.parent if path.is_file() else path
    batch = SourceBatch(extra_fields=dict(EXTRA_FIELDS))
    for npz_path in files:
        try:
            with np.load(npz_path, allow_pickle=False) as arrays:
                missing = [k for k in ("rgb", "depth", "proprio") if k not in arrays.files]
                if missing:
                    batch.drop("missing-array", npz_path,
                                f"missing arrays {missing}; expected rgb, depth and proprio")
                    continue
                rgb, depth, proprio = arrays["rgb"], arrays["depth"], arrays["proprio"]
        except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
            batch.drop("unreadable-npz", npz_path, f"cannot read .npz: {exc}")
            continue
        problem = _check(rgb, depth, proprio)
        if problem:
            batch.drop("bad-array", npz_path, problem)
            continue
        buf = io.BytesIO()
        Image.fromarray(rgb, mode="RGB").save(buf, format="PNG")
        data = buf.getvalue()
        digest = hashlib.sha256(data).hexdigest()
        image_path = media / digest[:2] / f"{digest}.png"
        created = False
        if not image_path.exists():
            image_path.parent.mkdir(parents=True, exist_ok=True)
            tmp = image_path.with_suffix(".tmp")
            tmp.write_bytes(data)
            tmp.replace(image_path)
            created = True
        valid = np.isfinite(depth) & (depth > 0)
        vals = depth[valid]
        fields = {
            "depth_min": float(vals.min()) if vals.size else None,
            "depth_max": float(vals.max()) if vals.size else None,
            "depth_mean": float(vals.mean()) if vals.size else None,
            "depth_valid_fraction": float(valid.mean()),
            "proprio": [float(v) for v in proprio.reshape(-1)],
            "npz_path": str(npz_path.resolve()),
        }
        batch.records.append(ImageRecord(image_path, str(npz_path.relative_to(base)),
                                         labeled=False, split="pool", fields=fields,
                                         created_media=created))
    return batch


def _check(rgb: np.ndarray, depth: np.ndarray, proprio: np.ndarray) -> str | None:
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        return f"'rgb' must be (H, W, 3) uint8, got {rgb.shape} {rgb.dtype}"
    if depth.ndim != 2 or depth.shape != rgb.shape[:2] or depth.dtype.kind != "f":
        return f"'depth' must be (H, W) float matching rgb {rgb.shape[:2]}, got {depth.shape} " \
               f"{depth.dtype}"
    if proprio.shape != (6,) or proprio.dtype.kind != "f":
        return f"'proprio' must be (6,) float, got {proprio.shape} {proprio.dtype}"
    return None
