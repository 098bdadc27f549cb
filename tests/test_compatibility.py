"""Run directories written by earlier code resume exactly with today's.

tests/fixtures/runs_bbef211/ was made by the code of commit bbef211, the last one before the
restructuring into methods/, transfer/, collect/ and experiments/ (tests/fixtures/make_runs.sh,
run from a checkout of that commit). It holds, for an Acrobot RLV run and a pointmass `-rlv-align`
run (alignment, paired frames, temporal contrast, the inverse-model anchor: every piece of RLV's
state), the run directory as it was after its last step checkpoint (`interrupted/`) and the logs of
the same run finished without interruption (`reference/`). Resuming the first with today's code must
give the second, to the last logged digit; the checkpoint's structure must fit today's agent.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from rlv.checkpoint import load_state
from rlv.train import resume

FIXTURE = Path(__file__).parent / "fixtures" / "runs_bbef211"
VOLATILE = {"wall_time", "train/sps"}
DATASET_KEYS = ("dataset", "paired_dataset")


def rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return [{k: v for k, v in row.items() if k not in VOLATILE} for row in csv.DictReader(handle)]


def copy_run(name: str, tmp_path: Path) -> Path:
    """The interrupted run and the datasets, copied to tmp_path, its config.json pointing at them
    (the fixture records the paths of the machine that made it)."""
    shutil.copytree(FIXTURE / "data", tmp_path / "data")
    run = tmp_path / name
    shutil.copytree(FIXTURE / name / "interrupted", run)
    config = json.loads((run / "config.json").read_text())
    for key in DATASET_KEYS:
        if config["rlv"].get(key):
            config["rlv"][key] = str(tmp_path / "data" / Path(config["rlv"][key]).name)
    (run / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    return run


@pytest.mark.parametrize("name", ["acrobot_rlv", "pointmass_align"])
def test_old_run_resumes_exactly(tmp_path: Path, name: str) -> None:
    run = copy_run(name, tmp_path)
    before = rows(run / "eval.csv")
    summary = resume(run, progress=False)
    reference = FIXTURE / name / "reference"
    assert rows(run / "train.csv") == rows(reference / "train.csv")
    assert rows(run / "eval.csv") == rows(reference / "eval.csv")
    assert len(rows(run / "eval.csv")) > len(before)  # the resume did run steps of its own
    assert summary["env_step"] == json.loads((reference / "summary.json").read_text())["env_step"]


def test_old_checkpoint_holds_today_s_state_keys(tmp_path: Path) -> None:
    """The transfer's state (discriminator, its optimizer, the step count) keeps the keys of the
    checkpoints written before rlv.transfer existed."""
    run = copy_run("pointmass_align", tmp_path)
    newest = sorted((run / "checkpoints").glob("step_*"))[-1]
    agent = load_state(newest / "state.pt")["agent"]
    assert {"sac", "idm", "idm_optim", "updates", "discriminator", "discriminator_optim"} == set(agent)
    assert agent["updates"] > 0
