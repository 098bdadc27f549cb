import gymnasium as gym
import numpy as np
import pytest
from gymnasium.envs.classic_control.acrobot import AcrobotEnv
from gymnasium.utils.env_checker import check_env

from rlv.envs import make_env
from rlv.envs.acrobot import discretise_torque
from rlv.envs.acrobot_expert import TORQUES, model_step, plan
from rlv.errors import RlvError


@pytest.mark.parametrize(
    ("action", "expected"), [(-1.0, 0), (-0.51, 0), (-0.5, 1), (0.0, 1), (0.5, 1), (0.51, 2), (1.0, 2)]
)
def test_discretisation_thresholds(action, expected):
    assert discretise_torque(np.array([action])) == expected


def test_acrobot_horizon_reward_and_truncation():
    env = make_env("acrobot", seed=0)
    env.reset(seed=0)
    rewards, steps = [], 0
    while True:
        _, reward, terminated, truncated, info = env.step(np.zeros(1, dtype=np.float32))
        rewards.append(reward)
        steps += 1
        if terminated or truncated:
            break
    assert steps == 100
    assert truncated and not terminated  # no torque never reaches the goal: a time-limit end
    assert set(rewards) == {-1.0}
    assert info["success"] is False


def test_acrobot_goal_gives_zero_reward_and_terminates():
    env = make_env("acrobot", seed=0)
    env.reset(seed=3)
    actions = plan(np.asarray(env.unwrapped.inner.state))
    for step, action in enumerate(actions):
        _, reward, terminated, truncated, info = env.step(np.array([TORQUES[action]], dtype=np.float32))
        if step < len(actions) - 1:
            assert reward == -1.0 and not terminated
    assert terminated and not truncated and reward == 0.0 and info["success"]


def test_acrobot_passes_env_checker():
    check_env(make_env("acrobot", seed=0).unwrapped, skip_render_check=True)


def test_expert_model_matches_gymnasium():
    env = AcrobotEnv()
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    for _ in range(200):
        state = rng.uniform([-np.pi, -np.pi, -12, -28], [np.pi, np.pi, 12, 28])
        action = int(rng.integers(3))
        env.state = state.copy()
        env.step(action)
        np.testing.assert_allclose(model_step(state[None], TORQUES[[action]])[0], env.state, atol=1e-9)


def test_gym_box_env_and_errors():
    env = make_env("gym:Pendulum-v1", seed=0, horizon=7)
    assert isinstance(env.action_space, gym.spaces.Box)
    with pytest.raises(RlvError, match="unknown environment"):
        make_env("nope", seed=0)
    with pytest.raises(RlvError, match="unknown environment"):
        make_env("gym:NoSuchEnv-v0", seed=0)
    with pytest.raises(RlvError, match="needs a Box"):
        make_env("gym:CartPole-v1", seed=0)


def test_gym_action_boxes_are_rescaled_to_the_policy_range():
    env = make_env("gym:Pendulum-v1", 0)
    assert np.all(env.action_space.low == -1) and np.all(env.action_space.high == 1)
    env.step(np.array([1.0], np.float32))
    assert env.unwrapped.last_u == pytest.approx(2.0)  # the full torque of Pendulum's [-2, 2] box
