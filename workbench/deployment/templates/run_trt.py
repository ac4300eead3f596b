"""Run a TensorRT engine built by build.sh on one image and print the detections.

Needs the Jetson's TensorRT Python bindings, numpy, OpenCV and pycuda
(``pip3 install pycuda``). Pre- and post-processing follow deploy.yaml: letterbox to the input
size with gray (114) padding, RGB, /255, NCHW; output (4 + C, anchors) with cx, cy, w, h in input
pixels and one sigmoid score per class; class-wise NMS.

    python3 run_trt.py model.int8.engine IMAGE.jpg [--conf 0.25]
"""

from __future__ import annotations

import argparse
from pathlib import Path


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("engine")
    parser.add_argument("image")
    parser.add_argument("--conf", type=float, default=0.25)
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
    out = outputs["detections"][0]
    scores = out[4:].T
    cls = scores.argmax(1)
    best = scores.max(1)
    keep = best >= args.conf
    xywh, cls, best = out[:4].T[keep], cls[keep], best[keep]
    boxes = np.c_[xywh[:, :2] - xywh[:, 2:] / 2, xywh[:, :2] + xywh[:, 2:] / 2]
    for c in np.unique(cls):
        idx = np.flatnonzero(cls == c)
        for k in nms(boxes[idx], best[idx], args.iou):
            b = (boxes[idx[k]] - [left, top, left, top]) / r
            print(f"{names[c]} {best[idx[k]]:.3f} {b[0]:.1f} {b[1]:.1f} {b[2]:.1f} {b[3]:.1f}")


if __name__ == "__main__":
    main()
