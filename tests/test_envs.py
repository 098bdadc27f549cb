import gymnasium as gym
import numpy as np
import pytest
from gymnasium.envs.classic_control.acrobot import AcrobotEnv
from gymnasium.utils.env_checker import check_env

from rlv.envs import make_env
from rlv.envs.acrobot import discretise_torque
from rlv.envs.acrobot_expert import TORQUES, model_step, plan
from rlv.envs.factory import ENV_NAMES, SUCCESS_REWARD
from rlv.envs.push_expert import BEHIND, BESIDE, SIDE_Y, push_action
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


def test_image_task_names():
    """The paper's tasks under the plain names, Meta-World's own under `-mw`; all signal success by
    a reward of 0."""
    for task in ("push", "drawer-open", "push-mw", "drawer-open-mw"):
        assert task in ENV_NAMES and SUCCESS_REWARD[task] == 0.0


GOAL = np.array([0.0, 0.75])


def test_push_expert_holds_still_at_the_goal():
    hand, mocap = np.array([0.0, 0.7]), np.array([0.0, 0.72])  # the mocap ahead: still pushing
    action = push_action(hand, mocap, GOAL + np.array([0.004, 0.004]), GOAL)
    assert action[1] < 0 and action[0] == 0, "it must take the mocap back onto the hand"


def test_push_expert_pushes_forward_from_behind_and_never_past_the_goal():
    puck = np.array([0.0, 0.65])
    hand = puck - np.array([0.0, BEHIND])
    action = push_action(hand, hand, puck, GOAL)
    assert action[1] > 0.5 and abs(action[0]) < 0.1
    past = np.array([0.0, 0.77])
    behind = past - np.array([0.0, BEHIND])
    assert push_action(behind, behind, past, GOAL)[1] <= 0


@pytest.mark.parametrize("puck_x", [-0.08, 0.08])
def test_push_expert_goes_round_to_the_far_side_and_pushes_sideways(puck_x):
    puck, hand = np.array([puck_x, 0.6]), np.array([0.0, 0.52])
    side = np.sign(puck_x)  # the side away from the goal
    assert np.sign(push_action(hand, hand, puck, GOAL)[0]) == side
    beside = puck + np.array([side * BESIDE, -SIDE_Y])
    action = push_action(beside, beside, puck, GOAL)
    assert np.sign(action[0]) == -side and abs(action[1]) < 0.2


def test_push_expert_actions_are_in_the_box():
    rng = np.random.default_rng(0)
    for _ in range(500):
        hand, mocap, puck = rng.uniform([-0.2, 0.45], [0.2, 0.8], size=(3, 2))
        action = push_action(hand, mocap, puck, GOAL)
        assert action.shape == (2,) and np.all(np.abs(action) <= 1.0) and np.all(np.isfinite(action))
