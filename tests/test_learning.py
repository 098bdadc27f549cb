"""Learning tests (minutes each): run with `make test-slow`."""

import pytest
from conftest import tiny_config

from rlv.config import SACConfig
from rlv.train import train


@pytest.mark.slow
def test_sac_learns_pendulum(tmp_path):
    config = tiny_config(
        tmp_path,
        "sac",
        env="gym:Pendulum-v1",
        total_steps=8000,
        random_steps=1000,
        eval_every=1000,
        eval_episodes=5,
        sac=SACConfig(),
    )
    summary = train(config)
    assert summary["eval/return"] > -400  # random policy: about -1200


@pytest.mark.slow
def test_rlv_with_oracle_actions_learns_acrobot_from_good_data(tmp_path, acrobot_dataset):
    from rlv.config import RLVConfig

    config = tiny_config(
        tmp_path,
        "rlv",
        acrobot_dataset,
        total_steps=15000,
        random_steps=1000,
        eval_every=1000,
        eval_episodes=5,
        sac=SACConfig(),
        rlv=RLVConfig(dataset=acrobot_dataset),
    )
    summary = train(config)
    assert summary["eval/return"] > -95  # reaches the goal in most evaluation episodes
