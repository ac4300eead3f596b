"""workbench export onnx / onnx-int8 with the shipped checkpoint on real demo images."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import DEMO
from tests.deployment.helpers import wide_range_checkpoint
from tests.training.conftest import covering_workspace
from workbench.deployment.exporting import ExportConfig, export_model
from workbench.errors import ConfigError
from workbench.store import runs

pytestmark = [pytest.mark.integration, pytest.mark.slow]
WEIGHTS = str(DEMO / "weights" / "yolov8n-224.pt")


@pytest.fixture(scope="module")
def export_ws(tmp_path_factory: pytest.TempPathFactory, mongo_uri: str) -> Any:
    ws = covering_workspace(tmp_path_factory.mktemp("export"), mongo_uri, 40, 40)
    yield ws
    ws.dataset.delete()


def test_onnx_export_is_the_fp32_reference(export_ws: Any) -> None:
    report = export_model(export_ws, ExportConfig(run=WEIGHTS, target="onnx"))
    folder = Path(report["path"]).parent
    assert {"model.onnx", "classes.txt", "deploy.yaml", "report.json"} <= {
        p.name for p in folder.iterdir()}
    assert report["fidelity"]["cosine"] == pytest.approx(1.0)
    assert report["map50"] == report["map50_fp32"] and report["fits"] is None
    deploy = yaml.safe_load((folder / "deploy.yaml").read_text())
    assert deploy["input"]["shape"] == [1, 3, 224, 224] and deploy["classes"] == export_ws.classes
    assert (folder / "classes.txt").read_text().split() == export_ws.classes
    import onnx

    model = onnx.load(report["path"])
    meta = {p.key: p.value for p in model.metadata_props}
    assert json.loads(meta["names"]) == export_ws.classes and meta["imgsz"] == "224"
    assert 13 <= model.opset_import[0].version <= 17
    assert runs.get_run(export_ws, report["export_id"], "export") is not None


def test_int8_keeps_accuracy_and_is_calibrated_on_a_diverse_pick(export_ws: Any) -> None:
    report = export_model(export_ws, ExportConfig(run=WEIGHTS, target="onnx-int8",
                                                  calibration_count=16))
    calibration = report["calibration"]
    assert {k: calibration[k] for k in ("view", "count", "pick")} == {
        "view": "split:train", "count": 16, "pick": "core-set over the FP32 embeddings"}
    ids = {str(d["_id"]) for d in export_ws.samples.find({"split": "train"}, {"_id": 1})}
    assert len(set(calibration["sample_ids"])) == 16 and set(calibration["sample_ids"]) <= ids
    assert sum(calibration["sources"].values()) == 16
    assert any("fewer than 100" in w for w in calibration["warnings"])
    assert report["warnings"][:len(calibration["warnings"])] == calibration["warnings"]
    by_threads = report["latency_ms_by_threads"]
    assert "1" in by_threads and all(set(t) == {"fp32", "int8"} for t in by_threads.values())
    slower = report["latency_ms"] >= report["latency_ms_fp32"] or any(
        t["int8"] >= t["fp32"] for t in by_threads.values())
    assert slower == any("not faster than FP32" in w for w in report["warnings"])
    import onnx  # the activation functions run in int8 too, unless that lost accuracy

    final = report["int8"]["final"]
    assert final["activation_nodes"] > 0 and "map50_after" in final
    graph = onnx.load(report["path"]).graph
    sigmoids = {n.output[0] for n in graph.node if n.op_type == "Sigmoid"}
    quantized = {n.input[0] for n in graph.node if n.op_type == "QuantizeLinear"}
    assert final["conv_activations"] == bool(sigmoids & quantized)  # SiLU's Sigmoid in int8
    assert report["usable"] and report["gate"]["passed"] and not report["accepted_drop"]
    assert report["gate"]["drop_points"] <= 2.0
    assert report["fidelity"]["cosine"] >= 0.99
    assert report["map50_fp32"] > 0.02  # a model that finds something, or the test says little
    assert report["map50"] >= report["map50_fp32"] - 0.02  # at most 2 mAP50 points lost
    assert report["size_bytes"] < 0.5 * Path(report["path"]).with_name(
        "reference.fp32.onnx").stat().st_size


def test_an_export_beyond_its_budget_is_refused_and_kept_unrecorded(export_ws: Any) -> None:
    from workbench.deployment.api import export
    from workbench.deployment.gate import AccuracyDropError

    recorded = len(runs.list_runs(export_ws, "export"))
    strict = ExportConfig(run=WEIGHTS, target="onnx-int8", calibration_count=8, min_cosine=1.0,
                          out=Path("exports-strict"))
    with pytest.raises(AccuracyDropError, match=r"not usable: its raw outputs match FP32 with "
                       r"cosine .* below --min-cosine 1.*mixed precision") as caught:
        export(export_ws, strict)
    assert caught.value.exit_code == 4
    report = json.loads((caught.value.folder / "report.json").read_text())
    assert report["usable"] is False and report["gate"]["failures"]
    assert Path(report["path"]).exists()  # kept for inspection
    assert len(runs.list_runs(export_ws, "export")) == recorded

    strict.accept_drop = True
    kept = export(export_ws, strict).to_dict()
    assert kept["usable"] and kept["accepted_drop"] and not kept["gate"]["passed"]
    assert len(runs.list_runs(export_ws, "export")) == recorded + 1


def test_mixed_precision_keeps_a_sensitive_layer_in_float(export_ws: Any, tmp_path: Path) -> None:
    weights = wide_range_checkpoint(WEIGHTS, tmp_path)
    plain = export_model(export_ws, ExportConfig(
        run=weights, target="onnx-int8", calibration_count=16, mixed_precision=False,
        accept_drop=True, out=tmp_path / "plain"))
    assert plain["map50_fp32"] > 0.02
    assert plain["gate"]["drop_points"] > 2.0 and not plain["gate"]["passed"]
    assert plain["int8"]["float_nodes"] == [] and plain["int8"]["steps"] == []

    mixed = export_model(export_ws, ExportConfig(
        run=weights, target="onnx-int8", calibration_count=16, out=tmp_path / "mixed"))
    int8 = mixed["int8"]
    assert mixed["usable"] and mixed["gate"]["passed"], int8
    assert int8["drop_before"] > 2.0 and int8["drop_after"] <= 2.0
    assert [t["method"] for t in int8["tried"]] == ["minmax", "percentile", "entropy"]
    worst = int8["sensitivity"][0]
    assert worst["sqnr_db"] < int8["sensitivity"][-1]["sqnr_db"]
    assert any("model.0/" in node for node in worst["nodes"]), worst  # the layer writing it
    assert int8["float_nodes"] and len(int8["float_nodes"]) <= 16
    assert set(int8["float_nodes"]) >= set(worst["nodes"])


def test_sensitivity_table_names_the_wide_range_layer(export_ws: Any, tmp_path: Path) -> None:
    report = export_model(export_ws, ExportConfig(
        run=wide_range_checkpoint(WEIGHTS, tmp_path), target="onnx-int8", calibration_count=8,
        mixed_precision=False, accept_drop=True, sensitivity=True, sensitivity_limit=3,
        out=tmp_path / "table"))
    rows = report["sensitivity"]["layers"]
    assert [r["node"].split("/")[2] for r in rows] == ["model.0", "model.1", "model.2"]
    alone = [r["only_quantized"] for r in rows]
    # the wide-range tensor is written by model.0 and read by model.1: either one quantized
    # alone loses (nearly) everything, model.2 alone nothing; leaving only one of the two in
    # float does not help (both put the tensor on a grid): mixed precision needs both
    assert alone[0]["drop_points"] > 2.0 and alone[1]["drop_points"] > 2.0
    assert alone[2]["drop_points"] < 2.0 and alone[2]["cosine"] > alone[0]["cosine"]
    assert all(r["left_float"]["drop_points"] > 2.0 for r in rows)
    table = Path(report["sensitivity"]["markdown"]).read_text().splitlines()
    assert table[-1].startswith("| `/net/model.2/cv1/conv/Conv`")  # costliest first
    with pytest.raises(ConfigError, match="--sensitivity"):
        ExportConfig(run=WEIGHTS, target="onnx", sensitivity=True)


def test_unknown_targets_and_options_are_explained() -> None:
    with pytest.raises(ConfigError, match=r"valid targets: .*k210.*rknn"):
        ExportConfig(run="x", target="coreml")
    with pytest.raises(ConfigError, match=r"valid platforms: .*rk3566"):
        ExportConfig(run="x", target="rknn", platform="rk9999")
    with pytest.raises(ConfigError, match="--val-limit"):
        ExportConfig(run="x", target="k210", val_limit=0)


def test_benchmark_compares_exports(export_ws: Any, tmp_path: Path) -> None:
    from workbench.deployment.benchmark import benchmark

    fp32 = export_model(export_ws, ExportConfig(run=WEIGHTS, target="onnx"))
    int8 = export_model(export_ws, ExportConfig(run=WEIGHTS, target="onnx-int8",
                                                calibration_count=8))
    device = tmp_path / "model.kmodel"
    device.write_bytes(b"\0" * 1000)
    result = benchmark(export_ws, [Path(fp32["path"]).parent, Path(int8["path"]).parent,
                                   device], limit=12, out=tmp_path / "bench")
    rows = {r["model"]: r for r in result["models"]}
    assert result["images"] == 12
    for report in (fp32, int8):
        row = rows[Path(report["path"]).parent.name]
        assert row["map50"] >= 0 and row["latency_p50_ms"] <= row["latency_p95_ms"]
        assert row["fps"] > 0 and 0 < row["model_rss_mb"] < row["peak_rss_mb"]
        assert row["size_mb"] == pytest.approx(report["size_bytes"] / 1e6, abs=1e-3)
    assert "vendor simulator" in rows["model"]["skipped"]
    assert sum(r.get("pareto", False) for r in result["models"]) >= 1
    for kind in ("json", "markdown", "plot"):
        assert Path(result["files"][kind]).is_file()
    assert "| model | mAP50 |" in Path(result["files"]["markdown"]).read_text()
    assert runs.get_run(export_ws, result["id"], "benchmark") is not None


def test_tensorrt_bundle(export_ws: Any) -> None:
    import subprocess
    import sys

    import numpy as np
    import onnx
    from onnx import numpy_helper

    report = export_model(export_ws, ExportConfig(run=WEIGHTS, target="tensorrt",
                                                  calibration_count=12))
    folder = Path(report["path"]).parent
    names = {p.name for p in folder.iterdir()}
    assert {"model.onnx", "model.int8.qdq.onnx", "calibration.npy", "build.sh", "run_trt.py",
            "deploy.yaml", "classes.txt", "report.json"} <= names
    calib = np.load(folder / "calibration.npy")
    assert calib.dtype == np.uint8 and calib.shape == (12, 3, 224, 224)
    assert (folder / "build.sh").stat().st_mode & 0o111
    assert "model.int8.qdq.onnx" in (folder / "build.sh").read_text()
    helped = subprocess.run([sys.executable, str(folder / "run_trt.py"), "--help"],
                            capture_output=True, text=True, check=True)
    assert "engine" in helped.stdout
    assert report["engine"]["built"] is False and "build.sh" in report["engine"]["how"]
    # TensorRT's explicit quantization needs symmetric int8: every zero point is 0, signed
    qdq = onnx.load(str(folder / "model.int8.qdq.onnx"))
    inits = {i.name: numpy_helper.to_array(i) for i in qdq.graph.initializer}
    zero_points = [inits[n.input[2]] for n in qdq.graph.node
                   if n.op_type == "QuantizeLinear" and len(n.input) > 2]
    assert zero_points and all(z.dtype == np.int8 and not z.any() for z in zero_points)
    assert report["fidelity"]["cosine"] >= 0.99
    assert report["map50"] >= report["map50_fp32"] - 0.02


def test_tensorrt_int8_model_keeps_a_sensitive_layer_in_float(export_ws: Any,
                                                              tmp_path: Path) -> None:
    """The symmetric QDQ model of the Jetson bundle gets the same mixed-precision search."""
    import numpy as np
    import onnx
    from onnx import numpy_helper

    report = export_model(export_ws, ExportConfig(
        run=wide_range_checkpoint(WEIGHTS, tmp_path), target="tensorrt", calibration_count=16,
        out=tmp_path / "trt"))
    int8 = report["int8"]
    assert report["usable"] and report["gate"]["passed"], int8
    assert int8["drop_before"] > 2.0 and int8["drop_after"] <= 2.0
    assert any("model.0/" in node for node in int8["float_nodes"]), int8["float_nodes"]
    qdq = onnx.load(report["path"])
    inits = {i.name: numpy_helper.to_array(i) for i in qdq.graph.initializer}
    zero_points = [inits[n.input[2]] for n in qdq.graph.node
                   if n.op_type == "QuantizeLinear" and len(n.input) > 2]
    assert zero_points and all(z.dtype == np.int8 and not z.any() for z in zero_points)
    # the nodes kept in float read and write float tensors: no QDQ pair around them
    quantized_inputs = {n.output[0] for n in qdq.graph.node if n.op_type == "DequantizeLinear"}
    kept = [n for n in qdq.graph.node if n.name in int8["float_nodes"]]
    assert kept and all(not set(n.input) & quantized_inputs for n in kept)
