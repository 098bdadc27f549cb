"""Reach: a tiny goal-reaching task, the custom environment of docs/your-env.md.

A point starts anywhere in the square [-1, 1]^2 and moves by `speed * action` per step (2-D actions
in [-1, 1]). The episode ends in success, reported as `info["is_success"]`, once the point is within
`radius` of `goal`; the time limit is 50 steps. The reward is -1 per step and 0 on the step that
reaches the goal, so an episode's return is minus the steps it took. The observation is the point's
position (2 floats), or with `image=True` a 48x48 RGB picture of the point and the goal.

Importing this module registers `Reach-v0` with gymnasium, so rlv can make it as
`gym:reach_env:Reach-v0` once Python can import `reach_env` (its directory on PYTHONPATH), with
keyword arguments after the id: `gym:reach_env:Reach-v0{"radius": 0.05, "image": true}`.

Run as a script, it writes stand-in "videos" of the task being done (a hand-written reacher with
some noise, no actions kept) as GIF files: `python reach_env.py clips --episodes 20`.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

SIZE = 48
"""Width and height of the image observations, in pixels (rlv's built-in image tasks use 48)."""


class Reach(gym.Env):
    """Move a point to a goal in the square [-1, 1]^2 (see the module's docstring)."""

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "render_fps": 10}

    def __init__(
        self,
        goal: Sequence[float] = (0.5, 0.5),
        radius: float = 0.1,
        speed: float = 0.1,
        image: bool = False,
        render_mode: str | None = None,
    ) -> None:
        self.goal = np.asarray(goal, dtype=np.float64)
        self.radius, self.speed, self.image = float(radius), float(speed), bool(image)
        self.render_mode = render_mode
        self.action_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
        if self.image:
            self.observation_space = gym.spaces.Box(0, 255, (SIZE, SIZE, 3), np.uint8)
        else:
            self.observation_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.position = np.zeros(2)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict]:
        super().reset(seed=seed)
        for _ in range(100):  # a start away from the goal (unless the goal covers the whole square)
            self.position = self.np_random.uniform(-1.0, 1.0, 2)
            if np.linalg.norm(self.position - self.goal) >= 2 * self.radius:
                break
        return self.observation(), {"is_success": False}

    def step(self, action: np.ndarray) -> tuple[Any, float, bool, bool, dict]:
        move = np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0) * self.speed
        self.position = np.clip(self.position + move, -1.0, 1.0)
        success = bool(np.linalg.norm(self.position - self.goal) < self.radius)
        return self.observation(), 0.0 if success else -1.0, success, False, {"is_success": success}

    def observation(self) -> np.ndarray:
        return self.render_frame() if self.image else self.position.astype(np.float32)

    def render(self) -> np.ndarray:
        return self.render_frame()

    def render_frame(self) -> np.ndarray:
        """A 48x48 RGB picture: grey floor, green goal disc, red point."""
        rows, columns = np.mgrid[0:SIZE, 0:SIZE]
        frame = np.full((SIZE, SIZE, 3), 90, dtype=np.uint8)
        discs = ((self.goal, self.radius, (40, 170, 60)), (self.position, 0.08, (220, 40, 40)))
        for centre, radius, colour in discs:
            x, y = (centre + 1.0) / 2.0 * (SIZE - 1)
            frame[(columns - x) ** 2 + (rows - y) ** 2 <= (radius / 2.0 * (SIZE - 1)) ** 2] = colour
        return frame


gym.register("Reach-v0", entry_point=Reach, max_episode_steps=50)


def demonstration(env: Reach, rng: np.random.Generator, noise: float = 0.3) -> tuple[list[np.ndarray], bool]:
    """One episode of a hand-written reacher (it heads for the goal, and takes a random action with
    probability `noise`): its observations only, as a video of someone doing the task has them,
    and whether it reached the goal."""
    observation, _ = env.reset(seed=int(rng.integers(2**31)))
    observations, terminated = [observation], False
    while not terminated and len(observations) <= 50:
        action = (env.goal - env.position) / env.speed
        if rng.random() < noise:
            action = rng.uniform(-1.0, 1.0, 2)
        observation, _, terminated, _, _ = env.step(action)
        observations.append(observation)
    return observations, terminated


def write_videos(out: Path, episodes: int, seed: int = 0) -> None:
    """`episodes` GIFs of the reacher reaching the goal (each ends on the step that reached it)."""
    from PIL import Image  # only the video writer needs Pillow (a dependency of rlv)

    out.mkdir(parents=True, exist_ok=True)
    env, rng = Reach(image=True), np.random.default_rng(seed)
    written = 0
    while written < episodes:
        observations, success = demonstration(env, rng)
        if not success:  # like a camera operator, keep only the takes that show the task done
            continue
        frames = [Image.fromarray(frame) for frame in observations]
        path = out / f"reach_{written:03d}.gif"
        frames[0].save(path, save_all=True, append_images=frames[1:], duration=100)
        written += 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Write stand-in videos of the Reach task as GIF files.")
    parser.add_argument("out", type=Path, help="directory for the GIF files")
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    arguments = parser.parse_args()
    write_videos(arguments.out, arguments.episodes, arguments.seed)
    print(f"wrote {arguments.episodes} videos to {arguments.out}")
