"""What a training run is made of, built and checked before its run directory is touched: the
environments, the method's agent, the robot replay and the data streams the method declares."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from rlv.config import TrainConfig
from rlv.data.dataset import Dataset, load_dataset
from rlv.data.device import BatchSampler
from rlv.data.paired import PairedSampler, load_paired
from rlv.data.replay import ObservationSampler, ReplayBuffer
from rlv.encoders import EncoderFile, check_frames, encode_dataset, feature_env, run_encoder
from rlv.envs import make_env
from rlv.errors import RlvError, warn
from rlv.methods import Agent, Streams, build_agent, method_options, method_spec
from rlv.observation import ObservationKind


@dataclass
class Setup:
    """Everything a run needs, built and validated before its directory is touched: the streams
    its method declares (robot replay always; observation, paired and inverse-model samplers when
    declared)."""

    env: gym.Env
    eval_env: gym.Env
    agent: Agent
    replay: ReplayBuffer
    sampler: ObservationSampler | None
    explore_rng: np.random.Generator
    batches: BatchSampler
    """Draws each update's batches from replay, sampler and paired (on the device with a GPU)."""
    paired: PairedSampler | None = None
    streams: Streams = dataclasses.field(default_factory=Streams)
    encoder_file: EncoderFile | None = None
    """The pretrained encoder file the run uses (--encoder), if any."""
    inverse: ObservationSampler | None = None
    """Robot transitions with actions for the inverse model, when the method declares them."""


def build(config: TrainConfig, run: Path | None = None) -> Setup:
    """Validate the config against env and data, seed everything, build the method's agent and the
    data streams it declares. `run`: the directory of a run being resumed (its encoder record)."""
    encoder_file = run_encoder(config, run)
    env, eval_env = (run_env(config, seed, encoder_file) for seed in (config.seed, config.seed + 1))
    obs = observation_kind(env, config, encoder_file)
    obs.check_options(config.sac, config.env)
    spec, options = method_spec(config.algo), method_options(config)
    streams = spec.streams(options)
    frozen = encoder_file if config.encoder_mode == "frozen" else None
    env_dtype = np.dtype(env.observation_space.dtype)
    sampler = None
    if streams.observations is not None:
        sampler = observation_sampler(streams, obs, config, frozen, env_dtype)
    env_label = config.env if frozen is None else f"{config.env} with a frozen --encoder"
    spec.check(options, obs, sampler, env_label)
    paired = paired_sampler(streams, obs, config) if streams.paired is not None else None
    inverse = None
    if streams.inverse_data is not None:
        inverse = inverse_sampler(
            streams.inverse_data, obs, config, frozen, env_dtype, env.action_space.shape
        )
    torch.manual_seed(config.seed)
    torch.set_num_threads(config.threads)
    act_dim = env.action_space.shape[0]
    agent = build_agent(config, obs, act_dim, sampler is not None and sampler.true_action is not None)
    replay = ReplayBuffer(obs.shape, act_dim, config.replay_size, config.seed + 2, obs.dtype)
    explore_rng = np.random.default_rng(config.seed + 4)
    device = torch.device(config.device)
    on_device = config.sample_on_device and device.type != "cpu"
    batches = BatchSampler(replay, sampler, paired, device, on_device, inverse)
    return Setup(
        env, eval_env, agent, replay, sampler, explore_rng, batches, paired, streams, encoder_file, inverse
    )


def run_env(config: TrainConfig, seed: int, encoder_file: EncoderFile | None) -> gym.Env:
    """The env a run acts in: `config.env` seeded with `seed`; with a frozen encoder, its features."""
    env = make_env(config.env, seed, config.horizon, config.domain)
    if encoder_file is not None and not ObservationKind.of_space(env.observation_space, config.env).image:
        raise RlvError(
            f"--encoder: environment {config.env!r} has state observations; an image encoder needs frames"
        )
    return feature_env(env, encoder_file, config.encoder_mode, f"--env {config.env}")


def observation_kind(env: gym.Env, config: TrainConfig, encoder_file: EncoderFile | None) -> ObservationKind:
    """The run's observations (a frozen encoder's features are vectors); to finetune, the image
    encoder starts from the file's weights, whose architecture must be the run's."""
    obs = ObservationKind.of_space(env.observation_space, config.env)
    if encoder_file is None or config.encoder_mode != "finetune":
        return obs
    made = encoder_file.architecture
    sac = config.sac
    wanted = {"channels": list(sac.conv_channels), "kernel": sac.conv_kernel, "feature_dim": sac.feature_dim}
    if {key: made.get(key) for key in wanted} != wanted:
        raise RlvError(
            f"--encoder {encoder_file.path}: made with conv channels {made['channels']}, kernel "
            f"{made['kernel']} and feature dim {made.get('feature_dim')}; give --sac.conv-channels, "
            "--sac.conv-kernel and --sac.feature-dim to match it to finetune"
        )
    check_frames(encoder_file, obs.shape, f"--env {config.env}")
    return dataclasses.replace(obs, initial_encoder=encoder_file.encoder.state_dict())


def observation_sampler(
    streams: Streams,
    obs: ObservationKind,
    config: TrainConfig,
    frozen: EncoderFile | None = None,
    env_dtype: np.dtype | None = None,
) -> ObservationSampler:
    """The declared observation dataset, checked against the env's observations (`env_dtype`: the
    env's own observation dtype); with a frozen encoder, its frames are checked against the
    encoder's and replaced by their features."""
    assert streams.observations is not None
    dataset = checked_dataset(streams.observations, streams.max_episodes, obs, config, frozen, env_dtype)
    return ObservationSampler(dataset, seed=config.seed + 3, timelimit_done=streams.timelimit_done)


def inverse_sampler(
    path: Path,
    obs: ObservationKind,
    config: TrainConfig,
    frozen: EncoderFile | None,
    env_dtype: np.dtype,
    action_shape: tuple[int, ...],
) -> ObservationSampler:
    """The declared robot transitions for the inverse model, checked like an observation dataset;
    every episode must keep its actions, as wide as the env's."""
    dataset = checked_dataset(path, None, obs, config, frozen, env_dtype)
    for index, episode in enumerate(dataset.episodes):
        if episode.true_actions is None:
            raise RlvError(f"{path}: episode {index} has no actions; the inverse model's data needs them")
        if episode.true_actions.shape[1:] != action_shape:
            raise RlvError(
                f"{path}: actions have shape {episode.true_actions.shape[1:]}, "
                f"but {config.env} actions have shape {action_shape}"
            )
    return ObservationSampler(dataset, seed=config.seed + 6)


def checked_dataset(
    path: Path,
    max_episodes: int | None,
    obs: ObservationKind,
    config: TrainConfig,
    frozen: EncoderFile | None,
    env_dtype: np.dtype | None,
) -> Dataset:
    """The dataset at `path` (its first `max_episodes`), checked against the env's observations;
    with a frozen encoder, its frames are checked against the encoder's and replaced by their
    features."""
    dataset = load_dataset(path, max_episodes)
    meta = dataset.meta
    if frozen is not None:
        if dataset.meta["obs_dtype"] != "uint8":
            raise RlvError(f"{path}: a frozen --encoder needs uint8 frames, not {dataset.meta['obs_dtype']}")
        check_frames(frozen, dataset.obs_shape, str(path))
        dataset = encode_dataset(frozen.encoder, dataset)
    if dataset.obs_shape != obs.shape:
        raise RlvError(
            f"{path}: observations have shape {dataset.obs_shape}, "
            f"but {config.env} observations have shape {obs.shape}"
        )
    if obs.image and dataset.meta["obs_dtype"] != "uint8":
        raise RlvError(f"{path}: image observations must be uint8, not {dataset.meta['obs_dtype']}")
    warn_other_env(path, meta, config.env, "dataset")
    check_vector_dtype(dataset, obs, np.dtype(obs.dtype) if env_dtype is None else env_dtype, config.env)
    return dataset


def warn_other_env(path: Path, meta: dict[str, Any], env: str, what: str) -> None:
    """Warn when the data's meta.json names an env other than the run's `env`: its observations fit
    (checked elsewhere), but it may be another task's. Data that names no env (imported videos)
    passes silently."""
    made_for = meta.get("env")
    if isinstance(made_for, str) and made_for and made_for != env:
        warn(
            f"{path}: {what} made for env {made_for!r} (its meta.json), but this run trains on --env "
            f"{env!r}; its observations have the same shape, so it is used: check that it is the data "
            "you meant"
        )


def check_vector_dtype(dataset: Dataset, obs: ObservationKind, env_dtype: np.dtype, env: str) -> None:
    """Vector observations are stored and learned on as `obs.dtype` (float32). A dataset of another
    dtype than that and than the env's own (float64 for a float32 env) is converted, with a warning
    naming both dtypes; values that float32 cannot hold (they would become inf) are an RlvError."""
    stored, kept = np.dtype(dataset.meta["obs_dtype"]), np.dtype(obs.dtype)
    if obs.image or stored in (kept, env_dtype):
        return
    if np.issubdtype(stored, np.floating) and stored.itemsize > kept.itemsize:
        largest = max(float(np.abs(episode.obs).max()) for episode in dataset.episodes)
        limit = float(np.finfo(kept).max)
        if largest > limit:
            raise RlvError(
                f"{dataset.path}: {stored} observations reach {largest:g}, beyond the largest {kept} "
                f"({limit:g}) that the run stores them as"
            )
    warn(
        f"{dataset.path}: observations are {stored}, but {env!r} observations are {env_dtype}; they are "
        f"converted to {kept} (as the run stores observations)"
    )


def paired_sampler(streams: Streams, obs: ObservationKind, config: TrainConfig) -> PairedSampler:
    """The declared paired frames, checked against the env's observations."""
    assert streams.paired is not None
    frames = load_paired(streams.paired)
    if tuple(frames.robot.shape[1:]) != obs.shape:
        raise RlvError(
            f"{streams.paired}: paired frames have shape {frames.robot.shape[1:]}, "
            f"but {config.env} observations have shape {obs.shape}"
        )
    warn_other_env(streams.paired, frames.meta, config.env, "paired frames")
    return PairedSampler(frames, seed=config.seed + 5)
