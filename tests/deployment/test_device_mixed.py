"""The device targets' hybrid search, with builds made up on the spot (no toolchain)."""

from __future__ import annotations

from pathlib import Path

from workbench.deployment.device_mixed import Build, Int8Goal, hybrid_within_budget

RANKING = [{"layer": name, "op": "Conv"} for name in ("a", "b", "c", "d")]
GROUPS = {"a": ["a"], "b": ["b", "a"], "c": ["c"], "d": ["d"]}


def build(layers: list[str], cosine: float) -> Build:
    return Build(model=Path("m"), map50=0.5, fidelity={"cosine": cosine}, simulator_ms=1.0,
                 float_layers=layers)


def test_a_build_over_the_device_budget_stops_the_search_and_keeps_the_best() -> None:
    tried: list[list[str]] = []

    def simulate(layers: list[str]) -> Build | None:
        tried.append(layers)
        return None if len(layers) > 2 else build(layers, 0.95)

    plain = build([], 0.9)
    chosen, report = hybrid_within_budget(plain, RANKING, GROUPS, simulate, 0.5, Int8Goal(),
                                          "k210 test")
    assert tried == [["a"], ["a", "b"], ["a", "b", "c", "d"]]
    assert chosen.float_layers == ["a"] and report["method"] == "k210 test"
    assert report["steps"][-1] == {"float_layers": 4, "layers": ["a", "b", "c", "d"],
                                   "fits": False}
    assert [s.get("passed") for s in report["steps"]] == [False, False, None]
