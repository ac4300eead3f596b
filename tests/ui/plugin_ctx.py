"""Load the shipped plugin as FiftyOne does and run its operators with a real ExecutionContext."""

from __future__ import annotations

import importlib.util
import sys
from typing import Any

from tests.conftest import REPO

PLUGIN_DIR = REPO / "plugins" / "workbench_plugin"
_loaded: dict[str, Any] = {}


def plugin() -> Any:
    """The plugin module (loaded once, as a package, the way FiftyOne loads it)."""
    if "module" not in _loaded:
        name = "workbench_plugin_under_test"
        spec = importlib.util.spec_from_file_location(name, PLUGIN_DIR / "__init__.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        _loaded["module"] = module
    return _loaded["module"]


def operator(name: str) -> Any:
    """An instance of the plugin's operator ``name``."""
    cls = next(c for c in plugin().OPERATORS if c.spec.name == name)
    return cls()


def context(ws: Any, params: dict[str, Any], delegated: bool = False,
            progress: list[tuple[float, str]] | None = None) -> Any:
    """A real ExecutionContext on the workspace's dataset (as the App sends it)."""
    from fiftyone.operators.executor import ExecutionContext, Executor

    info = dict(ws.dataset.info or {})
    if info.get("workbench_workspace") != str(ws.root):
        ws.dataset.info = {**info, "workbench_workspace": str(ws.root)}
        ws.dataset.save()

    def set_progress(op_id: Any, p: Any) -> None:
        if progress is not None:
            progress.append((p.progress, p.label))

    return ExecutionContext(
        request_params={"dataset_name": ws.dataset.name, "params": params,
                        "delegated": delegated},
        executor=Executor(), set_progress=set_progress if delegated else None)


def execute(ws: Any, name: str, delegated: bool = False,
            progress: list[tuple[float, str]] | None = None, **params: Any
            ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Run operator ``name`` with ``params``; its output and the App requests it triggered."""
    ctx = context(ws, params, delegated, progress)
    out = operator(name).execute(ctx)
    return out, [r.to_json() for r in ctx.executor._requests]
