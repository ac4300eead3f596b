"""workbench: a data-centric active-learning workbench for object detection.

Every CLI command is one library call (imports are lazy, so ``import workbench`` stays fast)::

    import workbench as wb

    ws = wb.init_workspace("my-ws", classes=["fish", "shark"])
    wb.ingest(ws, "datasets/aquarium-mini", format="yolo")
    wb.split(ws, seed=0)
    wb.train(ws, epochs=30, imgsz=224)               # or wb.train(ws, wb.TrainConfig(...))
    wb.predict(ws, model="RUN", embeddings=True)
    wb.select(ws, n=200, strategy="entropy")
    wb.annotate_export(ws, out=Path("round-1.zip"))

Each verb takes the workspace and either the capability's config dataclass or that config's
fields as keywords (plus the call's own arguments such as ``progress``), and returns the
capability's result (``to_dict()`` is the command's ``--json``). :data:`COMMANDS` maps every
CLI command to its function here.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable
from typing import Any

__version__ = "0.1.0"


@dataclasses.dataclass(frozen=True)
class _Verb:
    """Where a facade verb lives: ``module.function(ws, Config(...), **call_args)``."""

    module: str
    function: str
    config: str | None = None
    command: str = ""
    native: bool = False  # the api function itself takes a config or its fields as keywords


_VERBS: dict[str, _Verb] = {
    "init": _Verb("workbench.curation.api", "init", "InitConfig", "init"),
    "status": _Verb("workbench.curation.api", "status", None, "status"),
    "recover": _Verb("workbench.curation.api", "recover", None, "recover"),
    "db_start_replset": _Verb("workbench.curation.api", "start_replset", None,
                              "db start-replset"),
    "db_stop": _Verb("workbench.curation.api", "stop_replset", None, "db stop"),
    "db_status": _Verb("workbench.curation.api", "replset_status", None, "db status"),
    "runs": _Verb("workbench.curation.api", "runs", "RunsConfig", "runs", native=True),
    "app": _Verb("workbench.ui.api", "launch", None, "app"),
    "ingest": _Verb("workbench.ingestion.api", "ingest", "IngestConfig", "ingest", native=True),
    "export_dataset": _Verb("workbench.ingestion.api", "export_dataset", "ExportDatasetConfig",
                            "export-dataset", native=True),
    "split": _Verb("workbench.curation.api", "split", "SplitConfig", "split", native=True),
    "check": _Verb("workbench.curation.api", "check", "CheckConfig", "check", native=True),
    "ssl_pretrain": _Verb("workbench.ssl.api", "pretrain", "PretrainConfig", "ssl pretrain"),
    "ssl_embed": _Verb("workbench.ssl.api", "embed", "EmbedConfig", "ssl embed"),
    "ssl_probe": _Verb("workbench.ssl.api", "probe", "ProbeConfig", "ssl probe"),
    "ssl_compare": _Verb("workbench.ssl.api", "compare", "CompareConfig", "ssl compare"),
    "train": _Verb("workbench.training.api", "train", "TrainConfig", "train"),
    "sweep": _Verb("workbench.training.api", "sweep", "SweepConfig", "train --sizes"),
    "evaluate": _Verb("workbench.training.api", "evaluate", "EvalConfig", "evaluate"),
    "mine": _Verb("workbench.mining.api", "mine", "MineConfig", "mine"),
    "predict": _Verb("workbench.prediction.api", "predict", "PredictConfig", "predict"),
    "calibrate": _Verb("workbench.calibration.api", "calibrate", "CalibrateConfig", "calibrate"),
    "import_predictions": _Verb("workbench.prediction.api", "import_predictions",
                                "PredictionsImportConfig", "predictions import"),
    "visualize": _Verb("workbench.prediction.api", "visualize", "VisualizeConfig", "visualize"),
    "ensemble": _Verb("workbench.ensembling.api", "ensemble", "EnsembleConfig", "ensemble --runs"),
    "ensemble_train": _Verb("workbench.ensembling.api", "train_ensemble", "EnsembleTrainConfig",
                            "ensemble train"),
    "select": _Verb("workbench.selection.api", "select", "SelectConfig", "select"),
    "annotate_export": _Verb("workbench.annotation.api", "export_package", "PackageConfig",
                             "annotate export"),
    "annotate_import": _Verb("workbench.annotation.api", "import_annotations", "ImportConfig",
                             "annotate import"),
    "annotate_undo": _Verb("workbench.annotation.api", "undo_import", "UndoConfig",
                           "annotate undo"),
    "annotate_push": _Verb("workbench.annotation.api", "push", "PushConfig", "annotate push"),
    "annotate_pull": _Verb("workbench.annotation.api", "pull", "PullConfig", "annotate pull"),
    "loop_simulate": _Verb("workbench.loop.api", "simulate", "SimConfig", "loop --simulate"),
    "loop_next": _Verb("workbench.loop.api", "next_round", "NextConfig", "loop next"),
    "loop_status": _Verb("workbench.loop.api", "status", "StatusConfig", "loop status"),
    "export": _Verb("workbench.deployment.api", "export", "ExportConfig", "export"),
    "benchmark": _Verb("workbench.deployment.api", "benchmark", "BenchmarkConfig", "benchmark"),
    "toolchain_status": _Verb("workbench.deployment.api", "toolchain_status", None,
                              "toolchain status"),
    "toolchain_install": _Verb("workbench.deployment.api", "install_toolchain", None,
                               "toolchain install"),
}

#: CLI command -> facade function name.
COMMANDS = {v.command: name for name, v in _VERBS.items()}

#: Names that are re-exported as they are (classes and helpers).
_NAMES = {
    "Workspace": "workbench.store.workspace",
    "init_workspace": "workbench.store.workspace",
    "open_workspace": "workbench.store.workspace",
    **{name: "workbench.curation.api" for name in (
        "InitConfig", "RunsConfig", "SplitConfig", "CheckConfig")},
    "IngestConfig": "workbench.ingestion.api",
    "ExportDatasetConfig": "workbench.ingestion.api",
    **{name: "workbench.ssl.api" for name in ("PretrainConfig", "EmbedConfig", "ProbeConfig",
                                              "CompareConfig")},
    **{name: "workbench.training.api" for name in ("TrainConfig", "SweepConfig", "EvalConfig")},
    **{name: "workbench.prediction.api" for name in ("PredictConfig",
                                                      "PredictionsImportConfig",
                                                      "VisualizeConfig")},
    "MineConfig": "workbench.mining.api",
    **{name: "workbench.ensembling.api" for name in ("EnsembleConfig", "EnsembleTrainConfig")},
    "CalibrateConfig": "workbench.calibration.api",
    "SelectConfig": "workbench.selection.api",
    **{name: "workbench.annotation.api" for name in (
        "PackageConfig", "ImportConfig", "UndoConfig", "PushConfig", "PullConfig")},
    **{name: "workbench.loop.api" for name in ("SimConfig", "NextConfig", "StatusConfig")},
    **{name: "workbench.deployment.api" for name in ("ExportConfig", "BenchmarkConfig")},
}


def _make_verb(name: str, verb: _Verb) -> Callable[..., Any]:
    def call(*args: Any, **options: Any) -> Any:
        module = importlib.import_module(verb.module)
        function = getattr(module, verb.function)
        if verb.config is None or verb.native:
            return function(*args, **options)
        config_cls = getattr(module, verb.config)
        if len(args) >= 2 and isinstance(args[1], config_cls):
            return function(*args, **options)
        if len(args) > 1 + (verb.function == "init"):
            raise TypeError(f"workbench.{name}(ws, config) takes a {verb.config} or its fields "
                            f"as keywords, not {args[1]!r}")
        fields = {f.name for f in dataclasses.fields(config_cls)}
        config = config_cls(**{k: v for k, v in options.items() if k in fields})
        rest = {k: v for k, v in options.items() if k not in fields}
        return function(*args, config, **rest)

    call.__name__ = call.__qualname__ = name
    call.__doc__ = (f"``workbench {verb.command}``: ``{verb.module}.{verb.function}``"
                    + (f" with a ``{verb.config}`` (or its fields as keywords)."
                       if verb.config else "."))
    return call


def __getattr__(name: str) -> Any:
    """Import capabilities (and fiftyone, torch) only when their functions are used."""
    if name in _VERBS:
        value = _make_verb(name, _VERBS[name])
    elif name in _NAMES:
        value = getattr(importlib.import_module(_NAMES[name]), name)
    else:
        raise AttributeError(f"module 'workbench' has no attribute {name!r}")
    globals()[name] = value
    return value


__all__ = [*_VERBS, *_NAMES, "COMMANDS", "__version__"]
