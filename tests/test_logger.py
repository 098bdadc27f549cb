"""Run logs: train.csv's columns are the metrics the run's agent can fill, decided when the run
starts (a resumed run appends under the header it has, an old run's wide one included); --wandb logs
the same metrics and the config to a Weights & Biases run, offline here (no account, no network),
and a resume continues that W&B run."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import tiny_config

from rlv.cli import main
from rlv.command_line import train_config
from rlv.logger import TRAIN_COLUMNS, WANDB_FILE, read_csv
from rlv.methods import METHODS, AgentContext, Batches, MethodSpec, register
from rlv.train import resume, train


@dataclasses.dataclass(frozen=True)
class TwoMetricConfig:
    """Options of the test method."""

    second: bool = False
    """Whether its update reports its second metric."""


class TwoMetricAgent:
    """Acts at random; its update reports `two/first`, and `two/second` only when its options say
    so, as a method whose options switch parts of it off (RLV without a discriminator)."""

    METRICS = ("two/first", "two/second")

    def __init__(self, context: AgentContext) -> None:
        self.second = context.options.second
        if not self.second:
            self.METRICS = ("two/first",)  # what this run can fill
        self.act_dim = context.act_dim
        self.rng = np.random.default_rng(0)

    def act(self, obs: np.ndarray, deterministic: bool = False) -> np.ndarray:
        return np.zeros(self.act_dim, np.float32) if deterministic else self.rng.uniform(-1, 1, self.act_dim)

    def update(self, batch: Batches) -> dict[str, float]:
        mean = float(batch.robot.reward.mean())
        return {"two/first": mean} | ({"two/second": 2 * mean} if self.second else {})

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass


@pytest.fixture
def two_metric_method():
    register(MethodSpec(name="two", summary="test", build=TwoMetricAgent, options=TwoMetricConfig))
    yield
    del METHODS["two"]


def header(path: Path) -> list[str]:
    return path.read_text().splitlines()[0].split(",")


@pytest.mark.parametrize("second", [False, True])
def test_train_csv_has_the_columns_the_agent_can_fill_and_keeps_them_on_resume(
    tmp_path, two_metric_method, second
):
    config = tiny_config(tmp_path, "two", total_steps=400, random_steps=100)
    config = dataclasses.replace(config, two=TwoMetricConfig(second=second))
    train(config)
    metrics = ["two/first", "two/second"] if second else ["two/first"]
    assert header(config.out / "train.csv") == TRAIN_COLUMNS + metrics
    rows = read_csv(config.out / "train.csv")
    assert all(not np.isnan(rows[-1][metric]) for metric in metrics)  # every metric column is filled
    resume(config.out, total_steps=600, progress=False)
    assert header(config.out / "train.csv") == TRAIN_COLUMNS + metrics
    assert [row["env_step"] for row in read_csv(config.out / "train.csv")] == [100, 200, 300, 400, 500, 600]


def test_a_run_with_a_wider_header_resumes_under_it(tmp_path):
    """Runs written before train.csv followed the agent (RLV's every metric, filled or not) keep
    their columns: the resumed rows go under the old header, the unfilled columns empty."""
    config = tiny_config(tmp_path, "sac", total_steps=400)
    train(config)
    path = config.out / "train.csv"
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0] + ",loss/domain", *(line + "," for line in lines[1:])]) + "\n")
    resume(config.out, total_steps=600, progress=False)
    assert header(path)[-1] == "loss/domain"
    rows = read_csv(path)
    assert rows[-1]["env_step"] == 600 and np.isnan(rows[-1]["loss/domain"]) and rows[-1]["loss/critic"] > 0


def offline_runs(directory: Path, run_id: str) -> list[Path]:
    return sorted((directory / "wandb").glob(f"offline-run-*-{run_id}"))


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_wandb_logs_the_metrics_and_config_offline_and_a_resume_continues_its_run(tmp_path, monkeypatch):
    pytest.importorskip("wandb")
    wandb_dir = tmp_path / "wandb_dir"
    wandb_dir.mkdir()
    for name, value in {"WANDB_MODE": "offline", "WANDB_DIR": str(wandb_dir), "WANDB_SILENT": "true"}.items():
        monkeypatch.setenv(name, value)
    config = dataclasses.replace(tiny_config(tmp_path, "sac", total_steps=400), wandb=True, wandb_project="t")
    train(config)
    run_id = json.loads((config.out / WANDB_FILE).read_text())["id"]
    (first,) = offline_runs(wandb_dir, run_id)
    logged = (first / f"run-{run_id}.wandb").read_bytes()
    for name in ("eval/return", "eval/success", "loss/critic", "train/sps", "env_step", "wandb_project"):
        assert name.encode() in logged, name
    resume(config.out, total_steps=600, progress=False)
    assert json.loads((config.out / WANDB_FILE).read_text())["id"] == run_id
    assert len(offline_runs(wandb_dir, run_id)) == 2  # the same W&B run id, one offline part per session
    assert not (config.out / "wandb").exists()  # $WANDB_DIR was used


def test_wandb_without_the_package_is_one_line_and_writes_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "wandb", None)  # `import wandb` fails as if it were not installed
    out = tmp_path / "run"
    argv = ["train", "--env", "gym:Pendulum-v1", "--sac.hidden", "16", "--no-progress", "--wandb", "--out"]
    assert main([*argv, str(out)]) == 1
    assert (
        capsys.readouterr().err.strip()
        == "rlv: error: --wandb needs the wandb package: pip install 'rlv[wandb]'"
    )
    assert not out.exists()
    config = tiny_config(tmp_path, "sac", total_steps=200)
    train(dataclasses.replace(config, wandb=False))
    data = json.loads((config.out / "config.json").read_text())
    (config.out / "config.json").write_text(json.dumps(data | {"wandb": True}))
    before = (config.out / "train.csv").read_text()
    assert main(["train", "--resume", str(config.out), "--total-steps", "300"]) == 1
    assert "--wandb needs the wandb package" in capsys.readouterr().err
    assert (config.out / "train.csv").read_text() == before and not (config.out / WANDB_FILE).exists()


def test_wandb_options_parse_and_are_checked(capsys):
    config = train_config(["--wandb", "--wandb-project", "p", "--wandb-mode", "online", "--out", "r"])
    assert (config.wandb, config.wandb_project, config.wandb_mode) == (True, "p", "online")
    assert train_config(["--out", "r"]).wandb is False
    assert main(["train", "--wandb-mode", "sometimes", "--out", "r"]) == 1
    assert "--wandb-mode" in capsys.readouterr().err
