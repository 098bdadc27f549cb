"""`rlv eval --video` on Gymnasium envs: an env that renders rgb_array frames only when asked is
asked; an env with image observations films them; an env with neither, or one whose renderer is
missing, is one error line saying why and what would work. The frames carry a caption (episode,
step, return so far, success so far) and title frames between episodes."""

from __future__ import annotations

import importlib.util
import json

import gymnasium as gym
import numpy as np
import pytest
from conftest import tiny_config
from PIL import Image

from rlv.cli import main
from rlv.evaluate import GAP_FRAMES, HOLD_FRAMES, EpisodeClip, video_frames
from rlv.train import train


class Dot(gym.Env):
    """A point on a line, pushed by the action; success within 0.1 of 0. Renders a 24x32 frame (the
    point as a bright column) only when made with render_mode='rgb_array', as Gymnasium's own envs."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}  # noqa: RUF012
    observation_space = gym.spaces.Box(-2.0, 2.0, (2,), np.float32)
    action_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)

    def __init__(self, render_mode: str | None = None) -> None:
        self.render_mode = render_mode
        self.x = 0.0

    def observe(self) -> np.ndarray:
        return np.array([self.x, 1.0], np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.x = float(self.np_random.uniform(-1.5, 1.5))
        return self.observe(), {}

    def step(self, action):
        self.x = float(np.clip(self.x + 0.3 * float(action[0]), -2.0, 2.0))
        return self.observe(), -abs(self.x), False, False, {"success": abs(self.x) < 0.1}

    def render(self):
        if self.render_mode != "rgb_array":
            return None
        frame = np.zeros((24, 32, 3), np.uint8)
        frame[:, round((self.x + 2.0) / 4.0 * 31)] = (255, 200, 0)
        return frame


class BlindDot(Dot):
    """Dot that cannot render (no render modes) and observes a vector: no video is possible."""

    metadata = {"render_modes": [], "render_fps": 10}  # noqa: RUF012

    def render(self):
        return None


class CameraDot(Dot):
    """Dot seen through 16x16 RGB image observations, with no render mode of its own."""

    metadata = {"render_modes": [], "render_fps": 10}  # noqa: RUF012
    observation_space = gym.spaces.Box(0, 255, (16, 16, 3), np.uint8)

    def observe(self) -> np.ndarray:
        frame = np.zeros((16, 16, 3), np.uint8)
        frame[:, round((self.x + 2.0) / 4.0 * 15), 1] = 255
        return frame

    def render(self):
        return None


ENVS = {"RlvTestDot-v0": Dot, "RlvTestBlindDot-v0": BlindDot, "RlvTestCameraDot-v0": CameraDot}


@pytest.fixture(scope="module", autouse=True)
def registered():
    for env_id, entry in ENVS.items():
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point=entry, max_episode_steps=6)


def trained(tmp_path, env: str):
    config = tiny_config(
        tmp_path, "sac", env=env, total_steps=40, random_steps=32, eval_every=40, log_every=20,
        checkpoint_every=40, out=tmp_path / env.replace(":", "_"),
    )  # fmt: skip
    train(config)
    return config.out


def run_eval(capsys, *argv):
    code = main(["eval", *map(str, argv)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err.strip().splitlines()


def test_a_gym_env_is_made_with_rgb_array_for_the_video_and_scores_as_without(tmp_path, capsys):
    run = trained(tmp_path, "gym:RlvTestDot-v0")
    code, out, err = run_eval(capsys, run, "--episodes", "2", "--seed", "3")
    assert code == 0, err
    plain = json.loads(out)
    gif = tmp_path / "dot.gif"
    code, out, err = run_eval(capsys, run, "--episodes", "2", "--seed", "3", "--video", gif)
    assert code == 0, err
    filmed = json.loads(out)
    assert filmed["video"] == str(gif)
    assert {key: filmed[key] for key in plain} == plain  # rendering changes no episode
    with Image.open(gif) as image:
        assert image.size == (32 * 8, 24 * 8)  # upscaled to at least 192 pixels
        assert image.n_frames > 2 * 7


def test_an_env_with_image_observations_films_them(tmp_path, capsys):
    run = trained(tmp_path, "gym:RlvTestCameraDot-v0")
    gif = tmp_path / "camera.gif"
    code, _, err = run_eval(capsys, run, "--episodes", "2", "--video", gif)
    assert code == 0, err
    with Image.open(gif) as image:
        assert image.size == (16 * 12, 16 * 12) and image.n_frames > 2 * 7
        image.seek(3)
        frame = np.asarray(image.convert("RGB"))
    assert frame[100:, :, 1].max() > 200  # the green column of the observation, below the caption


def test_an_env_without_frames_is_one_line_saying_what_would_work(tmp_path, capsys):
    run = trained(tmp_path, "gym:RlvTestBlindDot-v0")
    code, _, err = run_eval(capsys, run, "--video", tmp_path / "x.gif")
    assert code == 1 and len(err) == 1, err
    assert err[0].startswith(
        "rlv: error: --video: environment 'gym:RlvTestBlindDot-v0' does not render frames"
    )
    assert "render modes: none" in err[0] and "rgb_array" in err[0] and "HxWx3 images" in err[0]
    assert not (tmp_path / "x.gif").exists()


def test_pendulum_films_when_its_renderer_is_installed_else_says_how_to_install_it(tmp_path, capsys):
    config = tiny_config(
        tmp_path, "sac", env="gym:Pendulum-v1", horizon=5, total_steps=40, random_steps=32,
        eval_every=40, checkpoint_every=40,
    )  # fmt: skip
    train(config)
    gif = tmp_path / "pendulum.gif"
    code, out, err = run_eval(capsys, config.out, "--episodes", "1", "--video", gif)
    if importlib.util.find_spec("pygame") is None:
        assert code == 1 and len(err) == 1, err
        assert err[0].startswith("rlv: error: --video: environment 'gym:Pendulum-v1' could not render")
        assert "pip install" in err[0] and not gif.exists()
    else:
        assert code == 0 and json.loads(out)["video"] == str(gif), err


def clip(length: int, value: int, success: float) -> EpisodeClip:
    episode = EpisodeClip()
    for step in range(length + 1):
        episode.add(np.full((48, 48, 3), value, np.uint8), -1.0 * step, success if step else float("nan"))
    return episode


def test_video_frames_caption_every_frame_and_separate_the_episodes():
    frames = video_frames([clip(3, 90, 1.0), clip(2, 90, 0.0)])
    first, second = 4 + HOLD_FRAMES, 3 + HOLD_FRAMES
    assert frames.shape == (first + GAP_FRAMES + second, 192, 192, 3) and frames.dtype == np.uint8
    corner = (slice(0, 20), slice(0, 100))
    assert (frames[0][150:, 150:] == 90).all()  # the frame itself, upscaled 4x
    assert not (frames[0][corner] == 90).all()  # the caption
    assert not np.array_equal(frames[0][corner], frames[1][corner])  # another step, return
    assert np.array_equal(frames[3], frames[first - 1])  # the last frame held
    cards = frames[first : first + GAP_FRAMES]
    assert all(np.array_equal(card, cards[0]) for card in cards)
    assert (cards[0][:20] == 0).all() and cards[0].max() > 100  # black, with "episode 2 of 2"
    assert not np.array_equal(frames[first + GAP_FRAMES][corner], frames[0][corner])  # episode 2's
