"""Deterministic evaluation of a policy (actions tanh(mu(s))) on freshly seeded episodes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from rlv.checkpoint import LOAD_ERRORS, STATE_FILE, load_newest, load_state, state_mismatch
from rlv.config import TrainConfig
from rlv.data.tools import VIDEO_CODECS, write_video
from rlv.encoders import feature_env, run_encoder
from rlv.envs import make_env
from rlv.envs.factory import success_of
from rlv.errors import RlvError
from rlv.methods import Agent, build_agent
from rlv.methods.registry import load_config
from rlv.observation import ObservationKind, is_image
from rlv.validation import MAX_SEED, check_device


@dataclass
class EpisodeClip:
    """One evaluation episode as a video: its frames (T+1, after the reset and after each step),
    and at each frame the return so far and the env's success flag so far (NaN: not reported)."""

    frames: list[np.ndarray] = field(default_factory=list)
    returns: list[float] = field(default_factory=list)
    successes: list[float] = field(default_factory=list)

    def add(self, frame: np.ndarray, episode_return: float, success: float) -> None:
        self.frames.append(frame)
        self.returns.append(episode_return)
        self.successes.append(success)


def evaluate(
    act: Callable[[np.ndarray], np.ndarray],
    env: gym.Env,
    episodes: int,
    seed: int,
    clips: list[EpisodeClip] | None = None,
) -> dict[str, float]:
    """Run `episodes` episodes with `act`, each reset with seed `seed + i`.

    Returns eval/return (mean), eval/return_std, eval/length and eval/success (mean of the
    environment's success flag at the last step; NaN when the env reports none). With `clips`,
    appends each episode's rendered frames (T+1 of them) with its return and success so far.
    """
    returns, lengths, successes = [], [], []
    for index in range(episodes):
        obs, _ = env.reset(seed=seed + index)
        total, length = 0.0, 0
        clip = EpisodeClip() if clips is not None else None
        if clip is not None:
            clip.add(env.render(), total, float("nan"))
        while True:
            obs, reward, terminated, truncated, info = env.step(act(obs))
            total += float(reward)
            length += 1
            if clip is not None:
                clip.add(env.render(), total, success_of(info))
            if terminated or truncated:
                break
        returns.append(total)
        lengths.append(length)
        successes.append(success_of(info))
        if clips is not None and clip is not None:
            clips.append(clip)
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
    write the evaluation episodes as a video (.gif, .mp4 or .webm) with a caption on every frame.
    Options, the run's config and whether the env gives frames are checked before any episode runs."""
    if episodes < 1:
        raise RlvError(f"--episodes: must be at least 1, got {episodes}")
    if not 0 <= seed <= MAX_SEED:
        raise RlvError(f"--seed: must be in [0, {MAX_SEED}], got {seed}")
    if video and Path(video).suffix.lower() not in VIDEO_CODECS:
        raise RlvError(f"{video}: unsupported video type; use one of {', '.join(VIDEO_CODECS)}")
    config = load_config(run / "config.json")
    check_device(config.device, f"{run / 'config.json'}: device")
    env = make_env(config.env, seed, config.horizon, config.domain)
    if video:
        env = video_env(env, config, seed)
    env = feature_env(env, run_encoder(config, run), config.encoder_mode, f"{run / 'config.json'}: env")
    agent, checkpoint = load_run_agent(run, config, env, checkpoint)
    torch.set_num_threads(config.threads)
    clips: list[EpisodeClip] | None = [] if video else None
    metrics = evaluate(lambda obs: agent.act(obs, deterministic=True), env, episodes, seed, clips)
    result = metrics | {"checkpoint": str(checkpoint)}
    if video and clips:
        result["video"] = str(write_video(video_frames(clips), video, scale=1))
    return result


NO_FRAMES_HINT = (
    "rlv records envs that render rgb_array frames (a gym:<id> env whose metadata['render_modes'] "
    "lists rgb_array) or whose observations are HxWx3 images"
)


def video_env(env: gym.Env, config: TrainConfig, seed: int) -> gym.Env:
    """`env` made to give a video frame on every `render()`: a `gym:<id>` env made without a render
    mode is made again with render_mode='rgb_array' when it has that mode; failing that, an env whose
    observations are images films them (ObservationFrames). Neither: one RlvError saying so."""
    modes = list(env.metadata.get("render_modes") or ())
    if env.render_mode != "rgb_array" and "rgb_array" in modes and config.env.startswith("gym:"):
        env.close()
        env = make_env(config.env, seed, config.horizon, config.domain, render_mode="rgb_array")
    if env.render_mode == "rgb_array":
        try:
            frame = env.render()
        except (gym.error.Error, ImportError, OSError, RuntimeError) as error:
            message = (str(error).splitlines() or [""])[0]
            raise RlvError(
                f"--video: environment {config.env!r} could not render a frame ({type(error).__name__}: "
                f"{message})"
            ) from error
        if frame is not None and is_image(np.shape(frame)):
            return env
    if ObservationKind.of_space(env.observation_space, config.env).image:
        return ObservationFrames(env)
    listed = (
        f" (render modes: {', '.join(map(str, modes)) or 'none'})" if config.env.startswith("gym:") else ""
    )
    raise RlvError(
        f"--video: environment {config.env!r} does not render frames{listed} and its observations are "
        f"not images; {NO_FRAMES_HINT}"
    )


class ObservationFrames(gym.Wrapper):
    """An env with image observations that films them: `render()` is the latest observation."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.latest: np.ndarray | None = None

    @property
    def render_mode(self) -> str:
        return "rgb_array"

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        obs, info = self.env.reset(**kwargs)
        self.latest = np.array(obs)  # a copy: an env may reuse its observation buffer
        return obs, info

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        result = self.env.step(action)
        self.latest = np.array(result[0])
        return result

    def render(self) -> np.ndarray | None:
        return self.latest


VIDEO_SIDE = 192
"""Frames are upscaled by a whole factor to at least this many pixels on their shorter side
(48x48 frames 4x), so that the caption is readable."""
GAP_FRAMES = 3
"""Title frames ("episode k of n" on black) between two episodes."""
HOLD_FRAMES = 5
"""Copies of an episode's last frame: the video pauses on how it ended."""


def video_frames(clips: list[EpisodeClip]) -> np.ndarray:
    """The clips one after another as (N, H, W, 3) uint8 frames, upscaled (VIDEO_SIDE), each with a
    caption (episode, step, return so far, success so far); GAP_FRAMES title frames between
    episodes, the last frame of each held HOLD_FRAMES times."""
    height, width = np.shape(clips[0].frames[0])[:2]
    scale = max(1, -(-VIDEO_SIDE // min(height, width)))
    font = ImageFont.load_default()
    frames: list[np.ndarray] = []
    for number, clip in enumerate(clips, 1):
        if number > 1:
            card = title_card((height * scale, width * scale), f"episode {number} of {len(clips)}", font)
            frames += [card] * GAP_FRAMES
        last = len(clip.frames) - 1
        for step, (frame, total, success) in enumerate(
            zip(clip.frames, clip.returns, clip.successes, strict=True)
        ):
            lines = (
                f"episode {number}/{len(clips)}  step {step}/{last}",
                f"return {total:.1f}  success {success_word(success)}",
            )
            frames.append(caption(upscale(frame, scale), lines, font))
        frames += [frames[-1]] * HOLD_FRAMES
    return np.stack(frames)


def success_word(success: float) -> str:
    return "n/a" if np.isnan(success) else ("yes" if success else "no")


def upscale(frame: np.ndarray, scale: int) -> np.ndarray:
    """An RGB frame as uint8, each pixel repeated `scale` x `scale` times."""
    frame = np.asarray(frame)
    if frame.dtype != np.uint8:
        frame = np.clip(frame, 0, 255).astype(np.uint8)
    return np.repeat(np.repeat(frame[..., :3], scale, axis=0), scale, axis=1)


def caption(
    frame: np.ndarray, lines: tuple[str, ...], font: ImageFont.ImageFont | ImageFont.FreeTypeFont
) -> np.ndarray:
    """`frame` with `lines` in white on a dark box in its top left corner."""
    image = Image.fromarray(frame)
    draw = ImageDraw.Draw(image, "RGBA")
    text = "\n".join(lines)
    *_, right, bottom = draw.multiline_textbbox((3, 2), text, font=font, spacing=2)
    draw.rectangle((0, 0, right + 3, bottom + 3), fill=(0, 0, 0, 160))
    draw.multiline_text((3, 2), text, fill=(255, 255, 255, 255), font=font, spacing=2)
    return np.asarray(image)


def title_card(
    shape: tuple[int, int], text: str, font: ImageFont.ImageFont | ImageFont.FreeTypeFont
) -> np.ndarray:
    """A black frame of `shape` with `text` in grey near its middle."""
    image = Image.new("RGB", (shape[1], shape[0]))
    draw = ImageDraw.Draw(image)
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    position = ((shape[1] - (right - left)) // 2, (shape[0] - (bottom - top)) // 2)
    draw.text(position, text, fill=(200, 200, 200), font=font)
    return np.asarray(image)
