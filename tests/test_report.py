"""`rlv report`: finished runs aggregated per task and method with rliable; numbers checked against
a direct computation."""

from __future__ import annotations

import csv
import dataclasses
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.stats
from rliable import library, metrics

from rlv.config import TrainConfig, save_config
from rlv.experiments.plot import find_runs
from rlv.experiments.stats import interval

FINALS = {"sac": [-100.0, -90.0, -95.0, -60.0], "rlv": [-70.0, -75.0, -65.0, -99.0]}


def fake_run(path: Path, method: str, seed: int, final: float, done: bool = True) -> Path:
    """A run directory with a config and an eval.csv whose last two evaluations average `final`."""
    path.mkdir(parents=True)
    save_config(dataclasses.replace(TrainConfig(), label=method, seed=seed, out=path), path / "config.json")
    rows = [(1000, -100.0), (2000, final - 1.0), (3000, final + 1.0)]
    text = "env_step,eval/return\n" + "".join(f"{step},{value}\n" for step, value in rows)
    (path / "eval.csv").write_text(text)
    if done:
        (path / "summary.json").write_text("{}")
    return path


@pytest.fixture
def sweep(tmp_path: Path) -> Path:
    for method, finals in FINALS.items():
        for seed, final in enumerate(finals):
            fake_run(tmp_path / "sweep" / method / f"seed_{seed}", method, seed, final)
    fake_run(tmp_path / "sweep" / "sac" / "seed_9", "sac", 9, 1000.0, done=False)
    return tmp_path / "sweep"


def rlv(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rlv", *args], capture_output=True, text=True)


@pytest.mark.filterwarnings("ignore:random_state is deprecated:FutureWarning")  # the direct rliable call
def test_report_writes_table_csv_and_plots_with_rliable_numbers(sweep, tmp_path):
    result = rlv("report", str(sweep), "--out", str(tmp_path / "out"), "--final-window", "2", "--reps", "500")
    assert result.returncode == 0, result.stderr
    assert "seed_9 has not finished" in result.stderr
    out = tmp_path / "out"
    for name in ("report.md", "report.csv", "curves_acrobot.png", "profile_acrobot.png"):
        assert (out / name).stat().st_size > 100, name
    with open(out / "report.csv") as handle:
        rows = {row["method"]: row for row in csv.DictReader(handle)}
    assert set(rows) == {"sac", "rlv"} and rows["sac"]["runs"] == "4"
    for method, finals in FINALS.items():
        scores = np.array(finals)
        assert float(rows[method]["iqm"]) == pytest.approx(scipy.stats.trim_mean(scores, 0.25), rel=1e-5)
        assert float(rows[method]["mean"]) == pytest.approx(scores.mean(), rel=1e-5)
        np.random.seed(0)
        _, direct = library.get_interval_estimates(
            {"m": scores[:, None]},
            lambda x: np.array([metrics.aggregate_iqm(x)]),
            reps=500,
            random_state=np.random.RandomState(0),
        )
        assert float(rows[method]["iqm_low"]) == pytest.approx(direct["m"][0, 0], rel=1e-5)
        assert float(rows[method]["iqm_high"]) == pytest.approx(direct["m"][1, 0], rel=1e-5)
    # P(rlv > sac): pairs (rlv run, sac run) where rlv is higher, over all 16 pairs
    wins = sum(r > s for r in FINALS["rlv"] for s in FINALS["sac"])
    assert float(rows["rlv"]["p_improvement"]) == pytest.approx(wins / 16)
    assert rows["sac"]["p_improvement"] == "nan"
    table = (out / "report.md").read_text()
    assert "## acrobot" in table and "| sac | 4 |" in table and "P(> sac)" in table
    assert table in result.stdout


def test_interval_is_reproducible_contains_the_iqm_and_shrinks():
    rng = np.random.default_rng(0)
    few, many = rng.normal(size=5), rng.normal(size=400)
    state = np.random.get_state()[1].copy()
    point, low, high = interval(many, reps=300)
    assert low <= point <= high and interval(many, reps=300) == (point, low, high)
    assert high - low < np.subtract(*interval(few, reps=300)[:0:-1])
    np.testing.assert_array_equal(np.random.get_state()[1], state)  # the caller's global RNG is untouched


def test_find_runs_and_errors(sweep, tmp_path):
    assert len(find_runs([sweep])) == 9 and find_runs([sweep / "sac" / "seed_0"]) == [
        sweep / "sac" / "seed_0"
    ]
    (tmp_path / "empty").mkdir()
    result = rlv("report", str(tmp_path / "empty"), "--out", str(tmp_path / "x"))
    assert (
        result.returncode == 1
        and result.stderr.startswith("rlv: error: ")
        and "no run directories" in result.stderr
    )
    result = rlv("report", str(sweep), "--out", str(tmp_path / "x"), "--baseline", "ppo")
    assert result.returncode == 1 and "--baseline 'ppo'" in result.stderr
    assert not (tmp_path / "x").exists()
