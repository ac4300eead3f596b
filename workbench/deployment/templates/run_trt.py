"""Run a TensorRT engine built by build.sh on one image and print the detections.

Needs the Jetson's TensorRT Python bindings, numpy, OpenCV and pycuda
(``pip3 install pycuda``). Pre- and post-processing follow deploy.yaml: letterbox to the input
size with gray (114) padding, RGB, /255, NCHW; output (4 + C, anchors) with cx, cy, w, h in input
pixels and one sigmoid score per class; each anchor's best class kept when its score reaches
that class's operating threshold (deploy.yaml ``thresholds``; ``--conf`` sets one for every
class); class-wise NMS.

    python3 run_trt.py model.int8.engine IMAGE.jpg [--conf 0.25]
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def letterbox(img, size):  # type: ignore[no-untyped-def]
    import cv2
    import numpy as np

    h, w = img.shape[:2]
    r = min(size / h, size / w)
    nh, nw = round(h * r), round(w * r)
    top, left = (size - nh) // 2, (size - nw) // 2
    out = np.full((size, size, 3), 114, np.uint8)
    out[top:top + nh, left:left + nw] = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_LINEAR)
    x = out[:, :, ::-1].transpose(2, 0, 1)[None].astype(np.float32) / 255.0
    return np.ascontiguousarray(x), r, left, top


def nms(boxes, scores, iou):  # type: ignore[no-untyped-def]
    import numpy as np

    order, keep = scores.argsort()[::-1], []
    while len(order):
        i = order[0]
        keep.append(i)
        xx1 = np.maximum(boxes[i, 0], boxes[order[1:], 0])
        yy1 = np.maximum(boxes[i, 1], boxes[order[1:], 1])
        xx2 = np.minimum(boxes[i, 2], boxes[order[1:], 2])
        yy2 = np.minimum(boxes[i, 3], boxes[order[1:], 3])
        inter = np.clip(xx2 - xx1, 0, None) * np.clip(yy2 - yy1, 0, None)
        area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        order = order[1:][inter / (area[i] + area[order[1:]] - inter + 1e-9) < iou]
    return keep


def class_thresholds(deploy: dict[str, Any], conf: float | None = None) -> Any:
    """``(C,)`` float32 thresholds in deploy.yaml's class order: ``conf`` for every class when
    given, else deploy.yaml's ``thresholds`` (``postprocess.score_threshold`` for a class it
    does not list, or for every class in a deploy.yaml without them)."""
    import numpy as np

    names = deploy["classes"]
    if conf is not None:
        return np.full(len(names), conf, dtype=np.float32)
    default = float((deploy.get("postprocess") or {}).get("score_threshold", 0.25))
    per_class = deploy.get("thresholds") or {}
    return np.array([float(per_class.get(n, default)) for n in names], dtype=np.float32)


def detections(out: Any, thresholds: Any, iou: float) -> tuple[Any, Any, Any]:
    """Decode one image's output: per-class thresholds, then class-wise NMS.

    Args:
        out: ``(4 + C, A)`` cx, cy, w, h in input pixels, then one score per class.
        thresholds: ``(C,)`` per-class operating thresholds (:func:`class_thresholds`).
        iou: the NMS IoU.

    Returns:
        ``(K, 4)`` x1, y1, x2, y2 in input pixels, ``(K,)`` scores and ``(K,)`` class ids,
        by class then descending score.
    """
    import numpy as np

    scores = out[4:].T
    cls = scores.argmax(1)
    best = scores.max(1)
    keep = best >= np.asarray(thresholds)[cls]  # each box at its class's threshold
    xywh, cls, best = out[:4].T[keep], cls[keep], best[keep]
    boxes = np.c_[xywh[:, :2] - xywh[:, 2:] / 2, xywh[:, :2] + xywh[:, 2:] / 2]
    kept: list[int] = []
    for c in np.unique(cls):  # one NMS per class
        idx = np.flatnonzero(cls == c)
        kept += [int(idx[k]) for k in nms(boxes[idx], best[idx], iou)]
    kept_idx = np.asarray(kept, dtype=np.int64)
    return boxes[kept_idx].reshape(-1, 4), best[kept_idx], cls[kept_idx]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("engine")
    parser.add_argument("image")
    parser.add_argument("--conf", type=float, default=None,
                        help="one threshold for every class (default: deploy.yaml's "
                             "per-class thresholds)")
    parser.add_argument("--iou", type=float, default=0.7)
    args = parser.parse_args()

    import cv2
    import numpy as np
    import pycuda.autoinit  # noqa: F401
    import pycuda.driver as cuda
    import tensorrt as trt
    import yaml

    here = Path(__file__).resolve().parent
    deploy = yaml.safe_load((here / "deploy.yaml").read_text())
    size = deploy["input"]["shape"][-1]
    names = deploy["classes"]
    runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
    engine = runtime.deserialize_cuda_engine(Path(args.engine).read_bytes())
    context = engine.create_execution_context()
    img = cv2.imread(args.image)
    x, r, left, top = letterbox(img, size)
    buffers, outputs = {}, {}
    for i in range(engine.num_io_tensors):
        name = engine.get_tensor_name(i)
        shape = tuple(engine.get_tensor_shape(name))
        host = np.empty(shape, dtype=np.float32)
        buffers[name] = cuda.mem_alloc(host.nbytes)
        context.set_tensor_address(name, int(buffers[name]))
        if engine.get_tensor_mode(name) == trt.TensorIOMode.OUTPUT:
            outputs[name] = host
    cuda.memcpy_htod(buffers["images"], x)
    context.execute_async_v3(0)
    for name, host in outputs.items():
        cuda.memcpy_dtoh(host, buffers[name])
    boxes, scores, cls = detections(outputs["detections"][0], class_thresholds(deploy, args.conf),
                                    args.iou)
    for k in range(len(scores)):  # no zip(strict=): JetPack's Python may be 3.8
        b = (boxes[k] - [left, top, left, top]) / r
        print(f"{names[cls[k]]} {scores[k]:.3f} {b[0]:.1f} {b[1]:.1f} {b[2]:.1f} {b[3]:.1f}")


if __name__ == "__main__":
    main()
