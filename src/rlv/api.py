"""The Python API of rlv (docs/api.md): what `import rlv` exports, each a thin call into the
functions the `rlv` command line runs.

    train(config, **overrides)            rlv train --out RUN [--option value ...]
    train_preset(name, **overrides)       rlv train PRESET --out RUN [--option value ...]
    resume(run, total_steps=None)         rlv train --resume RUN
    get_preset(name, **overrides)         a preset's TrainConfig (overrides as in train_preset)
    configure(config, **overrides)        a TrainConfig with overrides, checked
    load_config(run)                      a run's config (the run directory or its config.json)
    load_policy(run) -> Policy            a trained run's policy: act(obs) in the env's own units
    evaluate(run, episodes, seed)         rlv eval RUN
    collect(out=..., env=..., ...)        rlv collect
    pretrain(config, **overrides)         rlv pretrain
    load_dataset / write_dataset          the observation dataset format (docs/dataset_format.md)

Overrides are keyword arguments named like the config's fields; a nested config (`sac`, the
method's options such as `rlv`) takes a dict of its own fields: `rlv={"dataset": "data/videos"}`.
They are applied like `dataclasses.replace`, with config.json's conversions (a str for a path, a
list for a tuple), and checked like `rlv train`'s options. `algo="..."` switches the method first
(its options start from their defaults), as `rlv train --algo` does.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium.wrappers.utils import rescale_box

from rlv.collect.commands import CollectArgs, collect_from_args
from rlv.command_line import preset_config
from rlv.config import SACConfig, TrainConfig, config_from_dict
from rlv.data.dataset import Dataset, Episode, load_dataset
from rlv.data.dataset import write_dataset as write_dataset_files
from rlv.encoders import encode_frames, feature_env, run_encoder
from rlv.envs import make_env
from rlv.errors import RlvError
from rlv.evaluate import evaluate_run, load_run_agent
from rlv.methods import METHODS, Agent
from rlv.methods.registry import check_config, with_algo
from rlv.methods.registry import load_config as load_config_file
from rlv.nets import ImageEncoder
from rlv.observation import ObservationKind
from rlv.pretrain import PretrainConfig
from rlv.pretrain import pretrain as pretrain_encoder
from rlv.train import resume as resume_run
from rlv.train import train as train_run
from rlv.validation import MAX_SEED, check_device, field_problems

__all__ = [
    "Dataset",
    "Episode",
    "Policy",
    "PretrainConfig",
    "RlvError",
    "SACConfig",
    "TrainConfig",
    "collect",
    "configure",
    "evaluate",
    "get_preset",
    "load_config",
    "load_dataset",
    "load_policy",
    "pretrain",
    "resume",
    "train",
    "train_preset",
    "write_dataset",
]


def _replaced(config: Any, overrides: Mapping[str, Any], prefix: str = "") -> Any:
    """`config` (a frozen config dataclass) with `overrides`; a dict for a nested config field
    overrides its fields. Unknown keys are one RlvError naming them (dotted)."""
    names = [item.name for item in dataclasses.fields(config)]
    unknown = [key for key in overrides if key not in names]
    if unknown:
        kind = type(config).__name__
        kind = f"TrainConfig (algo {config.algo!r})" if isinstance(config, TrainConfig) else kind
        raise RlvError(_unknown_keys(kind, unknown, names, prefix))
    changes = {}
    for key, value in overrides.items():
        current = getattr(config, key)
        if isinstance(value, Mapping) and dataclasses.is_dataclass(current):
            value = _replaced(current, value, f"{prefix}{key}.")
        changes[key] = value
    fields = {name: getattr(config, name) for name in names}
    return config_from_dict(type(config), fields | changes, prefix.rstrip(".") or type(config).__name__)


def _unknown_keys(kind: str, unknown: list[str], names: list[str], prefix: str) -> str:
    """The one-line error for override keys `unknown` of a config whose fields are `names`."""
    hints = []
    for key in unknown:
        if not prefix and key in METHODS:
            hints.append(f"{key!r} holds the options of algo {key!r}: pass algo={key!r} too")
        elif close := difflib.get_close_matches(key, names, n=1):
            hints.append(f"did you mean {prefix + close[0]!r}?")
    shown = ", ".join(repr(prefix + key) for key in unknown)
    return f"unknown option{'s' if len(unknown) > 1 else ''} {shown} for {kind}" + (
        f"; {'; '.join(hints)}" if hints else f"; its options: {', '.join(names)}"
    )


def configure(config: TrainConfig, **overrides: Any) -> TrainConfig:
    """`config` with `overrides` (keyword arguments named like its fields; a dict for `sac` or the
    method's options), checked as `rlv train` checks its options. `algo="name"` switches the
    method first, its options starting from their defaults."""
    if not isinstance(config, TrainConfig):
        raise RlvError(
            f"expected a TrainConfig (rlv.TrainConfig or rlv.get_preset), got {type(config).__name__}"
        )
    algo = overrides.pop("algo", config.algo)
    if algo != config.algo:
        try:
            config = with_algo(config, algo)
        except RlvError as error:
            raise RlvError(f"algo: {error}") from error
    config = _replaced(config, overrides)
    check_config(config)
    return config


def get_preset(name: str, **overrides: Any) -> TrainConfig:
    """The preset called `name` (`rlv presets` lists them) with `overrides` (as `configure`)."""
    return configure(preset_config(name), **overrides)


def train(config: TrainConfig, **overrides: Any) -> dict[str, Any]:
    """Train a new run into `config.out` (which must not exist), as `rlv train` does; returns its
    summary (env_step, grad_step, episodes, the last eval/return, eval/success, ...). A config
    without a label is labelled with its method's name, as on the command line."""
    config = configure(config, **overrides)
    return train_run(config if config.label else dataclasses.replace(config, label=config.algo))


def train_preset(name: str, **overrides: Any) -> dict[str, Any]:
    """Train the preset `name` with `overrides` (`out=` at least), as `rlv train NAME ...` does."""
    return train(get_preset(name, **overrides))


def _run_dir(run: str | Path) -> Path:
    """A run directory, given as the directory or as its config.json."""
    path = Path(run)
    if path.name == "config.json" and path.is_file():
        return path.parent
    if not path.is_dir():
        raise RlvError(f"{path}: no such run directory")
    return path


def resume(run: str | Path, total_steps: int | None = None, progress: bool = True) -> dict[str, Any]:
    """Continue run `run` from its newest usable checkpoint (to a new `total_steps`), as
    `rlv train --resume RUN` does; returns its summary."""
    return resume_run(_run_dir(run), total_steps, progress)


def load_config(run: str | Path) -> TrainConfig:
    """The checked config of a run: its directory, or its config.json."""
    path = Path(run)
    return load_config_file(path / "config.json" if path.is_dir() else path)


def _own_units(env: gym.Env) -> gym.Env:
    """`env` without the RescaleAction that make_env puts over a non-unit action box: the env as
    its own action units are."""
    return env.env if isinstance(env, gym.wrappers.RescaleAction) else env


class Policy:
    """A trained run's policy. `act(obs)` takes what the run's env returns (one observation, or a
    batch of them with a leading dimension) and returns actions in the env's own action box, the
    one `env()` steps with (make_env's RescaleAction undone)."""

    def __init__(
        self,
        agent: Agent,
        observation_space: gym.spaces.Box,
        action_space: gym.spaces.Box,
        encoder: ImageEncoder | None = None,
        config: TrainConfig | None = None,
        run: Path | None = None,
        checkpoint: Path | None = None,
    ) -> None:
        self.agent, self.encoder = agent, encoder
        self.observation_space, self.action_space = observation_space, action_space
        self.config, self.run, self.checkpoint = config, run, checkpoint
        self.kind = ObservationKind(tuple(observation_space.shape))
        unit = np.ones(action_space.shape, dtype=np.float32)
        own_box = not (np.all(action_space.low == -1) and np.all(action_space.high == 1))
        # the agent acts in [-1, 1]; make_env's RescaleAction maps that onto the box with this function
        self._to_env = rescale_box(action_space, -unit, unit)[2] if own_box else None

    def __repr__(self) -> str:
        where = f"{self.run}, {self.checkpoint}" if self.run else type(self.agent).__name__
        return f"Policy({where}; observations {self.kind.shape}, actions {self.action_space})"

    def _batch(self, obs: Any) -> tuple[np.ndarray, bool]:
        """`obs` as a batch, and whether it was one observation; a wrong shape or dtype is an RlvError."""
        array, shape = np.asarray(obs), self.kind.shape
        if self.kind.image and array.dtype != np.dtype(self.kind.dtype):
            raise RlvError(f"image observations must be {np.dtype(self.kind.dtype)}, not {array.dtype}")
        if array.shape == shape:
            return array[None], True
        if array.shape[1:] == shape:
            return array, False
        batch = f"(B, {', '.join(map(str, shape))})"
        raise RlvError(f"observations of shape {array.shape}: the policy takes {shape}, or a batch {batch}")

    def act(self, obs: Any, deterministic: bool = True) -> np.ndarray:
        """Actions for `obs`: (act_dim,) for one observation, (B, act_dim) for a batch (B, *obs_shape),
        in the env's action box, float32. Deterministic tanh(mean) as `rlv eval` scores it, or a sample
        of the policy with `deterministic=False`."""
        batch, single = self._batch(obs)
        rows = []
        with torch.no_grad():
            for row in batch:  # one at a time, as rlv eval acts: a batch's actions are each row's
                # a frozen --encoder: the agent acts on the frame's features
                seen = row if self.encoder is None else encode_frames(self.encoder, row[None])[0]
                rows.append(np.asarray(self.agent.act(seen, deterministic), dtype=np.float32))
        unit = np.stack(rows) if rows else np.zeros((0, *self.action_space.shape), dtype=np.float32)
        actions = unit if self._to_env is None else self._to_env(unit).astype(np.float32)
        return actions[0] if single else actions

    def env(self, seed: int | None = None) -> gym.Env:
        """A new env of the run (its env, time limit and visual domain), seeded with `seed` (default:
        the run's seed), acting in the env's own action units: `env.step(policy.act(obs))`."""
        if self.config is None:
            raise RlvError("this policy was not loaded from a run; it has no env")
        seed = self.config.seed if seed is None else seed
        env = _own_units(make_env(self.config.env, seed, self.config.horizon, self.config.domain))
        env.action_space.seed(seed)
        return env


def load_policy(run: str | Path, checkpoint: str | Path | None = None, device: str | None = None) -> Policy:
    """The policy of run directory `run`, from `checkpoint` (a checkpoint directory; default: the
    newest usable one, as `rlv eval` picks it), on `device` (default: the run's own)."""
    run = _run_dir(run)
    config = load_config(run)
    if device is not None:
        config = dataclasses.replace(config, device=device)
    check_device(config.device, f"{run / 'config.json'}: device" if device is None else "device")
    env = make_env(config.env, config.seed, config.horizon, config.domain)
    encoder_file = run_encoder(config, run)
    acting = feature_env(env, encoder_file, config.encoder_mode, f"{run / 'config.json'}: env")
    agent, used = load_run_agent(run, config, acting, None if checkpoint is None else Path(checkpoint))
    frozen = encoder_file.encoder if encoder_file is not None and acting is not env else None
    space = env.observation_space
    assert isinstance(space, gym.spaces.Box)  # ObservationKind.of_space checked it in load_run_agent
    return Policy(agent, space, _own_units(env).action_space, frozen, config, run, used)


def _whole_number(name: str, value: Any, low: int, high: int | None = None) -> None:
    """An RlvError unless `value` is an int in [low, high]."""
    if type(value) is not int or value < low or (high is not None and value > high):
        allowed = f"in [{low}, {high}]" if high is not None else f"at least {low}"
        raise RlvError(f"{name}: must be an integer {allowed}, got {value!r}")


def evaluate(
    run: str | Path,
    episodes: int = 10,
    seed: int = 12345,
    checkpoint: str | Path | None = None,
    video: str | Path | None = None,
) -> dict[str, Any]:
    """Evaluate a run's newest usable checkpoint (or `checkpoint`) with the deterministic policy on
    `episodes` episodes from `seed`, as `rlv eval` does: eval/return, eval/return_std, eval/length,
    eval/success, checkpoint (and video, the file written when `video` names a .gif/.mp4/.webm)."""
    _whole_number("episodes", episodes, 1)
    _whole_number("seed", seed, 0, MAX_SEED)
    chosen = None if checkpoint is None else Path(checkpoint)
    return evaluate_run(_run_dir(run), episodes, seed, chosen, None if video is None else Path(video))


def collect(
    *,
    out: str | Path,
    env: str | None = None,
    episodes: int = 250,
    policy: str | Path | Policy = "expert",
    noise: float | None = None,
    quality: float | None = None,
    success_rate: float | None = None,
    seed: int = 0,
    domain: str | None = None,
    checkpoint: str | Path | None = None,
    sample_actions: bool = False,
    paired: int | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> Path:
    """Write an observation dataset (or, with `paired`, paired frames) at `out`, as `rlv collect`
    does; returns `out`. `policy`: "expert" (the task's scripted expert; give one of `noise`,
    `quality` or `success_rate`), "random", or a run directory (or a loaded Policy: its run and
    checkpoint). The options are `rlv collect --help`'s."""
    if isinstance(policy, Policy):
        if policy.run is None:
            raise RlvError("policy: a Policy not loaded from a run cannot collect; give its run directory")
        policy, checkpoint = policy.run, checkpoint if checkpoint is not None else policy.checkpoint
    args = CollectArgs(
        out=Path(out), env=env, episodes=episodes, quality=quality, success_rate=success_rate, noise=noise,
        policy=str(policy) if isinstance(policy, Path) else policy,
        checkpoint=None if checkpoint is None else Path(checkpoint), sample_actions=sample_actions,
        seed=seed, domain=domain, paired=paired, overwrite=overwrite, progress=progress,
    )  # fmt: skip
    problems = field_problems(args, ranges={})
    if problems:
        raise RlvError(f"{problems[0][0]}: {problems[0][1]}")
    default = CollectArgs(out=args.out)
    given = [
        f"{item.name}={_shown(getattr(args, item.name))}"
        for item in dataclasses.fields(args)
        if item.name == "out" or getattr(args, item.name) != getattr(default, item.name)
    ]
    collect_from_args(args, f"rlv.collect({', '.join(given)})")
    return args.out


def _shown(value: Any) -> str:
    """A value as the `command` of how_made shows it: paths as strings."""
    return repr(str(value) if isinstance(value, Path) else value)


def pretrain(config: PretrainConfig | None = None, **overrides: Any) -> dict[str, Any]:
    """Pretrain an image encoder, as `rlv pretrain` does: `config` (default PretrainConfig()) with
    `overrides` (robot=..., videos=..., out=..., updates=...); returns the encoder file's metadata
    (architecture, objectives, data, held-out scores, fingerprint)."""
    config = PretrainConfig() if config is None else config
    if not isinstance(config, PretrainConfig):
        raise RlvError(f"expected a PretrainConfig, got {type(config).__name__}")
    return pretrain_encoder(_replaced(config, overrides))


def write_dataset(
    path: str | Path,
    episodes: Iterable[Episode],
    meta: Mapping[str, Any] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write `episodes` as an observation dataset at `path` (atomically; docs/dataset_format.md).
    `meta` adds fields to meta.json (`env`, `domain`, `source`, ...); counts, shapes and the format
    are filled in. Returns `path`."""
    episodes = list(episodes)
    for index, episode in enumerate(episodes):
        if not isinstance(episode, Episode) or not isinstance(episode.obs, np.ndarray):
            raise RlvError(f"{path}: episode {index} must be an rlv.Episode with a numpy obs array")
    return write_dataset_files(Path(path), episodes, dict(meta or {}), overwrite)
