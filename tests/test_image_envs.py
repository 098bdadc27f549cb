"""Rendering smoke tests of the image tasks in all their domains: shapes, dtypes, Gymnasium's
checker, seeded determinism, domains that differ in looks but not in physics, a `humanlike` domain
that is the robot in the human domain's scene, and scripted experts that solve their task.
Meta-World tasks render through MuJoCo and OSMesa on the CPU; they skip only where Meta-World is
not installed, and never in CI (RLV_REQUIRE_RENDERING=1)."""

import importlib.util
import os
import warnings

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from rlv.collect.experts import NoisyScriptedExpert, replay_actions, rollout
from rlv.envs import make_env
from rlv.envs.pointmass import AGENT_COLOUR, render_state
from rlv.errors import RlvError

HAS_METAWORLD = importlib.util.find_spec("metaworld") is not None
needs_metaworld = pytest.mark.skipif(
    not HAS_METAWORLD and not os.environ.get("RLV_REQUIRE_RENDERING"),
    reason="Meta-World not installed (pip install 'rlv[metaworld]')",
)
TASKS = [
    "pointmass",
    pytest.param("push", marks=needs_metaworld),
    pytest.param("drawer-open", marks=needs_metaworld),
]
METAWORLD_TASKS = TASKS[1:]


@pytest.fixture(autouse=True)
def _quiet_metaworld():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Meta-World's policies warn about their own gains
        yield


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("domain", ["robot", "human", "humanlike"])
def test_renders_48x48_uint8_and_passes_the_gymnasium_checker(task, domain):
    env = make_env(task, seed=0, domain=domain)
    check_env(env.unwrapped)
    obs, _ = env.reset(seed=1)
    assert obs.shape == (48, 48, 3) and obs.dtype == np.uint8
    assert obs.std() > 5, "a blank frame"
    next_obs, reward, terminated, _, info = env.step(env.action_space.sample())
    assert next_obs.shape == (48, 48, 3) and next_obs.dtype == np.uint8
    assert reward in (-1.0, 0.0) and "success" in info and not terminated


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("other", ["human", "humanlike"])
def test_domains_share_physics_but_not_looks(task, other):
    robot, human = make_env(task, seed=0, domain="robot"), make_env(task, seed=0, domain=other)
    actions = np.random.default_rng(0).uniform(-1, 1, size=(5, robot.action_space.shape[0]))
    robot_frames = replay_actions(robot, actions, seed=3)
    human_frames = replay_actions(human, actions, seed=3)
    assert np.allclose(
        robot.unwrapped.state if task != "pointmass" else robot.unwrapped.position,
        human.unwrapped.state if task != "pointmass" else human.unwrapped.position,
    )
    difference = np.abs(robot_frames.astype(float) - human_frames.astype(float)).mean()
    assert difference > 20, f"the domains look alike (mean pixel difference {difference:.1f})"


@pytest.mark.parametrize("position", [(-0.6, -0.6), (0.0, -0.4), (0.6, 0.6)])
def test_pointmass_humanlike_is_the_robot_disc_on_the_human_table(position):
    robot, human, humanlike = (
        render_state(np.array(position), domain) for domain in ("robot", "human", "humanlike")
    )
    disc = (robot == AGENT_COLOUR).all(axis=-1)
    assert disc.sum() > 20
    assert (humanlike[disc] == AGENT_COLOUR).all(), "the agent is not the robot's red disc"
    assert np.array_equal(humanlike[:10, :10], human[:10, :10]), "not the human table"
    assert not np.array_equal(humanlike[:10, :10], robot[:10, :10])
    changed = np.argwhere((humanlike != human).any(axis=-1))
    assert np.abs(changed - np.argwhere(disc).mean(axis=0)).max() <= 8, "differs far from the agent"


def _reddish(frames: np.ndarray) -> np.ndarray:
    red, green, blue = np.moveaxis(frames.astype(int), -1, 0)
    return (red > green + 40) & (red > blue + 40)


@pytest.mark.parametrize("task", METAWORLD_TASKS)
def test_metaworld_humanlike_is_the_visible_arm_in_the_human_scene(task):
    actions = np.random.default_rng(0).uniform(-1, 1, size=(5, 4))
    robot, human, humanlike = (
        replay_actions(make_env(task, seed=0, domain=domain), actions, seed=3).astype(int)
        for domain in ("robot", "human", "humanlike")
    )
    assert np.array_equal(humanlike[:, 36:], human[:, 36:]), "table front and floor not the human ones"
    assert np.abs(humanlike[:, 36:] - robot[:, 36:]).mean() > 20
    arm = (humanlike != human).any(axis=-1)  # where the human domain hides or recolours the arm
    assert arm.mean() > 0.05
    assert _reddish(humanlike)[arm].mean() > 0.8, "the Sawyer arm is not visible in its red"
    assert _reddish(robot)[arm].mean() > 0.8 and _reddish(human)[arm].mean() < 0.3


@pytest.mark.parametrize("task", TASKS)
def test_same_seed_same_frames(task):
    frames = [
        replay_actions(make_env(task, seed=0), np.zeros((3, 4 if task != "pointmass" else 2)), seed=7)
        for _ in range(2)
    ]
    assert np.array_equal(*frames)


@pytest.mark.parametrize(
    ("task", "seeds"), [("pointmass", 5), pytest.param("push", 2, marks=needs_metaworld)]
)
def test_scripted_expert_solves_the_task(task, seeds):
    env = make_env(task, seed=0)
    expert = NoisyScriptedExpert(0.0, np.random.default_rng(0))
    episodes = [rollout(env, expert, seed=seed) for seed in range(seeds)]
    assert all(episode.success for episode in episodes)
    assert all(episode.obs.dtype == np.uint8 for episode in episodes)


def test_unknown_domain_is_a_clear_error():
    with pytest.raises(RlvError, match="no domain 'alien'"):
        make_env("pointmass", seed=0, domain="alien")
    with pytest.raises(RlvError, match="only the robot domain"):
        make_env("gym:Pendulum-v1", seed=0, domain="human")
