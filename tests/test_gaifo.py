"""GAIfO through the command line: its presets match RLV's environment settings, a tiny
`rlv train acrobot-gaifo` run and a pointmass-from-pixels run train and evaluate end to end, and its
options are its own. (Contract tests: test_agents.py, test_image_agents.py; its discriminator and
reward: test_method_rules.py; exact resume: test_train.py.)"""

import dataclasses
import json
import math

import pytest

from rlv.cli import main
from rlv.config import TrainConfig
from rlv.logger import read_csv
from rlv.presets import get_preset

TINY = [
    "--sac.hidden", "16", "16",
    "--sac.batch-size", "16",
    "--gaifo.hidden", "16",
    "--gaifo.obs-batch-size", "16",
    "--random-steps", "100",
    "--eval-episodes", "1",
    "--log-every", "100",
    "--no-progress",
]  # fmt: skip

GAIFO_METRICS = ("loss/discriminator", "loss/gradient_penalty", "stat/gaifo_reward_mean", "loss/critic")


def core(config: TrainConfig) -> dict[str, object]:
    """The run settings of a config, without its method and name."""
    fields = {item.name: getattr(config, item.name) for item in dataclasses.fields(TrainConfig)}
    return {key: value for key, value in fields.items() if key not in ("algo", "label")}


@pytest.mark.parametrize("task", ["acrobot", "pointmass"])
def test_presets_have_the_rlv_presets_environment_settings(task):
    gaifo, rlv = get_preset(f"{task}-gaifo"), get_preset(f"{task}-rlv")
    assert gaifo.algo == "gaifo" and core(gaifo) == core(rlv)
    assert gaifo.gaifo.dataset is None and gaifo.gaifo.obs_batch_size == rlv.rlv.obs_batch_size


def test_acrobot_gaifo_trains_and_evaluates_end_to_end(tmp_path, capsys, acrobot_dataset):
    run = tmp_path / "gaifo"
    argv = ["train", "acrobot-gaifo", "--gaifo.dataset", str(acrobot_dataset), *TINY]
    assert main([*argv, "--total-steps", "300", "--eval-every", "150", "--out", str(run)]) == 0, (
        capsys.readouterr().err
    )
    saved = json.loads((run / "config.json").read_text())
    assert saved["algo"] == "gaifo" and saved["gaifo"]["reward"] == "log-odds" and "rlv" not in saved
    rows = [row for row in read_csv(run / "train.csv") if math.isfinite(row["loss/discriminator"])]
    assert len(rows) == 2 and all(math.isfinite(row[key]) for row in rows for key in GAIFO_METRICS)
    assert all(row["stat/env_reward_mean"] == -1.0 for row in rows)  # acrobot: -1 per step (logged only)
    assert [row["env_step"] for row in read_csv(run / "eval.csv")] == [150, 300]
    capsys.readouterr()
    assert main(["eval", str(run), "--episodes", "1"]) == 0
    assert "eval/return" in json.loads(capsys.readouterr().out)


def test_pointmass_gaifo_trains_from_pixels(tmp_path, capsys):
    data = tmp_path / "videos"
    collect = ["collect", "--env", "pointmass", "--episodes", "3", "--noise", "0.1", "--no-progress"]
    assert main([*collect, "--out", str(data)]) == 0
    run = tmp_path / "run"
    argv = ["train", "pointmass-gaifo", "--gaifo.dataset", str(data), *TINY, "--sac.conv-channels", "4", "4"]
    assert main([*argv, "--total-steps", "200", "--eval-every", "200", "--out", str(run)]) == 0, (
        capsys.readouterr().err
    )
    rows = [row for row in read_csv(run / "train.csv") if math.isfinite(row["loss/discriminator"])]
    assert rows and all(math.isfinite(row[key]) for row in rows for key in GAIFO_METRICS)


def test_gaifo_options_are_its_own_and_need_a_dataset(tmp_path, capsys, acrobot_dataset):
    with pytest.raises(SystemExit):
        main(["train", "acrobot-gaifo", "--help"])
    help_text = capsys.readouterr().out
    assert "--gaifo.reward" in help_text and "--gaifo.regulariser" in help_text and "--rlv." not in help_text
    assert main(["train", "acrobot-gaifo", "--out", str(tmp_path / "run")]) == 1
    assert capsys.readouterr().err.strip() == (
        "rlv: error: --gaifo.dataset: GAIfO needs an observation dataset: --gaifo.dataset DIR"
    )
    argv = ["train", "acrobot-rlv", "--rlv.dataset", str(acrobot_dataset), "--gaifo.lr", "0.1"]
    assert main([*argv, "--out", str(tmp_path / "run")]) == 1
    assert "--gaifo.lr" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
