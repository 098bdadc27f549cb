"""The training loop, algorithm-agnostic: env steps, update schedule, evaluation, checkpoints, resume.

Run directory:
    config.json   resolved TrainConfig
    train.csv     every `log_every` env steps: counters, mean training return, mean update metrics
    eval.csv      every `eval_every` env steps: deterministic evaluation
    checkpoints/  resumable checkpoints (see rlv.checkpoint)
    replay/       the replay's chunk files, shared by the checkpoints (see rlv.data.replay_files)
    encoder.json  with --encoder: the encoder file it uses (path, fingerprint, what made it)
    summary.json  written last: a run without it did not finish
    tb/           TensorBoard events (optional)
    wandb.json    with --wandb: the W&B run id a resume continues; wandb/ its offline files

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

import numpy as np
import torch
from tqdm import tqdm

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
from rlv.config import TrainConfig, save_config
from rlv.data.replay import rng_state, set_rng_state
from rlv.data.replay_files import REPLAY_DIR, has_replay, load_replay, save_replay
from rlv.encoders import record_encoder
from rlv.envs.factory import success_of
from rlv.errors import RlvError
from rlv.evaluate import evaluate
from rlv.files import make_dir_atomic, run_lock, write_text_atomic
from rlv.logger import MetricWindow, RunLogs, check_wandb, truncate_csv
from rlv.methods import Agent
from rlv.methods.registry import check_config, load_config
from rlv.run_setup import Setup, build
from rlv.validation import check_compile, check_device


@dataclass
class Counters:
    """Separately named counters; part of every checkpoint."""

    env_step: int = 0
    grad_step: int = 0
    episodes: int = 0


@dataclass
class EpisodeInProgress:
    """The episode the trainer is in: its last observation (None at an episode boundary: the next
    step resets), return and length so far."""

    obs: np.ndarray | None = None
    episode_return: float = 0.0
    length: int = 0


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
        rng = {
            "torch": torch.get_rng_state(),
            "explore": rng_state(self.setup.explore_rng),
            "env": rng_state(self.setup.env.unwrapped.np_random),
            "observation": rng_state(self.setup.sampler.rng) if self.setup.sampler else "",
            "paired": rng_state(self.setup.paired.rng) if self.setup.paired else "",
        }
        if self.setup.inverse is not None:  # only then: the checkpoints of other runs keep their keys
            rng["inverse"] = rng_state(self.setup.inverse.rng)
        return {
            "agent": self.setup.agent.state_dict(),
            "counters": dataclasses.asdict(self.counters),
            "last_checkpoint_due": self.last_checkpoint_due,
            "at_episode_boundary": at_episode_boundary,
            "rng": rng,
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
        if self.setup.inverse is not None:
            set_rng_state(self.setup.inverse.rng, state["rng"]["inverse"])
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
        """Train to `config.total_steps`: act, store, update, log, evaluate, checkpoint; then the
        final evaluation, checkpoint and summary.json."""
        config, counters = self.config, self.counters
        logs = RunLogs(self.run_dir, metric_columns(self.setup.agent), config, counters.env_step)
        episode = EpisodeInProgress()
        try:
            while counters.env_step < config.total_steps:
                self.env_step(episode)
                self.after_env_step(episode, logs)
            logs.bar.update(counters.env_step - logs.bar.n)
        finally:
            logs.close()
        return self.finish(at_episode_boundary=episode.obs is None, start_time=logs.start_time)

    def env_step(self, episode: EpisodeInProgress) -> None:
        """One env step (a reset first at an episode boundary), stored in the replay, then the
        gradient steps once past `random_steps`; an episode end goes to the episode window."""
        setup, counters = self.setup, self.counters
        if episode.obs is None:
            episode.obs, _ = setup.env.reset()
            episode.episode_return, episode.length = 0.0, 0
        action = self.explore(episode.obs)
        next_obs, reward, terminated, truncated, info = setup.env.step(action)
        setup.replay.add(episode.obs, action, reward, next_obs, terminated)
        episode.obs = next_obs
        counters.env_step += 1
        episode.episode_return += float(reward)
        episode.length += 1
        if counters.env_step > self.config.random_steps:
            for _ in range(self.config.updates_per_step):
                self.window.add(self.update())
                counters.grad_step += 1
        if terminated or truncated:
            counters.episodes += 1
            self.episode_window.add(
                {
                    "train/episode_return": episode.episode_return,
                    "train/episode_length": float(episode.length),
                    "train/episode_success": success_of(info),
                }
            )
            episode.obs = None

    def after_env_step(self, episode: EpisodeInProgress, logs: RunLogs) -> None:
        """What is due at this env step: a train.csv row, an evaluation, a checkpoint (only at an
        episode boundary), the progress bar."""
        config, counters = self.config, self.counters
        if counters.env_step % config.log_every == 0:
            elapsed = time.perf_counter() - logs.start_time
            sps = (counters.env_step - logs.start_step) / max(elapsed, 1e-9)
            logs.write_train(self.train_row(sps, elapsed), counters.env_step)
        if counters.env_step % config.eval_every == 0:
            self.last_eval = self.run_eval()
            logs.write_eval(self.last_eval, counters.env_step)
        if episode.obs is None and counters.env_step - self.last_checkpoint_due >= config.checkpoint_every:
            self.last_checkpoint_due = counters.env_step - counters.env_step % config.checkpoint_every
            self.save(f"step_{counters.env_step:09d}", at_episode_boundary=True)
        if counters.env_step % 100 == 0:
            logs.bar.update(counters.env_step - logs.bar.n)
            logs.bar.set_postfix(self.postfix(logs.start_time, logs.start_step), refresh=False)

    def finish(self, at_episode_boundary: bool, start_time: float) -> dict[str, Any]:
        """The final evaluation (unless one ran at this step), the final checkpoint and summary.json."""
        counters = self.counters
        if not self.last_eval or self.last_eval["env_step"] != counters.env_step:
            self.last_eval = self.run_eval()
        self.save("final", at_episode_boundary=at_episode_boundary)
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
            self.config.sac.batch_size,
            streams.obs_batch_size,
            streams.paired_batch_size,
            streams.inverse_batch_size,
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


def metric_columns(agent: Agent) -> list[str]:
    """train.csv's metric columns, decided when a run starts (a resumed run keeps its file's
    header): the metrics this agent can fill, in its order. An agent whose options leave some of its
    method's metrics empty (no discriminator, no paired frames) narrows METRICS on itself; the class's
    METRICS is every metric of the method."""
    return list(dict.fromkeys(agent.METRICS))


def train(config: TrainConfig) -> dict[str, Any]:
    """Start a new run in `config.out` (which must not exist) and train it. Every option is checked
    first (rlv.validation), then the environment and data; only then is the directory created."""
    check_config(config)
    check_device(config.device)
    check_compile(config.sac.compile, config.device)
    check_wandb(config)
    out = Path(config.out)
    exists = RlvError(f"{out}: run directory already exists (use --resume {out} or another --out)")
    if out.exists():
        raise exists
    setup = build(config)

    def fill(staging: Path) -> None:
        save_config(config, staging / "config.json")
        if setup.encoder_file is not None:
            record_encoder(staging, setup.encoder_file, config.encoder_mode)

    try:  # the directory appears with its config.json: a kill never leaves one that cannot resume
        make_dir_atomic(out, fill)
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
    check_wandb(config)
    changes: dict[str, Any] = {"out": run, "progress": progress}
    if total_steps is not None:
        changes["total_steps"] = total_steps
    config = dataclasses.replace(config, **changes)
    trainer = Trainer(config, build(config, run))
    with run_lock(run):
        trainer.resume()
        save_config(config, run / "config.json")
        return trainer.run()
