"""`rlv collect --policy RUN`: observation datasets from a trained run's policy, with noise.

The run's agent is rebuilt from its config.json and a checkpoint exactly as `rlv eval` does
(`rlv.evaluate.load_run_agent`). It acts with its deterministic action tanh(mu(s)) (or a sample of
the policy with `--sample-actions`), replaced by a uniform random action with probability `noise`,
as the scripted experts are; a target return or success rate calibrates that noise the same way.
The policy always acts on the frames of the domain it was trained on; a dataset in another domain
(`--domain human` on an image task) replays each episode's actions from the same reset seed in
that domain's rendering, so the videos show the states the policy visited.
"""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import torch

from rlv.collect.experts import collect_expert, episode_seed, replay_actions
from rlv.collect.options import CollectArgs, collected_line, collected_meta
from rlv.config import TrainConfig
from rlv.data.dataset import write_dataset
from rlv.encoders import feature_env, run_encoder
from rlv.envs import make_env
from rlv.errors import RlvError
from rlv.evaluate import load_run_agent
from rlv.methods import Agent
from rlv.methods.registry import load_config
from rlv.observation import stored_dtype
from rlv.validation import check_device


class NoisyRunPolicy:
    """A trained agent that takes a uniform random action (over the env's action box) with
    probability `noise`; otherwise its deterministic action, or a sample when `sample` is set."""

    def __init__(self, agent: Agent, noise: float, rng: np.random.Generator, sample: bool) -> None:
        self.agent, self.noise, self.rng, self.sample = agent, noise, rng, sample

    def __call__(self, env: gym.Env, obs: np.ndarray) -> np.ndarray:
        if self.rng.random() < self.noise:
            space = env.action_space
            return self.rng.uniform(space.low, space.high).astype(np.float32)
        return np.asarray(self.agent.act(obs, deterministic=not self.sample), dtype=np.float32)


def check_fits(env: gym.Env, run_env: gym.Env, env_name: str, run: Path, run_env_name: str) -> None:
    """A policy trained on `run_env` acts in `env` only when observations and actions have its shapes."""
    shapes = [(e.observation_space.shape, e.action_space.shape) for e in (env, run_env)]
    if shapes[0] != shapes[1]:
        raise RlvError(
            f"--env {env_name}: the policy of {run} (trained on {run_env_name}) cannot act in it: "
            f"(observation, action) shapes {shapes[0]}, the policy's {shapes[1]}"
        )


def acting_envs(
    args: CollectArgs,
    config: TrainConfig,
    run: Path,
    env_name: str,
    horizon: int | None,
    acting_domain: str,
    domain: str,
) -> tuple[gym.Env, gym.Env | None]:
    """The env the run's policy acts in (a frozen encoder's features when the run has one) and,
    when the dataset must record other frames than it acts on (another domain, or features), the
    env that replays its actions in the frames to record."""
    encoder_file = run_encoder(config, run)

    def acting(name: str, seed: int, steps: int | None, visual: str) -> gym.Env:
        return feature_env(
            make_env(name, seed, steps, visual), encoder_file, config.encoder_mode, f"--policy {run}"
        )

    env = acting(env_name, args.seed, horizon, acting_domain)
    if env_name != config.env:
        check_fits(
            env, acting(config.env, config.seed, config.horizon, config.domain), env_name, run, config.env
        )
    frozen = encoder_file is not None and config.encoder_mode == "frozen"
    records_frames = domain != acting_domain or frozen  # a frozen run acts on features: record frames
    return env, make_env(env_name, args.seed, horizon, domain) if records_frames else None


def collect_with_run(args: CollectArgs, command: str) -> str:
    """`rlv collect --policy RUN`: roll out the run's policy in its environment (or `--env`),
    record the frames in `--domain`, write the dataset atomically; returns the line to print."""
    run = Path(args.policy)
    if not run.is_dir():
        raise RlvError(f"--policy {args.policy}: neither expert, random nor a run directory")
    if args.paired is not None:
        raise RlvError("--paired rolls out the task's scripted expert; it does not take --policy RUN")
    targets = [t for t in (args.quality, args.success_rate, args.noise) if t is not None]
    if len(targets) > 1:
        raise RlvError("give at most one of --quality R, --success-rate P or --noise P")
    config = load_config(run / "config.json")
    check_device(config.device, f"{run / 'config.json'}: device")
    env_name = args.env or config.env
    own_env = env_name == config.env
    acting_domain = config.domain if own_env else "robot"
    domain = args.domain or acting_domain
    horizon = config.horizon if own_env else None
    env, recording_env = acting_envs(args, config, run, env_name, horizon, acting_domain, domain)
    agent, checkpoint = load_run_agent(run, config, env, args.checkpoint)
    torch.manual_seed(args.seed)
    torch.set_num_threads(config.threads)

    def make_policy(noise: float, rng: np.random.Generator) -> NoisyRunPolicy:
        return NoisyRunPolicy(agent, noise, rng, args.sample_actions)

    quality = "success" if args.success_rate is not None else "return"
    target = args.success_rate if args.success_rate is not None else args.quality
    noise = args.noise if args.noise is not None or target is not None else 0.0
    result = collect_expert(
        env, make_policy, args.episodes, args.seed, target, noise, quality, progress=args.progress
    )
    if recording_env is not None:
        for index, episode in enumerate(result.episodes):
            frames = replay_actions(recording_env, episode.true_actions, episode_seed(args.seed, index))
            episode.obs = frames.astype(stored_dtype(frames.dtype))
    how_made = {
        "policy": str(run),
        "checkpoint": str(checkpoint),
        "algo": config.algo,
        "acting_domain": acting_domain,
        "actions": "sampled" if args.sample_actions else "deterministic tanh(mean)",
        "seed": args.seed,
        "command": command,
    }
    meta = collected_meta(args, result, env_name, domain, how_made)
    write_dataset(args.out, result.episodes, meta, overwrite=args.overwrite)
    return collected_line(args, result, domain) + f", policy {checkpoint}"
