"""Device exports through the vendors' real compilers and simulators, on real demo images.

Each toolchain is installed into its side environment by `toolchain install` (cached under
``$WORKBENCH_CACHE/toolchains``); a test skips only when that install fails on this machine,
and the skip says why.
"""

from __future__ import annotations

import json
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from tests.conftest import DEMO
from tests.deployment.helpers import wide_range_checkpoint
from tests.training.conftest import covering_workspace
from workbench.deployment.exporting import ExportConfig, export_model
from workbench.errors import BudgetError, ConfigError, ToolchainError
from workbench.store import runs

pytestmark = [pytest.mark.integration, pytest.mark.slow]
YOLOV8N = str(DEMO / "weights" / "yolov8n-224.pt")
#: The shipped microcontroller config (configs/models/micro-relu.yaml) trained on the demo.
MICRO = str(DEMO / "weights" / "micro-relu-224.pt")


def toolchain(name: str) -> None:
    """Install (or reuse) a side environment; skip the test with the reason if impossible."""
    from workbench.deployment.toolchains import install

    try:
        install(name, log=lambda _: None)
    except ToolchainError as exc:
        pytest.skip(f"the {name} toolchain cannot be installed on this machine: {exc}")


def _workspace(factory: pytest.TempPathFactory, mongo_uri: str, name: str,
               val: int) -> Iterator[Any]:
    """A module's workspace: 40 train images and ``val`` validation images covering every
    class, deleted afterwards."""
    ws = covering_workspace(factory.mktemp(name), mongo_uri, 40, val)
    yield ws
    ws.dataset.delete()


@pytest.fixture(scope="module")
def device_ws(tmp_path_factory: pytest.TempPathFactory, mongo_uri: str) -> Iterator[Any]:
    yield from _workspace(tmp_path_factory, mongo_uri, "devices", 24)


@pytest.fixture(scope="module")
def k210_report(device_ws: Any) -> dict[str, Any]:
    toolchain("k210")
    return export_model(device_ws, ExportConfig(run=MICRO, target="k210",
                                                calibration_count=16, val_limit=12))


def test_k210_micro_model_fits_and_simulates_like_fp32(k210_report: dict[str, Any],
                                                       device_ws: Any) -> None:
    report = k210_report
    folder = Path(report["path"]).parent
    assert report["path"].endswith("model.kmodel") and report["size_bytes"] > 100_000
    assert {"model.kmodel", "reference.fp32.onnx", "classes.txt", "deploy.yaml", "report.json",
            "compile.log", "maixpy_k210.py"} <= {p.name for p in folder.iterdir()}
    assert not (folder / "build").exists()
    assert "CONFIG = {\"names\": [\"fish\"" in (folder / "maixpy_k210.py").read_text()
    assert report["fits"] is True and report["budget_mb"] == {"model": 5.5, "memory": 6.0}
    memory = report["memory_bytes"]
    assert memory["model"] <= 5.5 * 2**20 and memory["total"] <= 6 * 2**20
    assert memory["total"] == sum(v for k, v in memory.items() if k != "total")
    assert report["fidelity"]["cosine"] >= 0.99 and report["fidelity"]["images"] == 12
    assert report["val"]["images"] == 12 and report["simulator_ms_per_image"] > 0
    assert report["map50"] >= report["map50_fp32"] - 0.05
    assert report["calibration"]["count"] == 16 and report["quantization"] == "int8"
    deploy = yaml.safe_load((folder / "deploy.yaml").read_text())
    assert deploy["input"]["dtype"] == "uint8" and deploy["output"]["strides"] == [8.0, 16.0]
    assert deploy["output"]["shapes"] == [[1, 64 + 7, 28, 28], [1, 64 + 7, 14, 14]]
    assert runs.get_run(device_ws, report["export_id"], "export") is not None
    from workbench.deployment.benchmark import benchmark

    row = benchmark(device_ws, [folder], limit=2)["models"][0]
    assert "vendor simulator" in row["skipped"]
    assert row["simulator"]["cosine"] == report["fidelity"]["cosine"]


def test_maixpy_script_decodes_like_the_host(tmp_path: Path) -> None:
    """The script's MicroPython decode, run here on a trained model's raw maps."""
    from workbench.core.nms import decode_yolo
    from workbench.core.rawhead import decode_raw_maps
    from workbench.deployment.artifacts import deploy_settings
    from workbench.deployment.maixpy import write_maixpy_script
    from workbench.deployment.rawhead import export_raw_onnx, onnx_runner
    from workbench.media.preprocess import load_batch

    info = export_raw_onnx(YOLOV8N, tmp_path / "raw.onnx")
    deploy = deploy_settings("k210", info.imgsz, info.names, "r", "split:train", "m.kmodel",
                             head=info.to_dict())
    source = write_maixpy_script(tmp_path, info, deploy).read_text()
    assert "CONFIG = {}" not in source
    body = source[:source.rindex("\nmain()")]  # everything but the camera loop's start
    board = {name: types.ModuleType(name) for name in ("image", "lcd", "sensor", "maix")}
    board["maix"].KPU = object  # type: ignore[attr-defined]
    namespace: dict[str, Any] = {}
    saved = {name: sys.modules.get(name) for name in board}
    sys.modules.update(board)
    try:
        exec(compile(body, "maixpy_k210.py", "exec"), namespace)
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name)
            else:
                sys.modules[name] = module
    run = onnx_runner(tmp_path / "raw.onnx")
    assert namespace["CONF"] == deploy["postprocess"]["score_threshold"]
    conf = 0.05  # the demo model is unsure: a lower threshold gives boxes to compare
    namespace["CONF"], namespace["LOGIT"] = conf, float(np.log(conf / (1 - conf)))
    compared = 0
    for path in sorted((DEMO / "valid" / "images").glob("*.jpg"))[:8]:
        x, _, _ = load_batch([str(path)], info.imgsz)
        maps = run(x)
        board_boxes = namespace["decode"]([m[0].ravel().tolist() for m in maps])
        host = decode_raw_maps(maps, info.strides, info.reg_max)[0]
        xyxy, score, cls, _ = decode_yolo(host, conf, 0.7, max_det=10_000)
        assert sorted((round(b[4], 4), b[5]) for b in board_boxes) == sorted(
            zip(np.round(score, 4).tolist(), cls.tolist(), strict=True))
        if board_boxes:
            best = max(board_boxes, key=lambda b: b[4])
            np.testing.assert_allclose(best[:4], xyxy[int(np.argmax(score))], atol=1e-3)
        compared += len(board_boxes)
    assert compared > 0


def test_k210_yolov8n_simulates_after_the_c2f_rewrite(device_ws: Any) -> None:
    """Without the slice rewrite nncase 1.9's runtime fails with 'Invalid argument'."""
    toolchain("k210")
    report = export_model(device_ws, ExportConfig(run=YOLOV8N, target="k210",
                                                  calibration_count=8, val_limit=4))
    assert report["slices_rewritten"] == 16 and report["fits"] is True
    assert report["fidelity"]["cosine"] >= 0.99


def test_k210_refuses_an_oversized_model_with_the_budget_message(device_ws: Any) -> None:
    """YOLOv8n at 320 px needs ~6.9 MB of SRAM: refused, with what to change."""
    toolchain("k210")
    cfg = ExportConfig(run=YOLOV8N, target="k210", imgsz=320, calibration_count=4, val_limit=2)
    before = len(runs.list_runs(device_ws, "export"))
    with pytest.raises(BudgetError) as err:
        export_model(device_ws, cfg)
    message = str(err.value)
    assert "does not fit" in message and "budget 6.0 MB" in message
    assert "micro-relu.yaml" in message and "--imgsz 224" in message
    assert "fewer classes" in message and "--max-memory-mb" in message
    assert not (device_ws.root / "exports" / "yolov8n-224-k210").exists()
    assert len(runs.list_runs(device_ws, "export")) == before


def test_k210_needs_a_calibration_view() -> None:
    from workbench.deployment.devices import Budget, export_device

    with pytest.raises(ConfigError, match="needs --calibration VIEW"):
        export_device(None, "k210", YOLOV8N, Path("x"), imgsz=None,  # type: ignore[arg-type]
                      calibration="none", calibration_count=1, val="split:val",
                      val_limit=None, platform="rk3588", budget=Budget())


def test_rknn_int8_keeps_accuracy_in_the_simulator(device_ws: Any) -> None:
    toolchain("rknn")
    report = export_model(device_ws, ExportConfig(run=YOLOV8N, target="rknn",
                                                  calibration_count=24))
    assert report["path"].endswith("model.rknn") and report["quantization"] == "int8"
    assert report["platform"] == "rk3588" and report["fits"] is None
    assert report["fidelity"]["cosine"] >= 0.99
    assert report["map50_fp32"] > 0.02
    assert report["map50"] >= report["map50_fp32"] - 0.02
    assert report["val"]["images"] == 24


def test_rknn_fp16_without_calibration_for_another_platform(device_ws: Any) -> None:
    toolchain("rknn")
    report = export_model(device_ws, ExportConfig(run=YOLOV8N, target="rknn",
                                                  calibration="none", platform="rk3566",
                                                  val_limit=8))
    assert report["quantization"] == "fp16" and report["calibration"] is None
    assert report["platform"] == "rk3566"
    assert report["fidelity"]["cosine"] >= 0.999  # FP16 stays within rounding of FP32


@pytest.fixture(scope="module")
def wide_ws(tmp_path_factory: pytest.TempPathFactory, mongo_uri: str) -> Iterator[Any]:
    """The ONNX INT8 tests' images (40 train, 40 val), so the figures compare."""
    yield from _workspace(tmp_path_factory, mongo_uri, "rknn-wide", 40)


@pytest.fixture(scope="module")
def wide_weights(tmp_path_factory: pytest.TempPathFactory) -> str:
    return wide_range_checkpoint(YOLOV8N, tmp_path_factory.mktemp("wide"))


def test_rknn_plain_int8_loses_a_wide_range_activation(wide_ws: Any, wide_weights: str,
                                                        tmp_path: Path) -> None:
    """RKNN quantizes activations per tensor too: the ×1000 channel starves the others."""
    toolchain("rknn")
    plain = export_model(wide_ws, ExportConfig(
        run=wide_weights, target="rknn", calibration_count=16, mixed_precision=False,
        accept_drop=True, out=tmp_path))
    assert plain["map50_fp32"] > 0.02 and plain["quantization"] == "int8"
    assert plain["gate"]["drop_points"] > 2.0 and not plain["gate"]["passed"], plain["gate"]
    assert plain["accepted_drop"] and "sensitivity" not in plain
    drop = plain["gate"]["drop_points"]
    assert plain["int8"] == {"method": "rknn int8", "float_layers": [], "steps": [],
                             "drop_before": drop, "drop_after": drop, "sensitivity": []}


def test_rknn_hybrid_quantization_keeps_the_wide_range_layers_in_float16(
        wide_ws: Any, wide_weights: str, tmp_path: Path) -> None:
    toolchain("rknn")
    report = export_model(wide_ws, ExportConfig(
        run=wide_weights, target="rknn", calibration_count=16, sensitivity=True,
        out=tmp_path))
    int8 = report["int8"]
    assert report["usable"] and report["gate"]["passed"], int8
    assert int8["method"] == "rknn hybrid"
    assert int8["drop_before"] > 2.0 and int8["drop_after"] <= 2.0
    assert int8["drop_after"] == report["gate"]["drop_points"]
    assert report["fidelity"]["cosine"] >= 0.99
    layers = int8["float_layers"]
    assert 0 < len(layers) <= 16
    # the convolution making the wide-range tensor and the one reading it
    assert {"/model.0/conv/Conv_output_0", "/model.1/conv/Conv_output_0"} <= set(layers)
    last = int8["steps"][-1]
    assert last["passed"] and last["layers"] == layers and last["float_layers"] == len(layers)
    assert last["map50"] == report["map50"] and last["cosine"] == report["fidelity"]["cosine"]
    folder = Path(report["path"]).parent
    assert report["path"].endswith("model.rknn") and not (folder / "build").exists()
    assert runs.get_run(wide_ws, report["export_id"], "export") is not None

    # the toolkit's per-layer table, worst first: the layer reading the ×1000 tensor on top
    table = report["sensitivity"]
    rows = table["layers"]
    assert table["images"] == 4 and len(rows) > 100
    assert rows[0]["layer"] == "/model.1/conv/Conv_output_0", rows[:3]
    assert rows[0]["single_cosine"] < 0.9 < rows[1]["single_cosine"]
    assert [r["single_cosine"] for r in rows] == sorted(r["single_cosine"] for r in rows)
    assert int8["sensitivity"][0]["group"] == [
        "/model.1/conv/Conv_output_0", "/model.0/act/Mul_output_0",
        "/model.0/conv/Conv_output_0"]
    markdown = Path(table["markdown"])
    assert markdown == folder / "sensitivity.md"
    first = next(line for line in markdown.read_text().splitlines() if line.startswith("| `"))
    assert first.startswith("| `/model.1/conv/Conv_output_0` | Conv |")


def test_rknn_sensitivity_needs_an_int8_build() -> None:
    from workbench.deployment.device_mixed import Int8Goal
    from workbench.deployment.devices import Budget, export_device

    with pytest.raises(ConfigError, match="--calibration none builds FP16"):
        export_device(None, "rknn", YOLOV8N, Path("x"), imgsz=None,  # type: ignore[arg-type]
                      calibration="none", calibration_count=1, val="split:val",
                      val_limit=None, platform="rk3588", budget=Budget(),
                      goal=Int8Goal(sensitivity=True))
    ExportConfig(run=YOLOV8N, target="rknn", sensitivity=True)  # accepted for rknn
    with pytest.raises(ConfigError, match="--sensitivity"):
        ExportConfig(run=YOLOV8N, target="onnx", sensitivity=True)


def test_k230_kmodel_simulates_like_fp32(device_ws: Any) -> None:
    toolchain("k230")
    report = export_model(device_ws, ExportConfig(run=MICRO, target="k230",
                                                  calibration_count=8, val_limit=4))
    assert report["path"].endswith("model.kmodel") and report["fits"] is None
    assert report["fidelity"]["cosine"] >= 0.99 and report["val"]["images"] == 4
    assert report["int8"]["method"] == "nncase int8" and report["int8"]["float_layers"] == []


@pytest.fixture(scope="module")
def micro_wide_weights(tmp_path_factory: pytest.TempPathFactory) -> str:
    return wide_range_checkpoint(MICRO, tmp_path_factory.mktemp("micro-wide"))


def k230_wide(weights: str, out: Path, **options: Any) -> ExportConfig:
    """nncase simulates the K230 at about 3 s per image: few images, the cosine gate decides."""
    return ExportConfig(run=weights, target="k230", calibration_count=16, val_limit=10,
                        out=out, **options)


def test_k230_plain_int8_loses_a_wide_range_activation(device_ws: Any, micro_wide_weights: str,
                                                        tmp_path: Path) -> None:
    """nncase quantizes activations per tensor: the ×1000 channel starves the others."""
    toolchain("k230")
    plain = export_model(device_ws, k230_wide(micro_wide_weights, tmp_path,
                                              mixed_precision=False, accept_drop=True))
    gate = plain["gate"]
    assert gate["drop_points"] > 2.0 and gate["cosine"] < 0.99 and not gate["passed"], gate
    assert plain["accepted_drop"] and "sensitivity" not in plain
    assert plain["int8"] == {"method": "nncase int8", "float_layers": [], "steps": [],
                             "drop_before": gate["drop_points"],
                             "drop_after": gate["drop_points"], "sensitivity": []}


def test_k230_keeps_the_wide_range_tensor_in_int16(device_ws: Any, micro_wide_weights: str,
                                                    tmp_path: Path) -> None:
    toolchain("k230")
    report = export_model(device_ws, k230_wide(micro_wide_weights, tmp_path,
                                               sensitivity=True))
    int8 = report["int8"]
    assert report["usable"] and report["gate"]["passed"], int8
    assert int8["method"] == "nncase int16" and int8["drop_after"] <= 2.0
    assert report["fidelity"]["cosine"] >= 0.99
    # the first step: the tensor read by model.1's convolution, with that convolution's
    # weights and input (the ×1000 channel), is enough
    first = int8["sensitivity"][0]
    assert first["layer"] == "/model.1/act/Relu_output_0", int8["sensitivity"][:3]
    group = first["group"]
    assert len(group) == 3 and group[2] == "/model.0/act/Relu_output_0", group
    assert [s["layers"] for s in int8["steps"]] == [group] == [int8["float_layers"]]
    assert int8["steps"][0]["cosine"] == report["fidelity"]["cosine"]
    folder = Path(report["path"]).parent
    assert report["path"].endswith("model.kmodel") and not (folder / "build").exists()

    # nncase's per-tensor table, largest own loss first
    table = report["sensitivity"]
    rows = table["layers"]
    assert table["images"] == 16 and len(rows) > 20
    drops = [r["own_drop"] for r in rows]
    assert drops == sorted(drops, reverse=True) and drops[0] > 0.3 > drops[1]
    first_line = next(line for line in Path(table["markdown"]).read_text().splitlines()
                      if line.startswith("| `"))
    assert first_line.startswith("| `/model.1/act/Relu_output_0` | Relu |")


def test_k210_plain_int8_loses_a_wide_range_activation(device_ws: Any, micro_wide_weights: str,
                                                        tmp_path: Path) -> None:
    """The KPU has one uint8 grid per tensor and per layer's weights."""
    toolchain("k210")
    plain = export_model(device_ws, ExportConfig(
        run=micro_wide_weights, target="k210", calibration_count=16, mixed_precision=False,
        accept_drop=True, out=tmp_path))
    gate = plain["gate"]
    assert not gate["passed"] and gate["cosine"] < 0.99, gate
    assert plain["int8"]["method"] == "nncase int8" and plain["int8"]["float_layers"] == []


def test_k210_runs_the_wide_range_convolutions_in_float_on_the_cpu(
        device_ws: Any, micro_wide_weights: str, tmp_path: Path) -> None:
    toolchain("k210")
    report = export_model(device_ws, ExportConfig(
        run=micro_wide_weights, target="k210", calibration_count=16, sensitivity=True,
        out=tmp_path))
    int8 = report["int8"]
    assert report["usable"] and report["gate"]["passed"], int8
    assert int8["method"] == "nncase cpu float32" and report["fidelity"]["cosine"] >= 0.99
    # the convolution writing the ×1000 channel and the one reading it leave the KPU
    assert int8["float_layers"] == ["/model.0/conv/Conv", "/model.1/conv/Conv"], int8["steps"]
    assert int8["steps"][-1]["passed"] and int8["steps"][-1]["layers"] == int8["float_layers"]
    # in float on the CPU they need more SRAM: still within the budget, checked on the build
    memory = report["memory_bytes"]
    assert report["fits"] is True and memory["total"] <= 6 * 2**20
    assert memory["model"] == report["size_bytes"]

    rows = report["sensitivity"]["layers"]
    assert [(r["layer"], r["kind"]) for r in rows[:2]] == [
        ("/model.0/conv/Conv", "weights"), ("/model.0/act/Relu_output_0", "input")]
    assert rows[1]["group"] == ["/model.0/conv/Conv", "/model.1/conv/Conv"]
    assert rows[1]["sqnr_db"] < 10 < rows[2]["sqnr_db"]
    assert Path(report["sensitivity"]["markdown"]).name == "sensitivity.md"


def test_cli_names_the_install_command_when_a_toolchain_is_missing(
        device_ws: Any, tmp_path: Path) -> None:
    from tests.test_cli_e2e import wb

    before = len(runs.list_runs(device_ws, "export"))
    proc = wb("export", "--run", YOLOV8N, "--target", "rknn", "-w", str(device_ws.root),
              check=False, env_extra={"WORKBENCH_CACHE": str(tmp_path)})
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "workbench toolchain install rknn" in proc.stderr
    assert len(runs.list_runs(device_ws, "export")) == before
    status = json.loads(wb("toolchain", "status", "--json",
                           env_extra={"WORKBENCH_CACHE": str(tmp_path)}).stdout)
    assert {r["target"]: r["available"] for r in status}["rknn"] is False
