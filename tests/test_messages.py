"""Messages that are right: unreachable collect targets, duplicate seeds in plots."""

import shutil

import gymnasium as gym
import numpy as np
import pytest
from conftest import tiny_config

from rlv.collect.experts import average_return, calibrate_noise
from rlv.errors import RlvError
from rlv.experiments.plot import plot_runs
from rlv.train import train


class OneStep(gym.Env):
    """One-step episodes whose reward is minus the action: the noise level sets the return."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)
    action_space = gym.spaces.Box(0.0, 1.0, (1,), np.float32)

    def reset(self, *, seed=None, options=None):
        return np.zeros(1, np.float32), {}

    def step(self, action):
        return np.zeros(1, np.float32), -float(action[0]), True, False, {}


def make_expert(noise, rng):
    return lambda env, obs: np.array([noise], np.float32)


def calibrate(target):
    return calibrate_noise(OneStep(), make_expert, 0, target, average_return, 2, 7, False)


def test_reachable_target_calibrates():
    assert calibrate(-0.3) == pytest.approx(0.3, abs=0.01)


@pytest.mark.parametrize(
    ("target", "message"),
    [
        (0.5, "reaches -0.007812 on 2 probe episodes; ask for at most that"),
        (-2.0, "reaches -0.9922; ask for at least"),
    ],
)
def test_unreachable_target_is_an_error_saying_what_is_reachable(target, message):
    with pytest.raises(RlvError, match="out of reach") as error:
        calibrate(target)
    assert message in str(error.value)


def test_plot_warns_about_runs_sharing_a_seed(tmp_path, capsys):
    config = tiny_config(tmp_path, "sac", total_steps=200, random_steps=200, eval_every=100)
    train(config)
    copy = tmp_path / "copy"
    shutil.copytree(config.out, copy)
    plot_runs([config.out, copy], tmp_path / "curves.png")
    warnings = capsys.readouterr().err.strip().splitlines()
    assert len(warnings) == 1 and "have the same seed 0 (method sac)" in warnings[0]
    plot_runs([config.out, config.out], tmp_path / "curves.png")
    assert "is given twice" in capsys.readouterr().err
