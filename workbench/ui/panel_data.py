"""What the App's export and loop panels show, as plain dicts and lists (no FiftyOne here).

The panels (``plugins/workbench_plugin/panels.py``) only lay these out. Choices and defaults are
read from the registries and config dataclasses (:data:`~workbench.deployment.api.TARGETS`,
:class:`~workbench.deployment.api.ExportConfig`, :class:`~workbench.loop.api.NextConfig`); the
figures are read from the recorded runs (``export``, ``benchmark``, ``train``, ``select``) and
from the loop's status, never recomputed.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import workbench.curation.api as curation
import workbench.deployment.api as deployment
import workbench.loop.api as loop
from workbench.store import runs as run_records
from workbench.store.workspace import Workspace
from workbench.ui import choices
from workbench.ui.forms import config_defaults

MB = 1024 * 1024

#: ExportConfig fields the export panel sets (the others keep the config's defaults).
EXPORT_FORM_FIELDS = ("target", "platform", "calibration", "calibration_count", "val", "imgsz",
                      "max_model_mb", "max_memory_mb", "max_drop", "min_cosine", "thresholds")


# -- export panel: choices -------------------------------------------------------------------


def target_choices() -> list[dict[str, Any]]:
    """One row per registered export target: ``name``, ``label`` (its help), ``backend``,
    ``toolchain`` and the flags that decide which options the form shows (``platform``,
    ``memory_budget``, ``quantized``, ``needs_calibration``)."""
    rows = []
    for entry in deployment.TARGETS:
        spec = entry.value
        rows.append({"name": entry.name, "label": str(entry.meta.get("help", spec.help)),
                     "backend": spec.backend, "toolchain": spec.toolchain,
                     "platform": spec.platform, "memory_budget": spec.memory_budget,
                     "quantized": spec.quantized or spec.hybrid,
                     "needs_calibration": spec.needs_calibration})
    return rows


def toolchain_rows() -> list[dict[str, Any]]:
    """``workbench toolchain status`` as rows: ``targets`` (list), ``available``, ``detail``,
    ``install`` (the command to run when missing)."""
    return [{"targets": t.target.split(" / "), "available": t.available, "detail": t.detail,
             "install": t.install} for t in deployment.toolchain_status()]


def missing_toolchain(target: str, toolchains: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The toolchain row of ``target`` when it is missing here, else None."""
    for row in toolchains:
        if target in row["targets"]:
            return None if row["available"] else row
    return None


def view_choices(views: list[str], first: str) -> list[str]:
    """View specs for calibration or validation: ``first`` (the config's default), the views
    the workspace holds (:func:`workbench.ui.choices.views`) and ``none``."""
    return list(dict.fromkeys([first, *views, "none"]))


# -- export panel: recorded exports ----------------------------------------------------------


def _export_row(doc: dict[str, Any]) -> dict[str, Any]:
    """One export record's figures (``size_mb`` in MiB, as the K210 budget counts)."""
    params, report = doc.get("params") or {}, doc.get("outputs") or {}
    fidelity = report.get("fidelity") or {}
    size = report.get("size_bytes")
    return {"export_id": doc["_id"], "run": params.get("run", report.get("source_run")),
            "target": report.get("target", params.get("target")),
            "platform": report.get("platform"), "path": report.get("path"),
            "folder": params.get("out"), "size_mb": None if size is None else round(size / MB, 3),
            "fits": report.get("fits"), "usable": report.get("usable"),
            "map50": report.get("map50"), "map50_fp32": report.get("map50_fp32"),
            "drop_points": (report.get("gate") or {}).get("drop_points"),
            "cosine": fidelity.get("cosine"), "max_abs": fidelity.get("max_abs"),
            "latency_ms": report.get("latency_ms"),
            "latency_ms_fp32": report.get("latency_ms_fp32"),
            "simulator_ms": report.get("simulator_ms_per_image"),
            "started_at": str(doc.get("started_at") or "")}


def export_rows(ws: Workspace) -> list[dict[str, Any]]:
    """Every recorded export, oldest first, with its report's figures (see
    :func:`_export_row`'s keys: ``export_id``, ``run``, ``target``, ``size_mb``, ``fits``,
    ``map50``, ``map50_fp32``, ``cosine``, ``max_abs``, ``latency_ms``, ``simulator_ms`` ...)."""
    return [_export_row(d) for d in run_records.list_runs(ws, run_records.RunKind.EXPORT)]


def training_runs(ws: Workspace, exports: list[dict[str, Any]] | None = None
                  ) -> list[dict[str, Any]]:
    """The training runs, newest first, each with its exports; then the model files that were
    exported without a training run of this workspace (``trained`` False).

    Returns:
        ``[{"run", "trained", "status", "map50", "exports": [export rows]}]``.
    """
    exports = export_rows(ws) if exports is None else exports
    by_run: dict[str, list[dict[str, Any]]] = {}
    for row in exports:
        by_run.setdefault(str(row["run"]), []).append(row)
    trained = curation.runs(ws, kind="train").rows
    out = [{"run": r["run"], "trained": True, "status": r["status"], "map50": r["map50"],
            "exports": by_run.pop(r["run"], [])} for r in reversed(trained)]
    out += [{"run": run, "trained": False, "status": "file", "map50": None, "exports": rows}
            for run, rows in by_run.items()]
    return out


def budget_verdict(report: dict[str, Any]) -> str:
    """Whether the export fits its target's memory budget, in one sentence (and why not)."""
    fits = report.get("fits")
    budget = report.get("budget_mb") or {}
    memory = report.get("memory_bytes") or {}
    used = ", ".join(f"{k} {v / MB:.2f} MB" for k, v in memory.items() if isinstance(v, int))
    if fits is None:
        return f"no memory budget for target {report.get('target')}"
    limits = (f"budget: model {budget.get('model')} MB, memory {budget.get('memory')} MB"
              if budget else "")
    if fits:
        return "fits the budget" + (f" ({used}; {limits})" if used or limits else "")
    over = []
    if "model" in memory and budget.get("model") is not None \
            and memory["model"] > budget["model"] * MB:
        over.append(f"the model is {memory['model'] / MB:.2f} MB > {budget['model']} MB")
    if "total" in memory and budget.get("memory") is not None \
            and memory["total"] > budget["memory"] * MB:
        over.append(f"it needs {memory['total'] / MB:.2f} MB > {budget['memory']} MB")
    return "does not fit: " + ("; ".join(over) or used or "see report.json")


def export_report(ws: Workspace, export_id: str) -> dict[str, Any] | None:
    """The figures of one recorded export, as the panel shows them; None if not recorded.

    Returns:
        ``{"export_id", "target", "path", "size_mb", "budget", "fits", "cosine", "max_abs",
        "map50", "map50_fp32", "drop_points", "latency": {"kind", "ms", "fp32_ms"},
        "gate_passed", "warnings", "thresholds", "markdown"}`` (``thresholds``: the
        per-class operating thresholds written into deploy.yaml, None for older exports).
    """
    doc = run_records.get_run(ws, export_id, run_records.RunKind.EXPORT)
    if doc is None:
        return None
    report = doc.get("outputs") or {}
    row = _export_row(doc)
    if row["simulator_ms"] is not None:
        latency = {"kind": "simulator", "ms": row["simulator_ms"],
                   "fp32_ms": row["latency_ms_fp32"]}
    else:
        latency = {"kind": "host", "ms": row["latency_ms"], "fp32_ms": row["latency_ms_fp32"]}
    out = {"export_id": export_id, "run": row["run"], "target": row["target"],
           "platform": row["platform"], "path": row["path"], "size_mb": row["size_mb"],
           "budget": budget_verdict(report), "fits": row["fits"], "cosine": row["cosine"],
           "max_abs": row["max_abs"], "map50": row["map50"], "map50_fp32": row["map50_fp32"],
           "drop_points": row["drop_points"], "latency": latency,
           "gate_passed": (report.get("gate") or {}).get("passed"),
           "warnings": list(report.get("warnings") or []),
           "thresholds": report.get("thresholds")}
    out["markdown"] = report_markdown(out)
    return out


def _num(value: Any, fmt: str) -> str:
    return "—" if value is None else format(value, fmt)


def report_markdown(report: dict[str, Any]) -> str:
    """An export report (:func:`export_report`) as a Markdown table."""
    lat = report["latency"]
    target = report["target"] + (f" ({report['platform']})" if report.get("platform") else "")
    rows = [("target", target), ("model", f"`{report['path']}`"),
            ("size", f"{_num(report['size_mb'], '.2f')} MB"), ("budget", report["budget"]),
            ("fidelity", f"cosine {_num(report['cosine'], '.5f')}, max abs "
                         f"{_num(report['max_abs'], '.4g')}"),
            ("mAP50", f"{_num(report['map50'], '.4f')} vs FP32 "
                      f"{_num(report['map50_fp32'], '.4f')} (drop "
                      f"{_num(report['drop_points'], '.2f')} points)"),
            (f"{lat['kind']} latency", f"{_num(lat['ms'], '.2f')} ms per image (FP32 "
                                       f"{_num(lat['fp32_ms'], '.2f')} ms on this host)")]
    lines = [f"#### Export `{report['export_id']}`", "", "| | |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in rows]
    if report.get("thresholds"):
        lines += ["", deployment.thresholds_markdown(report["thresholds"])]
    lines += [f"\n- {w}" for w in report["warnings"]]
    return "\n".join(lines)


def _marker_sizes(sizes: list[float | None]) -> list[float]:
    known = [s for s in sizes if s]
    top = max(known) if known else 1.0
    return [8.0 if not s else round(8 + 32 * math.sqrt(s / top), 1) for s in sizes]


def tradeoff_traces(ws: Workspace, exports: list[dict[str, Any]] | None = None
                    ) -> list[dict[str, Any]]:
    """Plotly scatter traces of latency (x, ms) against mAP50 (y), marker area by model size:
    the latest ``benchmark`` run's measured models, and every export's own measurement (host
    or simulator latency)."""
    traces: list[dict[str, Any]] = []
    benches = run_records.list_runs(ws, run_records.RunKind.BENCHMARK)
    if benches:
        latest = benches[-1]
        rows = [m for m in (latest.get("outputs") or {}).get("models", []) if "map50" in m]
        if rows:
            traces.append({
                "type": "scatter", "mode": "markers+text", "name": f"benchmark {latest['_id']}",
                "x": [r["latency_p50_ms"] for r in rows], "y": [r["map50"] for r in rows],
                "text": [r["model"] for r in rows], "textposition": "top center",
                "customdata": [r["size_mb"] for r in rows],
                "hovertemplate": "%{text}<br>p50 %{x:.2f} ms<br>mAP50 %{y:.4f}"
                                 "<br>%{customdata:.2f} MB<extra></extra>",
                "marker": {"size": _marker_sizes([r["size_mb"] for r in rows]),
                           "opacity": 0.7}})
    exports = export_rows(ws) if exports is None else exports
    measured = [e for e in exports if e["map50"] is not None
                and (e["simulator_ms"] or e["latency_ms"]) is not None]
    if measured:
        traces.append({
            "type": "scatter", "mode": "markers", "name": "exports (their own report)",
            "x": [e["simulator_ms"] if e["simulator_ms"] is not None else e["latency_ms"]
                  for e in measured],
            "y": [e["map50"] for e in measured],
            "text": [f"{e['target']} {e['export_id']}" for e in measured],
            "customdata": [e["size_mb"] for e in measured],
            "hovertemplate": "%{text}<br>%{x:.2f} ms<br>mAP50 %{y:.4f}"
                             "<br>%{customdata:.2f} MB<extra></extra>",
            "marker": {"size": _marker_sizes([e["size_mb"] for e in measured]),
                       "symbol": "diamond", "opacity": 0.7}})
    return traces


#: Plotly layout of the trade-off plot.
TRADEOFF_LAYOUT = {"title": "mAP50 against latency (marker size: model size)",
                   "xaxis": {"title": "latency per image, ms"}, "yaxis": {"title": "mAP50"},
                   "height": 380}


def export_params(run: str, values: dict[str, Any]) -> dict[str, Any]:
    """The ``wb_export`` operator's parameters: ``run`` and the form's values, named as
    :class:`~workbench.deployment.api.ExportConfig`'s fields, checked by the config itself.

    Empty values (None, "") are left out so that the config's defaults apply, and so are the
    options the target does not read (``platform`` unless it has one, the memory budget unless
    it checks one).

    Raises:
        ConfigError / UnknownNameError: a value the config refuses.
    """
    names = {f.name for f in dataclasses.fields(deployment.ExportConfig)}
    params: dict[str, Any] = {"run": run}
    for key, value in values.items():
        if key in names and key != "run" and value not in (None, ""):
            params[key] = value
    target = params.get("target", config_defaults(deployment.ExportConfig)["target"])
    if target in deployment.TARGETS:  # options the target does not read are left out
        spec = deployment.TARGETS.get(target)
        skip = ({"platform"} if not spec.platform else set()) | (
            {"max_model_mb", "max_memory_mb"} if not spec.memory_budget else set())
        params = {k: v for k, v in params.items() if k not in skip}
    deployment.ExportConfig(**params)  # the config's own checks
    return params


def export_panel_data(ws: Workspace) -> dict[str, Any]:
    """Everything the export panel shows at load.

    Returns:
        ``{"runs": training_runs, "targets": target_choices, "platforms": [...],
        "defaults": ExportConfig's defaults, "views": calibration views, "val_views": ...,
        "toolchains": toolchain_rows, "missing": the missing ones, "tradeoff": traces}``.
    """
    exports = export_rows(ws)
    defaults = config_defaults(deployment.ExportConfig)
    views = choices.views(ws)
    toolchains = toolchain_rows()
    return {"runs": training_runs(ws, exports), "targets": target_choices(),
            "platforms": list(deployment.RKNN_PLATFORMS), "defaults": defaults,
            "views": view_choices(views, defaults["calibration"]),
            "val_views": view_choices(views, defaults["val"]),
            "toolchains": toolchains, "missing": [t for t in toolchains if not t["available"]],
            "tradeoff": tradeoff_traces(ws, exports)}


# -- loop panel ------------------------------------------------------------------------------


def loop_panel_data(ws: Workspace) -> dict[str, Any]:
    """The loop panel's figures: rounds with their label counts, the queue, the learning curve.

    Returns:
        ``{"rounds": [{"round", "strategy", "selected", "queued", "in_annotation",
        "labeled", "model_run", "model_map50"}], "labeled_images", "queued",
        "in_annotation", "latest_round", "trainings", "curve": plotly traces,
        "actions": :func:`loop_actions`}``.
    """
    status = loop.status(ws, loop.StatusConfig()).to_dict()
    rounds = []
    for r in status["rounds"]:
        counts = r.get("status") or {}
        rounds.append({"round": r["round"], "strategy": r.get("strategy"),
                       "selected": r.get("selected"), "queued": counts.get("queued", 0),
                       "in_annotation": counts.get("in_annotation", 0),
                       "labeled": counts.get("labeled", 0), "model_run": r.get("model_run"),
                       "model_map50": r.get("model_map50")})
    data: dict[str, Any] = {
        "rounds": rounds, "labeled_images": status["labeled_images"],
        "queued": sum(r["queued"] for r in rounds),
        "in_annotation": sum(r["in_annotation"] for r in rounds),
        "latest_round": rounds[-1]["round"] if rounds else None,
        "trainings": status["trainings"], "curve": learning_curve(status)}
    data["actions"] = loop_actions(ws, data)
    return data


def learning_curve(status: dict[str, Any]) -> list[dict[str, Any]]:
    """Plotly traces of mAP50 against labeled training images: every completed training run,
    and each round at the model it was selected with."""
    trainings = sorted((t for t in status["trainings"]
                        if t.get("train_images") is not None and t.get("map50") is not None),
                       key=lambda t: t["train_images"])
    traces: list[dict[str, Any]] = []
    if trainings:
        traces.append({"type": "scatter", "mode": "lines+markers", "name": "training runs",
                       "x": [t["train_images"] for t in trainings],
                       "y": [t["map50"] for t in trainings],
                       "text": [t["run"] for t in trainings]})
    rounds = [r for r in status["rounds"] if r.get("model_map50") is not None
              and r.get("model_train_images") is not None]
    if rounds:
        traces.append({"type": "scatter", "mode": "markers+text", "name": "rounds",
                       "x": [r["model_train_images"] for r in rounds],
                       "y": [r["model_map50"] for r in rounds],
                       "text": [r["round"] for r in rounds], "textposition": "top center",
                       "marker": {"size": 12, "symbol": "star"}})
    return traces


#: Plotly layout of the learning curve.
CURVE_LAYOUT = {"title": "Learning curve: mAP50 by labeled training images",
                "xaxis": {"title": "labeled training images"}, "yaxis": {"title": "mAP50"},
                "height": 320}


def loop_actions(ws: Workspace, data: dict[str, Any]) -> list[dict[str, Any]]:
    """The next-step buttons: ``verb`` (the operator is ``wb_<verb>``), ``label``, ``params``
    prefilled with config field names, and ``recommended`` for the one to do now.

    Queued images: send them out (``annotate_export``); images out for annotation: none is
    recommended (import them first); otherwise the next round (``loop_next``).
    """
    next_defaults = config_defaults(loop.NextConfig)
    queued_round = next((r["round"] for r in reversed(data["rounds"]) if r["queued"]), None)
    annotate: dict[str, Any] = {}
    if queued_round is not None:
        annotate = {"round": queued_round,
                    "out": str(ws.root / "annotation" / f"{queued_round}.zip")}
        doc = run_records.get_run(ws, queued_round, run_records.RunKind.SELECT)
        prediction_run = ((doc or {}).get("outputs") or {}).get("model_run")
        if prediction_run:
            annotate["pre_annotations"] = prediction_run
    recommend = ("annotate_export" if data["queued"] else
                 None if data["in_annotation"] else "loop_next")
    actions: list[dict[str, Any]] = [
        {"verb": "select", "label": "Select a round",
         "params": {"n": next_defaults["budget"], "strategy": next_defaults["strategy"]}},
        {"verb": "annotate_export",
         "label": f"Send {queued_round} to annotation" if queued_round
         else "Export an annotation package", "params": annotate},
        {"verb": "loop_next", "label": "Next round (train, predict, select, send out)",
         "params": {"budget": next_defaults["budget"], "strategy": next_defaults["strategy"]}},
    ]
    for a in actions:
        a["recommended"] = a["verb"] == recommend
    return actions


def loop_hint(data: dict[str, Any]) -> str:
    """One sentence on what to do next."""
    if data["queued"]:
        return (f"{data['queued']} images are queued: send them to annotation "
                f"(round {next(r['round'] for r in reversed(data['rounds']) if r['queued'])}).")
    if data["in_annotation"]:
        return (f"{data['in_annotation']} images are out for annotation: import the returned "
                "annotations, then start the next round.")
    if not data["rounds"]:
        return "No round yet: select one from the pool, or let `loop next` train and select."
    return "Nothing is waiting: start the next round."
