"""End to end through the `rlv` command line in a temporary directory: collect, train, kill,
resume, eval, plot, data info, and the one-line errors for bad input."""

import csv
import importlib.metadata
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from rlv.cli import COMMANDS, main
from rlv.cli.data import DATA_COMMANDS
from rlv.command_line import train_config
from rlv.train import Trainer

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


# ------------------------------------------------------------- command-line polish (issue 21)
def run_main(capsys, *argv):
    """(exit status, stdout, stderr lines) of `rlv ARGV` in-process; --help exits through SystemExit."""
    try:
        code = main(list(argv))
    except SystemExit as exit_:
        code = exit_.code or 0
    captured = capsys.readouterr()
    return code, captured.out, captured.err.strip().splitlines()


HELP_COMMANDS = [
    [],
    *([name] for name in COMMANDS),
    *(["data", name] for name in DATA_COMMANDS),
    ["train", "acrobot-rlv"],
    ["train", "--algo", "bco"],
    ["train", "--resume"],
]


@pytest.mark.parametrize("command", HELP_COMMANDS, ids=lambda c: " ".join(c) or "rlv")
@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_exits_0_everywhere_without_empty_defaults_or_doubled_titles(capsys, command, flag):
    code, out, err = run_main(capsys, *command, flag)
    assert code == 0 and out.strip() and not err, (code, err)
    assert "options options" not in out and "(default: )" not in out


def test_data_help_lists_each_command_on_one_line_and_no_command_is_one_error(capsys):
    code, out, _ = run_main(capsys, "data", "--help")
    lines = out.splitlines()
    for name in DATA_COMMANDS:
        assert len([line for line in lines if line.split()[:1] == [name]]) == 1, (name, out)
    code, out, err = run_main(capsys, "data")
    assert code == 1 and not out and len(err) == 1
    assert err[0].startswith("rlv: error: rlv data needs a command")
    assert all(name in err[0] for name in DATA_COMMANDS)


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version_is_the_installed_package_s(capsys, flag):
    code, out, err = run_main(capsys, flag)
    assert code == 0 and out == f"rlv {importlib.metadata.version('rlv')}\n" and not err


def test_train_help_says_how_to_resume_and_that_out_is_required(capsys):
    _, out, _ = run_main(capsys, "train", "--help")
    text = " ".join(out.split())
    after_out = text.split("--out PATH")[1]
    assert "rlv train --resume RUN [--total-steps N]" in text
    assert after_out.index("(required)") < after_out.index("(default")


@pytest.fixture
def no_runs(tmp_path, monkeypatch):
    """Run in an empty directory where starting to train fails the test."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(Trainer, "run", lambda self: pytest.fail("a run started"))
    return tmp_path


def test_train_without_out_is_refused_and_starts_nothing(capsys, no_runs):
    code, _, err = run_main(capsys, "train", "acrobot-sac")
    assert code == 1 and len(err) == 1 and err[0].startswith("rlv: error: --out is required"), err
    assert os.listdir(no_runs) == []
    sweep_trial = ["acrobot-sac", "--seed", "1", "--label", "x", "--out", "sweep/x/seed_1", "--no-progress"]
    assert train_config(sweep_trial).out == Path("sweep/x/seed_1")  # what rlv sweep's trials pass
    assert train_config(["acrobot-sac", "--out=elsewhere"]).out == Path("elsewhere")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "acrobt-rlv"], "unknown preset 'acrobt-rlv'; did you mean 'acrobot-rlv'?"),
        (["train", "acrobot-rlv", "--rlv.datset", "data/pm48"], "--rlv.datset; did you mean --rlv.dataset?"),
        (["train", "acrobot-rlv", "--bco.alpha", "2"], "--bco.alpha is an option of --algo bco"),
        (["train", "--algo", "sac", "--rlv.dataset", "ds"], "--rlv.dataset is an option of --algo rlv"),
        (["train", "acrobot-sac", "--sed=3"], "unrecognized option --sed; did you mean --seed?"),
        (["data", "merge", "a", "b", "--out", "c", "--ovewrite"], "did you mean --overwrite?"),
        (["data", "inf", "ds"], "unknown data command 'inf'; did you mean 'info'?"),
        (["tran"], "unknown command 'tran'; did you mean 'train'?"),
    ],
)
def test_typos_suggest_the_closest_name_and_never_call_a_value_an_option(capsys, no_runs, args, message):
    out = ["--out", "run"] if args[0] == "train" else []
    code, _, err = run_main(capsys, *args, *out)
    assert code == 1 and len(err) == 1 and err[0].startswith("rlv: error: ") and message in err[0], err
    assert "data/pm48" not in err[0] and "Unrecognized" not in err[0]
    assert os.listdir(no_runs) == []


def test_eval_takes_eval_episodes_as_train_calls_them(capsys, monkeypatch):
    asked = []
    monkeypatch.setattr("rlv.evaluate.evaluate_run", lambda run, n, *rest: asked.append(n) or {})
    for option in (["--episodes", "3"], ["--eval-episodes", "4"], ["--eval-episodes=5"], []):
        assert run_main(capsys, "eval", "run", *option)[0] == 0
    assert asked == [3, 4, 5, 10]


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--eval-episodes", "0"], "rlv: error: --eval-episodes: must be at least 1, got 0"),
        (["--eval-episodes=-2"], "rlv: error: --eval-episodes: must be at least 1, got -2"),
        (["--episodes", "0"], "rlv: error: --episodes: must be at least 1, got 0"),
        (
            ["--episodes", "2", "--eval-episodes", "3"],
            "rlv: error: --episodes and --eval-episodes are the same",
        ),
    ],
)
def test_eval_episode_errors_name_the_option_as_typed(capsys, monkeypatch, option, message):
    monkeypatch.setattr("rlv.evaluate.evaluate_run", lambda *args: pytest.fail("evaluated"))
    code, _, err = run_main(capsys, "eval", "run", *option)
    assert code == 1 and len(err) == 1 and err[0].startswith(message), err


def test_ctrl_c_says_how_to_resume(capsys, tmp_path, monkeypatch):
    def interrupt(self):
        raise KeyboardInterrupt

    monkeypatch.setattr(Trainer, "run", interrupt)
    run = tmp_path / "my run"
    argv = ["train", "--env", "gym:Pendulum-v1", "--sac.hidden", "16", "--no-progress", "--out", str(run)]
    hint = f"rlv: interrupted; resume with: rlv train --resume '{run}'"
    assert run_main(capsys, *argv) == (130, "", [hint])
    code, _, err = run_main(capsys, "train", "--resume", str(run))  # (a note: no checkpoint yet)
    assert code == 130 and err[-1] == hint
    monkeypatch.setattr("rlv.train.build", lambda *args: interrupt(None))  # before the directory exists
    assert run_main(capsys, *argv[:-1], str(tmp_path / "other")) == (130, "", ["rlv: interrupted"])


def default_sigint() -> None:
    """In the child before exec: SIGINT as a terminal gives it. A test suite started in the
    background by a non-interactive shell (`pytest &`) ignores SIGINT, every child inherits that,
    and Python then never raises KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_sigint_during_a_run_ends_in_the_resume_line(workdir):
    args = ["train", "--env", "gym:Pendulum-v1", *SAC_TINY, "--total-steps", "100000", "--out", "sigint"]
    parent_handler = signal.getsignal(signal.SIGINT)
    process = subprocess.Popen(
        [sys.executable, "-m", "rlv", *args], cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True, preexec_fn=default_sigint,
    )  # fmt: skip
    deadline = time.time() + 180  # in the training loop: its first step checkpoint is written
    while time.time() < deadline and not list((workdir / "sigint" / "checkpoints").glob("step_*")):
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    try:
        _, stderr = process.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        status = Path(f"/proc/{process.pid}/status").read_text()
        process.kill()
        pytest.fail(f"no exit after SIGINT; parent's SIGINT handler {parent_handler!r}; child: {status}")
    assert process.returncode == 130, stderr
    assert stderr.strip().splitlines()[-1] == "rlv: interrupted; resume with: rlv train --resume sigint"
