"""Make observation datasets of chosen quality by rolling out a scripted expert with noise.

Quality is the average episode return of the data. The noise level (probability of replacing the
expert's action by a uniform random one) is found by bisection on short probes, then the dataset
is collected with it and its measured average return is reported.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
from tqdm import tqdm

from rlv.data.dataset import Episode
from rlv.envs import acrobot_expert
from rlv.errors import RlvError

Policy = Callable[[gym.Env, np.ndarray], np.ndarray]


class NoisyAcrobotExpert:
    """Beam-search expert (see `rlv.envs.acrobot_expert`) that takes a uniform random action
    with probability `noise`, and re-plans from the true state every `replan_every` steps once its
    plan has been interrupted."""

    def __init__(
        self,
        noise: float,
        rng: np.random.Generator,
        width: int = 1000,
        replan_width: int = 300,
        replan_every: int = 8,
    ) -> None:
        self.noise, self.rng = noise, rng
        self.width, self.replan_width, self.replan_every = width, replan_width, replan_every
        self.plan: list[int] = []
        self.since_plan = 0
        self.deviated = False

    def reset(self) -> None:
        """Forget the current plan (call at every episode start)."""
        self.plan, self.since_plan, self.deviated = [], 0, False

    def __call__(self, env: gym.Env, obs: np.ndarray) -> np.ndarray:
        state = np.asarray(env.unwrapped.inner.state, dtype=np.float64)
        if not self.plan and not self.deviated:
            self.plan, self.since_plan = acrobot_expert.plan(state, self.width), 0
        elif self.deviated and self.since_plan >= self.replan_every:
            self.plan, self.since_plan, self.deviated = (
                acrobot_expert.plan(state, self.replan_width),
                0,
                False,
            )
        self.since_plan += 1
        planned = self.plan.pop(0) if self.plan else 1
        if self.rng.random() < self.noise:
            self.deviated = True
            return self.rng.uniform(-1.0, 1.0, size=1).astype(np.float32)
        return np.array([acrobot_expert.TORQUES[planned]], dtype=np.float32)


def rollout(env: gym.Env, policy: Policy, seed: int) -> Episode:
    """One episode with `policy`, reset with `seed`; keeps observations, actions and rewards."""
    obs, _ = env.reset(seed=seed)
    if hasattr(policy, "reset"):
        policy.reset()
    observations, actions, rewards = [obs], [], []
    while True:
        action = policy(env, obs)
        obs, reward, terminated, truncated, info = env.step(action)
        observations.append(obs)
        actions.append(action)
        rewards.append(reward)
        if terminated or truncated:
            break
    success = bool(info.get("success", terminated))
    return Episode(
        obs=np.asarray(observations, dtype=np.float32),
        success=success,
        true_actions=np.asarray(actions, dtype=np.float32),
        rewards=np.asarray(rewards, dtype=np.float32),
    )


def average_return(episodes: list[Episode]) -> float:
    """Mean undiscounted return of episodes that keep rewards."""
    return float(np.mean([episode.rewards.sum() for episode in episodes]))


@dataclass
class Collected:
    """A collection's episodes and how they were made."""

    episodes: list[Episode]
    noise: float
    measured_return: float


def collect_acrobot(
    env: gym.Env,
    episodes: int,
    seed: int,
    target_return: float | None = None,
    noise: float | None = None,
    probe_episodes: int = 40,
    probe_rounds: int = 7,
    progress: bool = True,
) -> Collected:
    """Roll out the noisy Acrobot expert. Give `noise` directly, or `target_return` to have the
    noise level calibrated by bisection (more noise, lower return) before the real collection."""
    if (target_return is None) == (noise is None):
        raise RlvError("give exactly one of --quality (a target average return) or --noise")
    rng = np.random.default_rng(seed)
    if noise is None:
        low, high = 0.0, 1.0
        for round_index in tqdm(range(probe_rounds), desc="calibrating noise", disable=not progress):
            middle = 0.5 * (low + high)
            expert = NoisyAcrobotExpert(middle, np.random.default_rng([seed, round_index]))
            probe = [
                rollout(env, expert, seed=10_000_000 + 1000 * round_index + i) for i in range(probe_episodes)
            ]
            if average_return(probe) > target_return:
                low = middle
            else:
                high = middle
        noise = 0.5 * (low + high)
    expert = NoisyAcrobotExpert(noise, rng)
    result = [
        rollout(env, expert, seed=seed * 100_000 + i)
        for i in tqdm(range(episodes), desc="collecting episodes", disable=not progress)
    ]
    return Collected(result, noise, average_return(result))


def collect_random(env: gym.Env, episodes: int, seed: int, progress: bool = True) -> Collected:
    """Episodes of uniform random actions (any Box-action env)."""
    rng = np.random.default_rng(seed)

    def policy(env: gym.Env, obs: np.ndarray) -> np.ndarray:
        space = env.action_space
        return rng.uniform(space.low, space.high).astype(np.float32)

    result = [
        rollout(env, policy, seed=seed * 100_000 + i)
        for i in tqdm(range(episodes), desc="collecting episodes", disable=not progress)
    ]
    return Collected(result, 1.0, average_return(result))
