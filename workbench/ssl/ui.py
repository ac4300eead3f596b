"""The self-supervised capability's App operators: ``wb_ssl_pretrain``, ``wb_ssl_embed``,
``wb_ssl_probe`` and ``wb_ssl_compare``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workbench.ssl.api import (
    METHODS,
    CompareConfig,
    EmbedConfig,
    PretrainConfig,
    ProbeConfig,
    compare,
    embed,
    pretrain,
    probe,
)
from workbench.ssl.engines import ENGINES
from workbench.store.visualization import METHODS as MAPS
from workbench.ui.api import Choices, OperatorSpec, Report, plain

if TYPE_CHECKING:
    from workbench.registry import Registry
    from workbench.store.workspace import Workspace

_VIEWS = Choices(source="views", other=True)
_RUNS = Choices(source="ssl_runs")


def _pretrain(ws: Workspace, cfg: PretrainConfig, report: Report) -> Any:
    report(0.0, f"{cfg.method} on {cfg.view}: building the backbone ...")

    def on_epoch(epoch: int, epochs: int, metrics: dict[str, float]) -> None:
        report(epoch / max(epochs, 1), f"epoch {epoch}/{epochs}: loss {metrics['loss']:.4f}, "
                                       f"{metrics['images_per_s']:.1f} images/s")

    return pretrain(ws, cfg, on_epoch=on_epoch)


def _embed(ws: Workspace, cfg: EmbedConfig, report: Report) -> Any:
    return embed(ws, cfg, progress=lambda done, total:
                 report(done / max(total, 1), f"{done}/{total} images"))


def register(ops: Registry[OperatorSpec]) -> None:
    """Add ``wb_ssl_pretrain``, ``wb_ssl_embed``, ``wb_ssl_probe`` and ``wb_ssl_compare``."""
    ops.register("wb_ssl_pretrain", OperatorSpec(
        "wb_ssl_pretrain", "Workbench: self-supervised pretraining",
        "Pretrain the detector's backbone on unlabeled images with SimCLR, BYOL, DINO or MoCo "
        "(`workbench ssl pretrain`); the result is a detector checkpoint to train from. Long: "
        "schedule it and follow its loss and images/s.",
        PretrainConfig, _pretrain,
        choices={"view": _VIEWS, "method": Choices(static=tuple(METHODS.names())),
                 "run": Choices(source="ssl_runs", other=True)},
        hidden=("weight_decay", "workers"), long=True))
    ops.register("wb_ssl_embed", OperatorSpec(
        "wb_ssl_embed", "Workbench: embeddings of a pretrained backbone",
        "Store a pretraining run's image embeddings as emb_<run> for diverse selection, with "
        "a 2-D map for the Embeddings panel and a similarity index (`workbench ssl embed`).",
        EmbedConfig, _embed,
        choices={"view": _VIEWS, "run": _RUNS,
                 "visualization": Choices(static=(*MAPS.names(), "none")),
                 "engine": Choices(static=tuple(ENGINES.names()))},
        long=True))
    ops.register("wb_ssl_probe", OperatorSpec(
        "wb_ssl_probe", "Workbench: probe a pretrained backbone",
        "k-NN accuracy on labeled box crops (train -> val) of a pretraining run's backbone, "
        "beside the same backbone randomly initialised (`workbench ssl probe`).",
        ProbeConfig, plain(probe, lambda c: f"probing {c.run}"),
        choices={"train": _VIEWS, "val": _VIEWS, "run": _RUNS}, long=True))
    ops.register("wb_ssl_compare", OperatorSpec(
        "wb_ssl_compare", "Workbench: does pretraining help the detector?",
        "Train the same detector from the pretraining run's checkpoint and from scratch (and "
        "from a baseline .pt) on the same labeled subsets; mAP50 by labels, mean ± std, with a "
        "table and a plot (`workbench ssl compare`). Long: schedule it.",
        CompareConfig, plain(compare, lambda c: f"comparing {c.run} on {c.labels} labels"),
        choices={"run": _RUNS, "view": _VIEWS, "val": _VIEWS}, long=True))
