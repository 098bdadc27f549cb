"""Learning tests (minutes each): run with `make test-slow`."""

import pytest
from conftest import tiny_config

from rlv.collect.experts import collect_acrobot
from rlv.config import SACConfig
from rlv.data.dataset import write_dataset
from rlv.envs import make_env
from rlv.logger import read_csv
from rlv.methods.rlv import RLVConfig
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
def test_rlv_reaches_the_acrobot_goal_from_expert_observations(tmp_path):
    # Benchmark (5 seeds): with expert data RLV's evaluation return passes -90 after ~13k steps,
    # while SAC from scratch stays at -100 for ~18k steps.
    data = collect_acrobot(make_env("acrobot", 0), episodes=60, seed=1, noise=0.0, progress=False)
    write_dataset(tmp_path / "expert", data.episodes, {"env": "acrobot"})
    config = tiny_config(
        tmp_path,
        "rlv",
        total_steps=15000,
        random_steps=1000,
        eval_every=1000,
        eval_episodes=5,
        checkpoint_every=100_000,
        sac=SACConfig(),
        rlv=RLVConfig(dataset=tmp_path / "expert"),
    )
    train(config)
    returns = [row["eval/return"] for row in read_csv(config.out / "eval.csv")]
    assert max(returns) > -95, returns


@pytest.mark.slow
def test_rlv_from_pixels_reaches_the_pointmass_goal_from_robot_videos(tmp_path):
    # Benchmark (visual_domain_shift.py, reference method): RLV with robot-domain videos succeeds
    # from ~5,000-6,000 env steps; SAC from scratch stays near 0 for 10,000.
    import dataclasses

    from rlv.collect.experts import NoisyScriptedExpert, collect_expert
    from rlv.presets import get_preset

    data = collect_expert(
        make_env("pointmass", 0), NoisyScriptedExpert, 200, seed=0, noise=0.5, progress=False
    )
    write_dataset(tmp_path / "videos", data.episodes, {"env": "pointmass"})
    preset = get_preset("pointmass-rlv")
    config = dataclasses.replace(
        preset,
        total_steps=8000,
        out=tmp_path / "run",
        progress=False,
        checkpoint_every=100_000,
        rlv=dataclasses.replace(preset.rlv, dataset=tmp_path / "videos"),
    )
    train(config)
    successes = [row["eval/success"] for row in read_csv(config.out / "eval.csv")]
    assert max(successes) >= 0.8, successes
