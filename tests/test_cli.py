"""End to end through the `rlv` command line in a temporary directory: collect, train, kill,
resume, eval, plot, data info, and the one-line errors for bad input."""

import csv
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

TINY = [
    "--sac.hidden",
    "32",
    "32",
    "--sac.batch-size",
    "32",
    "--rlv.obs-batch-size",
    "32",
    "--rlv.idm-hidden",
    "16",
    "16",
    "--random-steps",
    "200",
    "--eval-every",
    "200",
    "--eval-episodes",
    "2",
    "--log-every",
    "100",
    "--checkpoint-every",
    "200",
    "--no-progress",
]


def rlv(*args, cwd, check=True):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    result = subprocess.run(
        [sys.executable, "-m", "rlv", *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=300
    )
    if check and result.returncode != 0:
        raise AssertionError(f"rlv {' '.join(args)} failed:\n{result.stderr}")
    return result


def eval_rows(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli")
    out = rlv("collect", "--out", "ds", "--noise", "0.1", "--episodes", "4", "--no-progress", cwd=path)
    assert "wrote ds: 4 episodes" in out.stdout and "average return" in out.stdout
    return path


def test_collect_train_kill_resume_eval_plot(workdir):
    info = rlv("data", "info", "ds", cwd=workdir).stdout
    assert "episodes     4" in info and "shape (6,)" in info

    args = ["train", "acrobot-rlv", "--rlv.dataset", "ds", "--total-steps", "1200", *TINY]
    rlv(*args, "--out", "reference", cwd=workdir)

    process = subprocess.Popen(
        [sys.executable, "-m", "rlv", *args, "--out", "killed"],
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 240
    while time.time() < deadline and process.poll() is None:
        if len(list((workdir / "killed" / "checkpoints").glob("step_*"))) >= 2:
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (workdir / "killed" / "summary.json").exists(), "the run finished before it could be killed"

    resumed = rlv("train", "--resume", "killed", "--no-progress", cwd=workdir)
    assert "finished killed: env steps 1200" in resumed.stdout
    assert eval_rows(workdir / "killed" / "eval.csv") == eval_rows(workdir / "reference" / "eval.csv")

    metrics = json.loads(rlv("eval", "killed", "--episodes", "3", cwd=workdir).stdout)
    assert metrics["eval/return"] <= 0 and 0 <= metrics["eval/success"] <= 1

    plot = rlv("plot", "reference", "killed", "--out", "curves.png", cwd=workdir)
    assert "curves.png" in plot.stdout
    assert (workdir / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_presets_and_help(workdir):
    presets = rlv("presets", cwd=workdir).stdout
    assert "acrobot-rlv" in presets and "methods" in presets and "inverse model" in presets
    help_text = rlv("train", "--help", cwd=workdir).stdout
    assert "--sac.batch-size" in help_text and "--rlv." not in help_text and "--algo" in help_text
    for args in (["acrobot-rlv", "--help"], ["--algo", "rlv", "--help"]):
        help_text = rlv("train", *args, cwd=workdir).stdout
        assert "--rlv.reward-scale" in help_text and "Relabelled reward" in help_text


def write_nan_dataset(workdir):
    import shutil

    shutil.copytree(workdir / "ds", workdir / "nan-ds", dirs_exist_ok=True)
    episode = sorted((workdir / "nan-ds" / "episodes").glob("*.npz"))[0]
    with np.load(episode) as data:
        arrays = dict(data)
    arrays["obs"][3, 2] = np.nan
    np.savez_compressed(episode, **arrays)
    return "nan-ds"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "no-such-preset"], "unknown preset 'no-such-preset'"),
        (["train", "--env", "gym:NoSuchEnv-v0"], "unknown environment"),
        (["train", "acrobot-rlv", "--rlv.dataset", "missing-ds"], "missing-ds: dataset directory not found"),
        (["train", "acrobot-rlv", "--rlv.dataset", "NAN"], "contain NaN or inf"),
        (
            ["train", "acrobot-rlv", "--env", "gym:Pendulum-v1", "--rlv.dataset", "ds"],
            "observations have shape",
        ),
        (["train", "--resume", "no-such-run"], "no-such-run: no such run directory"),
        (["eval", "no-such-run"], "no-such-run/config.json: no such file"),
        (["data", "info", "missing-ds"], "dataset directory not found"),
        (["collect", "--out", "ds", "--noise", "0.1"], "already exists"),
    ],
)
def test_bad_input_is_one_line_and_leaves_nothing(workdir, args, message):
    args = [write_nan_dataset(workdir) if a == "NAN" else a for a in args]
    before = set(os.listdir(workdir))
    result = (
        rlv(*args, "--out", "bad-run", cwd=workdir, check=False)
        if args[0] == "train" and "--resume" not in args
        else rlv(*args, cwd=workdir, check=False)
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rlv: error: ") and message in lines[0], result.stderr
    assert set(os.listdir(workdir)) - before <= {"nan-ds"}


BCO_TINY = [token.replace("--rlv.", "--bco.") for token in TINY]
"""TINY for a BCO run: the same sizes under BCO's own option names."""


def without_method_options(args: list[str], method: str) -> list[str]:
    """`args` without the `--METHOD.*` options and their values (for a run of another method)."""
    kept, skipping = [], False
    for token in args:
        if token.startswith("--"):
            skipping = token.startswith(f"--{method}.")
        if not skipping:
            kept.append(token)
    return kept


SAC_TINY = without_method_options(TINY, "rlv")
"""TINY for a SAC run, which has no --rlv.* options."""


def test_bco_preset_trains_resumes_and_evaluates(workdir):
    help_text = rlv("train", "acrobot-bco", "--help", cwd=workdir).stdout
    assert "--bco.alpha" in help_text and "--rlv." not in help_text
    args = ["train", "acrobot-bco", "--bco.dataset", "ds", "--total-steps", "600", *BCO_TINY]
    out = rlv(*args, "--out", "bco-run", cwd=workdir).stdout
    assert "finished bco-run: env steps 600" in out
    saved = json.loads((workdir / "bco-run" / "config.json").read_text())
    assert saved["algo"] == "bco" and saved["bco"]["alpha"] == 1.0 and "rlv" not in saved
    with open(workdir / "bco-run" / "train.csv", newline="") as handle:
        train_rows = list(csv.DictReader(handle))
    assert train_rows[-1]["loss/bc"] != "" and any(row["loss/idm"] != "" for row in train_rows)
    assert float(train_rows[-1]["stat/round"]) == 1.0  # 400 updates in rounds of 200
    rlv("train", "--resume", "bco-run", "--total-steps", "800", "--no-progress", cwd=workdir)
    assert [row["env_step"] for row in eval_rows(workdir / "bco-run" / "eval.csv")] == [
        "200",
        "400",
        "600",
        "800",
    ]
    metrics = json.loads(rlv("eval", "bco-run", "--episodes", "2", cwd=workdir).stdout)
    assert metrics["eval/return"] <= 0
