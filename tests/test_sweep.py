"""`rlv sweep` on Ray: a grid of presets x seeds end to end (a failing trial reported while the
others finish), and a sweep killed with SIGKILL midway that resumes exactly when re-run."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("ray", reason="rlv sweep needs Ray: pip install -e '.[sweep]' (make setup installs it)")

TINY = (
    "--random-steps 100 --eval-every 100 --eval-episodes 1 --log-every 100 --checkpoint-every 100 "
    "--sac.hidden 32 32 --sac.batch-size 32"
)


def rlv(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "rlv", *args], capture_output=True, text=True, cwd=cwd, env=env
    )


def test_sweep_of_two_presets_and_two_seeds_with_a_failing_trial_then_report(tmp_path, acrobot_dataset):
    rlv_options = f"--rlv.dataset {acrobot_dataset} --rlv.obs-batch-size 32 --rlv.idm-hidden 16 16"
    spec = {
        "methods": {
            "sac": {"preset": "acrobot-sac"},
            "rlv": {"preset": "acrobot-rlv", "options": rlv_options},
            "broken": {"preset": "acrobot-rlv", "options": "--rlv.dataset no_such_dataset"},
        },
        "seeds": [0, 1],
        "options": f"--total-steps 300 {TINY}",
    }
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    result = rlv("sweep", "sweep", "--spec", "spec.json", "--num-cpus", "2", cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        "rlv: error: 2 of 6 trials failed (their FAILED lines above name the error and log)"
    )
    failed = [line for line in result.stdout.splitlines() if "FAILED" in line]
    assert len(failed) == 2 and all("broken/seed_" in line and "no_such_dataset" in line for line in failed)
    sweep = tmp_path / "sweep"
    for method in ("sac", "rlv"):
        for seed in (0, 1):
            run = sweep / method / f"seed_{seed}"
            summary = json.loads((run / "summary.json").read_text())
            assert summary["env_step"] == 300
            config = json.loads((run / "config.json").read_text())
            assert (config["label"], config["seed"], config["algo"]) == (method, seed, method)
            assert f"finished {method}/seed_{seed} in" in result.stdout
    assert set(json.loads((sweep / "sweep.json").read_text())["trials"]) == {
        f"{m}/seed_{s}" for m in ("sac", "rlv", "broken") for s in (0, 1)
    }
    report = rlv("report", "sweep", "--out", "report", "--reps", "200", cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    with open(tmp_path / "report" / "report.csv") as handle:
        rows = {row["method"]: row for row in csv.DictReader(handle)}
    assert set(rows) == {"sac", "rlv"} and rows["sac"]["runs"] == rows["rlv"]["runs"] == "2"


def test_sweep_refuses_bad_trials_before_writing_anything(tmp_path):
    result = rlv("sweep", "s", "--presets", "acrobot-sac", "--options=--sac.no-such-option 1", cwd=tmp_path)
    assert result.returncode == 1 and result.stderr.startswith("rlv: error: trial acrobot-sac/seed_0: ")
    assert len(result.stderr.strip().splitlines()) == 1 and not (tmp_path / "s").exists()
    result = rlv("sweep", "s", "--resume", cwd=tmp_path)
    assert result.returncode == 1 and "no sweep.json to resume" in result.stderr
    from rlv.command_line import train_config
    from rlv.config import save_config

    run = tmp_path / "old" / "acrobot-sac" / "seed_0"  # a run made before, with another budget
    run.mkdir(parents=True)
    save_config(train_config(["acrobot-sac", "--total-steps", "500", "--out", str(run)]), run / "config.json")
    result = rlv("sweep", "old", "--presets", "acrobot-sac", "--options=--total-steps 300", cwd=tmp_path)
    assert (
        result.returncode == 1
        and "holds a run made with other options (differs in: total_steps)" in result.stderr
    )
    assert not (tmp_path / "old" / "sweep.json").exists()


def test_sweep_killed_midway_resumes_finished_kept_killed_continued_exactly(tmp_path):
    from rlv.command_line import train_config
    from rlv.train import train

    args = ["sweep", "s", "--presets", "acrobot-sac", "--seeds", "0", "1", "--num-cpus", "1"]
    args += [f"--options=--total-steps 800 {TINY}", "--progress-every", "0"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "rlv", *args],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    first, second = tmp_path / "s" / "acrobot-sac" / "seed_0", tmp_path / "s" / "acrobot-sac" / "seed_1"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:  # one trial finished, the other checkpointed: kill everything
        done = [run for run in (first, second) if (run / "summary.json").exists()]
        other = [run for run in (first, second) if run not in done]
        if len(done) == 1 and any((other[0] / "checkpoints").glob("step_*")):
            break
        assert process.poll() is None, "the sweep ended before it could be killed"
        time.sleep(0.2)
    else:
        pytest.fail("the sweep did not reach one finished trial and one checkpoint in time")
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    finished, killed = done[0], other[0]
    assert not (killed / "summary.json").exists()
    kept = (finished / "summary.json").stat().st_mtime_ns
    result = rlv("sweep", "s", cwd=tmp_path)  # no grid: the recorded trials continue
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 finished before, 1 to run" in result.stdout
    assert (finished / "summary.json").stat().st_mtime_ns == kept
    log = (tmp_path / "s" / "logs" / "acrobot-sac" / f"{killed.name}.log").read_text()
    assert f"resuming {killed}" in log
    seed = int(killed.name.removeprefix("seed_"))
    reference = tmp_path / "reference"
    trial_args = ["acrobot-sac", "--total-steps", "800", *TINY.split(), "--seed", str(seed)]
    train(train_config([*trial_args, "--label", "acrobot-sac", "--out", str(reference), "--no-progress"]))
    assert (killed / "eval.csv").read_text() == (reference / "eval.csv").read_text()


def test_trials_of_the_local_ray_run_at_normal_priority():
    """Ray nices its workers to 15 by default; rlv's local Ray runs trials at the driver's niceness 0,
    so a trial is not starved by whatever else runs on the machine."""
    import ray

    from rlv.experiments.sweep import SweepResources, start_ray

    @ray.remote
    def niceness() -> int:
        return os.nice(0)

    start_ray(SweepResources(num_cpus=1))
    try:
        assert ray.get(niceness.remote()) == os.nice(0) == 0
    finally:
        ray.shutdown()
