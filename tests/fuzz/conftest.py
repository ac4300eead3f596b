"""Hypothesis profiles for the parser fuzz tests, and the per-parser case count in the summary.

``default``: a modest number of cases per parser (the whole fuzz run stays well under a
minute); ``HYPOTHESIS_PROFILE=fuzz`` runs 1000 per parser.
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

from hypothesis import HealthCheck, settings

_COMMON: dict[str, Any] = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                              HealthCheck.filter_too_much, HealthCheck.data_too_large],
    "print_blob": True,
}
settings.register_profile("default", max_examples=40, **_COMMON)
settings.register_profile("fuzz", max_examples=1000, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

#: parser name -> generated cases run in this session.
CASES: Counter[str] = Counter()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if CASES:
        profile = os.environ.get("HYPOTHESIS_PROFILE", "default")
        terminalreporter.write_line(
            f"fuzz cases ({profile} profile): "
            + ", ".join(f"{name} {n}" for name, n in sorted(CASES.items())))
