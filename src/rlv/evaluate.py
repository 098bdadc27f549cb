"""Deterministic evaluation of a policy (actions tanh(mu(s))) on freshly seeded episodes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch

from rlv.checkpoint import LOAD_ERRORS, STATE_FILE, load_newest, load_state, state_mismatch
from rlv.config import TrainConfig
from rlv.data.tools import VIDEO_CODECS, write_video
from rlv.encoders import feature_env, run_encoder
from rlv.envs import make_env
from rlv.envs.factory import success_of
from rlv.errors import RlvError
from rlv.methods import Agent, build_agent
from rlv.methods.registry import load_config
from rlv.observation import ObservationKind
from rlv.validation import MAX_SEED, check_device


def evaluate(
    act: Callable[[np.ndarray], np.ndarray],
    env: gym.Env,
    episodes: int,
    seed: int,
    frames: list[list[np.ndarray]] | None = None,
) -> dict[str, float]:
    """Run `episodes` episodes with `act`, each reset with seed `seed + i`.

    Returns eval/return (mean), eval/return_std, eval/length and eval/success (mean of the
    environment's success flag at the last step; NaN when the env reports none). With `frames`,
    appends each episode's rendered frames (T+1, H, W, 3) to it.
    """
    returns, lengths, successes = [], [], []
    for index in range(episodes):
        obs, _ = env.reset(seed=seed + index)
        total, length = 0.0, 0
        episode_frames = [env.render()] if frames is not None else []
        while True:
            obs, reward, terminated, truncated, info = env.step(act(obs))
            if frames is not None:
                episode_frames.append(env.render())
            total += float(reward)
            length += 1
            if terminated or truncated:
                break
        returns.append(total)
        lengths.append(length)
        successes.append(success_of(info))
        if frames is not None:
            frames.append(episode_frames)
    success = float(np.mean(successes)) if not np.isnan(successes).any() else float("nan")
    return {
        "eval/return": float(np.mean(returns)),
        "eval/return_std": float(np.std(returns)),
        "eval/length": float(np.mean(lengths)),
        "eval/success": success,
    }


def load_run_agent(
    run: Path, config: TrainConfig, env: gym.Env, checkpoint: Path | None = None
) -> tuple[Agent, Path]:
    """The agent of run directory `run` (its `config`), built for `env`'s observations and actions,
    with the weights of `checkpoint` (default: the newest usable one), and that checkpoint. A
    checkpoint that does not fit (another env's shapes, a damaged file) is one RlvError."""
    obs = ObservationKind.of_space(env.observation_space, config.env)
    agent = build_agent(config, obs, env.action_space.shape[0])

    def load(path: Path) -> None:
        state = load_state(path / STATE_FILE)
        try:
            problem = state_mismatch(agent.state_dict(), state.get("agent"), "agent")
            if problem is None:
                agent.load_state_dict(state["agent"])
        except LOAD_ERRORS as error:
            problem = f"{type(error).__name__}: {(str(error).splitlines() or [''])[0]}"
        if problem is not None:
            raise RlvError(f"{path / STATE_FILE}: does not fit this run ({problem})")

    if checkpoint is not None:
        load(Path(checkpoint))
        return agent, Path(checkpoint)
    loaded = load_newest(run, load)
    if loaded is None:
        raise RlvError(f"{run}: no checkpoint to load the policy from")
    return agent, loaded[0]


def evaluate_run(
    run: Path, episodes: int, seed: int, checkpoint: Path | None = None, video: Path | None = None
) -> dict[str, float]:
    """Evaluate the newest usable (or the given) checkpoint of a run directory; with `video`, also
    write the evaluation episodes as a video (.gif, .mp4 or .webm). Options, the run's config and
    whether the env renders are checked before any episode runs."""
    if episodes < 1:
        raise RlvError(f"--episodes: must be at least 1, got {episodes}")
    if not 0 <= seed <= MAX_SEED:
        raise RlvError(f"--seed: must be in [0, {MAX_SEED}], got {seed}")
    if video and Path(video).suffix.lower() not in VIDEO_CODECS:
        raise RlvError(f"{video}: unsupported video type; use one of {', '.join(VIDEO_CODECS)}")
    config = load_config(run / "config.json")
    check_device(config.device, f"{run / 'config.json'}: device")
    env = feature_env(
        make_env(config.env, seed, config.horizon, config.domain),
        run_encoder(config, run),
        config.encoder_mode,
        f"{run / 'config.json'}: env",
    )
    if video and getattr(env, "render_mode", None) is None:
        raise RlvError(f"--video: environment {config.env!r} does not render frames; no video for it")
    agent, checkpoint = load_run_agent(run, config, env, checkpoint)
    torch.set_num_threads(config.threads)
    frames: list[list[np.ndarray]] | None = [] if video else None
    if video and env.render() is None:
        raise RlvError(f"--video: environment {config.env!r} does not render frames; no video for it")
    metrics = evaluate(lambda obs: agent.act(obs, deterministic=True), env, episodes, seed, frames)
    result = metrics | {"checkpoint": str(checkpoint)}
    if video and frames:
        hold = [episode + [episode[-1]] * 5 for episode in frames]  # pause on each episode's end
        result["video"] = str(write_video(np.concatenate([np.asarray(e) for e in hold]), video))
    return result
