"""Build environments by name, with seeding and a time limit; reject what the agents cannot drive."""

from __future__ import annotations

from collections.abc import Callable

import gymnasium as gym
import numpy as np

from rlv.envs import metaworld_tasks, pointmass
from rlv.envs.acrobot import ACROBOT_HORIZON, ContinuousAcrobot
from rlv.errors import RlvError

_BUILTIN: dict[str, tuple[Callable[[str], gym.Env], int, tuple[str, ...]]] = {
    "acrobot": (lambda domain: ContinuousAcrobot(), ACROBOT_HORIZON, ("robot",)),
    "pointmass": (lambda domain: pointmass.PointMassEnv(domain), pointmass.HORIZON, pointmass.DOMAINS),
    **{
        task: (
            lambda domain, task=task: metaworld_tasks.MetaWorldImageEnv(task, domain),
            spec["horizon"],
            metaworld_tasks.DOMAINS,
        )
        for task, spec in metaworld_tasks.TASKS.items()
    },
}
ENV_NAMES: tuple[str, ...] = (*_BUILTIN, "gym:<id>")
"""Names `make_env` accepts."""


def make_env(name: str, seed: int, horizon: int | None = None, domain: str = "robot") -> gym.Env:
    """Create env `name` (`acrobot`, `pointmass`, `push`, `drawer-open` or `gym:<id>`), seeded, with a
    TimeLimit of `horizon` steps, rendering observations in visual `domain` (`robot` or, for the
    image tasks, `human` or `humanlike`).

    The returned env is reset once with `seed`, so its reset randomness is fixed from here on.
    """
    if name in _BUILTIN:
        factory, default_horizon, domains = _BUILTIN[name]
        if domain not in domains:
            raise RlvError(f"environment {name!r} has no domain {domain!r}; it has: {', '.join(domains)}")
        env = gym.wrappers.TimeLimit(factory(domain), max_episode_steps=horizon or default_horizon)
    elif domain != "robot":
        raise RlvError(f"environment {name!r} has only the robot domain")
    elif name.startswith("gym:"):
        env_id = name[len("gym:") :]
        try:
            env = gym.make(env_id, max_episode_steps=horizon) if horizon else gym.make(env_id)
        except gym.error.Error as error:
            raise RlvError(f"unknown environment {name!r}: {error}") from error
    else:
        raise RlvError(f"unknown environment {name!r}; known: {', '.join(ENV_NAMES)}")
    if not isinstance(env.action_space, gym.spaces.Box):
        raise RlvError(f"environment {name!r} has action space {env.action_space}; rlv needs a Box")
    if not np.all(np.isfinite(env.action_space.low)) or not np.all(np.isfinite(env.action_space.high)):
        raise RlvError(f"environment {name!r} has an unbounded action space; rlv needs finite bounds")
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
