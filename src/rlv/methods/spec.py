"""What a method declares to the trainer: its options, the data streams it trains on, its checks
and how its agent is built. The trainer reads only this; it never asks which method runs.

A method is one module under `rlv.methods` that defines its agent class, its options dataclass
(command-line options `--<name>.<field>`, one docstring each) and a `METHOD = MethodSpec(...)`;
`rlv.methods.registry` lists the modules' specs (one line per method).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from rlv.batches import Batches
from rlv.config import SACConfig

if TYPE_CHECKING:
    from rlv.data.replay import ObservationSampler
    from rlv.observation import ObservationKind


class Agent(Protocol):
    """The contract between the trainer and a method: acting, one update on the declared batches,
    and state dicts (tensors and plain values only: checkpoints load with weights_only=True)."""

    METRICS: tuple[str, ...]
    """Keys `update()` may return (the columns of train.csv)."""

    def act(self, obs: np.ndarray, deterministic: bool = False) -> np.ndarray: ...

    def update(self, batch: Batches) -> dict[str, float]: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


Check = Callable[[Any], "str | None"]
"""A range check of one option value: None when it is fine, else what is allowed."""


@dataclass(frozen=True)
class Streams:
    """The data one gradient step gets besides the robot replay, which every method has.

    observations: an action-free dataset directory, sampled `obs_batch_size` rows per step
    (`max_episodes`: only its first N episodes; `timelimit_done`: the last transition of every
    episode is done, not only of successful ones). paired: paired robot/human frames, sampled
    `paired_batch_size` per step. inverse_data: robot transitions that keep their actions, for
    the inverse model, sampled `inverse_batch_size` rows per step. None: the stream is not used.
    """

    observations: Path | None = None
    obs_batch_size: int = 0
    max_episodes: int | None = None
    timelimit_done: bool = False
    paired: Path | None = None
    paired_batch_size: int = 0
    inverse_data: Path | None = None
    inverse_batch_size: int = 0


@dataclass(frozen=True)
class AgentContext:
    """What a method's builder gets: the shared SAC settings, its own options, the observation kind
    (it owns the encoder and augmentation), the action width, the torch device, and the schedule:
    the uniform-random env steps before the first update and the updates per env step (a method
    whose phases are counted in env steps converts them to its update count with these); and what
    its observation data holds."""

    sac: SACConfig
    options: Any
    obs: ObservationKind
    act_dim: int
    device: str
    random_steps: int = 0
    updates_per_step: int = 1
    videos_keep_actions: bool = False
    """Whether the observation stream keeps its true actions (scores of labels can be logged)."""


def no_streams(options: Any) -> Streams:
    return Streams()


def no_problems(options: Any) -> list[tuple[str, str]]:
    return []


def no_check(options: Any, obs: ObservationKind, sampler: ObservationSampler | None, env: str) -> None:
    return None


@dataclass(frozen=True)
class MethodSpec:
    """One registered method.

    name: `rlv train --algo NAME` and the prefix of its options. options: its options dataclass
    (None: it has none). streams(options): the data it trains on. ranges: field -> range check of
    its options. problems(options): (field, problem) for option combinations that cannot work.
    check(options, obs, sampler, env): refuse what cannot apply to this environment or dataset
    (raise RlvError). build(context): the agent.
    """

    name: str
    summary: str
    build: Callable[[AgentContext], Agent]
    options: type | None = None
    streams: Callable[[Any], Streams] = no_streams
    ranges: Mapping[str, Check] = field(default_factory=dict)
    problems: Callable[[Any], list[tuple[str, str]]] = no_problems
    check: Callable[[Any, ObservationKind, ObservationSampler | None, str], None] = no_check
