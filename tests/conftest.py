"""Shared fixtures: small configs and a small Acrobot observation dataset written by the test."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings

from rlv.collect.experts import collect_acrobot
from rlv.config import SACConfig, TrainConfig
from rlv.data.dataset import Episode, write_dataset
from rlv.envs import make_env
from rlv.methods.bco import BCOConfig
from rlv.methods.gaifo import GAIfOConfig
from rlv.methods.registry import with_algo
from rlv.methods.rlv import RLVConfig

TINY_SAC = SACConfig(hidden=(32, 32), batch_size=32)

# CI runs the property tests on a fixed example sequence (HYPOTHESIS_PROFILE=ci), so a CI result is
# reproducible; a local run explores fresh examples each time.
settings.register_profile("ci", derandomize=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture(scope="session")
def acrobot_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six noisy-expert Acrobot episodes with true actions and rewards."""
    path = tmp_path_factory.mktemp("data") / "acrobot"
    result = collect_acrobot(make_env("acrobot", 0), episodes=6, seed=0, noise=0.1, progress=False)
    write_dataset(path, result.episodes, {"env": "acrobot", "source": "test"})
    return path


def tiny_config(tmp_path: Path, algo: str, dataset: Path | None = None, **changes: object) -> TrainConfig:
    """A run that finishes in seconds."""
    config = TrainConfig(
        env="acrobot",
        total_steps=600,
        random_steps=200,
        eval_every=200,
        eval_episodes=2,
        log_every=100,
        checkpoint_every=200,
        out=tmp_path / f"run-{algo}",
        progress=False,
        sac=TINY_SAC,
    )
    options = {
        "rlv": RLVConfig(dataset=dataset, obs_batch_size=32, idm_hidden=(16, 16)),
        "bco": BCOConfig(dataset=dataset, obs_batch_size=32, idm_hidden=(16, 16)),
        "gaifo": GAIfOConfig(dataset=dataset, obs_batch_size=32, hidden=(16, 16)),
    }.get(algo)
    return dataclasses.replace(with_algo(config, algo, options), **changes)


def random_episode(length: int = 10, obs_dim: int = 6, seed: int = 0, success: bool = True) -> Episode:
    rng = np.random.default_rng(seed)
    return Episode(
        obs=rng.normal(size=(length + 1, obs_dim)).astype(np.float32),
        success=success,
        true_actions=rng.uniform(-1, 1, size=(length, 1)).astype(np.float32),
        rewards=-np.ones(length, dtype=np.float32),
    )
