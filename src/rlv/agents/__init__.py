"""Agents and the method registry. Each agent exposes act(), update(Batches) -> metrics,
state_dict() and load_state_dict() (the `Agent` protocol); `registry.METHODS` lists the methods."""

from __future__ import annotations

from rlv.agents.base import Agent, Batches, ObservationBatch, PairedBatch, RobotBatch
from rlv.agents.bco import BCO
from rlv.agents.gaifo import GAIfO
from rlv.agents.registry import METHODS, build_agent, method_options, method_spec, register
from rlv.agents.rlv import RLV
from rlv.agents.sac import SAC
from rlv.agents.spec import AgentContext, MethodSpec, Streams

__all__ = [
    "BCO",
    "METHODS",
    "RLV",
    "SAC",
    "Agent",
    "AgentContext",
    "Batches",
    "GAIfO",
    "MethodSpec",
    "ObservationBatch",
    "PairedBatch",
    "RobotBatch",
    "Streams",
    "build_agent",
    "method_options",
    "method_spec",
    "register",
]
