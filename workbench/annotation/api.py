"""The annotation capability's public surface: packages, imports, undo, Label Studio."""

from __future__ import annotations

from workbench.annotation.importer import ImportResult, import_annotations, undo_import
from workbench.annotation.labelstudio import PushConfig, pull, push
from workbench.annotation.package import ExportConfig, export_package

__all__ = ["ExportConfig", "ImportResult", "PushConfig", "export_package", "import_annotations",
           "pull", "push", "undo_import"]
