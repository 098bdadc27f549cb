"""Batches gathered on the training device: the run's data held there, only indices cross per step.

On a GPU, sampling on the host means gathering B frames with numpy and copying them to the device
every gradient step (two uint8 frames per row: about 1.8 MB per step at batch 128 of 48x48x3, more
with RLV's video rows). Here the robot replay, the observation dataset and the paired frames are
mirrored on the device once; each step copies the sampled row numbers (B int64 values) and the
transitions added since the previous step, and gathers the batch with tensor indexing there.

The row numbers still come from each sampler's own numpy Generator (`draw`), the one checkpoints
save, and the gather reads the same bytes, so a device batch equals the host batch of the same
draw bit for bit (tests/test_device_sampling.py checks it with `device="cpu"`).
"""

from __future__ import annotations

import numpy as np
import torch

from rlv.batches import Batches, ObservationBatch, PairedBatch, RobotBatch
from rlv.data.paired import PairedSampler
from rlv.data.replay import ObservationSampler, ReplayBuffer
from rlv.errors import RlvError


def to_device(array: np.ndarray, device: torch.device) -> torch.Tensor:
    """A copy of `array` on `device` (never a view of the numpy memory, even on the CPU)."""
    return torch.from_numpy(np.ascontiguousarray(array)).to(device, copy=True)


def rows_to_device(index: np.ndarray, device: torch.device) -> torch.Tensor:
    """Sampled row numbers (N,) as an int64 tensor on `device`."""
    return torch.from_numpy(index.astype(np.int64)).to(device, non_blocking=True)


class DeviceReplay:
    """A mirror of a `ReplayBuffer` on `device`, brought up to date before each sample.

    Only what changed is copied: the rows of the transitions added since the last sync (and the
    row before them, whose s' may have moved from `ends` into `obs`), the `ends` frames those rows
    point to; all of `ends` and `end_of` after the `ends` ring was rebuilt (it grows by an eighth
    at a time, so rarely); everything after the buffer was cleared or restored.
    """

    def __init__(self, replay: ReplayBuffer, device: torch.device) -> None:
        self.replay, self.device = replay, device
        self.copy_all()

    def copy_all(self) -> None:
        """Allocate the mirror's arrays at the buffer's capacity on the device and copy the live
        slots (0 ... size - 1) and the `ends` ring into them."""
        replay, device, live = self.replay, self.device, slice(0, self.replay.size)
        host = {
            "obs": replay.obs,
            "action": replay.action,
            "reward": replay.reward,
            "done": replay.done.astype(np.float32),
            "end_of": replay.end_of.astype(np.int64),
        }
        for name, array in host.items():
            mirror = torch.zeros(array.shape, dtype=torch.from_numpy(array[:0]).dtype, device=device)
            mirror[live] = to_device(array[live], device)
            setattr(self, name, mirror)
        self.end_of[replay.size :] = -1
        self.ends = to_device(replay.ends, device)
        self.ends_source, self.generation, self.synced_total = replay.ends, replay.generation, replay.total

    def sync(self) -> None:
        """Copy what the host buffer gained since the last sync."""
        replay = self.replay
        if replay.generation != self.generation or replay.total - self.synced_total >= replay.capacity:
            self.copy_all()  # cleared, restored or lapped
            return
        if replay.total == self.synced_total:
            return
        if replay.ends is not self.ends_source:  # the ends ring was rebuilt: positions renumbered
            self.ends, self.ends_source = to_device(replay.ends, self.device), replay.ends
            self.end_of = to_device(replay.end_of.astype(np.int64), self.device)
        start = max(self.synced_total - 1, 0)
        slots = np.arange(start, replay.total) % replay.capacity
        rows = rows_to_device(slots, self.device)
        self.obs[rows] = to_device(replay.obs[slots], self.device)
        self.action[rows] = to_device(replay.action[slots], self.device)
        self.reward[rows] = to_device(replay.reward[slots], self.device)
        self.done[rows] = to_device(replay.done[slots].astype(np.float32), self.device)
        end = replay.end_of[slots]
        self.end_of[rows] = to_device(end.astype(np.int64), self.device)
        positions = end[end >= 0]
        self.ends[rows_to_device(positions, self.device)] = to_device(replay.ends[positions], self.device)
        self.synced_total = replay.total

    def sample(self, batch_size: int) -> RobotBatch:
        """`ReplayBuffer.sample`'s batch for the same draw, gathered on the device."""
        self.sync()
        slots = rows_to_device(self.replay.draw(batch_size), self.device)
        end = self.end_of[slots]
        ended = (end >= 0).view(-1, *[1] * (self.obs.dim() - 1))
        following = self.obs[(slots + 1) % self.replay.capacity]  # s' when the episode goes on
        next_obs = torch.where(ended, self.ends[end.clamp(min=0)], following)
        return RobotBatch(self.obs[slots], self.action[slots], self.reward[slots], next_obs, self.done[slots])


class DeviceObservations:
    """An `ObservationSampler`'s arrays on `device` (copied once: the dataset does not change)."""

    def __init__(self, sampler: ObservationSampler, device: torch.device) -> None:
        self.sampler, self.device = sampler, device
        self.arrays = {
            name: None if array is None else to_device(array, device)
            for name, array in sampler.arrays().items()
        }

    def sample(self, batch_size: int) -> ObservationBatch:
        """`ObservationSampler.sample`'s batch for the same draw, gathered on the device."""
        rows = rows_to_device(self.sampler.draw(batch_size), self.device)
        return ObservationBatch(
            **{name: None if array is None else array[rows] for name, array in self.arrays.items()}
        )


class DevicePaired:
    """A `PairedSampler`'s frames on `device` (copied once)."""

    def __init__(self, sampler: PairedSampler, device: torch.device) -> None:
        self.sampler, self.device = sampler, device
        self.robot, self.human = to_device(sampler.robot, device), to_device(sampler.human, device)

    def sample(self, batch_size: int) -> PairedBatch:
        """`PairedSampler.sample`'s batch for the same draw, gathered on the device."""
        rows = rows_to_device(self.sampler.draw(batch_size), self.device)
        return PairedBatch(self.robot[rows], self.human[rows])


class BatchSampler:
    """The batches of one gradient step from a run's streams, gathered on the host and copied to
    `device` (`on_device=False`, the CPU's way), or gathered on `device` from mirrors there."""

    def __init__(
        self,
        replay: ReplayBuffer,
        observations: ObservationSampler | None,
        paired: PairedSampler | None,
        device: torch.device,
        on_device: bool,
        inverse: ObservationSampler | None = None,
    ) -> None:
        self.replay, self.observations, self.paired = replay, observations, paired
        self.inverse = inverse
        self.device, self.on_device = device, on_device
        try:
            self.mirrors = (
                DeviceReplay(replay, device),
                observations and DeviceObservations(observations, device),
                paired and DevicePaired(paired, device),
                inverse and DeviceObservations(inverse, device),
            ) if on_device else None  # fmt: skip
        except torch.OutOfMemoryError as error:
            gigabytes = replay.nbytes / 2**30
            raise RlvError(
                f"--sample-on-device: the replay ({gigabytes:.1f} GiB) and datasets do not fit in "
                f"{device}'s memory; use --no-sample-on-device or a smaller --replay-size"
            ) from error

    def sample(
        self, robot_rows: int, observation_rows: int, paired_rows: int, inverse_rows: int = 0
    ) -> Batches:
        """Fresh batches of every stream the run has (robot always)."""
        if self.mirrors is None:
            return Batches(
                self.replay.sample(robot_rows, self.device),
                self.observations.sample(observation_rows, self.device) if self.observations else None,
                self.paired.sample(paired_rows, self.device) if self.paired else None,
                self.inverse.sample(inverse_rows, self.device) if self.inverse else None,
            )
        replay, observations, paired, inverse = self.mirrors
        return Batches(
            replay.sample(robot_rows),
            observations.sample(observation_rows) if observations else None,
            paired.sample(paired_rows) if paired else None,
            inverse.sample(inverse_rows) if inverse else None,
        )
