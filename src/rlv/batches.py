"""Typed batches: what the samplers produce and every method's `update()` consumes (bottom layer:
no rlv imports)."""

from __future__ import annotations

from typing import NamedTuple

import torch


class RobotBatch(NamedTuple):
    """Interaction transitions (s, a, r, s', done); B rows.

    obs (B, *obs_shape) float32; action (B, act_dim); reward (B,); next_obs like obs;
    done (B,) float 1.0 where s' is terminal (time-limit truncation is *not* done).
    """

    obs: torch.Tensor
    action: torch.Tensor
    reward: torch.Tensor
    next_obs: torch.Tensor
    done: torch.Tensor


class ObservationBatch(NamedTuple):
    """Action-free observation transitions (o, o', done) from videos; N rows.

    done (N,) is 1.0 on the last transition of a successful video. true_action (N, act_dim) and
    true_reward (N,) are present only in datasets that keep them (oracle ablations), else None.
    """

    obs: torch.Tensor
    next_obs: torch.Tensor
    done: torch.Tensor
    true_action: torch.Tensor | None = None
    true_reward: torch.Tensor | None = None


class PairedBatch(NamedTuple):
    """The same scene states seen in both domains: robot (P, H, W, 3) and human (P, H, W, 3) uint8."""

    robot: torch.Tensor
    human: torch.Tensor


class Batches(NamedTuple):
    """What one gradient step of a method gets: the streams its `MethodSpec` declares.

    robot: always (every method interacts); observations: only for methods that declare an
    observation dataset; paired: only when paired frames are declared; inverse: robot transitions
    of a dataset (true_action set) for an inverse model, only when such data is declared.
    """

    robot: RobotBatch
    observations: ObservationBatch | None = None
    paired: PairedBatch | None = None
    inverse: ObservationBatch | None = None
