"""A fast visual task drawn with numpy: a point mass moves to a goal square, seen in 48x48 RGB.

State: position p in [-1, 1]^2. Action: a in [-1, 1]^2, p <- clip(p + 0.15 a). The goal is the
square |p - g|_inf < 0.15 around g = (0.6, 0.6). Sparse reward: -1 per step outside the goal, 0
inside it (so RLV's relabelling with scale 0, bottom -1 gives video transitions the env's own
rewards); success = inside at the last step; horizon 40. Starts are uniform in x < -0.3, so random
exploration rarely finds the goal (a case where videos of the task should help).

Three visual domains render the same state:
- `robot`: light-grey table with a dark goal square and a red disc (the agent's camera).
- `human`: a wood-grain table lit from one side, a green goal mat, and a skin-coloured hand
  (palm plus fingers) instead of the disc: a stand-in for videos of a person doing the task.
- `humanlike`: the human domain's table, light and goal mat with the robot's red disc, as in the
  RLV paper's HumanLike setting (the robot scene recoloured to look like the human one).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

SIZE = 48
GOAL = np.array([0.6, 0.6])
GOAL_HALF_WIDTH = 0.15
STEP_SCALE = 0.15
HORIZON = 40
DOMAINS = ("robot", "human", "humanlike")
AGENT_COLOUR = np.array([210.0, 30.0, 30.0])
"""The robot disc's RGB (`robot` and `humanlike`)."""


def _pixel(position: np.ndarray) -> np.ndarray:
    """Arena coordinates in [-1, 1]^2 to (row, col) pixel centres; y points up."""
    col = (position[..., 0] + 1.0) / 2.0 * (SIZE - 1)
    row = (1.0 - (position[..., 1] + 1.0) / 2.0) * (SIZE - 1)
    return np.stack([row, col], axis=-1)


_ROWS, _COLS = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)


def _background(domain: str) -> np.ndarray:
    """The frame without the agent: the robot's table, or the human one (`human`, `humanlike`)."""
    if domain == "robot":
        image = np.full((SIZE, SIZE, 3), 200.0, dtype=np.float32)
        goal_colour = np.array([40.0, 40.0, 40.0])
    else:
        grain = 0.5 + 0.5 * np.sin(_ROWS * 0.9 + 2.0 * np.sin(_COLS * 0.25))
        wood = np.array([150.0, 100.0, 60.0]) + grain[..., None] * np.array([40.0, 30.0, 20.0])
        light = (0.65 + 0.5 * _COLS / SIZE)[..., None]  # lit from the right
        image = np.clip(wood * light, 0, 255).astype(np.float32)
        goal_colour = np.array([60.0, 150.0, 70.0])
    low = _pixel(GOAL + np.array([-GOAL_HALF_WIDTH, GOAL_HALF_WIDTH]))
    high = _pixel(GOAL + np.array([GOAL_HALF_WIDTH, -GOAL_HALF_WIDTH]))
    inside = (low[0] <= _ROWS) & (high[0] >= _ROWS) & (low[1] <= _COLS) & (high[1] >= _COLS)
    image[inside] = goal_colour
    return image


_BACKGROUNDS = {domain: _background(domain) for domain in DOMAINS}


def render_state(position: np.ndarray, domain: str = "robot") -> np.ndarray:
    """The 48x48x3 uint8 frame of a state in a domain."""
    if domain not in DOMAINS:
        raise ValueError(f"unknown domain {domain!r}; known: {DOMAINS}")
    image = _BACKGROUNDS[domain].copy()
    row, col = _pixel(np.asarray(position, dtype=np.float64))
    if domain in ("robot", "humanlike"):
        disc = (_ROWS - row) ** 2 + (_COLS - col) ** 2 <= 3.2**2
        image[disc] = AGENT_COLOUR
    else:
        skin = np.array([235.0, 185.0, 150.0])
        palm = ((_ROWS - row) / 3.0) ** 2 + ((_COLS - col) / 4.0) ** 2 <= 1.0
        image[palm] = skin
        for offset in (-3, -1, 1, 3):  # four fingers pointing up
            finger = (np.abs(_COLS - (col + offset)) <= 0.6) & (row - 7 <= _ROWS) & (row - 2 >= _ROWS)
            image[finger] = skin * 0.92
    return image.astype(np.uint8)


class PointMassEnv(gym.Env):
    """Point-mass navigation from pixels; `domain` chooses the rendering of observations."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}  # noqa: RUF012

    def __init__(self, domain: str = "robot", render_mode: str | None = "rgb_array") -> None:
        if domain not in DOMAINS:
            raise ValueError(f"unknown domain {domain!r}; known: {DOMAINS}")
        self.domain, self.render_mode = domain, render_mode
        self.observation_space = gym.spaces.Box(0, 255, shape=(SIZE, SIZE, 3), dtype=np.uint8)
        self.action_space = gym.spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
        self.position = np.zeros(2)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self.position = self.np_random.uniform([-0.9, -0.9], [-0.3, 0.9])
        return render_state(self.position, self.domain), {"state": self.position.copy()}

    def at_goal(self) -> bool:
        """Whether the mass is inside the goal square."""
        return bool(np.max(np.abs(self.position - GOAL)) < GOAL_HALF_WIDTH)

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        action = np.clip(np.asarray(action, dtype=np.float64).reshape(2), -1.0, 1.0)
        self.position = np.clip(self.position + STEP_SCALE * action, -1.0, 1.0)
        success = self.at_goal()
        info = {"success": success, "state": self.position.copy()}
        return render_state(self.position, self.domain), 0.0 if success else -1.0, False, False, info

    def render(self) -> np.ndarray:
        return render_state(self.position, self.domain)

    def expert_action(self) -> np.ndarray:
        """The scripted expert's action in the current state (for `rlv collect`)."""
        return pointmass_expert(self.position)


def pointmass_expert(state: np.ndarray) -> np.ndarray:
    """Scripted expert: a unit-limited step straight toward the goal centre."""
    direction = (GOAL - np.asarray(state)) / STEP_SCALE
    return np.clip(direction, -1.0, 1.0).astype(np.float32)
