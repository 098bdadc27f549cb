"""The method registry: a method defined here, in the test file, registers with one call and trains
through `rlv train` end to end (its options under its own prefix, its declared streams sampled for
it, checkpoints and resume); run directories written before the registry still resume."""

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from conftest import tiny_config

from rlv.cli import main
from rlv.config import config_to_dict
from rlv.logger import read_csv
from rlv.methods import METHODS, AgentContext, Batches, MethodSpec, Streams, register
from rlv.methods.rlv import RLVConfig
from rlv.train import train
from rlv.validation import at_least


@dataclasses.dataclass(frozen=True)
class ToyConfig:
    """Options of the toy method."""

    dataset: Path | None = None
    """Observation dataset it reads."""
    obs_batch_size: int = 8
    """Observation rows per step."""
    step_size: float = 0.5
    """How far its one parameter moves toward the batch's mean robot reward per step."""


class ToyAgent:
    """Acts at random (its own generator, so runs stay seeded); its update tracks the mean robot
    reward and counts the rows of each declared stream."""

    METRICS = ("toy/reward_estimate", "toy/robot_rows", "toy/observation_rows")

    def __init__(self, context: AgentContext) -> None:
        self.options: ToyConfig = context.options
        self.act_dim = context.act_dim
        self.reward_estimate = torch.zeros(())
        self.rng = np.random.default_rng(0)

    def act(self, obs: np.ndarray, deterministic: bool = False) -> np.ndarray:
        return np.zeros(self.act_dim, np.float32) if deterministic else self.rng.uniform(-1, 1, self.act_dim)

    def update(self, batch: Batches) -> dict[str, float]:
        assert batch.observations is not None and batch.paired is None
        step = self.options.step_size
        self.reward_estimate += step * (batch.robot.reward.mean() - self.reward_estimate)
        return {
            "toy/reward_estimate": self.reward_estimate.item(),
            "toy/robot_rows": float(len(batch.robot.obs)),
            "toy/observation_rows": float(len(batch.observations.obs)),
        }

    def state_dict(self) -> dict[str, Any]:
        return {"reward_estimate": self.reward_estimate.clone()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.reward_estimate = state["reward_estimate"].clone()


TOY = MethodSpec(
    name="toy",
    summary="A test method: tracks the mean robot reward.",
    build=ToyAgent,
    options=ToyConfig,
    streams=lambda options: Streams(observations=options.dataset, obs_batch_size=options.obs_batch_size),
    ranges={"obs_batch_size": at_least(1)},
)


@pytest.fixture
def toy_method():
    register(TOY)
    yield TOY
    del METHODS["toy"]


TOY_RUN = [
    "--sac.batch-size",
    "16",
    "--total-steps",
    "400",
    "--random-steps",
    "100",
    "--eval-every",
    "200",
    "--eval-episodes",
    "1",
    "--log-every",
    "100",
    "--checkpoint-every",
    "200",
    "--no-progress",
]


def test_a_method_defined_in_a_test_trains_end_to_end(tmp_path, capsys, toy_method, acrobot_dataset):
    run = tmp_path / "toy-run"
    argv = ["train", "--algo", "toy", "--toy.dataset", str(acrobot_dataset), "--toy.obs-batch-size", "5"]
    assert main([*argv, *TOY_RUN, "--out", str(run)]) == 0, capsys.readouterr().err
    saved = json.loads((run / "config.json").read_text())
    assert saved["algo"] == "toy" and saved["toy"]["obs_batch_size"] == 5 and "rlv" not in saved
    rows = read_csv(run / "train.csv")
    updated = [row for row in rows if np.isfinite(row["toy/robot_rows"])]
    assert updated and all(
        row["toy/robot_rows"] == 16 and row["toy/observation_rows"] == 5 for row in updated
    )
    assert updated[-1]["toy/reward_estimate"] < 0  # acrobot pays -1 until the goal
    assert main(["train", "--resume", str(run), "--total-steps", "600", "--no-progress"]) == 0
    assert read_csv(run / "eval.csv")[-1]["env_step"] == 600


def test_a_method_s_options_are_its_own(tmp_path, capsys, toy_method, acrobot_dataset):
    with pytest.raises(SystemExit):
        main(["train", "--algo", "toy", "--help"])
    help_text = capsys.readouterr().out
    assert "--toy.step-size" in help_text and "How far its one parameter" in help_text
    assert "--rlv." not in help_text
    bad = ["train", "--algo", "toy", "--toy.dataset", str(acrobot_dataset), "--toy.obs-batch-size", "0"]
    assert main([*bad, "--out", str(tmp_path / "run")]) == 1
    assert capsys.readouterr().err.strip() == "rlv: error: --toy.obs-batch-size: must be at least 1, got 0"
    assert main(["train", "acrobot-sac", "--toy.step-size", "1", "--out", str(tmp_path / "run")]) == 1
    assert "--toy.step-size" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_unknown_method_is_one_line(tmp_path, capsys):
    assert main(["train", "--algo", "ppo", "--out", str(tmp_path / "run")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["rlv: error: --algo: unknown method 'ppo'; known methods: sac, rlv, bco, gaifo"]


def test_switching_a_preset_to_another_method_keeps_the_run_settings(tmp_path, capsys, acrobot_dataset):
    run = tmp_path / "run"
    argv = ["train", "acrobot-sac", "--algo", "rlv", "--rlv.dataset", str(acrobot_dataset), "--seed", "7"]
    assert main([*argv, *TOY_RUN, "--rlv.obs-batch-size", "4", "--out", str(run)]) == 0
    saved = json.loads((run / "config.json").read_text())
    assert saved["algo"] == "rlv" and saved["env"] == "acrobot" and saved["seed"] == 7
    assert saved["rlv"]["obs_batch_size"] == 4


@pytest.mark.parametrize("algo", ["sac", "rlv"])
def test_runs_written_before_the_registry_resume(tmp_path, acrobot_dataset, algo):
    """Before the registry every config.json held an `rlv` block, whatever the algo."""
    config = tiny_config(tmp_path, algo, acrobot_dataset, total_steps=400, random_steps=100)
    train(config)
    path = config.out / "config.json"
    data = json.loads(path.read_text())
    if algo == "sac":
        data["rlv"] = config_to_dict(RLVConfig())
    path.write_text(json.dumps(data))
    assert main(["train", "--resume", str(config.out), "--total-steps", "600", "--no-progress"]) == 0
    assert read_csv(config.out / "eval.csv")[-1]["env_step"] == 600
