"""Options of the BCO(alpha) method (`--bco.*`), kept apart from rlv.agents.bco so that the presets
in rlv.config can be built from them without importing the agents (no import cycle)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class BCOConfig:
    """Settings of BCO(alpha): the observation (video) data, the rounds, the inverse model and the
    behaviour-cloned policy (its widths are --sac.hidden, its encoder and augmentation --sac.*)."""

    dataset: Path | None = None
    """Action-free observation dataset directory (see docs/dataset_format.md). Required for algo=bco."""
    obs_batch_size: int = 256
    """Observation transitions per behaviour-cloning step (robot rows per inverse-model step:
    --sac.batch-size)."""
    max_episodes: int | None = None
    """Use only the first N episodes of the dataset (ablation: amount of observation data)."""
    alpha: float = 1.0
    """BCO(alpha): env steps of post-demonstration interaction per round, as a fraction of the
    pre-demonstration ones (--random-steps); a round is alpha * random_steps env steps, i.e.
    alpha * random_steps * updates_per_step gradient steps."""
    idm_fraction: float = 0.5
    """Share of each round's gradient steps that train the inverse model (first), before the rest
    clone the policy on labels of the inverse model as it then is."""
    idm_hidden: tuple[int, ...] = (64, 64, 64)
    """Hidden widths of the inverse dynamics model d(o, o') -> a."""
    idm_lr: float = 3e-4
    """Adam learning rate of the inverse dynamics model (and its own image encoder)."""
    bc_lr: float = 3e-4
    """Adam learning rate of the policy (and its own image encoder)."""
    log_std_min: float = -5.0
    """Lower clip of the policy's log standard deviation (bounds the likelihood of labels the
    policy already fits exactly; SAC's -20 lets it grow without end)."""
