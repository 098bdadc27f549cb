"""`rlv data from-run`: a training run's replay, a window of its env steps, as an observation dataset.

Like the paper's Acrobot pools ("the transitions of 25 epochs of a SAC run"). The replay is read
from a checkpoint (chunks + `replay.json`, or an old `replay.npz`) and split into episodes exactly:

- an episode ends where the env terminated it (the replay's `done` flag, termination only);
- or where the next transition does not start from this one's next observation (the replay
  stores that next observation apart, `ended`: the trainer reset the env, after a time-limit
  truncation);
- or when it reaches the env's time limit. This catches the one case the frames cannot tell: a
  truncation whose reset observation has exactly the bytes of the last observation. Envs that
  truncate before their time limit on their own (no rlv env does) lose those episodes (they look
  cut short, see below).

Episodes whose start or end the replay does not hold are left out: the oldest one once the replay
has wrapped around (its start may be evicted), and one cut short before the time limit without
terminating (the newest of a mid-episode final checkpoint; the episode a resume restarted). The
replay keeps no `info`, so success per episode is decided from what it keeps (see `SUCCESS_RULES`).
True actions and rewards are kept (for the oracle and true-reward ablations only).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from rlv.checkpoint import STATE_FILE, checkpoint_candidates, load_newest, load_state
from rlv.config import TrainConfig
from rlv.data.dataset import DatasetWriter, Episode, atomic_directory
from rlv.data.replay import ReplayBuffer
from rlv.data.replay_files import REPLAY_DIR, has_replay, load_replay
from rlv.envs import make_env
from rlv.envs.factory import SUCCESS_REWARD, time_limit
from rlv.errors import RlvError
from rlv.methods.registry import load_config
from rlv.observation import ObservationKind

SuccessRule = Literal["auto", "terminated", "reward", "none"]
SUCCESS_RULES: dict[str, str] = {
    "auto": "the env's rule: reward for pointmass and the Meta-World tasks (reward 0 exactly on success), "
    "terminated for every other env",
    "terminated": "the env terminated the episode (Acrobot's goal; a Gymnasium env's own end), "
    "not the time limit",
    "reward": "the last transition's reward is at least --success-reward",
    "none": "no episode succeeds",
}
"""How `rlv data from-run` decides success per episode (the replay keeps no info['is_success'])."""


@dataclass
class RunReplay:
    """A run's replay as loaded from one checkpoint, with what is needed to split and date it."""

    config: TrainConfig
    checkpoint: Path
    buffer: ReplayBuffer
    env_step: int
    """The checkpoint's env step counter: the replay's newest transition was taken at this step."""
    at_episode_boundary: bool
    """The checkpoint was taken between episodes (so the newest transition ends one)."""
    limit: int | None
    """The env's time limit (None: it has none)."""

    @property
    def first(self) -> int:
        """Number of the oldest transition the replay keeps."""
        return self.buffer.total - self.buffer.size

    @property
    def steps(self) -> tuple[int, int]:
        """(A, B): the replay holds the transitions of env steps A+1 .. B."""
        return self.env_step - self.buffer.size, self.env_step

    @property
    def starts_an_episode(self) -> bool:
        """Whether the oldest transition kept starts an episode: nothing was evicted. An old
        `replay.npz` does not count its evictions, so a full one counts as evicted unless the
        run's own step count says otherwise."""
        return self.first == 0 and (
            self.buffer.size < self.buffer.capacity or self.env_step == self.buffer.size
        )


def read_run_replay(run: Path, checkpoint: Path | None = None) -> RunReplay:
    """The replay of `checkpoint`, or of the newest usable checkpoint of `run` that has one, in a
    buffer shaped by the run's config and env; chunks + manifest or an old `replay.npz`."""
    run = Path(run)
    if not run.is_dir():
        raise RlvError(f"{run}: no such run directory")
    config = load_config(run / "config.json")
    if config.encoder is not None and config.encoder_mode == "frozen":
        raise RlvError(
            f"{run}: trained on frozen --encoder features, so its replay holds features, not frames; "
            f"record frames of its policy with rlv collect --policy {run}"
        )
    env = make_env(config.env, config.seed, config.horizon, config.domain)
    obs = ObservationKind.of_space(env.observation_space, config.env)

    def load(path: Path) -> RunReplay:
        state = load_state(path / STATE_FILE)
        if not has_replay(path):
            raise RlvError(f"{path}: holds no replay (the run was trained with --no-save-replay?)")
        try:
            env_step, boundary = int(state["counters"]["env_step"]), bool(state["at_episode_boundary"])
        except (KeyError, TypeError, ValueError) as error:
            raise RlvError(f"{path / STATE_FILE}: not an rlv checkpoint (no {error})") from error
        buffer = ReplayBuffer(obs.shape, env.action_space.shape[0], config.replay_size, 0, obs.dtype)
        load_replay(buffer, path, run / REPLAY_DIR)
        return RunReplay(config, path, buffer, env_step, boundary, time_limit(env))

    if checkpoint is not None:
        return load(Path(checkpoint))
    candidates = checkpoint_candidates(run)
    if not candidates:
        raise RlvError(f"{run}: no checkpoint, so no replay to read")
    if not any(has_replay(candidate) for candidate in candidates):
        raise RlvError(f"{run}: its checkpoints hold no replay (the run was trained with --no-save-replay)")
    loaded = load_newest(run, load)
    assert loaded is not None
    return loaded[1]


def episode_bounds(
    done: np.ndarray, ended: np.ndarray, limit: int | None, first_whole: bool, last_whole: bool
) -> list[tuple[int, int]]:
    """(start, stop) positions of the whole episodes in a run of transitions, oldest first.

    done (N,): the env terminated at the transition; ended (N,): the next transition does not
    start from its next observation; limit: the env's time limit (None: none). The transitions
    split at done, at ended and after `limit` transitions without either. A part is a whole
    episode when it ends by termination or, with a limit, is `limit` long: an end by reset before
    the limit is an episode cut short (a run resumed from a mid-episode checkpoint restarts its
    episode; the newest transition of a mid-episode checkpoint). Without a limit, any end counts,
    except a last part when not `last_whole`. The first part counts only when `first_whole`
    (the replay has not lost the start of its oldest episode).
    """
    parts, start = [], 0
    for index in range(len(done)):
        if done[index] or ended[index] or (limit is not None and index + 1 - start >= limit):
            parts.append((start, index + 1))
            start = index + 1

    def whole(part: tuple[int, int]) -> bool:
        first, stop = part
        if first == 0 and not first_whole:
            return False
        if done[stop - 1]:
            return True
        if limit is not None:
            return stop - first == limit
        return last_whole or stop < len(done)

    return [part for part in parts if whole(part)]


def success_function(rule: SuccessRule, env: str, success_reward: float) -> Callable[[bool, float], bool]:
    """success(terminated at the last transition, reward of the last transition) under `rule`."""
    if rule == "auto":
        rule = "reward" if env in SUCCESS_REWARD else "terminated"
        success_reward = SUCCESS_REWARD.get(env, success_reward)
    if rule == "terminated":
        return lambda terminated, reward: terminated
    if rule == "reward":
        return lambda terminated, reward: reward >= success_reward
    return lambda terminated, reward: False


def window_episodes(
    replay: RunReplay, from_step: int, to_step: int, success: Callable[[bool, float], bool]
) -> Iterator[Episode]:
    """The whole episodes whose env steps all lie in from_step+1 .. to_step, oldest first."""
    buffer = replay.buffer
    slots = (replay.first + np.arange(buffer.size)) % buffer.capacity
    done = buffer.done[slots].astype(bool)
    ended = buffer.end_of[slots] >= 0
    bounds = episode_bounds(done, ended, replay.limit, replay.starts_an_episode, replay.at_episode_boundary)
    low = from_step - replay.steps[0]  # window in positions of the replay's transitions
    high = to_step - replay.steps[0]
    for start, stop in bounds:
        if start < low or stop > high:
            continue
        span = slots[start:stop]
        yield Episode(
            obs=np.concatenate([buffer.obs[span], buffer.next_obs(span[-1:])]),
            success=success(bool(done[stop - 1]), float(buffer.reward[span[-1]])),
            true_actions=buffer.action[span].copy(),
            rewards=buffer.reward[span].copy(),
        )


def check_window(replay: RunReplay, run: Path, from_step: int | None, to_step: int | None) -> tuple[int, int]:
    """The window (A, B) asked for, defaulting to all the replay holds; outside it is an RlvError."""
    low, high = replay.steps
    start = low if from_step is None else from_step
    stop = high if to_step is None else to_step
    kept = (
        f"{run}'s replay (checkpoint {replay.checkpoint.name}) keeps the transitions of env steps "
        f"{low + 1}..{high} only (the newest {replay.buffer.size} of replay_size {replay.buffer.capacity}), "
        f"so the window must lie in {low}..{high}"
    )
    if not low <= start <= high:
        raise RlvError(f"--from-step {start}: {kept}")
    if not low <= stop <= high:
        raise RlvError(f"--to-step {stop}: {kept}")
    if start >= stop:
        raise RlvError(f"--from-step {start} must be below --to-step {stop}")
    return start, stop


def dataset_from_run(
    run: Path,
    out: Path,
    from_step: int | None = None,
    to_step: int | None = None,
    checkpoint: Path | None = None,
    success_rule: SuccessRule = "auto",
    success_reward: float = 0.0,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Write the whole episodes of env steps from_step+1 .. to_step of `run`'s replay as a dataset
    at `out` (atomically); returns its meta.json."""
    if Path(out).exists() and not overwrite:
        raise RlvError(f"{out}: already exists (pass --overwrite to replace it, or choose another path)")
    if not np.isfinite(success_reward):
        raise RlvError(f"--success-reward must be a finite number, got {success_reward}")
    replay = read_run_replay(run, checkpoint)
    start, stop = check_window(replay, run, from_step, to_step)
    success = success_function(success_rule, replay.config.env, success_reward)
    returns: list[float] = []
    with atomic_directory(out, overwrite) as tmp:
        writer = DatasetWriter(tmp, out)
        for episode in window_episodes(replay, start, stop, success):
            writer.add(episode)
            returns.append(float(episode.rewards.sum()))
        if not returns:
            raise RlvError(
                f"{run}: no whole episode lies in env steps {start + 1}..{stop}; widen --from-step/--to-step"
            )
        meta = writer.finish(
            {
                "env": replay.config.env,
                "domain": replay.config.domain,
                "source": "rlv data from-run",
                "how_made": {
                    "run": str(run),
                    "checkpoint": str(replay.checkpoint),
                    "algo": replay.config.algo,
                    "seed": replay.config.seed,
                    "from_step": start,
                    "to_step": stop,
                    "success_rule": SUCCESS_RULES[success_rule],
                    "success_reward": success_reward if success_rule == "reward" else None,
                },
                "average_return": float(np.mean(returns)),
                "success_rate": writer.successes / writer.count,
            }
        )
    return meta
