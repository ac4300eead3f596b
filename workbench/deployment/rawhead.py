"""The device graph: a detector exported up to its head's raw per-level maps.

NPU compilers (nncase for the K210/K230, rknn-toolkit2) import plain convolutional graphs but
not Ultralytics' in-graph decode (dynamic ``Mul``s, softmax over reshaped bins). The device
ONNX therefore ends at the head's convolutions — one ``(1, 4 * R + C, H, W)`` output per level
— and the decode runs on the host in numpy (:func:`workbench.core.rawhead.decode_raw_maps`)
or on the device CPU (the MaixPy script does the same arithmetic).

:class:`MapsPredictor` turns any runner of such a graph (onnxruntime, a vendor simulator's
recorded outputs) into a :class:`~workbench.prediction.backends.base.Predictor`, so accuracy
and fidelity are measured with the same post-processing as every other export.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from workbench.core.rawhead import decode_raw_maps
from workbench.errors import ConfigError
from workbench.prediction.api import Predictor, to_uint8

#: opset for vendor compilers (nncase 1.x and rknn-toolkit2 read 13 reliably)
DEVICE_OPSET = 13


@dataclass(frozen=True)
class HeadInfo:
    """What a host needs to decode the raw maps.

    Attributes:
        names: class names in output order.
        imgsz: square input size.
        strides: input pixels per cell of each level.
        reg_max: distribution bins per box side.
        shapes: ``(C, H, W)`` of each output map.
    """

    names: list[str]
    imgsz: int
    strides: list[float]
    reg_max: int
    shapes: list[tuple[int, int, int]]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (deploy.yaml, the MaixPy script)."""
        return {"names": self.names, "imgsz": self.imgsz, "strides": self.strides,
                "reg_max": self.reg_max, "shapes": [list(s) for s in self.shapes]}


def export_raw_onnx(weights: str, out: Path, imgsz: int | None = None) -> HeadInfo:
    """Export ``weights`` up to the raw head maps (opset 13, batch 1, simplified)."""
    import onnx
    import torch

    from workbench.prediction.api import load_detection_model

    net, names, trained = load_detection_model(weights)
    size = imgsz or trained
    head = net.model[-1]
    if not hasattr(head, "one2many") or not hasattr(head, "reg_max"):
        raise ConfigError(f"{weights}: the last layer is not an Ultralytics Detect head; device "
                          "exports need a detection model")
    box_head, cls_head = head.one2many["box_head"], head.one2many["cls_head"]

    def raw_maps(feats: list[Any]) -> list[Any]:
        return [torch.cat((box_head[i](feats[i]), cls_head[i](feats[i])), 1)
                for i in range(head.nl)]

    original = head.forward
    head.forward = raw_maps  # instance attribute: only this export sees it
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        dummy = torch.zeros(1, 3, size, size)
        with torch.no_grad():
            maps = net(dummy)
            output_names = [f"level{i}" for i in range(len(maps))]
            torch.onnx.export(net, (dummy,), str(out), opset_version=DEVICE_OPSET,
                              input_names=["images"], output_names=output_names, dynamo=False)
    finally:
        head.forward = original
    shapes = [tuple(int(d) for d in m.shape[1:]) for m in maps]
    info = HeadInfo(names=names, imgsz=size,
                    strides=[float(size) / s[2] for s in shapes], reg_max=int(head.reg_max),
                    shapes=shapes)  # type: ignore[arg-type]
    model = onnx.load(str(out))
    import onnxslim

    model = onnxslim.slim(model)  # folds shape arithmetic: vendor importers need value info
    model = onnx.shape_inference.infer_shapes(model)
    meta = {"names": json.dumps(names), "imgsz": str(size), "exporter": "workbench",
            "head": json.dumps(info.to_dict())}
    for key, value in meta.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(model, str(out))
    return info


def read_head_info(path: Path) -> HeadInfo:
    """The :class:`HeadInfo` stored in a raw-head ONNX's metadata."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    meta = {p.key: p.value for p in model.metadata_props}
    if "head" not in meta:
        raise ConfigError(f"{path} is not a workbench raw-head export (no 'head' metadata)")
    d = json.loads(meta["head"])
    return HeadInfo(names=list(d["names"]), imgsz=int(d["imgsz"]),
                    strides=[float(s) for s in d["strides"]], reg_max=int(d["reg_max"]),
                    shapes=[(int(a), int(b), int(c)) for a, b, c in d["shapes"]])


Runner = Callable[[np.ndarray], list[np.ndarray]]


class MapsPredictor(Predictor):
    """A raw-maps runner as a Predictor: the maps are decoded in numpy."""

    def __init__(self, info: HeadInfo, runner: Runner) -> None:
        self.info = info
        self.names = info.names
        self.imgsz = info.imgsz
        self.runner = runner

    def maps(self, batch: np.ndarray) -> list[np.ndarray]:
        """The raw maps of a ``(B, 3, S, S)`` float batch, image by image."""
        per_image = [self.runner(batch[k:k + 1]) for k in range(len(batch))]
        return [np.concatenate([p[level] for p in per_image])
                for level in range(len(per_image[0]))]

    def forward(self, batch: np.ndarray, embeddings: bool) -> tuple[np.ndarray, np.ndarray | None]:
        return decode_raw_maps(self.maps(batch), self.info.strides, self.info.reg_max), None


def onnx_runner(path: Path, threads: int = 1) -> Runner:
    """Run a raw-head ONNX with onnxruntime on the CPU."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name

    def run(x: np.ndarray) -> list[np.ndarray]:
        return [np.asarray(o) for o in session.run(None, {name: x.astype(np.float32)})]

    return run


def input_key(x: np.ndarray) -> str:
    """The identity of one letterboxed input, as the recorded outputs are keyed."""
    return hashlib.sha1(to_uint8(x).tobytes()).hexdigest()


def replay_runner(inputs: np.ndarray, outputs: list[np.ndarray]) -> Runner:
    """Answer with outputs recorded elsewhere (a vendor simulator) for the same inputs.

    Args:
        inputs: ``(N, 3, S, S)`` uint8, the images the simulator ran on.
        outputs: per level ``(N, K, H, W)``, the simulator's maps.
    """
    index = {hashlib.sha1(inputs[k:k + 1].tobytes()).hexdigest(): k for k in range(len(inputs))}

    def run(x: np.ndarray) -> list[np.ndarray]:
        k = index.get(input_key(x))
        if k is None:
            raise ConfigError("an image was not run through the simulator (internal error)")
        return [o[k:k + 1] for o in outputs]

    return run
