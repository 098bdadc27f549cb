"""Build environments by name, with seeding and a time limit; reject what the agents cannot drive."""

from __future__ import annotations

from collections.abc import Callable

import gymnasium as gym
import numpy as np

from rlv.envs import gym_envs, metaworld_tasks, paper_tasks, pointmass
from rlv.envs.acrobot import ACROBOT_HORIZON, ContinuousAcrobot
from rlv.errors import RlvError

METAWORLD_TASKS: dict[str, metaworld_tasks.Task] = {**paper_tasks.TASKS, **metaworld_tasks.TASKS}
"""The Meta-World image tasks: the paper's `push` and `drawer-open`, Meta-World's own `push-mw` and
`drawer-open-mw`."""

_BUILTIN: dict[str, tuple[Callable[[str], gym.Env], int, tuple[str, ...]]] = {
    "acrobot": (lambda domain: ContinuousAcrobot(), ACROBOT_HORIZON, ("robot",)),
    "pointmass": (lambda domain: pointmass.PointMassEnv(domain), pointmass.HORIZON, pointmass.DOMAINS),
    **{task: (spec.make, spec.horizon, metaworld_tasks.DOMAINS) for task, spec in METAWORLD_TASKS.items()},
}
ENV_NAMES: tuple[str, ...] = (*_BUILTIN, "gym:[<module>:]<id>")
"""Names `make_env` accepts."""


def make_env(
    name: str, seed: int, horizon: int | None = None, domain: str = "robot", render_mode: str | None = None
) -> gym.Env:
    """Create env `name` (`acrobot`, `pointmass`, `push`, `drawer-open`, `push-mw`, `drawer-open-mw`
    or `gym:[module:]<id>[{json keyword arguments}]`, see rlv.envs.gym_envs), seeded, with a
    TimeLimit of `horizon` steps, rendering observations in visual `domain` (`robot` or, for the
    image tasks, `human` or `humanlike`). `render_mode` goes to `gym.make` for a `gym:<id>` env (the
    built-in envs render as they are made).

    The returned env is reset once with `seed`, so its reset randomness is fixed from here on.
    """
    if name in _BUILTIN:
        factory, default_horizon, domains = _BUILTIN[name]
        if domain not in domains:
            raise RlvError(f"environment {name!r} has no domain {domain!r}; it has: {', '.join(domains)}")
        env = gym.wrappers.TimeLimit(factory(domain), max_episode_steps=horizon or default_horizon)
    elif domain != "robot":
        raise RlvError(f"environment {name!r} has only the robot domain")
    elif name.startswith(gym_envs.PREFIX):
        env = gym_envs.make_gym_env(name, horizon, render_mode)
    else:
        raise RlvError(f"unknown environment {name!r}; known: {', '.join(ENV_NAMES)}")
    if not isinstance(env.action_space, gym.spaces.Box):
        raise RlvError(f"environment {name!r} has action space {env.action_space}; rlv needs a Box")
    if not np.all(np.isfinite(env.action_space.low)) or not np.all(np.isfinite(env.action_space.high)):
        raise RlvError(f"environment {name!r} has an unbounded action space; rlv needs finite bounds")
    space = env.action_space
    if not (np.all(space.low == -1.0) and np.all(space.high == 1.0)):
        # the policy acts in [-1, 1] (tanh); map that onto the env's own box, as SB3 and CleanRL do
        unit = np.ones(space.shape, dtype=np.float32)
        env = gym.wrappers.RescaleAction(env, -unit, unit)
    env.reset(seed=seed)
    env.action_space.seed(seed)
    return env


def success_of(info: dict) -> float:
    """Success flag of a finished episode: `info['success']` or `info['is_success']` when the env
    reports one, else NaN (unknown)."""
    for key in ("success", "is_success"):
        if key in info:
            return float(bool(info[key]))
    return float("nan")


def episode_success(info: dict, terminated: bool) -> bool:
    """Whether a finished episode succeeded: the env's own flag (`info['success']` or
    `info['is_success']`, as Gymnasium-Robotics reports it) when it reports one at the last step,
    else whether the env ended the episode itself (`terminated`, as Acrobot does at its goal)
    rather than the time limit cutting it off."""
    reported = success_of(info)
    return bool(terminated) if np.isnan(reported) else bool(reported)


SUCCESS_REWARD: dict[str, float] = {task: 0.0 for task in ("pointmass", *METAWORLD_TASKS)}
"""Built-in tasks that never terminate and signal success by their reward instead: a step is a
success exactly when its reward is this value (-1 per step, 0 on success). What `rlv data
from-run` uses for them, as a run's replay keeps rewards but no infos."""


def time_limit(env: gym.Env) -> int | None:
    """The env's episode step limit (its TimeLimit wrapper's), or None when it has none."""
    while isinstance(env, gym.Wrapper):
        if isinstance(env, gym.wrappers.TimeLimit):
            return int(env._max_episode_steps)
        env = env.env
    return None
