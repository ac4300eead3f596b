"""``ssl pretrain``: real lightly training on demo images, resumable, recorded, and a detector
checkpoint whose backbone the trainer's model loader takes over weight by weight."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from tests.ssl.conftest import BATCH, IMGSZ
from workbench.errors import ConfigError, UnknownNameError, WorkbenchError
from workbench.ssl.api import METHODS, PretrainConfig, pretrain
from workbench.store import runs
from workbench.store.runs import RunKind

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_pretraining_records_the_run_and_writes_a_detector_checkpoint(
        ssl_ws: Any, pretrained: Any) -> None:
    out = pretrained.to_dict()
    for key in ("run", "checkpoint", "epochs", "images", "seconds", "images_per_s",
                "final_loss"):
        assert key in out
    assert out["epochs"] == 2 and out["images"] == 16
    assert out["images_per_s"] > 0 and math.isfinite(out["final_loss"])
    assert Path(out["checkpoint"]).is_file()
    doc = runs.get_run(ssl_ws, out["run"], kind=RunKind.SSL_PRETRAIN)
    assert doc is not None and doc["status"] == "completed"
    train_ids = {str(i) for i in ssl_ws.samples.distinct("_id", {"split": "train"})}
    assert set(doc["inputs"]["sample_ids"]) == train_ids
    assert [e["epoch"] for e in doc["epochs"]] == [1, 2]
    assert all(e["images_per_s"] > 0 for e in doc["epochs"])


def _tensors(model: Any, n_layers: int) -> dict[str, Any]:
    return {k: v for k, v in model.state_dict().items()
            if k.startswith("model.") and int(k.split(".")[1]) < n_layers}


def test_the_trainers_model_loader_takes_the_ssl_backbone_weight_by_weight(
        ssl_ws: Any, pretrained: Any) -> None:
    """The model Ultralytics' trainer builds for ``train --model X.pt`` (``get_model``: a fresh
    ``DetectionModel`` for the workspace's classes, then ``load(weights)``) holds the SSL
    weights in its first conv and its last backbone block (SPPF), and a fresh build does not."""
    import torch
    from ultralytics import YOLO
    from ultralytics.nn.tasks import DetectionModel

    ckpt = torch.load(pretrained.checkpoint, map_location="cpu", weights_only=False)
    ssl_model = ckpt["model"]
    n = pretrained.backbone_layers
    assert n == 10 and type(ssl_model.model[n - 1]).__name__ == "SPPF"
    loaded_by_yolo = YOLO(pretrained.checkpoint)  # what `train --model X.pt` starts from
    torch.manual_seed(123)
    trainer_model = DetectionModel(loaded_by_yolo.model.yaml, nc=len(ssl_ws.classes),
                                   verbose=False)
    fresh = {k: v.clone() for k, v in trainer_model.state_dict().items()}
    trainer_model.load(loaded_by_yolo.model)
    ssl = _tensors(ssl_model, n)
    got = _tensors(trainer_model, n)
    assert set(ssl) == set(got) and ssl
    first = [k for k in ssl if k.startswith("model.0.") and k.endswith("conv.weight")]
    last = [k for k in ssl if k.startswith(f"model.{n - 1}.")
            and k.endswith(("weight", "bias", "running_mean", "running_var"))]
    assert first and last
    for key in ssl:
        assert torch.equal(got[key].float(), ssl[key].float()), key
    for key in first + last:
        if ssl[key].is_floating_point() and ssl[key].numel() > 1:
            assert not torch.equal(fresh[key], got[key]), f"{key} still the fresh init"


def test_pretraining_changed_the_backbone_against_its_initialisation(pretrained: Any) -> None:
    import torch

    from workbench.ssl.backbone import build_detector

    torch.manual_seed(0)  # the seed pretraining built its detector with
    init = build_detector("yolov8n.yaml", nc=7).state_dict()
    trained = torch.load(pretrained.checkpoint, map_location="cpu",
                         weights_only=False)["model"].state_dict()
    assert not torch.equal(init["model.0.conv.weight"], trained["model.0.conv.weight"])
    head = [k for k in init if k.startswith("model.22.")]  # the Detect head: not trained
    assert head and all(torch.equal(init[k], trained[k]) for k in head)


def test_resume_continues_the_last_checkpoint(ssl_ws: Any, pretrained: Any) -> None:
    more = pretrain(ssl_ws, PretrainConfig(run=pretrained.run, resume=True, epochs=3))
    assert more.resumed and more.epochs == 3 and len(more.losses) == 3
    assert more.losses[:2] == pretrained.losses
    doc = runs.get_run(ssl_ws, pretrained.run)
    assert doc is not None and [e["epoch"] for e in doc["epochs"]] == [1, 2, 3]
    with pytest.raises(WorkbenchError, match="has done 3 epochs"):
        pretrain(ssl_ws, PretrainConfig(run=pretrained.run, resume=True, epochs=3))


@pytest.mark.parametrize("method", ["byol", "dino", "moco"])
def test_every_method_trains_a_few_steps(ssl_ws: Any, method: str) -> None:
    result = pretrain(ssl_ws, PretrainConfig(view="split:val", method=method,
                                             model="micro-relu", imgsz=IMGSZ, epochs=1,
                                             batch=BATCH, run=f"ssl-{method}"))
    assert result.steps == 10 // BATCH and math.isfinite(result.final_loss)
    assert Path(result.checkpoint).is_file()


def test_methods_are_registered_explicitly() -> None:
    assert METHODS.names() == ["simclr", "byol", "dino", "moco"]


@pytest.mark.parametrize(("options", "error"), [
    ({"method": "swav"}, UnknownNameError),
    ({"imgsz": 100}, ConfigError),
    ({"batch": 1}, ConfigError),
    ({"resume": True}, ConfigError),
])
def test_bad_options_are_refused(options: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        PretrainConfig(**options)


def test_an_empty_view_and_an_existing_run_are_refused(ssl_ws: Any, pretrained: Any) -> None:
    with pytest.raises(WorkbenchError, match="needs at least 2"):
        pretrain(ssl_ws, PretrainConfig(view="split:test", imgsz=IMGSZ, epochs=1))
    with pytest.raises(WorkbenchError, match="exists"):
        pretrain(ssl_ws, PretrainConfig(view="split:train", run=pretrained.run, epochs=1))
