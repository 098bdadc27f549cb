"""docs/your-env.md, run as it is written: every `bash` and `python` block of the page, in order, as
one script in an empty directory, at a tiny budget (the page reads it from BUDGET, EPISODES and
SEEDS), then checks of what the commands made: the datasets, the runs (on the example env, its
keyword arguments recorded), the sweep of both methods and its report."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rlv.data.dataset import load_dataset
from rlv.envs import make_env
from rlv.errors import RlvError

pytest.importorskip(
    "ray", reason="the page's sweep needs Ray: pip install -e '.[sweep]' (make setup installs it)"
)

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "your-env.md"
EXAMPLE = ROOT / "docs" / "examples" / "reach_env.py"

TINY = {
    "BUDGET": "--total-steps 200 --random-steps 150 --eval-every 100 --eval-episodes 1 --log-every 100 "
    "--sac.hidden 32 32 --sac.batch-size 32",
    "EPISODES": "4",
    "SEEDS": "0",
}


def page_blocks(text: str) -> list[tuple[str, str]]:
    """The page's fenced blocks as (language, code), in order."""
    return [(match[1], match[2]) for match in re.finditer(r"^```(\w*)\n(.*?)^```$", text, re.S | re.M)]


def page_script(text: str) -> str:
    """One bash script of the page's `bash` and `python` blocks (python blocks through a heredoc)."""
    parts = []
    for language, code in page_blocks(text):
        if language == "bash":
            parts.append(code)
        elif language == "python":
            parts.append(f"python - <<'PYTHON'\n{code}PYTHON\n")
    return "set -euo pipefail\n" + "\n".join(parts)


def test_the_page_script_holds_every_block_that_runs():
    blocks = page_blocks(PAGE.read_text())
    assert [language for language, _ in blocks].count("python") == 1
    assert sum(language == "bash" for language, _ in blocks) >= 5
    assert {language for language, _ in blocks} <= {"bash", "python", "text"}  # nothing else to run
    script = page_script(PAGE.read_text())
    for needle in (
        "rlv collect --env",
        "rlv data import-video",
        "rlv sweep",
        "rlv report",
        "np.savez_compressed",
    ):
        assert needle in script


def test_the_error_line_shown_is_the_one_rlv_prints():
    with pytest.raises(RlvError) as error:
        make_env("gym:reach_env:Reach-v0", seed=0)  # docs/examples is not on this process's path
    shown = [code for language, code in page_blocks(PAGE.read_text()) if language == "text"]
    assert shown == [f"rlv: error: {error.value}\n"]


def test_the_worked_example_runs_as_written(tmp_path):
    (tmp_path / "docs" / "examples").mkdir(parents=True)
    shutil.copy(EXAMPLE, tmp_path / "docs" / "examples")  # the page's PYTHONPATH, in the empty directory
    bin_dir = str(Path(sys.executable).parent)  # `rlv` and `python` of this environment
    env = {**os.environ, **TINY, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "OMP_NUM_THREADS": "1"}
    env.pop("PYTHONPATH", None)
    result = subprocess.run(
        ["bash", "-c", page_script(PAGE.read_text())], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    for name, episodes in (("random", 4), ("teacher", 4), ("videos", 4), ("by_hand", 4)):
        dataset = load_dataset(tmp_path / "data" / name)
        assert len(dataset.episodes) == episodes, name
    assert load_dataset(tmp_path / "data" / "videos").meta["obs_shape"] == [48, 48, 3]
    assert load_dataset(tmp_path / "data" / "videos").meta["env"] == 'gym:reach_env:Reach-v0{"image": true}'
    assert all(episode.success for episode in load_dataset(tmp_path / "data" / "videos").episodes)

    videos_run = json.loads((tmp_path / "runs" / "videos" / "config.json").read_text())
    assert videos_run["env"] == 'gym:reach_env:Reach-v0{"image": true}' and videos_run["algo"] == "rlv"
    for method in ("sac", "rlv"):
        run = tmp_path / "sweeps" / "reach" / method / "seed_0"
        assert json.loads((run / "summary.json").read_text())["env_step"] == 200
        assert json.loads((run / "config.json").read_text())["env"] == "gym:reach_env:Reach-v0"

    report = tmp_path / "reports" / "reach"
    with open(report / "report.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert {row["method"] for row in rows} == {"sac", "rlv"}
    assert "eval/success" in (report / "report.md").read_text()
    assert [path.name for path in sorted(report.glob("*.png"))] == [
        "curves_gym_reach_env_Reach-v0.png",
        "profile_gym_reach_env_Reach-v0.png",
    ]
