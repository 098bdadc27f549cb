"""Agents: SAC and RLV. Each exposes act(), update() -> metrics, state_dict(), load_state_dict()."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from rlv.agents.base import ObservationBatch, PairedBatch, RobotBatch
from rlv.agents.rlv import RLV
from rlv.agents.sac import SAC
from rlv.config import TrainConfig
from rlv.nets import AppearanceRandomisation, ImageEncoder, RandomShift

Agent = SAC | RLV


def is_image(obs_shape: Sequence[int]) -> bool:
    """Observations of shape (H, W, 3) are images (uint8); (D,) are state vectors."""
    return len(obs_shape) == 3 and obs_shape[-1] == 3


def build_agent(config: TrainConfig, obs_shape: Sequence[int], act_dim: int) -> Agent:
    """The agent named by `config.algo`; image observations get the shared conv encoder and the
    random-shift augmentation (then appearance randomisation, when asked), state vectors the
    identity. SAC and RLV use the same encoder and network sizes (equal capacity)."""
    encoder = augment = None
    if is_image(obs_shape):
        encoder = ImageEncoder(obs_shape, config.sac.conv_channels, config.sac.conv_kernel)
        augment = RandomShift(
            config.sac.shift_pad if config.sac.augment != "none" else 0,
            per_sample=config.sac.augment == "shift",
        )
        if config.sac.appearance == "randomise":
            augment = nn.Sequential(augment, AppearanceRandomisation())
    obs_dim = 0 if encoder else int(obs_shape[0])
    if config.algo == "sac":
        return SAC(obs_dim, act_dim, config.sac, config.device, encoder, augment)
    return RLV(obs_dim, act_dim, config.sac, config.rlv, config.device, encoder, augment)


__all__ = ["RLV", "SAC", "Agent", "ObservationBatch", "PairedBatch", "RobotBatch", "build_agent", "is_image"]
