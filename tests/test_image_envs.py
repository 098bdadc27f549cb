"""Rendering smoke tests of the image tasks in all their domains: shapes, dtypes, Gymnasium's
checker, seeded determinism, domains that differ in looks but not in physics, a `humanlike` domain
that is the robot in the human domain's scene, and scripted experts that solve their task; the
paper's `push` and `drawer-open` (2-D actions, fixed goal or start, their own success rules) and
Meta-World's own `push-mw` and `drawer-open-mw`. Meta-World tasks render through MuJoCo and OSMesa
on the CPU; they skip only where Meta-World is not installed, and never in CI
(RLV_REQUIRE_RENDERING=1)."""

import gc
import importlib.util
import os
import warnings

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from rlv.collect.experts import NoisyScriptedExpert, replay_actions, rollout
from rlv.envs import make_env
from rlv.envs.factory import SUCCESS_REWARD, time_limit
from rlv.envs.pointmass import AGENT_COLOUR, render_state
from rlv.errors import RlvError

HAS_METAWORLD = importlib.util.find_spec("metaworld") is not None
needs_metaworld = pytest.mark.skipif(
    not HAS_METAWORLD and not os.environ.get("RLV_REQUIRE_RENDERING"),
    reason="Meta-World not installed (pip install 'rlv[metaworld]')",
)
METAWORLD_TASKS = [
    pytest.param(task, marks=needs_metaworld) for task in ("push", "drawer-open", "push-mw", "drawer-open-mw")
]
TASKS = [pytest.param("pointmass"), *METAWORLD_TASKS]
SHAPES = {"push": (2, 100), "drawer-open": (2, 200), "push-mw": (4, 100), "drawer-open-mw": (4, 200)}
"""Action width and default horizon of each Meta-World task."""


@pytest.fixture(autouse=True)
def _quiet_metaworld():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Meta-World's policies warn about their own gains
        yield


def _actions(env, steps: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, size=(steps, env.action_space.shape[0]))


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


@pytest.mark.parametrize("task", METAWORLD_TASKS)
def test_action_width_horizon_and_sparse_reward(task):
    env = make_env(task, seed=0)
    width, horizon = SHAPES[task]
    assert env.action_space.shape == (width,) and time_limit(env) == horizon
    assert SUCCESS_REWARD[task] == 0.0
    env.reset(seed=2)
    steps = 0
    while True:
        _, reward, terminated, truncated, info = env.step(np.zeros(width, dtype=np.float32))
        steps += 1
        assert reward == (0.0 if info["success"] else -1.0)
        if terminated or truncated:
            break
    assert steps == horizon and truncated and not terminated


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("other", ["human", "humanlike"])
def test_domains_share_physics_but_not_looks(task, other):
    robot, human = make_env(task, seed=0, domain="robot"), make_env(task, seed=0, domain=other)
    actions = _actions(robot, 5)
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
    actions = _actions(make_env(task, seed=0), 5)
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
    env = make_env(task, seed=0)
    actions = _actions(env, 4)
    frames = [replay_actions(make_env(task, seed=0), actions, seed=7) for _ in range(2)]
    assert np.array_equal(*frames)
    if task != "drawer-open":  # the one task without reset randomness
        assert not np.array_equal(frames[0], replay_actions(env, actions, seed=8)), "seeds look alike"


@pytest.mark.parametrize(
    ("task", "seeds"),
    [
        ("pointmass", 5),
        pytest.param("push", 3, marks=needs_metaworld),
        pytest.param("drawer-open", 1, marks=needs_metaworld),
        pytest.param("push-mw", 2, marks=needs_metaworld),
    ],
)
def test_scripted_expert_solves_the_task(task, seeds):
    env = make_env(task, seed=0)
    expert = NoisyScriptedExpert(0.0, np.random.default_rng(0))
    episodes = [rollout(env, expert, seed=seed) for seed in range(seeds)]
    assert all(episode.success for episode in episodes)
    assert all(episode.rewards[-1] == 0.0 for episode in episodes), "success is held to the end"
    assert all(episode.obs.dtype == np.uint8 for episode in episodes)


@pytest.mark.parametrize(
    "task", [pytest.param(task, marks=needs_metaworld) for task in ("push", "drawer-open")]
)
def test_random_actions_do_not_solve_the_paper_tasks(task):
    env = make_env(task, seed=0)
    random = NoisyScriptedExpert(1.0, np.random.default_rng(0))
    assert not any(rollout(env, random, seed=seed).success for seed in range(3))


@pytest.mark.parametrize("domain", ["robot", "humanlike"])
@pytest.mark.parametrize(
    "task", [pytest.param(task, marks=needs_metaworld) for task in ("push", "drawer-open")]
)
def test_leaving_out_the_bodies_off_camera_leaves_the_frames_as_they_were(task, domain, monkeypatch):
    def frames() -> np.ndarray:
        env = make_env(task, seed=0, domain=domain)
        episodes = [rollout(env, NoisyScriptedExpert(noise, np.random.default_rng(seed)), seed=seed)
                    for seed, noise in enumerate((0.0, 0.5, 1.0))]  # fmt: skip
        return np.concatenate([episode.obs for episode in episodes])

    hidden = frames()
    env_class = type(make_env(task, seed=0).unwrapped)
    assert env_class.OFF_CAMERA_BODIES, "nothing left out"
    monkeypatch.setattr(env_class, "OFF_CAMERA_BODIES", ())
    assert np.array_equal(hidden, frames())


@needs_metaworld
def test_push_is_the_papers_push():
    """Puck at x in [-0.1, 0.1], y = 0.6, in front of the hand; goal fixed at (0, 0.75); the hand
    held at pushing height; success is the puck within 0.03 of the goal in L1 distance."""
    env = make_env("push", seed=0)
    pucks = []
    for seed in range(8):
        env.reset(seed=seed)
        state = env.unwrapped.state
        pucks.append(state[4:6])
        assert np.allclose(state[36:38], [0.0, 0.75]) and state[1] < 0.6 - 0.05
    pucks = np.array(pucks)
    assert np.allclose(pucks[:, 1], 0.6, atol=1e-3) and np.abs(pucks[:, 0]).max() <= 0.1
    assert np.ptp(pucks[:, 0]) > 0.05, "the puck's x is not random"
    inner = env.unwrapped.inner
    for action in _actions(env, 20):
        env.step(action)
        assert inner.data.mocap_pos[0][2] == pytest.approx(0.05), "the hand left pushing height"
    env.reset(seed=0)
    # L1, not Euclidean: (0.02, 0.015) is 0.025 from the goal but 0.035 in L1
    for offset, success in [((0.02, 0.006), True), ((-0.012, -0.012), True), ((0.02, 0.015), False)]:
        inner._set_obj_xyz(np.array([offset[0], 0.75 + offset[1], inner.obj_init_pos[2]]))
        _, reward, _, _, info = env.step(np.zeros(2, dtype=np.float32))
        assert info["success"] is success and reward == (0.0 if success else -1.0), offset


@needs_metaworld
def test_drawer_open_starts_in_one_place_and_has_no_x_action():
    env = make_env("drawer-open", seed=0)
    starts = [env.reset(seed=seed)[1]["state"][4:7] for seed in range(3)]
    assert np.allclose(starts, starts[0]), "the drawer moves between episodes"
    for action in _actions(env, 30):
        env.step(action)
        assert env.unwrapped.inner.data.mocap_pos[0][0] == 0.0, "the hand is moved in x"


@needs_metaworld
@pytest.mark.parametrize("domain", ["robot", "human", "humanlike"])
def test_push_frames_show_the_puck_and_the_goal(domain):
    """At 48x48, moving the puck changes the frame where it was and where it goes, and the goal disc
    is a patch of green."""
    env = make_env("push", seed=0, domain=domain)
    frame, _ = env.reset(seed=4)
    inner = env.unwrapped.inner
    inner._set_obj_xyz(np.array([-0.1, 0.68, inner.obj_init_pos[2]]))
    moved = env.render()
    assert (np.abs(frame.astype(int) - moved).sum(axis=-1) > 60).sum() >= 20, "the puck is not visible"
    red, green, blue = np.moveaxis(frame.astype(int), -1, 0)
    assert ((green > red + 80) & (green > blue + 80)).sum() >= 20, "the goal is not visible"


@needs_metaworld
def test_an_env_dropped_while_another_lives_leaves_its_frames_alone():
    """Each Meta-World env renders in its own GL context and frees its resources in it: dropping one
    (garbage collection, or close) must not blank the frames of an env made after it."""
    first = make_env("push", seed=0)
    second = make_env("push", seed=0, domain="human")
    expected = second.render()
    del first
    gc.collect()
    assert np.array_equal(second.render(), expected) and expected.std() > 5
    third = make_env("drawer-open", seed=0)
    second.close()
    assert third.render().std() > 5


def test_unknown_domain_is_a_clear_error():
    with pytest.raises(RlvError, match="no domain 'alien'"):
        make_env("pointmass", seed=0, domain="alien")
    with pytest.raises(RlvError, match="only the robot domain"):
        make_env("gym:Pendulum-v1", seed=0, domain="human")
