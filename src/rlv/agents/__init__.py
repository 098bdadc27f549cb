"""Agents: SAC and RLV. Each exposes act(), update() -> metrics, state_dict(), load_state_dict()."""

from __future__ import annotations

from rlv.agents.base import ObservationBatch, RobotBatch
from rlv.agents.rlv import RLV
from rlv.agents.sac import SAC
from rlv.config import TrainConfig

Agent = SAC | RLV


def build_agent(config: TrainConfig, obs_dim: int, act_dim: int) -> Agent:
    """The agent named by `config.algo` for the given observation / action sizes."""
    if config.algo == "sac":
        return SAC(obs_dim, act_dim, config.sac, config.device)
    return RLV(obs_dim, act_dim, config.sac, config.rlv, config.device)


__all__ = ["RLV", "SAC", "Agent", "ObservationBatch", "RobotBatch", "build_agent"]
