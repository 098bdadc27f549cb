"""Messages that are right: unreachable collect targets, duplicate seeds in plots, collect without a
scripted expert, and the shared words of `--success`."""

import json
import shutil

import gymnasium as gym
import numpy as np
import pytest
from conftest import tiny_config
from videos import write_folder

from rlv.cli import main
from rlv.cli.data import FrameOptions
from rlv.collect.experts import average_return, calibrate_noise
from rlv.collect.video_import import ImportOptions
from rlv.errors import RlvError
from rlv.experiments.plot import plot_runs
from rlv.train import train


class OneStep(gym.Env):
    """One-step episodes whose reward is minus the action: the noise level sets the return."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)
    action_space = gym.spaces.Box(0.0, 1.0, (1,), np.float32)

    def reset(self, *, seed=None, options=None):
        return np.zeros(1, np.float32), {}

    def step(self, action):
        return np.zeros(1, np.float32), -float(action[0]), True, False, {}


def make_expert(noise, rng):
    return lambda env, obs: np.array([noise], np.float32)


def calibrate(target):
    return calibrate_noise(OneStep(), make_expert, 0, target, average_return, 2, 7, False)


def test_reachable_target_calibrates():
    assert calibrate(-0.3) == pytest.approx(0.3, abs=0.01)


@pytest.mark.parametrize(
    ("target", "message"),
    [
        (0.5, "reaches -0.007812 on 2 probe episodes; ask for at most that"),
        (-2.0, "reaches -0.9922; ask for at least"),
    ],
)
def test_unreachable_target_is_an_error_saying_what_is_reachable(target, message):
    with pytest.raises(RlvError, match="out of reach") as error:
        calibrate(target)
    assert message in str(error.value)


def test_plot_warns_about_runs_sharing_a_seed(tmp_path, capsys):
    config = tiny_config(tmp_path, "sac", total_steps=200, random_steps=200, eval_every=100)
    train(config)
    copy = tmp_path / "copy"
    shutil.copytree(config.out, copy)
    plot_runs([config.out, copy], tmp_path / "curves.png")
    warnings = capsys.readouterr().err.strip().splitlines()
    assert len(warnings) == 1 and "have the same seed 0 (method sac)" in warnings[0]
    plot_runs([config.out, config.out], tmp_path / "curves.png")
    assert "is given twice" in capsys.readouterr().err


def test_collect_without_a_scripted_expert_says_so_before_anything_else(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("rlv.collect.commands.collect_expert", lambda *a, **k: pytest.fail("rolled out"))
    out = tmp_path / "ds"
    for target in ([], ["--quality", "-100"], ["--success-rate", "0.5"], ["--noise", "0.1"]):
        argv = ["collect", "--env", "gym:Pendulum-v1", "--out", str(out), "--no-progress", *target]
        assert main(argv) == 1
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("rlv: error: no scripted expert for 'gym:Pendulum-v1'")
        assert "--policy random" in lines[0] and "--policy RUN" in lines[0]
    assert not out.exists()


def test_import_video_success_words_and_the_old_spelling(tmp_path, capsys):
    frames = write_folder(tmp_path / "frames", 4)
    for words, successes in (([], 1), (["all"], 1), (["last"], 1), (["none"], 0), (["2"], 1)):
        out = tmp_path / f"ds{'-'.join(words)}"
        argv = ["data", "import-video", str(frames), "--out", str(out), "--no-progress"]
        assert main([*argv, *(["--success", *words] if words else [])]) == 0, capsys.readouterr().err
        assert json.loads((out / "meta.json").read_text())["num_successes"] == successes
    assert FrameOptions(success="all").library() == ImportOptions(success="last")
    assert (
        main(["data", "import-video", str(frames), "--out", str(tmp_path / "x"), "--success", "always"]) == 1
    )
    message = "rlv: error: --success must be one of all, none or a frame index N; got 'always'"
    assert capsys.readouterr().err.strip() == message and not (tmp_path / "x").exists()


@pytest.mark.parametrize(
    ("command", "target", "passed"),
    [
        ("from-minari", "rlv.collect.converters.from_minari",
         {"terminated": "terminated", "all": "last", "last": "last", "none": "none"}),
        ("from-run", "rlv.collect.from_run.dataset_from_run",
         {"auto": "auto", "terminated": "terminated", "reward": "reward", "none": "none"}),
    ],
)  # fmt: skip
def test_success_words_of_minari_and_run_conversions(tmp_path, capsys, monkeypatch, command, target, passed):
    seen = []

    def convert(*args):
        seen.append(args[5])  # the success argument of both converters
        raise RlvError("converted")

    monkeypatch.setattr(target, convert)
    for word in passed:
        main(["data", command, "source", "--out", str(tmp_path / "ds"), "--success", word])
    assert seen == list(passed.values())
    capsys.readouterr()
    assert main(["data", command, "source", "--out", str(tmp_path / "ds"), "--success", "always"]) == 1
    words = ", ".join(word for word in passed if word != "last")
    assert capsys.readouterr().err.strip() == f"rlv: error: --success must be one of {words}; got 'always'"
