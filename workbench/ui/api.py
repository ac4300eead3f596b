"""The App capability's public surface: launch the FiftyOne App with the workbench operators and
panels, the operator specs and forms the capabilities describe their operators with, the
operators' execution, and the panels' figures."""

from __future__ import annotations

from workbench.store.app_session import spec_view
from workbench.store.workspace import workspace_for_dataset
from workbench.ui.catalog import operators
from workbench.ui.forms import Choices, FieldSpec, build_config
from workbench.ui.launch import configure_plugins, launch, run_scheduled
from workbench.ui.operators import (
    OperatorSpec,
    Report,
    error_markdown,
    plain,
    run_operator,
    summary_markdown,
)
from workbench.ui.panel_data import (
    CURVE_LAYOUT,
    EXPORT_FORM_FIELDS,
    TRADEOFF_LAYOUT,
    export_panel_data,
    export_params,
    export_report,
    loop_hint,
    loop_panel_data,
)

__all__ = ["CURVE_LAYOUT", "EXPORT_FORM_FIELDS", "TRADEOFF_LAYOUT", "Choices", "FieldSpec",
           "OperatorSpec", "Report", "build_config", "configure_plugins", "error_markdown",
           "export_panel_data", "export_params", "export_report", "launch", "loop_hint",
           "loop_panel_data", "operators", "plain", "run_operator", "run_scheduled", "spec_view",
           "summary_markdown", "workspace_for_dataset"]
