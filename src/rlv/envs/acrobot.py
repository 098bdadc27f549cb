"""Continuous-action Acrobot as used by RLV: Box(-1, 1) discretised to torques -1 / 0 / +1."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.envs.classic_control.acrobot import AcrobotEnv

ACROBOT_HORIZON = 100
"""Episode length of the RLV Acrobot experiments."""


def discretise_torque(action: np.ndarray) -> int:
    """Map a continuous action in [-1, 1] to Acrobot's discrete action: <-0.5 -> 0 (torque -1),
    >0.5 -> 2 (torque +1), else 1 (no torque)."""
    value = float(np.asarray(action, dtype=np.float64).reshape(-1)[0])
    if value < -0.5:
        return 0
    if value > 0.5:
        return 2
    return 1


class ContinuousAcrobot(gym.Env):
    """Gymnasium Acrobot-v1 dynamics with a 1-D continuous action.

    Reward is -1 per step and 0 on the step that reaches the goal, which ends the episode
    (`terminated`); the time limit (`truncated`) is applied by the factory. `info["success"]`
    is True on the goal step.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 15}  # noqa: RUF012

    def __init__(self, render_mode: str | None = None) -> None:
        self.inner = AcrobotEnv(render_mode=render_mode)
        self.observation_space = gym.spaces.Box(
            low=self.inner.observation_space.low.astype(np.float32),
            high=self.inner.observation_space.high.astype(np.float32),
            dtype=np.float32,
        )
        self.action_space = gym.spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)
        self.render_mode = render_mode

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        obs, info = self.inner.reset(seed=seed, options=options)
        return obs.astype(np.float32), info

    @property
    def np_random(self) -> np.random.Generator:  # the inner env owns the randomness of resets
        return self.inner.np_random

    @np_random.setter
    def np_random(self, value: np.random.Generator) -> None:
        self.inner.np_random = value

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.inner.step(discretise_torque(action))
        info = dict(info, success=bool(terminated))
        return obs.astype(np.float32), float(reward), bool(terminated), bool(truncated), info

    def render(self) -> np.ndarray | None:
        return self.inner.render()

    def close(self) -> None:
        self.inner.close()
