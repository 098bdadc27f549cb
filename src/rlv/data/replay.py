"""The robot replay buffer and the sampler of observation (video) transitions.

Both sample uniformly with their own numpy Generator, whose state is part of a checkpoint.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import torch

from rlv.agents.base import ObservationBatch, RobotBatch
from rlv.data.dataset import Dataset, npz_problem
from rlv.errors import RlvError


def rng_state(rng: np.random.Generator) -> str:
    """A Generator's state as a JSON string (checkpoints keep no pickled objects)."""
    return json.dumps(rng.bit_generator.state)


def set_rng_state(rng: np.random.Generator, state: str) -> None:
    """Restore a state written by `rng_state`."""
    rng.bit_generator.state = json.loads(state)


class ReplayBuffer:
    """Fixed-capacity FIFO of robot transitions (s, a, r, s', done)."""

    FIELDS = ("obs", "action", "reward", "next_obs", "done")

    def __init__(
        self, obs_shape: tuple[int, ...], act_dim: int, capacity: int, seed: int, obs_dtype: type = np.float32
    ) -> None:
        self.capacity = capacity
        self.obs = np.zeros((capacity, *obs_shape), dtype=obs_dtype)
        self.action = np.zeros((capacity, act_dim), dtype=np.float32)
        self.reward = np.zeros(capacity, dtype=np.float32)
        self.next_obs = np.zeros((capacity, *obs_shape), dtype=obs_dtype)
        self.done = np.zeros(capacity, dtype=np.float32)
        self.size = 0
        self.cursor = 0
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return self.size

    def add(
        self, obs: np.ndarray, action: np.ndarray, reward: float, next_obs: np.ndarray, done: bool
    ) -> None:
        """Append one transition; `done` is termination only (never time-limit truncation)."""
        i = self.cursor
        self.obs[i], self.action[i], self.reward[i] = obs, action, reward
        self.next_obs[i], self.done[i] = next_obs, float(done)
        self.cursor = (self.cursor + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def sample(self, batch_size: int, device: torch.device) -> RobotBatch:
        """`batch_size` transitions drawn uniformly with replacement."""
        index = self.rng.integers(0, self.size, size=batch_size)
        return RobotBatch(
            *(torch.as_tensor(getattr(self, name)[index], device=device) for name in self.FIELDS)
        )

    def save(self, path: Path) -> None:
        """Write the filled part, cursor and sampling RNG state to an `.npz` (no pickle)."""
        arrays = {name: getattr(self, name)[: self.size] for name in self.FIELDS}
        state = np.array(json.dumps({"cursor": self.cursor, "rng": rng_state(self.rng)}))
        with open(path, "wb") as handle:
            np.savez(handle, state=state, **arrays)

    def load(self, path: Path) -> None:
        """Read what `save` wrote; a damaged file, or one that does not fit this buffer (shapes,
        capacity), is an RlvError and leaves the buffer's size and cursor as they were."""
        try:
            with np.load(path, allow_pickle=False) as data:
                size = len(data["reward"])
                if size > self.capacity:
                    raise RlvError(
                        f"{path}: replay holds {size} transitions, more than capacity {self.capacity}"
                    )
                for name in self.FIELDS:
                    target, stored = getattr(self, name), data[name]
                    if stored.shape != (size, *target.shape[1:]):
                        raise RlvError(
                            f"{path}: {name} has shape {stored.shape}, not {(size, *target.shape[1:])}"
                        )
                    target[:size] = stored
                state = json.loads(str(data["state"]))
                cursor, rng = int(state["cursor"]), state["rng"]
                if not 0 <= cursor < self.capacity:
                    raise RlvError(
                        f"{path}: cursor {cursor} is outside the replay of capacity {self.capacity}"
                    )
                set_rng_state(np.random.default_rng(), rng)  # check before touching self.rng
        except (OSError, KeyError, ValueError, TypeError, EOFError, zipfile.BadZipFile) as error:
            raise RlvError(f"{path}: corrupt replay file ({npz_problem(error)})") from error
        self.size, self.cursor = size, cursor
        set_rng_state(self.rng, rng)


class ObservationSampler:
    """Flattened transitions (o, o', done) of an action-free dataset, sampled uniformly.

    done is 1 on the last transition of each successful episode; with `timelimit_done` (the
    original Acrobot quirk) on the last transition of every episode. true_action and true_reward
    are None unless every episode keeps them.
    """

    def __init__(self, dataset: Dataset, seed: int, timelimit_done: bool = False) -> None:
        obs, next_obs, done, actions, rewards = [], [], [], [], []
        for episode in dataset.episodes:
            obs.append(episode.obs[:-1])
            next_obs.append(episode.obs[1:])
            flags = np.zeros(episode.length, dtype=np.float32)
            flags[-1] = float(episode.success or timelimit_done)
            done.append(flags)
            actions.append(episode.true_actions)
            rewards.append(episode.rewards)
        dtype = np.uint8 if obs[0].dtype == np.uint8 else np.float32  # images stay uint8
        self.obs = np.concatenate(obs).astype(dtype)
        self.next_obs = np.concatenate(next_obs).astype(dtype)
        self.done = np.concatenate(done)
        self.true_action = (
            None if any(a is None for a in actions) else np.concatenate(actions).astype(np.float32)
        )
        self.true_reward = (
            None if any(r is None for r in rewards) else np.concatenate(rewards).astype(np.float32)
        )
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return len(self.obs)

    def sample(self, batch_size: int, device: torch.device) -> ObservationBatch:
        """`batch_size` observation transitions drawn uniformly with replacement."""
        index = self.rng.integers(0, len(self.obs), size=batch_size)

        def take(array: np.ndarray | None) -> torch.Tensor | None:
            return None if array is None else torch.as_tensor(array[index], device=device)

        return ObservationBatch(
            obs=take(self.obs),
            next_obs=take(self.next_obs),
            done=take(self.done),
            true_action=take(self.true_action),
            true_reward=take(self.true_reward),
        )
