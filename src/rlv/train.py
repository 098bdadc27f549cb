"""The training loop, algorithm-agnostic: env steps, update schedule, evaluation, checkpoints, resume.

Run directory:
    config.json   resolved TrainConfig
    train.csv     every `log_every` env steps: counters, mean training return, mean update metrics
    eval.csv      every `eval_every` env steps: deterministic evaluation
    checkpoints/  resumable checkpoints (see rlv.checkpoint)
    replay/       the replay's chunk files, shared by the checkpoints (see rlv.data.replay_files)
    summary.json  written last: a run without it did not finish
    tb/           TensorBoard events (optional)

Exact resume: checkpoints are taken at episode boundaries, before the next reset, and hold every
RNG state (torch, exploration, replay and observation sampling, the env's reset generator), so a
resumed run repeats the uninterrupted one step for step on CPU.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from tqdm import tqdm

from rlv.agents import Agent, Streams, build_agent, method_options, method_spec
from rlv.checkpoint import (
    LOAD_ERRORS,
    STATE_FILE,
    load_newest,
    load_state,
    optimizer_mismatch,
    prune_checkpoints,
    remove_stale_temporaries,
    save_checkpoint,
    state_mismatch,
)
from rlv.config import TrainConfig, load_config, save_config
from rlv.data.dataset import load_dataset
from rlv.data.device import BatchSampler
from rlv.data.paired import PairedSampler, load_paired
from rlv.data.replay import ObservationSampler, ReplayBuffer, rng_state, set_rng_state
from rlv.data.replay_files import REPLAY_DIR, has_replay, load_replay, save_replay
from rlv.envs import make_env
from rlv.envs.factory import success_of
from rlv.errors import RlvError
from rlv.evaluate import evaluate
from rlv.files import make_dir_atomic, run_lock, write_text_atomic
from rlv.logger import CsvLog, MetricWindow, TensorBoard, truncate_csv
from rlv.observation import ObservationKind
from rlv.validation import check_compile, check_config, check_device

EVAL_COLUMNS = ["env_step", "grad_step", "eval/return", "eval/return_std", "eval/length", "eval/success"]
TRAIN_COLUMNS = [
    "env_step",
    "grad_step",
    "episodes",
    "wall_time",
    "train/sps",
    "train/episode_return",
    "train/episode_length",
    "train/episode_success",
]


@dataclass
class Counters:
    """Separately named counters; part of every checkpoint."""

    env_step: int = 0
    grad_step: int = 0
    episodes: int = 0


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


class Trainer:
    """Runs one training run in `config.out`; `run()` trains to `config.total_steps`."""

    def __init__(self, config: TrainConfig, setup: Setup) -> None:
        self.config, self.setup = config, setup
        self.run_dir = Path(config.out)
        self.counters = Counters()
        self.window = MetricWindow()
        self.episode_window = MetricWindow()
        self.last_eval: dict[str, float] = {}
        self.last_checkpoint_due = 0
        self.device = torch.device(config.device)

    # ----------------------------------------------------------------- state
    def state_dict(self, at_episode_boundary: bool) -> dict[str, Any]:
        env_rng = self.setup.env.unwrapped.np_random
        return {
            "agent": self.setup.agent.state_dict(),
            "counters": dataclasses.asdict(self.counters),
            "last_checkpoint_due": self.last_checkpoint_due,
            "at_episode_boundary": at_episode_boundary,
            "rng": {
                "torch": torch.get_rng_state(),
                "explore": rng_state(self.setup.explore_rng),
                "env": rng_state(env_rng),
                "observation": rng_state(self.setup.sampler.rng) if self.setup.sampler else "",
                "paired": rng_state(self.setup.paired.rng) if self.setup.paired else "",
            },
            "window": self.window.state_dict(),
            "episode_window": self.episode_window.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.setup.agent.load_state_dict(state["agent"])
        self.counters = Counters(**state["counters"])
        self.last_checkpoint_due = state["last_checkpoint_due"]
        torch.set_rng_state(state["rng"]["torch"])
        set_rng_state(self.setup.explore_rng, state["rng"]["explore"])
        set_rng_state(self.setup.env.unwrapped.np_random, state["rng"]["env"])
        if self.setup.sampler is not None:
            set_rng_state(self.setup.sampler.rng, state["rng"]["observation"])
        if self.setup.paired is not None:
            set_rng_state(self.setup.paired.rng, state["rng"]["paired"])
        self.window.load_state_dict(state["window"])
        self.episode_window.load_state_dict(state["episode_window"])

    def save(self, name: str, at_episode_boundary: bool) -> None:
        """Write checkpoint `name` (the replay as new chunks + a manifest), then prune old ones."""

        def write_replay(manifest: Path) -> None:
            save_replay(self.setup.replay, manifest, self.run_dir / REPLAY_DIR)

        writer = write_replay if self.config.save_replay else None
        save_checkpoint(self.run_dir / "checkpoints" / name, self.state_dict(at_episode_boundary), writer)
        prune_checkpoints(self.run_dir, self.config.keep_checkpoints)

    def resume(self) -> None:
        """Load the newest usable checkpoint (falling back past corrupt ones with a warning), then
        drop log rows written after it. Nothing in the run directory changes until a checkpoint
        has loaded and fits the requested total steps; a run with no checkpoint starts over."""
        loaded = load_newest(self.run_dir, self.load_checkpoint)
        if loaded is None:
            print(f"rlv: note: {self.run_dir} has no checkpoint yet; starting it over", file=sys.stderr)
        else:
            checkpoint, state = loaded
            if self.config.total_steps < self.counters.env_step:
                raise RlvError(
                    f"--total-steps {self.config.total_steps}: {checkpoint} is already at env step "
                    f"{self.counters.env_step}; give at least that many"
                )
            if not has_replay(checkpoint):
                tqdm.write(f"note: {checkpoint} has no replay; resuming with an empty replay (not exact)")
            if not state["at_episode_boundary"]:
                tqdm.write(f"note: {checkpoint} was taken mid-episode; the episode restarts (not exact)")
        remove_stale_temporaries(self.run_dir)
        for name in ("train.csv", "eval.csv"):
            truncate_csv(self.run_dir / name, self.counters.env_step)
        (self.run_dir / "summary.json").unlink(missing_ok=True)

    def load_checkpoint(self, checkpoint: Path) -> dict[str, Any]:
        """Load one checkpoint into this trainer (state, then replay); RlvError when it is damaged
        or does not fit this run."""
        state = load_state(checkpoint / STATE_FILE)
        try:
            problem = state_mismatch(self.state_dict(True), state)
            if problem is None:
                self.load_state_dict(state)
                problem = optimizer_mismatch(self.setup.agent)
        except LOAD_ERRORS as error:
            problem = f"{type(error).__name__}: {(str(error).splitlines() or [''])[0]}"
        if problem is not None:
            raise RlvError(f"{checkpoint / STATE_FILE}: does not fit this run ({problem})")
        if has_replay(checkpoint):
            load_replay(self.setup.replay, checkpoint, self.run_dir / REPLAY_DIR)
        return state

    # ------------------------------------------------------------------ loop
    def run(self) -> dict[str, Any]:
        config, setup, counters = self.config, self.setup, self.counters
        train_log = CsvLog(self.run_dir / "train.csv", TRAIN_COLUMNS + list(type(setup.agent).METRICS))
        eval_log = CsvLog(self.run_dir / "eval.csv", EVAL_COLUMNS)
        board = TensorBoard(self.run_dir / "tb") if config.tensorboard else None
        bar = tqdm(
            total=config.total_steps,
            initial=counters.env_step,
            disable=not config.progress,
            unit="step",
            dynamic_ncols=True,
        )
        start_time, start_step = time.perf_counter(), counters.env_step
        obs: np.ndarray | None = None
        episode_return, episode_length = 0.0, 0
        try:
            while counters.env_step < config.total_steps:
                if obs is None:
                    obs, _ = setup.env.reset()
                    episode_return, episode_length = 0.0, 0
                action = self.explore(obs)
                next_obs, reward, terminated, truncated, info = setup.env.step(action)
                setup.replay.add(obs, action, reward, next_obs, terminated)
                obs = next_obs
                counters.env_step += 1
                episode_return += float(reward)
                episode_length += 1
                if counters.env_step > config.random_steps:
                    for _ in range(config.updates_per_step):
                        self.window.add(self.update())
                        counters.grad_step += 1
                if terminated or truncated:
                    counters.episodes += 1
                    success = success_of(info)
                    self.episode_window.add(
                        {
                            "train/episode_return": episode_return,
                            "train/episode_length": float(episode_length),
                            "train/episode_success": success,
                        }
                    )
                    obs = None
                if counters.env_step % config.log_every == 0:
                    sps = (counters.env_step - start_step) / max(time.perf_counter() - start_time, 1e-9)
                    row = self.train_row(sps, time.perf_counter() - start_time)
                    train_log.write(row)
                    if board:
                        board.write(row, counters.env_step)
                if counters.env_step % config.eval_every == 0:
                    self.last_eval = self.run_eval()
                    eval_log.write(self.last_eval)
                    if board:
                        board.write(self.last_eval, counters.env_step)
                if obs is None and counters.env_step - self.last_checkpoint_due >= config.checkpoint_every:
                    self.last_checkpoint_due = counters.env_step - counters.env_step % config.checkpoint_every
                    self.save(f"step_{counters.env_step:09d}", at_episode_boundary=True)
                if counters.env_step % 100 == 0:
                    bar.update(counters.env_step - bar.n)
                    bar.set_postfix(self.postfix(start_time, start_step), refresh=False)
            bar.update(counters.env_step - bar.n)
        finally:
            bar.close()
            train_log.close()
            eval_log.close()
            if board:
                board.close()
        if not self.last_eval or self.last_eval["env_step"] != counters.env_step:
            self.last_eval = self.run_eval()
        self.save("final", at_episode_boundary=obs is None)
        summary = {
            "status": "finished",
            **dataclasses.asdict(counters),
            **self.last_eval,
            "wall_time_s": time.perf_counter() - start_time,
        }
        write_text_atomic(self.run_dir / "summary.json", json.dumps(summary, indent=2) + "\n")
        return summary

    def explore(self, obs: np.ndarray) -> np.ndarray:
        """Uniform random actions for the first `random_steps`, then a sample of the policy."""
        space = self.setup.env.action_space
        if self.counters.env_step < self.config.random_steps:
            return self.setup.explore_rng.uniform(space.low, space.high).astype(np.float32)
        return self.setup.agent.act(obs)

    def update(self) -> dict[str, float]:
        """One gradient step of the agent on fresh batches of the streams its method declared."""
        setup, streams = self.setup, self.setup.streams
        batches = setup.batches.sample(
            self.config.sac.batch_size, streams.obs_batch_size, streams.paired_batch_size
        )
        return setup.agent.update(batches)

    def run_eval(self) -> dict[str, float]:
        agent = self.setup.agent
        seed = 1_000_003 * (self.config.seed + 1) + self.counters.env_step
        metrics = evaluate(
            lambda o: agent.act(o, deterministic=True), self.setup.eval_env, self.config.eval_episodes, seed
        )
        return {"env_step": self.counters.env_step, "grad_step": self.counters.grad_step, **metrics}

    def train_row(self, sps: float, wall_time: float) -> dict[str, Any]:
        row = {
            "env_step": self.counters.env_step,
            "grad_step": self.counters.grad_step,
            "episodes": self.counters.episodes,
            "wall_time": wall_time,
            "train/sps": sps,
            **self.episode_window.means(),
            **self.window.means(),
        }
        self.window.reset()
        self.episode_window.reset()
        return row

    def postfix(self, start_time: float, start_step: int) -> dict[str, str]:
        sps = (self.counters.env_step - start_step) / max(time.perf_counter() - start_time, 1e-9)
        postfix = {"sps": f"{sps:.0f}"}
        if self.last_eval:
            postfix["eval_return"] = f"{self.last_eval['eval/return']:.1f}"
        return postfix


def train(config: TrainConfig) -> dict[str, Any]:
    """Start a new run in `config.out` (which must not exist) and train it. Every option is checked
    first (rlv.validation), then the environment and data; only then is the directory created."""
    check_config(config)
    check_device(config.device)
    check_compile(config.sac.compile, config.device)
    out = Path(config.out)
    exists = RlvError(f"{out}: run directory already exists (use --resume {out} or another --out)")
    if out.exists():
        raise exists
    setup = build(config)
    try:  # the directory appears with its config.json: a kill never leaves one that cannot resume
        make_dir_atomic(out, lambda staging: save_config(config, staging / "config.json"))
    except FileExistsError as error:  # another trainer created it meanwhile
        raise exists from error
    with run_lock(out):
        return Trainer(config, setup).run()


def resume(run: Path, total_steps: int | None = None, progress: bool = True) -> dict[str, Any]:
    """Continue the run in `run` from its newest usable checkpoint (optionally to a new
    `total_steps`); a run killed before its first checkpoint starts over. A refused resume (bad
    config.json, no usable checkpoint, fewer total steps than done) changes nothing on disk."""
    run = Path(run)
    if not run.is_dir():
        raise RlvError(f"{run}: no such run directory to resume")
    config = load_config(run / "config.json")
    if total_steps is not None and (type(total_steps) is not int or total_steps < 1):
        raise RlvError(f"--total-steps: must be at least 1, got {total_steps}")
    check_device(config.device, f"{run / 'config.json'}: device")
    check_compile(config.sac.compile, config.device, f"{run / 'config.json'}: sac.compile")
    changes: dict[str, Any] = {"out": run, "progress": progress}
    if total_steps is not None:
        changes["total_steps"] = total_steps
    config = dataclasses.replace(config, **changes)
    trainer = Trainer(config, build(config))
    with run_lock(run):
        trainer.resume()
        save_config(config, run / "config.json")
        return trainer.run()
