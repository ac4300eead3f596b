"""``wb.ensemble`` / ``wb.ensemble_train`` / ``wb.EnsembleConfig``: the facade."""

from __future__ import annotations

import subprocess
import sys

import pytest

import workbench as wb
from tests.ensembling.conftest import EnsembleWorkspace
from workbench.ensembling.api import EnsembleConfig, EnsembleResult, EnsembleTrainConfig
from workbench.errors import ConfigError


def test_the_verb_is_callable_before_and_after_the_package_is_imported() -> None:
    code = ("import sys, workbench as wb\n"
            "before = wb.ensemble\n"
            "assert callable(before) and 'workbench.ensembling' not in sys.modules\n"
            "import workbench.ensembling.api\n"
            "assert wb.ensemble is before\n"
            "for verb in (before, wb.ensemble):\n"
            "    try:\n"
            "        verb('WS', runs=['a'])\n"
            "    except Exception as exc:\n"
            "        assert 'at least two' in str(exc), exc\n"
            "    else:\n"
            "        raise AssertionError('not refused')\n")
    subprocess.run([sys.executable, "-c", code], check=True)
    assert wb.EnsembleConfig is EnsembleConfig and wb.EnsembleTrainConfig is EnsembleTrainConfig
    assert wb.COMMANDS["ensemble train"] == "ensemble_train"
    with pytest.raises(ConfigError, match="at least two"):
        wb.ensemble("WS", runs=["a"])


@pytest.mark.integration
def test_the_verb_fuses_with_keywords_or_a_config(ens_ws: EnsembleWorkspace) -> None:
    by_keywords = wb.ensemble(ens_ws.ws, runs=["a", "b"], method="nms", run="fk")
    assert isinstance(by_keywords, EnsembleResult)
    assert (by_keywords.run, by_keywords.method, by_keywords.images) == ("fk", "nms", 3)
    by_config = wb.ensemble(ens_ws.ws, EnsembleConfig(runs=["a", "a2"], run="fc"))
    assert (by_config.run, by_config.images) == ("fc", 4)
