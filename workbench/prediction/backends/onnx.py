"""The ``onnxruntime`` backend and the export that feeds it.

The exported graph has a static ``(B, 3, S, S)`` input and two outputs: the raw detection head
``(B, 4 + C, A)`` (boxes in input pixels, every class score) and the pooled last backbone
feature ``(B, D)`` used as the image embedding. Class names and the input size are stored in
the model's metadata.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from workbench.errors import ConfigError
from workbench.prediction.backends.base import Predictor
from workbench.prediction.backends.torch import PooledFeatures, load_detection_model

OPSET = 17


def export_onnx(weights: str, out: Path, imgsz: int | None = None, batch: int = 1) -> Path:
    """Export ``weights`` to ``out`` (opset 17, static shape, simplified with onnxslim)."""
    import onnx
    import torch

    net, names, trained = load_detection_model(weights)
    size = imgsz or trained
    features = PooledFeatures(net)

    class WithEmbedding(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = net

        def forward(self, x: Any) -> Any:
            y = self.net(x)
            return (y[0] if isinstance(y, list | tuple) else y), features.value

    for m in net.modules():  # Ultralytics' Detect head: export-friendly decode
        if hasattr(m, "export"):
            m.export = True
            m.format = "onnx"
    out.parent.mkdir(parents=True, exist_ok=True)
    dummy = torch.zeros(batch, 3, size, size)
    with torch.no_grad():
        torch.onnx.export(WithEmbedding().eval(), (dummy,), str(out), opset_version=OPSET,
                          input_names=["images"], output_names=["detections", "embedding"],
                          dynamo=False)
    model = onnx.load(str(out))
    try:
        import onnxslim

        model = onnxslim.slim(model)
    except Exception:  # simplification is an optimization; the plain graph is valid
        pass
    meta = {"names": json.dumps(names), "imgsz": str(size), "exporter": "workbench"}
    for key, value in meta.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(model, str(out))
    return out


class OnnxPredictor(Predictor):
    """An exported ``.onnx`` run with onnxruntime on the CPU."""

    def __init__(self, path: str, threads: int | None = None) -> None:
        import onnxruntime as ort

        if not Path(path).is_file():
            raise ConfigError(f"ONNX model {path!r} not found")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads or (os.cpu_count() or 1)
        self.path = path
        self.session = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
        meta = self.session.get_modelmeta().custom_metadata_map
        if "names" not in meta:
            raise ConfigError(f"{path} was not exported by workbench (no class names in its "
                              "metadata); export it with `workbench predict --model X.pt "
                              "--backend onnxruntime`")
        self.names = list(json.loads(meta["names"]))
        shape = self.session.get_inputs()[0].shape
        self.imgsz = int(shape[-1])
        self.batch = int(shape[0]) if isinstance(shape[0], int) else 0
        self.input = self.session.get_inputs()[0].name

    def forward(self, batch: np.ndarray, embeddings: bool) -> tuple[np.ndarray, np.ndarray | None]:
        if self.batch and len(batch) != self.batch:  # static batch: pad the last chunk
            pad = np.zeros((self.batch - len(batch), *batch.shape[1:]), dtype=batch.dtype)
            det, emb = self.session.run(None, {self.input: np.concatenate([batch, pad])})
            det, emb = det[:len(batch)], emb[:len(batch)]
        else:
            det, emb = self.session.run(None, {self.input: batch})
        return det, (emb if embeddings else None)
