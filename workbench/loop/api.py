"""The loop capability's public surface: simulated rounds, real rounds, their status."""

from __future__ import annotations

from workbench.loop.rounds import NextConfig, loop_status, next_round
from workbench.loop.simulation import SimConfig, simulate

__all__ = ["NextConfig", "SimConfig", "loop_status", "next_round", "simulate"]
