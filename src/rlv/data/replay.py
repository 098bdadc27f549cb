"""The robot replay buffer and the sampler of observation (video) transitions.

Both sample uniformly with their own numpy Generator, whose state is part of a checkpoint.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

import numpy as np
import torch

from rlv.batches import ObservationBatch, RobotBatch
from rlv.data.dataset import Dataset
from rlv.observation import stored_dtype


def rng_state(rng: np.random.Generator) -> str:
    """A Generator's state as a JSON string (checkpoints keep no pickled objects)."""
    return json.dumps(rng.bit_generator.state)


def set_rng_state(rng: np.random.Generator, state: str) -> None:
    """Restore a state written by `rng_state`."""
    rng.bit_generator.state = json.loads(state)


def same_bytes(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two arrays hold the same shape and bytes (so -0.0 differs from 0.0, NaN equals NaN)."""
    return a.shape == b.shape and a.tobytes() == b.tobytes()


class ReplayBuffer:
    """Fixed-capacity FIFO of robot transitions (s, a, r, s', done), each observation stored once.

    The transition added g-th (g = 0, 1, ...) lives in slot g % capacity, as in a plain ring of
    (s, a, r, s', done), so sampling draws the same transitions. `obs[slot]` (capacity, *obs_shape)
    is its s. Its s' is `obs[slot + 1]` when the next transition starts from s' (the episode goes
    on; found by comparing bytes, so sharing is exact), otherwise `ends[end_of[slot]]`: `ends` is a
    FIFO ring of the s' of episode ends (termination, truncation, the newest transition), grown on
    demand up to `capacity` frames. An episode of L transitions costs L + 1 frames.
    """

    FIELDS = ("obs", "action", "reward", "next_obs", "done")
    MIN_ENDS = 16

    def __init__(
        self, obs_shape: tuple[int, ...], act_dim: int, capacity: int, seed: int, obs_dtype: type = np.float32
    ) -> None:
        self.capacity = capacity
        self.obs = np.zeros((capacity, *obs_shape), dtype=obs_dtype)
        self.action = np.zeros((capacity, act_dim), dtype=np.float32)
        self.reward = np.zeros(capacity, dtype=np.float32)
        self.done = np.zeros(capacity, dtype=np.uint8)
        self.end_of = np.full(capacity, -1, dtype=np.int32)
        self.ends = np.zeros((min(capacity, self.MIN_ENDS), *obs_shape), dtype=obs_dtype)
        self.ends_first = 0  # position in `ends` of the oldest live end
        self.ends_count = 0
        self.total = 0  # transitions ever added; the live ones are total - size ... total - 1
        self.saved_chunks: list[tuple[int, int, str]] = []  # (start, stop, file name), see replay_files
        self.generation = 0  # counts clear() calls: a device mirror (rlv.data.device) then copies all
        self.rng = np.random.default_rng(seed)

    @property
    def size(self) -> int:
        """Live transitions."""
        return min(self.total, self.capacity)

    @property
    def cursor(self) -> int:
        """The slot the next transition goes to."""
        return self.total % self.capacity

    @property
    def nbytes(self) -> int:
        """Bytes of every array the buffer holds."""
        arrays = (self.obs, self.action, self.reward, self.done, self.end_of, self.ends)
        return sum(array.nbytes for array in arrays)

    def __len__(self) -> int:
        return self.size

    def add(
        self, obs: np.ndarray, action: np.ndarray, reward: float, next_obs: np.ndarray, done: bool
    ) -> None:
        """Append one transition: obs and next_obs (*obs_shape), action (act_dim,); `done` is
        termination only (never time-limit truncation). When obs has the bytes of the previous
        transition's next_obs (the episode goes on), that frame is kept once."""
        slot = self.cursor
        obs = np.asarray(obs, dtype=self.obs.dtype)
        if self.total >= self.capacity and self.end_of[slot] >= 0:  # evict the oldest transition
            self.ends_first = (self.ends_first + 1) % len(self.ends)
            self.ends_count -= 1
            self.end_of[slot] = -1
        previous = (slot - 1) % self.capacity
        if self.total and self.capacity > 1 and same_bytes(obs, self.ends[self.end_of[previous]]):
            self.ends_count -= 1  # the previous transition's s' is this s: keep it once, in obs
            self.end_of[previous] = -1
        self.obs[slot], self.action[slot], self.reward[slot] = obs, action, reward
        self.done[slot] = bool(done)
        self.end_of[slot] = self.push_end(np.asarray(next_obs, dtype=self.obs.dtype))
        self.total += 1

    def push_end(self, frame: np.ndarray) -> int:
        """Append `frame` to the `ends` ring (growing it when full); its position."""
        if self.ends_count == len(self.ends):
            self.grow_ends(self.ends_length(len(self.ends) + self.MIN_ENDS))
        position = (self.ends_first + self.ends_count) % len(self.ends)
        self.ends[position] = frame
        self.ends_count += 1
        return position

    def grow_ends(self, length: int) -> None:
        """Copy the live ends, oldest first, into a ring of `length` frames."""
        order = (self.ends_first + np.arange(self.ends_count)) % len(self.ends)
        grown = np.zeros((length, *self.ends.shape[1:]), dtype=self.ends.dtype)
        grown[: self.ends_count] = self.ends[order]
        ended = self.end_of >= 0
        self.end_of[ended] = (self.end_of[ended] - self.ends_first) % len(self.ends)
        self.ends, self.ends_first = grown, 0

    def next_obs(self, slots: np.ndarray) -> np.ndarray:
        """The s' of the transitions in `slots` (N,): (N, *obs_shape)."""
        frames = self.obs[(slots + 1) % self.capacity]
        end = self.end_of[slots]
        rows = np.flatnonzero(end >= 0)
        if rows.size:
            frames[rows] = self.ends[end[rows]]
        return frames

    def export(self, start: int, stop: int) -> dict[str, np.ndarray]:
        """The live transitions numbered start..stop-1, N of them: obs (N, *obs_shape), action
        (N, act_dim), reward (N,), done (N,) uint8, ended (N,) uint8 (1: s' is in `ends`, else it is
        the next transition's obs), ends (ended.sum(), *obs_shape)."""
        slots = np.arange(start, stop) % self.capacity
        end = self.end_of[slots]
        ended = end >= 0
        return {
            "obs": self.obs[slots],
            "action": self.action[slots],
            "reward": self.reward[slots],
            "done": self.done[slots],
            "ended": ended.astype(np.uint8),
            "ends": self.ends[end[ended]],
        }

    def transitions(self) -> dict[str, np.ndarray]:
        """Every live transition, oldest first, as `sample` gives them: obs and next_obs
        (size, *obs_shape), action (size, act_dim), reward (size,), done (size,) float32."""
        slots = (self.total - self.size + np.arange(self.size)) % self.capacity
        arrays = (self.obs[slots], self.action[slots], self.reward[slots], self.next_obs(slots))
        return dict(zip(self.FIELDS, (*arrays, self.done[slots].astype(np.float32)), strict=True))

    def clear(self) -> None:
        """Forget every transition (the arrays keep their size)."""
        self.total, self.ends_first, self.ends_count = 0, 0, 0
        self.end_of[:] = -1
        self.generation += 1

    def restore(self, total: int, parts: Iterable[dict[str, np.ndarray]]) -> None:
        """Refill the buffer with the last `size` of `total` transitions, given oldest first in
        parts shaped like `export`'s (`ended` as bool). An error raised while reading the parts
        leaves the buffer empty."""
        self.clear()
        first = total - min(total, self.capacity)
        position, end_frames, end_slots = first, [], []
        try:
            for part in parts:
                slots = np.arange(position, position + len(part["reward"])) % self.capacity
                previous = (position - 1) % self.capacity
                continues = len(slots) and end_slots and end_slots[-1][-1:].tolist() == [previous]
                if continues and same_bytes(part["obs"][0], end_frames[-1][-1]):  # saved as the newest
                    end_frames[-1], end_slots[-1] = end_frames[-1][:-1], end_slots[-1][:-1]
                self.obs[slots], self.action[slots] = part["obs"], part["action"]
                self.reward[slots], self.done[slots] = part["reward"], part["done"]
                end_frames.append(part["ends"])
                end_slots.append(slots[part["ended"]])
                position += len(slots)
        except BaseException:
            self.clear()
            raise
        frames = np.concatenate([np.zeros_like(self.ends[:0]), *end_frames])
        self.ends = np.zeros((self.ends_length(len(frames)), *self.obs.shape[1:]), dtype=self.obs.dtype)
        self.ends[: len(frames)] = frames
        self.end_of[np.concatenate([np.zeros(0, dtype=np.int64), *end_slots])] = np.arange(len(frames))
        self.total, self.ends_count = total, len(frames)

    def ends_length(self, count: int) -> int:
        """A length of the `ends` ring that holds `count` frames with some room to spare."""
        return min(self.capacity, max(count + count // 8, self.MIN_ENDS))

    def draw(self, batch_size: int) -> np.ndarray:
        """The slots of `batch_size` transitions drawn uniformly with replacement (B,) int64, from
        the buffer's own Generator (host and device sampling both draw here)."""
        return self.rng.integers(0, self.size, size=batch_size)

    def sample(self, batch_size: int, device: torch.device) -> RobotBatch:
        """`batch_size` transitions drawn uniformly with replacement: obs and next_obs
        (B, *obs_shape) in the buffer's dtype, action (B, act_dim), reward (B,), done (B,) float32."""
        index = self.draw(batch_size)
        arrays = (
            self.obs[index],
            self.action[index],
            self.reward[index],
            self.next_obs(index),
            self.done[index].astype(np.float32),
        )
        return RobotBatch(*(torch.as_tensor(array, device=device) for array in arrays))


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
        dtype = stored_dtype(obs[0].dtype)
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

    def draw(self, batch_size: int) -> np.ndarray:
        """Rows of `batch_size` transitions drawn uniformly with replacement (N,) int64."""
        return self.rng.integers(0, len(self.obs), size=batch_size)

    def arrays(self) -> dict[str, np.ndarray | None]:
        """The sampled arrays by ObservationBatch field (true_action, true_reward may be None)."""
        names = ObservationBatch._fields
        return {name: getattr(self, name) for name in names}

    def sample(self, batch_size: int, device: torch.device) -> ObservationBatch:
        """`batch_size` observation transitions drawn uniformly with replacement."""
        index = self.draw(batch_size)

        def take(array: np.ndarray | None) -> torch.Tensor | None:
            return None if array is None else torch.as_tensor(array[index], device=device)

        return ObservationBatch(
            obs=take(self.obs),
            next_obs=take(self.next_obs),
            done=take(self.done),
            true_action=take(self.true_action),
            true_reward=take(self.true_reward),
        )
