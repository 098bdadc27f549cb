"""What a training run is made of, built and checked before its run directory is touched: the
environments, the method's agent, the robot replay and the data streams the method declares."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import torch

from rlv.config import TrainConfig
from rlv.data.dataset import load_dataset
from rlv.data.device import BatchSampler
from rlv.data.paired import PairedSampler, load_paired
from rlv.data.replay import ObservationSampler, ReplayBuffer
from rlv.envs import make_env
from rlv.errors import RlvError
from rlv.methods import Agent, Streams, build_agent, method_options, method_spec
from rlv.observation import ObservationKind


@dataclass
class Setup:
    """Everything a run needs, built and validated before its directory is touched: the streams
    its method declares (robot replay always; observation and paired samplers when declared)."""

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


def build(config: TrainConfig) -> Setup:
    """Validate the config against env and data, seed everything, build the method's agent and the
    data streams it declares."""
    env = make_env(config.env, config.seed, config.horizon, config.domain)
    eval_env = make_env(config.env, config.seed + 1, config.horizon, config.domain)
    obs = ObservationKind.of_space(env.observation_space, config.env)
    obs.check_options(config.sac, config.env)
    spec, options = method_spec(config.algo), method_options(config)
    streams = spec.streams(options)
    sampler = observation_sampler(streams, obs, config) if streams.observations is not None else None
    spec.check(options, obs, sampler, config.env)
    paired = paired_sampler(streams, obs, config) if streams.paired is not None else None
    torch.manual_seed(config.seed)
    torch.set_num_threads(config.threads)
    act_dim = env.action_space.shape[0]
    agent = build_agent(config, obs, act_dim)
    replay = ReplayBuffer(obs.shape, act_dim, config.replay_size, config.seed + 2, obs.dtype)
    explore_rng = np.random.default_rng(config.seed + 4)
    device = torch.device(config.device)
    on_device = config.sample_on_device and device.type != "cpu"
    batches = BatchSampler(replay, sampler, paired, device, on_device)
    return Setup(env, eval_env, agent, replay, sampler, explore_rng, batches, paired, streams)


def observation_sampler(streams: Streams, obs: ObservationKind, config: TrainConfig) -> ObservationSampler:
    """The declared observation dataset, checked against the env's observations."""
    assert streams.observations is not None
    dataset = load_dataset(streams.observations, streams.max_episodes)
    if dataset.obs_shape != obs.shape:
        raise RlvError(
            f"{streams.observations}: observations have shape {dataset.obs_shape}, "
            f"but {config.env} observations have shape {obs.shape}"
        )
    if obs.image and dataset.meta["obs_dtype"] != "uint8":
        raise RlvError(
            f"{streams.observations}: image observations must be uint8, not {dataset.meta['obs_dtype']}"
        )
    return ObservationSampler(dataset, seed=config.seed + 3, timelimit_done=streams.timelimit_done)


def paired_sampler(streams: Streams, obs: ObservationKind, config: TrainConfig) -> PairedSampler:
    """The declared paired frames, checked against the env's observations."""
    assert streams.paired is not None
    frames = load_paired(streams.paired)
    if tuple(frames.robot.shape[1:]) != obs.shape:
        raise RlvError(
            f"{streams.paired}: paired frames have shape {frames.robot.shape[1:]}, "
            f"but {config.env} observations have shape {obs.shape}"
        )
    return PairedSampler(frames, seed=config.seed + 5)
