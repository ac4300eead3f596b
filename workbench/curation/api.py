"""The curation capability's public surface: split, check, status."""

from __future__ import annotations

from workbench.curation.checking import CheckResult, check
from workbench.curation.splitting import SplitResult, split
from workbench.curation.status import status

__all__ = ["CheckResult", "SplitResult", "check", "split", "status"]
