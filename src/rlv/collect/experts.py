"""Make observation datasets of chosen quality by rolling out a scripted expert with noise.

Quality is the average episode return (acrobot) or the success rate (image tasks) of the data.
The noise level (probability of replacing the expert's action by a uniform random one) is found by
bisection on short probes, then the dataset is collected with it and its measured quality is
reported. Paired frames replay the same actions from the same reset in the robot and the human
rendering of a task, so each pair shows one state in both domains.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
from tqdm import tqdm

from rlv.data.dataset import Episode
from rlv.envs import acrobot_expert
from rlv.envs.factory import episode_success
from rlv.errors import RlvError
from rlv.observation import stored_dtype

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


class NoisyScriptedExpert:
    """An env's own scripted expert (`env.unwrapped.expert_action()`, acting on the true state) that
    takes a uniform random action with probability `noise`."""

    def __init__(self, noise: float, rng: np.random.Generator) -> None:
        self.noise, self.rng = noise, rng

    def __call__(self, env: gym.Env, obs: np.ndarray) -> np.ndarray:
        if self.rng.random() < self.noise:
            space = env.action_space
            return self.rng.uniform(space.low, space.high).astype(np.float32)
        return np.asarray(env.unwrapped.expert_action(), dtype=np.float32)


def has_scripted_expert(env: gym.Env) -> bool:
    """Whether the env provides `expert_action()` (the image tasks do)."""
    return callable(getattr(env.unwrapped, "expert_action", None))


def episode_seed(seed: int, index: int) -> int:
    """The reset seed of episode `index` of a collection seeded `seed`."""
    return seed * 100_000 + index


def rollout(env: gym.Env, policy: Policy, seed: int) -> Episode:
    """One episode with `policy`, reset with `seed`; keeps observations, actions and rewards, and
    the true states (T+1, state_dim) when the env's info has a "state" at the reset and every step."""
    obs, info = env.reset(seed=seed)
    if hasattr(policy, "reset"):
        policy.reset()
    observations, actions, rewards, states = [obs], [], [], [info.get("state")]
    while True:
        action = policy(env, obs)
        obs, reward, terminated, truncated, info = env.step(action)
        observations.append(obs)
        actions.append(action)
        rewards.append(reward)
        states.append(info.get("state"))
        if terminated or truncated:
            break
    success = episode_success(info, terminated)
    dtype = stored_dtype(env.observation_space.dtype)
    return Episode(
        obs=np.asarray(observations, dtype=dtype),
        success=success,
        true_actions=np.asarray(actions, dtype=np.float32),
        rewards=np.asarray(rewards, dtype=np.float32),
        states=stacked_states(states),
    )


def stacked_states(states: list[np.ndarray | None]) -> np.ndarray | None:
    """The visited states as one (T+1, state_dim) float32 array, or None unless every step had a
    finite numeric one of one width (a gym:<id> env's info["state"] may be something else)."""
    if any(state is None for state in states):
        return None
    try:
        stacked = np.asarray([np.ravel(state) for state in states], dtype=np.float32)
    except (TypeError, ValueError):
        return None
    return stacked if stacked.ndim == 2 and np.all(np.isfinite(stacked)) else None


def average_return(episodes: list[Episode]) -> float:
    """Mean undiscounted return of episodes that keep rewards."""
    return float(np.mean([episode.rewards.sum() for episode in episodes]))


@dataclass
class Collected:
    """A collection's episodes and how they were made."""

    episodes: list[Episode]
    noise: float
    measured_return: float


def success_rate(episodes: list[Episode]) -> float:
    """Fraction of successful episodes."""
    return float(np.mean([episode.success for episode in episodes]))


QUALITY: dict[str, Callable[[list[Episode]], float]] = {"return": average_return, "success": success_rate}
"""How the quality of a batch of episodes is measured, by name."""


def collect_expert(
    env: gym.Env,
    make_expert: Callable[[float, np.random.Generator], Policy],
    episodes: int,
    seed: int,
    target: float | None = None,
    noise: float | None = None,
    quality: str = "return",
    probe_episodes: int = 40,
    probe_rounds: int = 7,
    progress: bool = True,
) -> Collected:
    """Roll out a noisy scripted expert, `make_expert(noise, rng)`. Give `noise` directly, or a
    `target` quality (average return or success rate, by `quality`) to have the noise calibrated
    by bisection (more noise, lower quality) before the real collection."""
    if (target is None) == (noise is None):
        raise RlvError("give exactly one of --quality (a target quality) or --noise")
    measure = QUALITY[quality]
    if noise is None:
        noise = calibrate_noise(
            env, make_expert, seed, target, measure, probe_episodes, probe_rounds, progress
        )
    expert = make_expert(noise, np.random.default_rng(seed))
    result = [
        rollout(env, expert, seed=episode_seed(seed, i))
        for i in tqdm(range(episodes), desc="collecting episodes", disable=not progress)
    ]
    return Collected(result, noise, average_return(result))


def calibrate_noise(
    env: gym.Env,
    make_expert: Callable[[float, np.random.Generator], Policy],
    seed: int,
    target: float,
    measure: Callable[[list[Episode]], float],
    probe_episodes: int,
    probe_rounds: int,
    progress: bool,
) -> float:
    """Bisect the noise level until the probes' quality is `target` (more noise, lower quality).
    A target beyond what the least or the most noise reaches is an RlvError naming the quality the
    last probe measured (the nearest reachable)."""
    low, high, measured = 0.0, 1.0, float("nan")
    for round_index in tqdm(range(probe_rounds), desc="calibrating noise", disable=not progress):
        middle = 0.5 * (low + high)
        expert = make_expert(middle, np.random.default_rng([seed, round_index]))
        probe = [
            rollout(env, expert, seed=10_000_000 + 1000 * round_index + i) for i in range(probe_episodes)
        ]
        measured = measure(probe)
        if measured > target:
            low = middle
        else:
            high = middle
    name = "average return" if measure is average_return else "success rate"
    if low == 0.0 and measured < target:
        raise RlvError(
            f"target {name} {target:g} is out of reach: the policy with almost no noise "
            f"({high:.3f}) reaches {measured:.4g} on {probe_episodes} probe episodes; ask for at most that"
        )
    if high == 1.0 and measured > target:
        raise RlvError(
            f"target {name} {target:g} is out of reach: even with noise {low:.3f} (nearly all random "
            f"actions) the data reaches {measured:.4g}; ask for at least that"
        )
    return 0.5 * (low + high)


def collect_acrobot(
    env: gym.Env,
    episodes: int,
    seed: int,
    target_return: float | None = None,
    noise: float | None = None,
    progress: bool = True,
) -> Collected:
    """The noisy Acrobot expert, calibrated on the average return."""
    return collect_expert(
        env, NoisyAcrobotExpert, episodes, seed, target_return, noise, "return", progress=progress
    )


def collect_random(env: gym.Env, episodes: int, seed: int, progress: bool = True) -> Collected:
    """Episodes of uniform random actions (any Box-action env)."""
    rng = np.random.default_rng(seed)

    def policy(env: gym.Env, obs: np.ndarray) -> np.ndarray:
        space = env.action_space
        return rng.uniform(space.low, space.high).astype(np.float32)

    result = [
        rollout(env, policy, seed=episode_seed(seed, i))
        for i in tqdm(range(episodes), desc="collecting episodes", disable=not progress)
    ]
    return Collected(result, 1.0, average_return(result))


def replay_actions(env: gym.Env, actions: np.ndarray, seed: int) -> np.ndarray:
    """Observations (T+1, ...) of `env` reset with `seed` and driven by `actions` (T, act_dim)."""
    obs, _ = env.reset(seed=seed)
    frames = [obs]
    for action in actions:
        obs, *_ = env.step(action)
        frames.append(obs)
    return np.asarray(frames)


def collect_paired(
    robot_env: gym.Env,
    human_env: gym.Env,
    pairs: int,
    seed: int,
    noise: float = 0.3,
    progress: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """`pairs` frames of the same states in both domains: (pairs, H, W, 3) robot and human uint8.

    Noisy-expert episodes run in the robot env; their actions are replayed from the same reset
    seed in the human env (the domains differ only in rendering, so the states match). Frames are
    drawn without replacement from all the visited states.
    """
    rng = np.random.default_rng(seed)
    expert = NoisyScriptedExpert(noise, rng)
    robot_frames: list[np.ndarray] = []
    human_frames: list[np.ndarray] = []
    with tqdm(total=pairs, desc="collecting paired frames", disable=not progress) as bar:
        index = 0
        while sum(len(f) for f in robot_frames) < pairs:
            reset_seed = episode_seed(seed, index)
            episode = rollout(robot_env, expert, seed=reset_seed)
            robot_frames.append(episode.obs)
            human_frames.append(replay_actions(human_env, episode.true_actions, reset_seed))
            bar.update(min(len(episode.obs), pairs - bar.n))
            index += 1
    robot, human = np.concatenate(robot_frames), np.concatenate(human_frames)
    chosen = np.sort(rng.choice(len(robot), size=pairs, replace=False))
    return robot[chosen], human[chosen]
