"""Which runs `rlv plot` and `rlv report` read, and what they call them: the same paths (run, sweep
and parent directories, one discovery function), the same warnings on duplicate seeds and
unfinished runs, runs of one label on different data kept apart, tasks kept apart; and the labels
`rlv train` gives runs say what ran."""

from __future__ import annotations

import csv
import dataclasses
from pathlib import Path

import pytest

from rlv.cli import main
from rlv.command_line import train_config
from rlv.config import TrainConfig, save_config
from rlv.experiments.plot import find_runs, load_curves, select_runs
from rlv.methods.registry import with_algo
from rlv.methods.rlv import RLVConfig


def fake_run(path: Path, label: str, seed: int, final: float, *, done: bool = True, **config) -> Path:
    """A run directory: a config (`config`'s fields, an RLV run when it names `dataset`) and an
    eval.csv whose last evaluations are near `final`."""
    path.mkdir(parents=True)
    dataset = config.pop("dataset", None)
    base = dataclasses.replace(TrainConfig(), label=label, seed=seed, out=path, **config)
    if dataset is not None:
        base = with_algo(base, "rlv", RLVConfig(dataset=Path(dataset)))
    save_config(base, path / "config.json")
    rows = [(1000, -100.0), (2000, final - 1.0), (3000, final + 1.0)]
    (path / "eval.csv").write_text("env_step,eval/return\n" + "".join(f"{s},{v}\n" for s, v in rows))
    if done:
        (path / "summary.json").write_text("{}")
    return path


def rlv_main(capsys, *argv) -> tuple[int, str, list[str]]:
    code = main([str(arg) for arg in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err.strip().splitlines()


def report_methods(out: Path) -> dict[str, str]:
    with open(out / "report.csv") as handle:
        return {row["method"]: row["runs"] for row in csv.DictReader(handle)}


@pytest.fixture
def sweep(tmp_path: Path) -> Path:
    root = tmp_path / "sweep"
    for seed, final in enumerate((-90.0, -80.0, -85.0)):
        fake_run(root / "sac" / f"seed_{seed}", "sac", seed, final)
        fake_run(root / "rlv" / f"seed_{seed}", "rlv", seed, final + 20)
    fake_run(root / "rlv" / "again_0", "rlv", 0, -50.0)  # the same seed as rlv/seed_0
    fake_run(root / "sac" / "seed_7", "sac", 7, 0.0, done=False)
    return root


def warnings(lines: list[str]) -> list[str]:
    return sorted(line for line in lines if line.startswith("rlv: warning: "))


@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_plot_and_report_take_the_same_paths_and_warn_alike(sweep, tmp_path, capsys):
    code, _, plot_err = rlv_main(capsys, "plot", sweep, "--out", tmp_path / "curves.png")
    assert code == 0, plot_err
    assert (tmp_path / "curves.png").read_bytes()[:4] == b"\x89PNG"
    code, _, report_err = rlv_main(capsys, "report", sweep, "--out", tmp_path / "report", "--reps", "200")
    assert code == 0, report_err
    same_seed = (
        f"rlv: warning: {sweep / 'rlv' / 'again_0'} and {sweep / 'rlv' / 'seed_0'} have the same seed 0 "
        "(method rlv); both count towards n, but they are not independent seeds"
    )
    assert same_seed in plot_err and same_seed in report_err
    unfinished = f"rlv: warning: {sweep / 'sac' / 'seed_7'} has not finished (no summary.json); "
    assert [line for line in plot_err if line.startswith(unfinished)] == [
        unfinished + "drawn as far as it got"
    ]
    assert [line for line in report_err if line.startswith(unfinished)] == [unfinished + "left out"]
    assert len(warnings(plot_err)) == len(warnings(report_err)) == 2
    assert report_methods(tmp_path / "report") == {"sac": "3", "rlv": "4"}
    # a parent of runs, and single runs, are taken by both; a run given twice is said so by both
    run = sweep / "sac" / "seed_0"
    for command, out in (("plot", ["--out", tmp_path / "two.png"]), ("report", ["--out", tmp_path / "two"])):
        code, _, err = rlv_main(capsys, command, sweep / "sac", run, *out)
        assert code == 0, err
        assert f"rlv: warning: {run} is given twice (method sac); both count towards n" in " ".join(err)


def test_both_refuse_paths_without_runs_and_runs_that_never_finished(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    for command in ("plot", "report"):
        code, _, err = rlv_main(capsys, command, tmp_path / "empty", "--out", tmp_path / "x")
        assert code == 1 and err == [
            f"rlv: error: {tmp_path / 'empty'}: no run directories in it (a run has config.json and eval.csv)"
        ]
    fake_run(tmp_path / "running", "sac", 0, -1.0, done=False)
    code, _, err = rlv_main(capsys, "report", tmp_path / "running", "--out", tmp_path / "x")
    assert (
        code == 1
        and err[-1] == "rlv: error: none of the runs has finished (no summary.json); nothing to report"
    )
    assert select_runs([tmp_path / "running"], keep_unfinished=True, command="plot")[0].label == "sac"
    assert not (tmp_path / "x").exists()


@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_runs_of_one_label_on_different_data_are_kept_apart(tmp_path, capsys):
    root = tmp_path / "runs"
    for seed in range(3):
        fake_run(root / f"q79_{seed}", "rlv", seed, -60.0, dataset="data/q79")
        fake_run(root / f"q99_{seed}", "rlv", seed, -95.0, dataset="other/q99")
        fake_run(root / f"sac_{seed}", "sac", seed, -90.0)
    code, _, err = rlv_main(capsys, "report", root, "--out", tmp_path / "report", "--reps", "200")
    assert code == 0, err
    assert report_methods(tmp_path / "report") == {"rlv [q79]": "3", "rlv [q99]": "3", "sac": "3"}
    assert err == [
        "rlv: warning: runs labelled 'rlv' on acrobot trained on different data; they are kept apart as "
        "rlv [q79], rlv [q99] (give each its own --label to name them)"
    ]  # and no duplicate-seed warning: they are different methods
    curves = load_curves(select_runs([root], keep_unfinished=False, command="plot"), "eval/return")
    assert set(curves["acrobot"]) == {"rlv [q79]", "rlv [q99]", "sac"}
    capsys.readouterr()
    # one label, one dataset: just the label; the same directory name in two places: the paths
    fake_run(tmp_path / "a" / "run", "rlv", 0, -60.0, dataset="one/data")
    fake_run(tmp_path / "b" / "run", "rlv", 0, -60.0, dataset="two/data")
    assert set(load_curves(select_runs([tmp_path / "a"], False, "plot"), "eval/return")["acrobot"]) == {"rlv"}
    both = select_runs([tmp_path / "a", tmp_path / "b"], False, "plot")
    assert set(load_curves(both, "eval/return")["acrobot"]) == {"rlv [one/data]", "rlv [two/data]"}


def test_plot_keeps_tasks_apart(tmp_path, capsys, monkeypatch):
    fake_run(tmp_path / "runs" / "acrobot", "sac", 0, -80.0)
    fake_run(tmp_path / "runs" / "pendulum", "sac", 0, -900.0, env="gym:Pendulum-v1")
    drawn = {}
    monkeypatch.setattr(
        "rlv.experiments.plot.plot_curves", lambda curves, out, *rest: drawn.update(curves) or out
    )
    code, _, err = rlv_main(capsys, "plot", tmp_path / "runs", "--out", tmp_path / "c.png")
    assert code == 0 and err == []
    assert set(drawn) == {"sac on acrobot", "sac on gym:Pendulum-v1"}
    assert find_runs([tmp_path / "runs"]) == [tmp_path / "runs" / "acrobot", tmp_path / "runs" / "pendulum"]


@pytest.mark.parametrize(
    ("argv", "label"),
    [
        (["acrobot-sac"], "acrobot-sac"),
        (["acrobot-sac", "--env", "gym:Pendulum-v1"], "sac"),  # not acrobot's any more
        (["acrobot-rlv-oracle-actions", "--env", "gym:Pendulum-v1"], "rlv-oracle-actions"),
        (["push-mw-rlv-align", "--env", "push"], "rlv-align"),
        (["pendulum-sac", "--env", "acrobot"], "sac"),
        (["acrobot-sac", "--algo", "rlv"], "rlv"),  # another method than the preset's
        (["acrobot-rlv", "--rlv.dataset", "data/q79"], "acrobot-rlv"),  # no dataset in the label
        (["--algo", "rlv", "--rlv.dataset", "data/q79"], "rlv"),
        (["--env", "gym:Pendulum-v1"], "sac"),
        (["acrobot-sac", "--env", "gym:Pendulum-v1", "--label", "mine"], "mine"),
        (["acrobot-sac", "--label="], "acrobot-sac"),
    ],
)
def test_labels_say_what_ran(argv, label):
    assert train_config([*argv, "--out", "run"]).label == label
