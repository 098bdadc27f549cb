"""Agents and the method registry. Each agent exposes act(), update(Batches) -> metrics,
state_dict() and load_state_dict() (the `Agent` protocol); `registry.METHODS` lists the methods."""

from __future__ import annotations

from rlv.batches import Batches, ObservationBatch, PairedBatch, RobotBatch
from rlv.methods.bco import BCO
from rlv.methods.gaifo import GAIfO
from rlv.methods.registry import METHODS, build_agent, method_options, method_spec, register
from rlv.methods.rlv import RLV
from rlv.methods.sac import SAC
from rlv.methods.spec import Agent, AgentContext, MethodSpec, Streams

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
