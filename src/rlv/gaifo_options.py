"""Options of the GAIfO method (`--gaifo.*`), kept apart from rlv.agents.gaifo so that the presets
in rlv.config can be built from them without importing the agents (no import cycle)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal


@dataclass(frozen=True)
class GAIfOConfig:
    """Settings specific to GAIfO: the expert observation data and the transition discriminator
    whose output replaces the environment's reward (rlv.agents.gaifo)."""

    dataset: Path | None = None
    """Action-free observation dataset directory of expert transitions (see docs/dataset_format.md).
    Required for algo=gaifo."""
    obs_batch_size: int = 256
    """Expert observation transitions per discriminator step."""
    max_episodes: int | None = None
    """Use only the first N episodes of the dataset (ablation: amount of observation data)."""
    hidden: tuple[int, ...] = (256, 256)
    """Hidden widths of the discriminator's MLP D(o, o') (after its own conv layers on images)."""
    lr: float = 3e-4
    """Adam learning rate of the discriminator."""
    reward: Literal["log-odds", "gaifo", "log-d"] = "log-odds"
    """Reward of a robot transition from D = P(expert | s, s'): log-odds = log D - log(1 - D)
    (zero-centred, no bias for or against ending episodes); gaifo = -log(1 - D), the paper's cost
    log D_imitator negated (always positive: rewards living long); log-d = log D (always negative:
    rewards ending episodes early)."""
    regulariser: Literal["gradient-penalty", "spectral-norm", "none"] = "gradient-penalty"
    """Keeps D smooth so its reward stays informative: gradient-penalty (Gulrajani et al. 2017,
    on interpolations of expert and robot transitions, as in DAC); spectral-norm (every layer of D
    spectrally normalised, Miyato et al. 2018); none."""
    gradient_penalty_weight: float = 10.0
    """Weight of the gradient penalty (regulariser=gradient-penalty)."""
